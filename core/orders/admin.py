"""Admin pages for orders: the list (status filter, search) and one order's page with its lines,
totals, refunds and timeline, and the lifecycle actions (O-01 to O-03).

Amounts are typed in the currency's major units (``12.50``) and converted with
``core.money.to_minor``; the service decides what is allowed and its errors are shown on the page.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup

from core.customers.forms import find_customer_ref
from core.customers.models import Customer
from core.customers.service import get_customer
from core.db import db
from core.errors import KedaiError, NotFound
from core.events.models import Event
from core.i18n import gettext as _
from core.money import to_minor
from core.orders import service
from core.orders.forms import AttachForm, CancelForm, OrderFilterForm, RefundForm
from core.orders.models import Order
from core.orders.schemas import OrderSchema
from core.web.admin_helpers import current_store, flash_error, staff_actor
from core.web.display import actor_labels, install_display

bp = Blueprint("orders_admin", __name__, url_prefix="/admin/orders")
install_display(bp)


def _order_or_404(order_id: int) -> Order:
    """The current store's order; another store's id is as absent as a missing one."""
    try:
        return service.get_order(current_store(), order_id)
    except NotFound:
        abort(404)


def _customers_by_id(ids: set[int | None]) -> dict[int, Customer]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    store = current_store()
    return {
        customer.id: customer
        for customer in db.session.scalars(
            sa.select(Customer).where(Customer.store_id == store.id, Customer.id.in_(wanted))
        )
    }


@bp.get("/")
@login_required
def index() -> str:
    """Orders, newest first, narrowed by status, number or email, or one customer."""
    store = current_store()
    form = OrderFilterForm(formdata=request.args)
    customer = None
    customer_id = request.args.get("customer", type=int)
    if customer_id is not None:
        try:
            customer = get_customer(store, customer_id)
        except NotFound:
            abort(404)
    orders = service.list_orders(
        store,
        customer_id=customer_id,
        status=form.status.data or None,
        q=form.q.data or "",
        page=max(request.args.get("page", 1, type=int), 1),
        per_page=50,
    )
    return render_template(
        "orders/list.html",
        form=form,
        orders=orders,
        customer=customer,
        customers=_customers_by_id({order.customer_id for order in orders.items}),
        filtered=bool(form.q.data or form.status.data or customer),
    )


def _render_order(order: Order, **forms: Any) -> str:
    """The order page; ``forms`` replaces the blank form that failed validation."""
    store = current_store()
    forms.setdefault("cancel", CancelForm(formdata=None))
    forms.setdefault("refund", RefundForm(formdata=None))
    forms.setdefault("attach", AttachForm(formdata=None))
    # The order's own trail: events carry the order id whichever customer they concern.
    events = list(
        db.session.scalars(
            sa.select(Event)
            .where(Event.store_id == store.id, Event.order_id == order.id)
            .order_by(Event.seq.desc())
            .limit(200)
        )
    )
    customer = None
    if order.customer_id is not None:
        customer = _customers_by_id({order.customer_id}).get(order.customer_id)
    return render_template(
        "orders/show.html",
        order=order,
        customer=customer,
        forms=forms,
        events=events,
        actors=actor_labels(store.id, events),
        panels=_panels(order),
    )


def _panels(order: Order) -> list[Any]:
    """Boxes the store's plugins add to the order page (``admin_panels``)."""
    from core.plugins.dispatch import contributions

    panels = contributions(
        current_store(),
        "admin_panels",
        page="order",
        customer=None,
        order=OrderSchema().dump(order),
    )
    # Panel HTML comes from the plugin's own autoescaped templates (``ctx.render``).
    return [(panel.title, Markup(panel.html)) for panel in panels]  # noqa: S704


@bp.get("/<int:order_id>")
@login_required
def show(order_id: int) -> str:
    return _render_order(_order_or_404(order_id))


def _finish(order: Order, message: str) -> Any:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".show", order_id=order.id))


@bp.post("/<int:order_id>/pay")
@login_required
def pay(order_id: int) -> Any:
    store = current_store()
    order = _order_or_404(order_id)
    try:
        service.mark_paid(store, order, actor=staff_actor())
    except KedaiError as error:
        db.session.rollback()
        flash_error(error)
        return redirect(url_for(".show", order_id=order.id))
    return _finish(order, _("Order #%(number)s marked as paid.", number=order.number))


@bp.post("/<int:order_id>/fulfil")
@login_required
def fulfil(order_id: int) -> Any:
    store = current_store()
    order = _order_or_404(order_id)
    try:
        service.fulfil(store, order, actor=staff_actor())
    except KedaiError as error:
        db.session.rollback()
        flash_error(error)
        return redirect(url_for(".show", order_id=order.id))
    return _finish(order, _("Order #%(number)s fulfilled.", number=order.number))


@bp.post("/<int:order_id>/cancel")
@login_required
def cancel(order_id: int) -> Any:
    """Cancel with a reason; a paid order is refunded in full by the service."""
    store = current_store()
    order = _order_or_404(order_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            service.cancel(store, order, reason=form.cancel_reason.data or "", actor=staff_actor())
        except KedaiError as error:
            db.session.rollback()
            flash_error(error, form)
        else:
            return _finish(order, _("Order #%(number)s cancelled.", number=order.number))
    return _render_order(order, cancel=form)


@bp.post("/<int:order_id>/refund")
@login_required
def refund(order_id: int) -> Any:
    """Refund an amount typed in major units, e.g. ``12.50``."""
    store = current_store()
    order = _order_or_404(order_id)
    form = RefundForm()
    if form.validate_on_submit():
        try:
            amount = to_minor(form.amount.data, order.currency)
        except ValueError:
            form.amount.errors = [
                _("%(currency)s amounts cannot have that many decimals.", currency=order.currency)
            ]
            return _render_order(order, refund=form)
        try:
            service.refund(
                store, order, amount, reason=form.refund_reason.data or "", actor=staff_actor()
            )
        except KedaiError as error:
            db.session.rollback()
            flash_error(error, form)
        else:
            return _finish(order, _("Refund recorded on order #%(number)s.", number=order.number))
    return _render_order(order, refund=form)


@bp.post("/<int:order_id>/attach")
@login_required
def attach(order_id: int) -> Any:
    """Attach a guest order to a customer found by id or email (O-03)."""
    store = current_store()
    order = _order_or_404(order_id)
    form = AttachForm()
    if form.validate_on_submit():
        try:
            customer = find_customer_ref(store, form.attach_ref.data, "attach_ref")
            service.attach_customer(store, order, customer.id, actor=staff_actor())
        except KedaiError as error:
            db.session.rollback()
            flash_error(error, form)
        else:
            return _finish(
                order,
                _(
                    "Order #%(number)s attached to %(name)s.",
                    number=order.number,
                    name=customer.display_name,
                ),
            )
    return _render_order(order, attach=form)
