"""Configuration from the environment.

Every setting is an environment variable with a ``KEDAI_`` prefix (plus ``DATABASE_URL`` and
``REDIS_URL``); ``docs/operating.md`` lists them in one table. Defaults run on one machine: a
SQLite file and a secret key kept in the instance folder.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in _TRUE


def _secret_key(instance_path: Path) -> str:
    """Return ``KEDAI_SECRET_KEY`` or a key generated once and kept in the instance folder."""
    if key := os.environ.get("KEDAI_SECRET_KEY"):
        return key
    key_file = instance_path / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once agree on the first key written.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@dataclass
class Settings:
    """The settings the app reads, resolved from the environment once at start-up."""

    instance_path: Path
    database_url: str
    secret_key: str
    redis_url: str | None = None
    executor: str = "inline"
    outbound_allow: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        instance_path = Path(os.environ.get("KEDAI_INSTANCE_PATH", "instance")).resolve()
        instance_path.mkdir(parents=True, exist_ok=True)
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'kedai.db'}"
        return cls(
            instance_path=instance_path,
            database_url=normalise_database_url(database_url),
            secret_key=_secret_key(instance_path),
            redis_url=os.environ.get("REDIS_URL") or None,
            executor=os.environ.get("KEDAI_EXECUTOR", "inline"),
            outbound_allow=os.environ.get("KEDAI_OUTBOUND_ALLOW", ""),
        )

    def flask_config(self) -> dict[str, Any]:
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(self.database_url),
            "KEDAI_INSTANCE_PATH": str(self.instance_path),
            "KEDAI_REDIS_URL": self.redis_url,
            "KEDAI_EXECUTOR": self.executor,
            "KEDAI_OUTBOUND_ALLOW": self.outbound_allow,
            "KEDAI_START_WORKER": _flag("KEDAI_START_WORKER", default=True),
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": _flag("KEDAI_SECURE_COOKIES"),
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "MAX_CONTENT_LENGTH": int(os.environ.get("KEDAI_MAX_UPLOAD_MB", "64")) * 1024 * 1024,
            "BOOTSTRAP_SERVE_LOCAL": True,
            "API_TITLE": "Kedai Admin API",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api/v1",
            "OPENAPI_JSON_PATH": "openapi.json",
            **self.extra,
        }


def normalise_database_url(url: str) -> str:
    """Accept the ``postgres://`` and ``postgresql://`` forms hosts hand out; use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # The busy timeout lets several gunicorn workers and their worker threads share one file.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True}
