"""zhimei.models (capabilities arrive with their issues)."""
