"""Admin pages for outgoing webhooks: endpoints, the events they receive, the delivery log with
status and timing, manual redelivery, and the notice when Kedai disabled an endpoint. Any staff
member can look; the owner changes things."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectMultipleField, StringField, URLField, widgets
from wtforms.validators import DataRequired, Length

from core.db import db
from core.errors import KedaiError
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.web.admin_helpers import current_store, flash_error, owner_required, staff_actor
from core.webhooks import service

bp = Blueprint("webhooks_admin", __name__, url_prefix="/admin/webhooks")

#: How many deliveries an endpoint's page lists.
LOG_ROWS = 100


class EndpointForm(FlaskForm):
    url = URLField(_l("URL"), validators=[DataRequired(), Length(max=2000)])
    description = StringField(_l("Description"), validators=[Length(max=200)])
    event_types = SelectMultipleField(
        _l("Events to send"),
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        validators=[DataRequired()],
    )
    enabled = BooleanField(_l("Enabled"), default=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("*", _("Every event, including those of future plugins"))]
        choices += [(name, f"{name} — {text}") for name, text in
                    service.known_event_types().items()]
        # An endpoint may name a type whose plugin is gone: keep it choosable, not lost.
        obj = kwargs.get("obj")
        for name in getattr(obj, "event_types", None) or []:
            if name not in dict(choices):
                choices.append((name, name))
        self.event_types.choices = choices


@bp.app_context_processor
def webhook_notices() -> dict[str, Any]:
    """``disabled_webhooks()`` for the admin layout: the store's endpoints Kedai disabled."""

    def disabled_webhooks() -> list[Any]:
        if not current_user.is_authenticated:
            return []
        return service.disabled_endpoints(current_user.store)

    return {"disabled_webhooks": disabled_webhooks}


@bp.get("/")
@login_required
def index() -> str:
    store = current_store()
    endpoints = service.list_endpoints(store)
    return render_template("webhooks/index.html", endpoints=endpoints,
                           last=service.last_deliveries(store))


@bp.route("/new", methods=["GET", "POST"])
@owner_required
def new() -> Any:
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            endpoint, secret = service.create_endpoint(
                current_store(), form.url.data or "", form.event_types.data or [],
                description=form.description.data or "", actor=staff_actor(),
            )
            if not form.enabled.data:
                service.update_endpoint(current_store(), endpoint, enabled=False)
        except KedaiError as error:
            db.session.rollback()
            flash_error(error, form)
        else:
            db.session.commit()
            return render_template("webhooks/created.html", endpoint=endpoint, secret=secret)
    return render_template("webhooks/new.html", form=form)


@bp.route("/<int:endpoint_id>", methods=["GET", "POST"])
@login_required
def show(endpoint_id: int) -> Any:
    """The endpoint's settings (owner) and its delivery log (everyone)."""
    store = current_store()
    endpoint = service.get_endpoint(store, endpoint_id)
    form = EndpointForm(obj=endpoint)
    if form.is_submitted() and not current_user.is_owner:
        abort(403)
    if form.validate_on_submit():
        try:
            service.update_endpoint(
                store, endpoint, url=form.url.data or "", event_types=form.event_types.data or [],
                description=form.description.data or "", enabled=form.enabled.data,
            )
        except KedaiError as error:
            db.session.rollback()
            endpoint = service.get_endpoint(store, endpoint_id)
            flash_error(error, form)
        else:
            db.session.commit()
            flash(_("The webhook is saved."), "success")
            return redirect(url_for(".show", endpoint_id=endpoint.id))
    return render_template(
        "webhooks/show.html", endpoint=endpoint, form=form,
        deliveries=service.deliveries(store, endpoint.id, limit=LOG_ROWS),
    )


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@owner_required
def redeliver(endpoint_id: int, delivery_id: int) -> Response:
    store = current_store()
    service.redeliver(store, delivery_id, endpoint_id=endpoint_id)
    db.session.commit()
    flash(_("The event will be sent again in a moment."), "success")
    return redirect(url_for(".show", endpoint_id=endpoint_id))


@bp.post("/<int:endpoint_id>/delete")
@owner_required
def delete(endpoint_id: int) -> Response:
    store = current_store()
    service.delete_endpoint(store, service.get_endpoint(store, endpoint_id))
    db.session.commit()
    flash(_("The webhook is deleted."), "success")
    return redirect(url_for(".index"))
