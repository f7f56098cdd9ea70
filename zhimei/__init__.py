"""智媒 zhimei: an open, self-hosted intelligent-media platform."""

__version__ = "0.1.0"
__all__ = ["__version__"]
