"""The HTTP API (FastAPI). Build the app with ``create_app(settings)``."""

from c360.api.app import create_app

__all__ = ["create_app"]
