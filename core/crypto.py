"""Encryption of secrets at rest (plugin secret settings, webhook signing secrets) with Fernet,
with a key derived from the secret key.

``KEDAI_OLD_SECRET_KEYS`` (comma-separated) lets values written under a previous
``KEDAI_SECRET_KEY`` still be read after a rotation; new values use the current key.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "fernet:"


def _derive(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kedai-plugin-settings",
               info=b"fernet").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=8)
def _fernet(secret_key: str, old_keys: str) -> MultiFernet:
    keys = [secret_key] + [k for k in old_keys.split(",") if k.strip()]
    return MultiFernet([_derive(k.strip()) for k in keys])


def _current() -> MultiFernet:
    return _fernet(current_app.config["SECRET_KEY"], os.environ.get("KEDAI_OLD_SECRET_KEYS", ""))


def encrypt(value: str) -> str:
    return PREFIX + _current().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    if not value.startswith(PREFIX):
        raise ValueError("not an encrypted value")
    try:
        return _current().decrypt(value[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "a secret setting cannot be decrypted: was KEDAI_SECRET_KEY changed without "
            "listing the old key in KEDAI_OLD_SECRET_KEYS?"
        ) from exc


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)
