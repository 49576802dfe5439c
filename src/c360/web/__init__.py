"""The web pages (the dashboard grows here): Jinja2 templates and static files, reading through services."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
