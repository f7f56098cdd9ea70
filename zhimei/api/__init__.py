"""api: the REST API (FastAPI, OpenAPI at /docs) and the server-rendered web app on one origin."""

from zhimei.api.app import create_app

__all__ = ["create_app"]
