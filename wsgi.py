"""``gunicorn wsgi:app`` from a checkout; installed copies use ``core.wsgi:app``."""

from core.wsgi import app

__all__ = ["app"]
