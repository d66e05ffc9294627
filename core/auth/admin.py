"""Staff login and logout for the merchant admin (Flask-Login sessions)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from core.auth.forms import LoginForm, ProfileForm
from core.db import db
from core.errors import KedaiError
from core.extensions import login_manager
from core.i18n import gettext as _
from core.stores.models import StaffUser
from core.stores.service import authenticate_staff
from core.web.display import install_display

bp = Blueprint("admin_auth", __name__, url_prefix="/admin")
install_display(bp)


def N_(text: str) -> str:
    """Mark ``text`` for extraction; Flask-Login translates it when it flashes it."""
    return text


login_manager.login_message = N_("Please log in to see this page.")
login_manager.localize_callback = _


@login_manager.user_loader
def load_staff(user_id: str) -> StaffUser | None:
    """The staff member of a session; ``None`` (logged out) when gone or deactivated."""
    if not user_id.isdigit():
        return None
    user = db.session.get(StaffUser, int(user_id))
    return user if user is not None and user.active else None


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else ``None``.

    Refuses absolute and scheme-relative URLs (``//evil.test``), backslashes (which browsers
    read as ``/``) and control characters, so a login link cannot send staff elsewhere.
    """
    if not target:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form; a wrong email or password shows an error on the form."""
    if current_user.is_authenticated:
        return redirect(url_for("customers_admin.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            user = authenticate_staff(form.email.data or "", form.password.data or "")
        except KedaiError:
            db.session.rollback()
            form.password.errors = [_("The email or password is wrong.")]
        else:
            login_user(user)
            db.session.commit()
            return redirect(safe_next(form.next.data) or url_for("customers_admin.index"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for(".login"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> Any:
    """The staff member's own name and language."""
    form = ProfileForm(obj=current_user)
    if request.method == "GET":
        form.locale.data = current_user.locale or ""
    if form.validate_on_submit():
        current_user.name = (form.name.data or "").strip()
        current_user.locale = form.locale.data or None
        db.session.commit()
        flash(_("Your profile is saved."), "success")
        return redirect(url_for(".profile"))
    return render_template("auth/profile.html", form=form)
