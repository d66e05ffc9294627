"""What every admin view needs: the staff member's store, owner-only guards, form errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, flash
from flask_login import current_user, login_required

from core.errors import KedaiError
from core.stores.models import Store

F = TypeVar("F", bound=Callable[..., Any])


def current_store() -> Store:
    """The store of the logged-in staff member: every admin query is scoped to it."""
    return current_user.store


def owner_required(view: F) -> F:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_owner:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def staff_actor() -> str:
    return f"staff:{current_user.id}"


def flash_error(error: KedaiError, form: Any = None) -> None:
    """Show a domain error next to its field when the form has it, else as a message."""
    field = error.field.split(".")[-1] if error.field else None
    if form is not None and field and hasattr(form, field):
        getattr(form, field).errors = [*getattr(form, field).errors, error.message]
    else:
        flash(error.message, "danger")
