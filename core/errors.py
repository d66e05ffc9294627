"""Domain errors, raised by services and mapped to HTTP in one place (``core.app``).

Each error says what is wrong and, where it concerns one input, which field: the API answers
``{"error": {"code": ..., "message": ..., "field": ...}}`` and the admin shows the message
next to the field.
"""

from __future__ import annotations

from typing import Any


class KedaiError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class ValidationError(KedaiError):
    status = 422
    code = "invalid"


class NotFound(KedaiError):
    status = 404
    code = "not_found"


class Conflict(KedaiError):
    status = 409
    code = "conflict"


class Forbidden(KedaiError):
    status = 403
    code = "forbidden"
