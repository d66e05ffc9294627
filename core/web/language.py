"""The language switcher: ``POST /language`` with ``locale`` (and ``next``).

A logged-in staff member's choice is saved on their profile (``StaffUser.locale``); a visitor's
(the login page, the demo storefront) is kept in the session. An empty ``locale`` goes back to
the default: the store's language, then the browser's. The form carries a CSRF token like every
other form; ``templates/_language.html`` renders it.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from core.db import db
from core.i18n import LOCALES, SESSION_KEY

bp = Blueprint("language", __name__)


@bp.post("/language")
def switch() -> Response:
    from core.auth.admin import safe_next

    locale = request.form.get("locale", "")
    if locale and locale not in LOCALES:
        abort(400)
    if current_user.is_authenticated:
        current_user.locale = locale or None
        db.session.commit()
    elif locale:
        session[SESSION_KEY] = locale
    else:
        session.pop(SESSION_KEY, None)
    target = safe_next(request.form.get("next")) or url_for("index")
    return redirect(target)
