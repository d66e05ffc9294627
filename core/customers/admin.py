"""Admin pages for customers: the list with filters and bulk actions (C-01, C-02), one
customer's page (profile, custom fields, tags, orders, timeline, quick contact, blacklist,
merge and move orders, privacy: C-04, C-05, C-09 to C-13), tags (C-03) and custom field
definitions (C-04).

Views read the form, call ``core.customers.service`` and commit when it succeeds; a domain error
rolls back and is shown next to its field (or at the top of the page).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from core.customers import service
from core.customers.exporting import customer_filter_from_args
from core.customers.forms import (
    BULK_ACTIONS,
    BlacklistForm,
    BulkActionForm,
    CustomerFilterForm,
    CustomerForm,
    CustomFieldEditForm,
    CustomFieldForm,
    EraseForm,
    MergeForm,
    MoveOrdersForm,
    StaffForm,
    TagForm,
    customer_form,
    find_customer_ref,
)
from core.customers.models import Customer, CustomFieldDefinition, Tag
from core.customers.schemas import customer_snapshot
from core.db import db
from core.errors import KedaiError, NotFound
from core.events.service import customer_timeline
from core.i18n import gettext as _
from core.i18n import ngettext
from core.orders.service import list_orders
from core.web.admin_helpers import current_store, flash_error, staff_actor
from core.web.display import actor_labels, has_endpoint, install_display

log = logging.getLogger(__name__)

bp = Blueprint("customers_admin", __name__, url_prefix="/admin/customers")
install_display(bp)

#: Query arguments of the list that are not part of the filter.
LIST_ARGS = ("page", "per_page", "sort", "dir", "format")
PER_PAGE = (25, 50, 100, 200)
PLUGIN_ARG = "plugin."


# --- helpers -----------------------------------------------------------------------------------


def _customer_or_404(customer_id: int) -> Customer:
    """The current store's customer; another store's id is as absent as a missing one."""
    try:
        return service.get_customer(current_store(), customer_id)
    except NotFound:
        abort(404)


def _tag_or_404(tag_id: int) -> Tag:
    try:
        return service.get_tag(current_store(), tag_id)
    except NotFound:
        abort(404)


def _field_or_404(field_id: int) -> CustomFieldDefinition:
    try:
        return service.get_field(current_store(), field_id)
    except NotFound:
        abort(404)


def _filter_args() -> dict[str, list[str]]:
    """The current query string without paging and sorting: what the filter is."""
    return {k: v for k, v in request.args.to_dict(flat=False).items() if k not in LIST_ARGS}


def _customer_filter(specs: list[Any]) -> service.CustomerFilter:
    """The filter the query string describes: the export's reading plus plugin filters."""
    store = current_store()
    flt = customer_filter_from_args(store, request.args)
    flt.plugin = {
        spec.key: value
        for spec in specs
        if (value := request.args.get(PLUGIN_ARG + spec.key, "").strip())
    }
    return flt


def _form_error(error: KedaiError, form: Any) -> None:
    db.session.rollback()
    flash_error(error, form)


# --- the list (C-01, C-02) ---------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> str:
    """Customers matching the filters in the query string, one page, sorted by a column."""
    store = current_store()
    form = CustomerFilterForm(formdata=request.args)
    form.set_choices(service.list_tags(store), service.list_fields(store))
    specs = service.plugin_filters(store)
    sort = request.args.get("sort", "created")
    if sort not in service.SORTS:
        sort = "created"
    descending = request.args.get("dir", "desc") != "asc"
    per_page = request.args.get("per_page", 50, type=int)
    per_page = per_page if per_page in PER_PAGE else 50
    results = None
    try:
        flt = _customer_filter(specs)
        results = service.search_customers(
            store,
            flt,
            sort=sort,
            descending=descending,
            page=max(request.args.get("page", 1, type=int), 1),
            per_page=per_page,
        )
    except KedaiError as error:
        flash_error(error, form)
    bulk = BulkActionForm(formdata=None)
    if has_endpoint("customers_io.export"):
        bulk.action.choices = [*BULK_ACTIONS, SelectChoice("export_csv", _("Export (CSV)"))]
    filter_args = _filter_args()
    return render_template(
        "customers/list.html",
        form=form,
        bulk=bulk,
        results=results,
        sort=sort,
        descending=descending,
        per_page=per_page,
        plugin_filters=[
            (spec, PLUGIN_ARG + spec.key, request.args.get(PLUGIN_ARG + spec.key, ""))
            for spec in specs
        ],
        filtered=any(any(values) for values in filter_args.values()),
        advanced_filters=any(any(values) for key, values in filter_args.items() if key != "q"),
        bulk_url=url_for(".bulk", **request.args.to_dict(flat=False)),
        export_urls=(
            {
                fmt: url_for("customers_io.export", **filter_args, format=fmt)
                for fmt in ("csv", "xlsx")
            }
            if has_endpoint("customers_io.export")
            else {}
        ),
        currency=store.currency,
    )


@bp.post("/bulk")
@login_required
def bulk() -> Response:
    """Apply an action to the checked customers, or to every customer the filter (carried in
    the query string) matches."""
    store = current_store()
    back = url_for(".index", **request.args.to_dict(flat=False))
    form = BulkActionForm()
    if has_endpoint("customers_io.export"):
        form.action.choices = [*BULK_ACTIONS, SelectChoice("export_csv", _("Export (CSV)"))]
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "danger")
        return redirect(back)
    whole_filter = request.form.get("scope") == "all"
    ids = sorted({int(v) for v in request.form.getlist("ids") if v.isdigit()})
    if not whole_filter and not ids:
        flash(
            _(
                "Tick at least one customer, or apply the action to every customer the filter "
                "matches."
            ),
            "warning",
        )
        return redirect(back)
    try:
        flt = (
            _customer_filter(service.plugin_filters(store))
            if whole_filter
            else service.CustomerFilter(ids=ids)
        )
    except KedaiError as error:
        flash_error(error)
        return redirect(back)
    action = form.action.data
    if action == "export_csv":
        args = _filter_args() if whole_filter else {"ids": [",".join(map(str, ids))]}
        return redirect(url_for("customers_io.export", format="csv", **args))
    try:
        if action == "blacklist":
            count = service.bulk_blacklist(
                store, flt, form.reason.data.strip(), actor=staff_actor()
            )
            message = ngettext(
                "%(num)d customer blacklisted.", "%(num)d customers blacklisted.", count
            )
        else:
            count = service.bulk_tag(
                store, flt, [form.tag.data], add=action == "add_tag", actor=staff_actor()
            )
            if action == "add_tag":
                message = ngettext(
                    "Tag “%(tag)s” added to %(num)d customer.",
                    "Tag “%(tag)s” added to %(num)d customers.",
                    count,
                    tag=form.tag.data.strip(),
                )
            else:
                message = ngettext(
                    "Tag “%(tag)s” removed from %(num)d customer.",
                    "Tag “%(tag)s” removed from %(num)d customers.",
                    count,
                    tag=form.tag.data.strip(),
                )
    except KedaiError as error:
        _form_error(error, None)
        return redirect(back)
    db.session.commit()
    flash(message, "success")
    return redirect(back)


# --- one customer ------------------------------------------------------------------------------


def _render_customer(customer: Customer, **forms: Any) -> str:
    """The customer page; ``forms`` replaces the blank form that failed validation."""
    store = current_store()
    definitions = service.list_fields(store)
    forms.setdefault("profile", customer_form(definitions, customer))
    forms.setdefault("blacklist", BlacklistForm(formdata=None))
    forms.setdefault("merge", MergeForm(formdata=None))
    forms.setdefault("move", MoveOrdersForm(formdata=None))
    forms.setdefault("erase", EraseForm(formdata=None))
    before = request.args.get("before", type=int)
    events = customer_timeline(store, customer.id, limit=50, before=before)
    greeting = _(
        "Hello %(name)s, this is %(store)s.",
        name=customer.first_name or customer.display_name,
        store=store.name,
    )
    merged_into = None
    if customer.merged_into_id is not None:
        merged_into = service.get_customer(store, customer.merged_into_id)
    return render_template(
        "customers/show.html",
        customer=customer,
        forms=forms,
        definitions=definitions,
        orders=list_orders(store, customer_id=customer.id, per_page=100),
        events=events,
        older=events[-1].seq if len(events) == 50 else None,
        actors=actor_labels(store.id, events),
        mailto=service.mailto_link(customer, subject=store.name, body=greeting),
        whatsapp=service.whatsapp_link(customer, text=greeting),
        merged_into=merged_into,
        live=customer.merged_into_id is None and customer.erased_at is None,
        erase_word=customer.email or "ERASE",
        panels=_panels(customer),
        currency=store.currency,
    )


def _panels(customer: Customer) -> list[Any]:
    """Boxes the store's plugins add to the customer page (``admin_panels``)."""
    from core.plugins.dispatch import contributions

    panels = contributions(
        current_store(),
        "admin_panels",
        page="customer",
        customer=customer_snapshot(customer),
        order=None,
    )
    # Panel HTML comes from the plugin's own autoescaped templates (``ctx.render``).
    return [(panel.title, Markup(panel.html)) for panel in panels]  # noqa: S704


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    store = current_store()
    definitions = service.list_fields(store)
    form = customer_form(definitions, submitted=request.method == "POST")
    if form.validate_on_submit():
        try:
            customer = service.create_customer(
                store,
                form.profile_data(),
                tags=form.tag_names(),
                custom_fields=form.custom_values() or None,
                actor=staff_actor(),
            )
        except KedaiError as error:
            _show_profile_error(error, form)
        else:
            db.session.commit()
            flash(_("Customer added."), "success")
            return redirect(url_for(".show", customer_id=customer.id))
    return render_template("customers/new.html", form=form)


def _show_profile_error(error: KedaiError, form: CustomerForm) -> None:
    """Put the error next to its field: custom fields are ``fields.<key>`` in the service."""
    if error.field and error.field.startswith("fields."):
        _form_error(error, form.custom_fields_by_key())
    else:
        _form_error(error, form)


@bp.get("/<int:customer_id>")
@login_required
def show(customer_id: int) -> str:
    return _render_customer(_customer_or_404(customer_id))


@bp.post("/<int:customer_id>")
@login_required
def update(customer_id: int) -> Any:
    """Save the profile, tags and custom fields together."""
    store = current_store()
    customer = _customer_or_404(customer_id)
    form = customer_form(service.list_fields(store), customer, submitted=True)
    if form.validate_on_submit():
        try:
            service.update_customer(
                store,
                customer,
                form.profile_data(),
                tags=form.tag_names(),
                custom_fields=form.custom_values() or None,
                actor=staff_actor(),
            )
        except KedaiError as error:
            _show_profile_error(error, form)
        else:
            db.session.commit()
            flash(_("Customer saved."), "success")
            return redirect(url_for(".show", customer_id=customer.id))
    return _render_customer(customer, profile=form)


@bp.post("/<int:customer_id>/blacklist")
@login_required
def blacklist(customer_id: int) -> Any:
    """Blacklist with a reason (C-05): the customer can no longer log in or order."""
    store = current_store()
    customer = _customer_or_404(customer_id)
    form = BlacklistForm()
    if form.validate_on_submit():
        try:
            service.blacklist(store, customer, form.blacklist_reason.data, actor=staff_actor())
        except KedaiError as error:
            _form_error(error, form)
        else:
            db.session.commit()
            flash(_("Customer blacklisted."), "success")
            return redirect(url_for(".show", customer_id=customer.id))
    return _render_customer(customer, blacklist=form)


@bp.post("/<int:customer_id>/unblacklist")
@login_required
def unblacklist(customer_id: int) -> Response:
    store = current_store()
    customer = _customer_or_404(customer_id)
    form = StaffForm()
    if form.validate_on_submit():
        try:
            service.unblacklist(store, customer, actor=staff_actor())
        except KedaiError as error:
            _form_error(error, None)
        else:
            db.session.commit()
            flash(_("Customer removed from the blacklist."), "success")
    return redirect(url_for(".show", customer_id=customer.id))


@bp.post("/<int:customer_id>/merge")
@login_required
def merge(customer_id: int) -> Any:
    """Merge another account into this one (C-09): its orders, tags and missing details move
    here and it is closed."""
    store = current_store()
    customer = _customer_or_404(customer_id)
    form = MergeForm()
    if form.validate_on_submit():
        try:
            other = find_customer_ref(store, form.merge_ref.data, "merge_ref")
            service.merge_customers(store, customer, other, actor=staff_actor())
        except KedaiError as error:
            _form_error(error, form)
        else:
            db.session.commit()
            flash(_("Customer #%(id)s merged into this customer.", id=other.id), "success")
            return redirect(url_for(".show", customer_id=customer.id))
    return _render_customer(customer, merge=form)


@bp.post("/<int:customer_id>/move-orders")
@login_required
def move_orders(customer_id: int) -> Any:
    """Move the checked orders to another customer (C-09)."""
    store = current_store()
    customer = _customer_or_404(customer_id)
    form = MoveOrdersForm()
    order_ids = sorted({int(v) for v in request.form.getlist("order_ids") if v.isdigit()})
    if form.validate_on_submit():
        if not order_ids:
            form.move_target.errors = [_("Tick the orders to move.")]
            return _render_customer(customer, move=form)
        try:
            target = find_customer_ref(store, form.move_target.data, "move_target")
            count = service.move_orders(store, customer, target, order_ids, actor=staff_actor())
        except KedaiError as error:
            _form_error(error, form)
        else:
            db.session.commit()
            flash(
                ngettext(
                    "%(num)d order moved to %(name)s.",
                    "%(num)d orders moved to %(name)s.",
                    count,
                    name=target.display_name,
                ),
                "success",
            )
            return redirect(url_for(".show", customer_id=customer.id))
    return _render_customer(customer, move=form)


@bp.get("/<int:customer_id>/privacy-export.json")
@login_required
def privacy_export(customer_id: int) -> Response:
    """Everything the core and the store's plugins hold about the customer, as JSON (C-13)."""
    store = current_store()
    customer = _customer_or_404(customer_id)
    try:
        data = service.export_customer_data(store, customer)
    except Exception as exc:
        # A plugin's export hook failing must not hand out a partial export as if complete.
        log.exception("privacy export of customer %s failed", customer.id)
        flash(
            _(
                "The export could not be completed: %(error)s",
                error=getattr(exc, "message", None) or type(exc).__name__,
            ),
            "danger",
        )
        return redirect(url_for(".show", customer_id=customer.id))
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-{customer.id}.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/<int:customer_id>/erase")
@login_required
def erase(customer_id: int) -> Any:
    """Erase the customer's personal data in the core and every plugin (C-13). Staff confirm by
    typing the customer's email (or ERASE when there is none)."""
    store = current_store()
    customer = _customer_or_404(customer_id)
    form = EraseForm()
    if form.validate_on_submit():
        expected = customer.email or "ERASE"
        if form.erase_confirmation.data.strip().lower() != expected.lower():
            form.erase_confirmation.errors = [_("Type %(word)s to confirm.", word=expected)]
            return _render_customer(customer, erase=form)
        try:
            service.erase_customer(store, customer, actor=staff_actor())
        except KedaiError as error:
            _form_error(error, form)
        else:
            db.session.commit()
            flash(_("The customer's personal data was erased."), "success")
            return redirect(url_for(".show", customer_id=customer.id))
    return _render_customer(customer, erase=form)


# --- tags (C-03) -------------------------------------------------------------------------------


@bp.route("/tags", methods=["GET", "POST"])
@login_required
def tags() -> Any:
    """Every tag with how many customers carry it; the form adds one."""
    store = current_store()
    form = TagForm()
    if form.validate_on_submit():
        try:
            tag = service.create_tag(store, form.name.data, form.description.data or "")
        except KedaiError as error:
            _form_error(error, form)
        else:
            db.session.commit()
            flash(_("Tag “%(name)s” created.", name=tag.name), "success")
            return redirect(url_for(".tags"))
    return render_template(
        "customers/tags.html",
        form=form,
        tags=service.list_tags(store),
        counts=service.tag_counts(store),
    )


@bp.route("/tags/<int:tag_id>", methods=["GET", "POST"])
@login_required
def tags_edit(tag_id: int) -> Any:
    """Rename or describe a tag; every customer keeps it under the new name."""
    store = current_store()
    tag = _tag_or_404(tag_id)
    form = TagForm(data={"name": tag.name, "description": tag.description})
    if form.validate_on_submit():
        try:
            service.update_tag(
                store, tag, name=form.name.data, description=form.description.data or ""
            )
        except KedaiError as error:
            _form_error(error, form)
        else:
            db.session.commit()
            flash(_("Tag saved."), "success")
            return redirect(url_for(".tags"))
    return render_template(
        "customers/tag_edit.html",
        form=form,
        tag=tag,
        count=service.tag_counts(store).get(tag.id, 0),
    )


@bp.route("/tags/<int:tag_id>/delete", methods=["GET", "POST"])
@login_required
def tags_delete(tag_id: int) -> Any:
    """Confirm, then delete a tag: customers lose it, nothing else changes."""
    store = current_store()
    tag = _tag_or_404(tag_id)
    form = StaffForm()
    if form.validate_on_submit():
        name = tag.name
        try:
            service.delete_tag(store, tag)
        except KedaiError as error:
            _form_error(error, None)
        else:
            db.session.commit()
            flash(_("Tag “%(name)s” deleted.", name=name), "success")
        return redirect(url_for(".tags"))
    return render_template(
        "customers/confirm_delete.html",
        title=_("Delete the tag “%(name)s”?", name=tag.name),
        explanation=ngettext(
            "%(num)d customer has this tag; they keep everything else.",
            "%(num)d customers have this tag; they keep everything else.",
            service.tag_counts(store).get(tag.id, 0),
        ),
        back=url_for(".tags"),
    )


# --- custom fields (C-04) ----------------------------------------------------------------------


@bp.route("/fields", methods=["GET", "POST"])
@login_required
def fields() -> Any:
    """The store's custom customer fields; the form defines a new one."""
    store = current_store()
    form = CustomFieldForm()
    if form.validate_on_submit():
        try:
            definition = service.define_field(
                store,
                key=form.key.data.strip(),
                label=form.label.data,
                field_type=form.field_type.data,
                options=form.option_list(),
                required=form.required.data,
                visibility=form.visibility.data,
                position=form.position.data,
            )
        except KedaiError as error:
            _form_error(error, form)
        else:
            db.session.commit()
            flash(_("Field “%(label)s” added.", label=definition.label), "success")
            return redirect(url_for(".fields"))
    return render_template(
        "customers/fields.html", form=form, definitions=service.list_fields(store)
    )


@bp.route("/fields/<int:field_id>", methods=["GET", "POST"])
@login_required
def fields_edit(field_id: int) -> Any:
    """Relabel a field, change its options, requiredness, visibility or position."""
    store = current_store()
    definition = _field_or_404(field_id)
    form = CustomFieldEditForm(
        data={
            "label": definition.label,
            "options": "\n".join(definition.options),
            "required": definition.required,
            "visibility": definition.visibility,
            "position": definition.position,
        }
    )
    if form.validate_on_submit():
        changes: dict[str, Any] = {
            "label": form.label.data.strip(),
            "required": form.required.data,
            "visibility": form.visibility.data,
            "position": form.position.data,
        }
        if definition.field_type == "dropdown":
            changes["options"] = form.option_list()
        try:
            service.update_field(store, definition, changes)
        except KedaiError as error:
            _form_error(error, form)
        else:
            db.session.commit()
            flash(_("Field saved."), "success")
            return redirect(url_for(".fields"))
    return render_template("customers/field_edit.html", form=form, definition=definition)


@bp.route("/fields/<int:field_id>/delete", methods=["GET", "POST"])
@login_required
def fields_delete(field_id: int) -> Any:
    """Confirm, then delete a field together with every customer's value for it."""
    store = current_store()
    definition = _field_or_404(field_id)
    form = StaffForm()
    if form.validate_on_submit():
        label = definition.label
        try:
            service.delete_field(store, definition)
        except KedaiError as error:
            _form_error(error, None)
        else:
            db.session.commit()
            flash(_("Field “%(label)s” deleted.", label=label), "success")
        return redirect(url_for(".fields"))
    return render_template(
        "customers/confirm_delete.html",
        title=_("Delete the field “%(label)s”?", label=definition.label),
        explanation=_("Every customer's value for this field is deleted with it."),
        back=url_for(".fields"),
    )
