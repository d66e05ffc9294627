"""Forms of the customer admin pages: the list's filters and bulk actions, the customer profile
with the store's custom fields, tags, custom field definitions, and the account actions
(blacklist, merge, move orders, erase).

Forms only read and shape input; the rules (what a valid email, phone or custom value is) live
in ``core.customers.service``, whose errors the views put next to the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.customers.models import Customer, CustomFieldDefinition, Tag
from core.customers.service import PROFILE_FIELDS, find_by_email, get_customer
from core.errors import NotFound
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.stores.models import Store

YES_NO_ANY = [
    SelectChoice("", _l("Any")),
    SelectChoice("yes", _l("Yes")),
    SelectChoice("no", _l("No")),
]
FIELD_TYPE_CHOICES = [
    SelectChoice("text", _l("Text")),
    SelectChoice("date", _l("Date")),
    SelectChoice("dropdown", _l("Dropdown")),
]
VISIBILITY_CHOICES = [
    SelectChoice("signup", _l("Signup and account page")),
    SelectChoice("account", _l("Account page only")),
    SelectChoice("staff", _l("Staff only")),
]


def split_tags(text: str | None) -> list[str]:
    """``"vip, 批發, wholesale"`` → ``["vip", "批發", "wholesale"]``; full-width commas (U+FF0C,
    what Chinese keyboards type) separate tags too."""
    return [part.strip() for part in re.split("[,\uff0c]", text or "") if part.strip()]


def find_customer_ref(store: Store, text: str | None, field: str) -> Customer:
    """The store's customer a merchant typed as an id (``12`` or ``#12``) or an email."""
    ref = (text or "").strip()
    customer = None
    if ref.lstrip("#").isdigit():
        try:
            customer = get_customer(store, int(ref.lstrip("#")))
        except NotFound:
            customer = None
    elif "@" in ref:
        customer = find_by_email(store, ref)
    if customer is None:
        raise NotFound(_("No customer %(ref)s in this store.", ref=ref or "-"), field=field)
    return customer


class StaffForm(FlaskForm):
    """A form posted with the page's CSRF token; CSRFProtect has checked it already."""


# --- the list ----------------------------------------------------------------------------------


class CustomerFilterForm(FlaskForm):
    """The list's filters, read from the query string. Field names are the argument names
    ``core.customers.exporting.customer_filter_from_args`` reads, so the export link carries
    the same filter."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), render_kw={"placeholder": _l("Name, email or phone")})
    created_from = DateField(_l("Registered from"), validators=[Optional()])
    created_to = DateField(_l("Registered until"), validators=[Optional()])
    orders_min = IntegerField(_l("Orders, at least"), validators=[Optional()])
    orders_max = IntegerField(_l("Orders, at most"), validators=[Optional()])
    spent_min = StringField(_l("Spent, at least"), render_kw={"inputmode": "decimal"})
    spent_max = StringField(_l("Spent, at most"), render_kw={"inputmode": "decimal"})
    last_order_after = DateField(_l("Last order after"), validators=[Optional()])
    last_order_before = DateField(_l("Last order before"), validators=[Optional()])
    tag_ids = SelectField(_l("Tag"), choices=[], validate_choice=False)
    blacklisted = SelectField(_l("Blacklisted"), choices=YES_NO_ANY, validate_choice=False)
    accepts_marketing = SelectField(
        _l("Accepts marketing"), choices=YES_NO_ANY, validate_choice=False
    )
    field_key = SelectField(_l("Custom field"), choices=[], validate_choice=False)
    field_value = StringField(_l("Value"), render_kw={"placeholder": _l("any value")})

    def set_choices(self, tags: Sequence[Tag], fields: Sequence[CustomFieldDefinition]) -> None:
        self.tag_ids.choices = [
            SelectChoice("", _("Any tag")),
            *(SelectChoice(str(t.id), t.name) for t in tags),
        ]
        self.field_key.choices = [
            SelectChoice("", _("Any")),
            *(SelectChoice(f.key, f.label) for f in fields),
        ]


BULK_ACTIONS = [
    SelectChoice("add_tag", _l("Add tag")),
    SelectChoice("remove_tag", _l("Remove tag")),
    SelectChoice("blacklist", _l("Blacklist")),
]


class BulkActionForm(FlaskForm):
    """An action on the checked rows or on every customer the filter matches (C-02)."""

    action = SelectField(_l("Action"), choices=BULK_ACTIONS)
    tag = StringField(_l("Tag"), validators=[Length(max=64)])
    reason = StringField(_l("Reason"), validators=[Length(max=500)])

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.action.data in ("add_tag", "remove_tag") and not (self.tag.data or "").strip():
            self.tag.errors = [_("Name the tag.")]
            return False
        if self.action.data == "blacklist" and not (self.reason.data or "").strip():
            self.reason.errors = [_("Say why the customers are blacklisted.")]
            return False
        return True


# --- one customer ------------------------------------------------------------------------------


class CustomerForm(FlaskForm):
    """Profile and tags. ``customer_form(definitions)`` adds the store's custom fields."""

    first_name = StringField(_l("First name"), validators=[Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[Length(max=100)])
    email = StringField(_l("Email"), validators=[Length(max=254)], render_kw={"type": "email"})
    phone = StringField(
        _l("Phone"),
        validators=[Length(max=40)],
        render_kw={"type": "tel"},
        description=_l("National numbers are read in the store's country."),
    )
    birthday = DateField(_l("Birthday"), validators=[Optional()])
    accepts_marketing = BooleanField(_l("Accepts marketing"))
    location = StringField(_l("Store location"), validators=[Length(max=100)])
    salesperson = StringField(_l("Salesperson"), validators=[Length(max=100)])
    note = TextAreaField(_l("Note"), validators=[Length(max=5000)], render_kw={"rows": 3})
    tags = StringField(_l("Tags"), description=_l("Separate tags with commas."))

    #: ``(definition, form field)`` for each custom field, in the store's order.
    custom: list[tuple[CustomFieldDefinition, Field]]

    def profile_data(self) -> dict[str, Any]:
        return {
            "first_name": self.first_name.data or "",
            "last_name": self.last_name.data or "",
            "email": self.email.data or None,
            "phone": self.phone.data or None,
            "birthday": self.birthday.data,
            "accepts_marketing": bool(self.accepts_marketing.data),
            "location": self.location.data or "",
            "salesperson": self.salesperson.data or "",
            "note": self.note.data or "",
        }

    def tag_names(self) -> list[str]:
        return split_tags(self.tags.data)

    def custom_values(self) -> dict[str, str]:
        return {definition.key: field.data or "" for definition, field in self.custom}

    def custom_fields_by_key(self) -> Any:
        """The custom fields under their keys, for ``flash_error``: the service names a bad
        value ``fields.<key>``."""

        class ByKey:
            pass

        target = ByKey()
        for definition, field in self.custom:
            setattr(target, definition.key, field)
        return target


def _custom_field(definition: CustomFieldDefinition, current: str | None) -> Field:
    label = definition.label
    description = _l("Required when customers fill it in.") if definition.required else ""
    if definition.field_type == "dropdown":
        options = list(definition.options)
        if current and current not in options:
            options.append(current)
        return SelectField(
            label,
            choices=[SelectChoice("", "—"), *(SelectChoice(option) for option in options)],
            validate_choice=False,
            description=description,
        )
    kwargs: dict[str, Any] = {"type": "date"} if definition.field_type == "date" else {}
    return StringField(label, render_kw=kwargs, description=description)


def customer_form(
    definitions: Sequence[CustomFieldDefinition],
    customer: Customer | None = None,
    *,
    formdata: Any = None,
    submitted: bool = False,
) -> CustomerForm:
    """The profile form with one field per custom field, named ``cf_<key>``.

    ``submitted`` binds the request's form data; otherwise the form shows ``customer``.
    """
    values = customer.field_value_map() if customer is not None else {}
    attrs = {f"cf_{d.key}": _custom_field(d, values.get(d.key)) for d in definitions}
    form_class = type("CustomerProfileForm", (CustomerForm,), attrs)
    if submitted:
        form = form_class(formdata=formdata) if formdata is not None else form_class()
    else:
        data: dict[str, Any] = {f"cf_{key}": value for key, value in values.items()}
        if customer is not None:
            data.update({name: getattr(customer, name) for name in PROFILE_FIELDS})
            data["tags"] = ", ".join(tag.name for tag in customer.tags)
        form = form_class(formdata=None, data=data)
    form.custom = [(d, form[f"cf_{d.key}"]) for d in definitions]
    return form


class BlacklistForm(FlaskForm):
    blacklist_reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class MergeForm(FlaskForm):
    merge_ref = StringField(
        _l("Other account (id or email)"), validators=[DataRequired(), Length(max=254)]
    )
    merge_confirm = BooleanField(
        _l("I understand the other account is closed and cannot be separated again."),
        validators=[DataRequired()],
    )


class MoveOrdersForm(FlaskForm):
    move_target = StringField(
        _l("Move the checked orders to (id or email)"),
        validators=[DataRequired(), Length(max=254)],
    )


class EraseForm(FlaskForm):
    erase_confirmation = StringField(_l("Confirmation"), validators=[DataRequired()])


# --- tags and custom fields ---------------------------------------------------------------------


class TagForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    description = TextAreaField(
        _l("Description"), validators=[Length(max=500)], render_kw={"rows": 2}
    )


class CustomFieldForm(FlaskForm):
    """Defining a custom field (C-04). Key and type are fixed once the field exists."""

    key = StringField(
        _l("Key"),
        validators=[DataRequired(), Length(max=64)],
        description=_l("Lowercase letters, digits and _; used in imports, exports and the API."),
    )
    label = StringField(_l("Label"), validators=[DataRequired(), Length(max=200)])
    field_type = SelectField(_l("Type"), choices=FIELD_TYPE_CHOICES)
    options = TextAreaField(
        _l("Dropdown options"),
        description=_l("One option per line."),
        render_kw={"rows": 3},
    )
    required = BooleanField(_l("Required when customers fill it in"))
    visibility = SelectField(_l("Shown to"), choices=VISIBILITY_CHOICES, default="staff")
    position = IntegerField(
        _l("Position"), default=0, validators=[InputRequired(), NumberRange(min=0, max=10_000)]
    )

    def option_list(self) -> list[str]:
        return [line.strip() for line in (self.options.data or "").splitlines() if line.strip()]


class CustomFieldEditForm(CustomFieldForm):
    key = None  # type: ignore[assignment]
    field_type = None  # type: ignore[assignment]
