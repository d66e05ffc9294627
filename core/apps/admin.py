"""Admin pages for external apps: the store's installed apps (scopes, last use, revoke) and the
apps it registered as a developer. Any staff member can look; the owner changes things."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, Length

from core.apps import service
from core.db import db
from core.errors import KedaiError
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.web.admin_helpers import current_store, flash_error, owner_required, staff_actor

bp = Blueprint("apps_admin", __name__, url_prefix="/admin/apps")


class AppForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    redirect_uris = TextAreaField(
        _l("Redirect URIs"),
        description=_l("One per line. Where the app receives the store's answer (https://)."),
        validators=[Length(max=10000)],
    )
    scopes = SelectMultipleField(
        _l("What the app may ask for"),
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        validators=[DataRequired()],
    )
    public = BooleanField(
        _l("Public app (runs in a browser or on a phone: no secret, PKCE only)")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from core.auth.tokens import SCOPES

        super().__init__(*args, **kwargs)
        self.scopes.choices = [(name, f"{text} ({name})") for name, text in SCOPES.items()]


@bp.get("/")
@login_required
def index() -> str:
    store = current_store()
    return render_template(
        "apps/index.html",
        installed=service.installations(store),
        registered=service.registered_apps(store),
        describe=service.describe_scopes,
    )


@bp.route("/new", methods=["GET", "POST"])
@owner_required
def new() -> Any:
    form = AppForm()
    if form.validate_on_submit():
        try:
            client, secret = service.register_app(
                current_store(), form.name.data or "",
                (form.redirect_uris.data or "").splitlines(), form.scopes.data or [],
                public=form.public.data, actor=staff_actor(),
            )
        except KedaiError as error:
            db.session.rollback()
            flash_error(error, form)
        else:
            db.session.commit()
            return render_template("apps/created.html", client=client, secret=secret)
    return render_template("apps/new.html", form=form)


@bp.post("/installed/<int:installation_id>/revoke")
@owner_required
def revoke(installation_id: int) -> Response:
    store = current_store()
    installation = service.get_installation(store, installation_id)
    service.revoke_installation(store, installation)
    db.session.commit()
    flash(_("%(app)s can no longer use your store.", app=installation.client.name), "success")
    return redirect(url_for(".index"))


@bp.post("/registered/<int:app_id>/delete")
@owner_required
def delete(app_id: int) -> Response:
    store = current_store()
    client = service.get_registered_app(store, app_id)
    name = client.name
    service.delete_app(store, client)
    db.session.commit()
    flash(_("%(app)s is deleted; every store that installed it lost its access.", app=name),
          "success")
    return redirect(url_for(".index"))
