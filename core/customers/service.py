"""Customer rules: profiles, search and filters, tags, custom fields, blacklist, birthdays,
merging, quick contact and privacy (C-01 to C-11, C-13).

Every function takes the store explicitly and only ever touches that store's rows. Changes
record their events in the same transaction; the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from core.customers.models import (
    FIELD_TYPES,
    FIELD_VISIBILITY,
    Customer,
    CustomFieldDefinition,
    CustomFieldValue,
    Tag,
    customer_tags,
)
from core.customers.schemas import customer_snapshot
from core.db import db, utcnow
from core.errors import Conflict, Forbidden, NotFound, ValidationError
from core.events.models import Event
from core.events.service import record_event
from core.orders.models import Order
from core.phones import digits, normalise_phone
from core.stores.models import Store

#: Profile fields a caller may set through ``create_customer`` / ``update_customer``.
PROFILE_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "birthday",
    "accepts_marketing",
    "note",
    "location",
    "salesperson",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- lookups -------------------------------------------------------------------------------


def get_customer(store: Store, customer_id: int) -> Customer:
    """The customer with this id in this store, or ``NotFound`` (also for another store's id)."""
    customer = db.session.scalar(
        sa.select(Customer)
        .where(Customer.store_id == store.id, Customer.id == customer_id)
        .options(selectinload(Customer.tags), selectinload(Customer.field_values))
    )
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def find_by_email(store: Store, email: str) -> Customer | None:
    return db.session.scalar(
        sa.select(Customer).where(
            Customer.store_id == store.id, Customer.email == normalise_email(email)
        )
    )


def find_by_phone(store: Store, phone: str) -> list[Customer]:
    """Every live account on this number: one phone may be shared by several accounts."""
    e164 = normalise_phone(phone, store.default_phone_region)
    return list(
        db.session.scalars(
            sa.select(Customer)
            .where(
                Customer.store_id == store.id,
                Customer.phone == e164,
                Customer.merged_into_id.is_(None),
                Customer.erased_at.is_(None),
            )
            .order_by(Customer.id)
        )
    )


# --- profile -------------------------------------------------------------------------------


def normalise_email(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip().lower()
    if not email:
        return None
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValidationError(f"{email!r} is not an email address", field="email")
    return email


def _clean_profile(store: Store, data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    clean = dict(data)
    if "email" in clean:
        clean["email"] = normalise_email(clean["email"])
    if "phone" in clean:
        raw = (clean["phone"] or "").strip()
        clean["phone"] = normalise_phone(raw, store.default_phone_region) if raw else None
    for text_field in ("first_name", "last_name", "note", "location", "salesperson"):
        if text_field in clean:
            clean[text_field] = (clean[text_field] or "").strip()
    if "birthday" in clean and isinstance(clean["birthday"], str):
        clean["birthday"] = _parse_date(clean["birthday"], "birthday")
    return clean


def _ensure_unique_email(store: Store, email: str | None, exclude_id: int | None = None) -> None:
    if email is None:
        return
    query = sa.select(Customer.id).where(Customer.store_id == store.id, Customer.email == email)
    if exclude_id is not None:
        query = query.where(Customer.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict(f"a customer with email {email} already exists", field="email")


def create_customer(
    store: Store,
    data: dict[str, Any],
    *,
    tags: Sequence[str] = (),
    custom_fields: dict[str, Any] | None = None,
    password: str | None = None,
    source: str = "admin",
    actor: str = "system",
    enforce_required_fields: bool = False,
) -> Customer:
    """Add a customer. Needs an email or a phone; the email is unique in the store.

    ``enforce_required_fields`` makes required custom fields mandatory, as at a shopper's
    signup; staff and imports may leave them empty.
    """
    clean = _clean_profile(store, data)
    if not clean.get("email") and not clean.get("phone"):
        raise ValidationError("a customer needs an email or a phone number", field="email")
    _ensure_unique_email(store, clean.get("email"))
    customer = Customer(store_id=store.id, source=source, **clean)
    if password is not None:
        customer.password_hash = hash_password(password)
    customer.tags = []
    db.session.add(customer)
    if tags:
        customer.tags = ensure_tags(store, tags)
    if custom_fields or enforce_required_fields:
        _apply_field_values(store, customer, custom_fields or {}, enforce_required_fields)
    db.session.flush()
    record_event(
        store.id,
        "customer.created",
        {"customer": customer_snapshot(customer), "source": source},
        actor=actor,
        customer_id=customer.id,
    )
    return customer


def update_customer(
    store: Store,
    customer: Customer,
    data: dict[str, Any],
    *,
    tags: Sequence[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    actor: str = "system",
) -> Customer:
    """Change profile fields, replace tags and/or set custom fields; records what changed."""
    _ensure_live(customer)
    clean = _clean_profile(store, data)
    if "email" in clean:
        _ensure_unique_email(store, clean["email"], exclude_id=customer.id)
    changed: dict[str, Any] = {}
    for key, value in clean.items():
        if getattr(customer, key) != value:
            changed[key] = value
            setattr(customer, key, value)
    if not (customer.email or customer.phone):
        raise ValidationError("a customer needs an email or a phone number", field="email")
    if tags is not None:
        new_tags = ensure_tags(store, tags)
        if {t.id for t in new_tags} != {t.id for t in customer.tags}:
            customer.tags = new_tags
            changed["tags"] = sorted(t.name for t in new_tags)
    if custom_fields and _apply_field_values(
        store, customer, custom_fields, enforce_required=False
    ):
        changed["fields"] = sorted(custom_fields)
    if changed:
        customer.updated_at = utcnow()
        db.session.flush()
        _record_updated(store, customer, sorted(changed), actor)
    return customer


def _record_updated(store: Store, customer: Customer, changed: list[str], actor: str) -> None:
    record_event(
        store.id,
        "customer.updated",
        {"customer": customer_snapshot(customer), "changed": changed},
        actor=actor,
        customer_id=customer.id,
    )


def _ensure_live(customer: Customer) -> None:
    if customer.merged_into_id is not None:
        raise Conflict(
            f"customer {customer.id} was merged into {customer.merged_into_id}; edit that one"
        )
    if customer.erased_at is not None:
        raise Conflict(f"customer {customer.id} was erased")


# --- passwords and storefront login ---------------------------------------------------------


def hash_password(password: str) -> str:
    """Hash with scrypt (werkzeug's default): a slow, memory-hard KDF."""
    if len(password) < 8:
        raise ValidationError("the password needs at least 8 characters", field="password")
    return generate_password_hash(password)


def authenticate_customer(store: Store, login: str, password: str) -> Customer:
    """Check a shopper's email and password. A blacklisted customer is refused with a reason."""
    customer = find_by_email(store, login) if "@" in login else None
    if (
        customer is None
        or customer.password_hash is None
        or customer.merged_into_id is not None
        or not check_password_hash(customer.password_hash, password)
    ):
        raise Forbidden("the email or password is wrong", field="password")
    ensure_not_blacklisted(customer)
    return customer


def ensure_not_blacklisted(customer: Customer) -> None:
    """Raise ``Forbidden`` if the customer may not log in or order (C-05)."""
    if customer.blacklisted:
        raise Forbidden(
            "this account is blocked by the store; contact the store for help",
            field="customer",
            reason="blacklisted",
        )


# --- birthday (C-06) ------------------------------------------------------------------------


def change_own_birthday(
    store: Store, customer: Customer, birthday: date, *, now: datetime | None = None
) -> Customer:
    """A shopper sets their own birthday: only if the store allows it, at most once a year.

    "Once a year" means 365 days since the last change by the customer; staff edits through
    ``update_customer`` are not limited.
    """
    now = now or utcnow()
    if not store.customers_can_edit_birthday:
        raise Forbidden("this store does not let customers change their birthday", field="birthday")
    if birthday > now.date():
        raise ValidationError("the birthday cannot be in the future", field="birthday")
    last = customer.birthday_changed_at
    if last is not None and now - last < timedelta(days=365):
        next_change = (last + timedelta(days=365)).date().isoformat()
        raise Forbidden(
            f"the birthday can be changed once a year; next change possible on {next_change}",
            field="birthday",
        )
    if customer.birthday != birthday:
        customer.birthday = birthday
        customer.birthday_changed_at = now
        db.session.flush()
        _record_updated(store, customer, ["birthday"], f"customer:{customer.id}")
    return customer


# --- blacklist (C-05) -----------------------------------------------------------------------


def blacklist(store: Store, customer: Customer, reason: str, *, actor: str = "system") -> Customer:
    _ensure_live(customer)
    if customer.blacklisted:
        return customer
    customer.blacklisted = True
    customer.blacklisted_at = utcnow()
    customer.blacklist_reason = reason.strip()[:500]
    db.session.flush()
    record_event(
        store.id,
        "customer.blacklisted",
        {"customer": customer_snapshot(customer), "reason": customer.blacklist_reason},
        actor=actor,
        customer_id=customer.id,
    )
    return customer


def unblacklist(store: Store, customer: Customer, *, actor: str = "system") -> Customer:
    if not customer.blacklisted:
        return customer
    customer.blacklisted = False
    customer.blacklisted_at = None
    customer.blacklist_reason = ""
    db.session.flush()
    _record_updated(store, customer, ["blacklisted"], actor)
    return customer


# --- tags (C-03) ----------------------------------------------------------------------------


def list_tags(store: Store) -> list[Tag]:
    return list(
        db.session.scalars(sa.select(Tag).where(Tag.store_id == store.id).order_by(Tag.name))
    )


def tag_counts(store: Store) -> dict[int, int]:
    rows = db.session.execute(
        sa.select(customer_tags.c.tag_id, sa.func.count())
        .join(Tag, Tag.id == customer_tags.c.tag_id)
        .where(Tag.store_id == store.id)
        .group_by(customer_tags.c.tag_id)
    )
    return {tag_id: count for tag_id, count in rows}


def get_tag(store: Store, tag_id: int) -> Tag:
    tag = db.session.scalar(sa.select(Tag).where(Tag.store_id == store.id, Tag.id == tag_id))
    if tag is None:
        raise NotFound(f"tag {tag_id} not found")
    return tag


def _tag_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError("a tag needs a name", field="name")
    if len(name) > 64:
        raise ValidationError("a tag name has at most 64 characters", field="name")
    return name


def create_tag(store: Store, name: str, description: str = "") -> Tag:
    name = _tag_name(name)
    if db.session.scalar(sa.select(Tag.id).where(Tag.store_id == store.id, Tag.name == name)):
        raise Conflict(f"the tag {name!r} already exists", field="name")
    tag = Tag(store_id=store.id, name=name, description=description.strip())
    db.session.add(tag)
    db.session.flush()
    return tag


def update_tag(
    store: Store, tag: Tag, *, name: str | None = None, description: str | None = None
) -> Tag:
    if name is not None:
        name = _tag_name(name)
        clash = db.session.scalar(
            sa.select(Tag.id).where(Tag.store_id == store.id, Tag.name == name, Tag.id != tag.id)
        )
        if clash:
            raise Conflict(f"the tag {name!r} already exists", field="name")
        tag.name = name
    if description is not None:
        tag.description = description.strip()
    db.session.flush()
    return tag


def delete_tag(store: Store, tag: Tag) -> None:
    if tag.store_id != store.id:
        raise NotFound(f"tag {tag.id} not found")
    db.session.delete(tag)
    db.session.flush()


def ensure_tags(store: Store, names: Iterable[str]) -> list[Tag]:
    """The tags with these names, created when missing."""
    wanted = {_tag_name(name) for name in names if name and name.strip()}
    if not wanted:
        return []
    existing = {
        tag.name: tag
        for tag in db.session.scalars(
            sa.select(Tag).where(Tag.store_id == store.id, Tag.name.in_(wanted))
        )
    }
    for name in sorted(wanted - set(existing)):
        existing[name] = Tag(store_id=store.id, name=name)
        db.session.add(existing[name])
    db.session.flush()
    return sorted(existing.values(), key=lambda t: t.name)


# --- custom fields (C-04) -------------------------------------------------------------------


def list_fields(
    store: Store, *, visibility: Sequence[str] = FIELD_VISIBILITY
) -> list[CustomFieldDefinition]:
    return list(
        db.session.scalars(
            sa.select(CustomFieldDefinition)
            .where(
                CustomFieldDefinition.store_id == store.id,
                CustomFieldDefinition.visibility.in_(visibility),
            )
            .order_by(CustomFieldDefinition.position, CustomFieldDefinition.id)
        )
    )


def get_field(store: Store, field_id: int) -> CustomFieldDefinition:
    definition = db.session.scalar(
        sa.select(CustomFieldDefinition).where(
            CustomFieldDefinition.store_id == store.id, CustomFieldDefinition.id == field_id
        )
    )
    if definition is None:
        raise NotFound(f"custom field {field_id} not found")
    return definition


def _check_definition(field_type: str, options: list[str], visibility: str) -> None:
    if field_type not in FIELD_TYPES:
        raise ValidationError(
            f"field type must be one of {', '.join(FIELD_TYPES)}", field="field_type"
        )
    if visibility not in FIELD_VISIBILITY:
        raise ValidationError(
            f"visibility must be one of {', '.join(FIELD_VISIBILITY)}", field="visibility"
        )
    if field_type == "dropdown" and not options:
        raise ValidationError("a dropdown needs at least one option", field="options")
    if len(set(options)) != len(options):
        raise ValidationError("dropdown options must be different", field="options")


def define_field(
    store: Store,
    *,
    key: str,
    label: str,
    field_type: str,
    options: list[str] | None = None,
    required: bool = False,
    visibility: str = "staff",
    position: int = 0,
) -> CustomFieldDefinition:
    options = [o.strip() for o in options or [] if o.strip()]
    _check_definition(field_type, options, visibility)
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
        raise ValidationError("use lowercase letters, digits and _ for the key", field="key")
    exists = db.session.scalar(
        sa.select(CustomFieldDefinition.id).where(
            CustomFieldDefinition.store_id == store.id, CustomFieldDefinition.key == key
        )
    )
    if exists:
        raise Conflict(f"a custom field with key {key!r} already exists", field="key")
    definition = CustomFieldDefinition(
        store_id=store.id,
        key=key,
        label=label.strip(),
        field_type=field_type,
        options=options if field_type == "dropdown" else [],
        required=required,
        visibility=visibility,
        position=position,
    )
    db.session.add(definition)
    db.session.flush()
    return definition


def update_field(
    store: Store, definition: CustomFieldDefinition, changes: dict[str, Any]
) -> CustomFieldDefinition:
    """Relabel, reorder, change options, requiredness or visibility. Key and type stay."""
    options = changes.get("options", definition.options)
    _check_definition(
        definition.field_type, options, changes.get("visibility", definition.visibility)
    )
    for key in ("label", "options", "required", "visibility", "position"):
        if key in changes:
            setattr(definition, key, changes[key])
    db.session.flush()
    return definition


def delete_field(store: Store, definition: CustomFieldDefinition) -> None:
    db.session.delete(definition)
    db.session.flush()


def _parse_date(value: str, field_name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)", field=field_name) from exc


def validate_field_value(definition: CustomFieldDefinition, value: Any) -> str | None:
    """The stored text for ``value``, or ``None`` for empty; raises when it does not fit."""
    where = f"fields.{definition.key}"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if definition.field_type == "date":
        if isinstance(value, date):
            return value.isoformat()
        return _parse_date(str(value), where).isoformat()
    text = str(value).strip()
    if definition.field_type == "dropdown" and text not in definition.options:
        raise ValidationError(
            f"{text!r} is not one of the options of {definition.label!r}: "
            + ", ".join(definition.options),
            field=where,
        )
    if len(text) > 1000:
        raise ValidationError(f"{definition.label!r} has at most 1000 characters", field=where)
    return text


def _apply_field_values(
    store: Store, customer: Customer, values: dict[str, Any], enforce_required: bool
) -> bool:
    definitions = {d.key: d for d in list_fields(store)}
    unknown = set(values) - set(definitions)
    if unknown:
        key = sorted(unknown)[0]
        raise ValidationError(f"there is no custom field {key!r}", field=f"fields.{key}")
    current = {v.field_id: v for v in customer.field_values}
    changed = False
    for key, definition in definitions.items():
        if key not in values:
            if enforce_required and definition.required and definition.id not in current:
                raise ValidationError(f"{definition.label} is required", field=f"fields.{key}")
            continue
        text = validate_field_value(definition, values[key])
        if text is None:
            if definition.required and enforce_required:
                raise ValidationError(f"{definition.label} is required", field=f"fields.{key}")
            if definition.id in current:
                customer.field_values.remove(current[definition.id])
                changed = True
        elif definition.id in current:
            if current[definition.id].value != text:
                current[definition.id].value = text
                changed = True
        else:
            customer.field_values.append(CustomFieldValue(field=definition, value=text))
            changed = True
    return changed


# --- search, filters and sorting (C-01) ------------------------------------------------------


SORTS = {
    "created": Customer.created_at,
    "name": Customer.last_name,
    "orders": Customer.orders_count,
    "spent": Customer.total_spent,
    "last_order": Customer.last_order_at,
}


@dataclass
class CustomerFilter:
    """What a merchant narrows the customer list to. Empty fields do not filter.

    Money bounds are in minor units; dates are inclusive store-local calendar dates and are
    compared in UTC at the start of the day.
    """

    q: str = ""
    created_from: date | None = None
    created_to: date | None = None
    orders_min: int | None = None
    orders_max: int | None = None
    spent_min: int | None = None
    spent_max: int | None = None
    last_order_before: date | None = None
    last_order_after: date | None = None
    tag_ids: list[int] = field(default_factory=list)
    blacklisted: bool | None = None
    accepts_marketing: bool | None = None
    field_key: str = ""
    field_value: str = ""
    ids: list[int] = field(default_factory=list)
    #: Filters enabled plugins add (``customer_filters`` hook), by key: ``{"rewards.tier": "2"}``.
    plugin: dict[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in (None, "", []) for f in fields(self))


def _day_start(store: Store, day: date) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(store.timezone))


def filtered_ids_query(store: Store, flt: CustomerFilter) -> sa.Select[Any]:
    """``SELECT customers.id`` for the live customers matching ``flt`` in ``store``."""
    return _apply_filter(store, sa.select(Customer.id), flt)


def _apply_filter(store: Store, query: sa.Select[Any], flt: CustomerFilter) -> sa.Select[Any]:
    query = query.where(
        Customer.store_id == store.id,
        Customer.merged_into_id.is_(None),
        Customer.erased_at.is_(None),
    )
    if flt.ids:
        query = query.where(Customer.id.in_(flt.ids))
    if q := flt.q.strip():
        like = "%" + q.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        full_name = sa.func.lower(Customer.first_name + " " + Customer.last_name)
        conditions = [
            full_name.like(like, escape="\\"),
            sa.func.lower(Customer.last_name + Customer.first_name).like(like, escape="\\"),
            Customer.email.like(like, escape="\\"),
        ]
        phone_digits = re.sub(r"\D", "", q)
        if len(phone_digits) >= 4:
            conditions.append(Customer.phone.like(f"%{phone_digits.lstrip('0')}%"))
        query = query.where(sa.or_(*conditions))
    if flt.created_from:
        query = query.where(Customer.created_at >= _day_start(store, flt.created_from))
    if flt.created_to:
        query = query.where(
            Customer.created_at < _day_start(store, flt.created_to + timedelta(days=1))
        )
    if flt.orders_min is not None:
        query = query.where(Customer.orders_count >= flt.orders_min)
    if flt.orders_max is not None:
        query = query.where(Customer.orders_count <= flt.orders_max)
    if flt.spent_min is not None:
        query = query.where(Customer.total_spent >= flt.spent_min)
    if flt.spent_max is not None:
        query = query.where(Customer.total_spent <= flt.spent_max)
    if flt.last_order_before:
        query = query.where(Customer.last_order_at < _day_start(store, flt.last_order_before))
    if flt.last_order_after:
        query = query.where(
            Customer.last_order_at >= _day_start(store, flt.last_order_after + timedelta(days=1))
        )
    if flt.tag_ids:
        query = query.where(
            sa.exists().where(
                customer_tags.c.customer_id == Customer.id,
                customer_tags.c.tag_id.in_(flt.tag_ids),
            )
        )
    if flt.blacklisted is not None:
        query = query.where(Customer.blacklisted.is_(flt.blacklisted))
    if flt.accepts_marketing is not None:
        query = query.where(Customer.accepts_marketing.is_(flt.accepts_marketing))
    if flt.field_key:
        definition_id = (
            sa.select(CustomFieldDefinition.id)
            .where(
                CustomFieldDefinition.store_id == store.id,
                CustomFieldDefinition.key == flt.field_key,
            )
            .scalar_subquery()
        )
        value_match = sa.exists().where(
            CustomFieldValue.customer_id == Customer.id,
            CustomFieldValue.field_id == definition_id,
            *([CustomFieldValue.value == flt.field_value] if flt.field_value else []),
        )
        query = query.where(value_match)
    if flt.plugin:
        specs = {spec.key: spec for spec in plugin_filters(store)}
        for key, value in flt.plugin.items():
            if key not in specs:
                raise ValidationError(f"there is no customer filter {key!r} in this store",
                                      field=f"plugin.{key}")
            if value not in ("", None):
                query = query.where(Customer.id.in_(specs[key].customer_ids(value)))
    return query


def plugin_filters(store: Store) -> list[Any]:
    """Filters the store's enabled plugins add to the customer list (``CustomerFilterSpec``)."""
    from core.plugins.dispatch import contributions

    return contributions(store, "customer_filters")


def search_customers(
    store: Store,
    flt: CustomerFilter,
    *,
    sort: str = "created",
    descending: bool = True,
    page: int = 1,
    per_page: int = 50,
) -> Any:
    """One page of customers matching ``flt``: a Flask-SQLAlchemy ``Pagination``."""
    if sort not in SORTS:
        raise ValidationError(f"sort must be one of {', '.join(SORTS)}", field="sort")
    column = SORTS[sort]
    order = column.desc() if descending else column.asc()
    # NULLS LAST only where there can be nulls: on a NOT NULL column it would stop PostgreSQL
    # from reading the sort index backwards, and the page would sort every match instead.
    nulls = order.nulls_last() if column.nullable else order
    tiebreak = Customer.id.desc() if descending else Customer.id.asc()
    query = (
        _apply_filter(store, sa.select(Customer), flt)
        .options(selectinload(Customer.tags), selectinload(Customer.field_values))
        .order_by(nulls, tiebreak)
    )
    return db.paginate(query, page=page, per_page=min(max(per_page, 1), 500), error_out=False)


# --- bulk actions (C-02) --------------------------------------------------------------------


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def resolve_selection(store: Store, flt: CustomerFilter) -> list[int]:
    """The ids of every live customer the selection or filter covers, in id order."""
    return list(db.session.scalars(filtered_ids_query(store, flt).order_by(Customer.id)))


def bulk_tag(
    store: Store,
    flt: CustomerFilter,
    tag_names: Sequence[str],
    *,
    add: bool = True,
    actor: str = "system",
) -> int:
    """Add (or remove) tags on every customer matched; returns how many changed."""
    tags = (
        ensure_tags(store, tag_names)
        if add
        else [t for t in list_tags(store) if t.name in {" ".join(n.split()) for n in tag_names}]
    )
    if not tags:
        return 0
    tag_ids = [t.id for t in tags]
    changed_ids: set[int] = set()
    for chunk in _chunks(resolve_selection(store, flt)):
        existing = {
            (row.customer_id, row.tag_id)
            for row in db.session.execute(
                sa.select(customer_tags.c.customer_id, customer_tags.c.tag_id).where(
                    customer_tags.c.customer_id.in_(chunk), customer_tags.c.tag_id.in_(tag_ids)
                )
            )
        }
        if add:
            rows = [
                {"customer_id": cid, "tag_id": tid}
                for cid in chunk
                for tid in tag_ids
                if (cid, tid) not in existing
            ]
            if rows:
                db.session.execute(sa.insert(customer_tags), rows)
                changed_ids.update(row["customer_id"] for row in rows)
        elif existing:
            db.session.execute(
                sa.delete(customer_tags).where(
                    customer_tags.c.customer_id.in_(chunk), customer_tags.c.tag_id.in_(tag_ids)
                )
            )
            changed_ids.update(cid for cid, _ in existing)
    if changed_ids:
        _touch_and_record(store, sorted(changed_ids), ["tags"], actor)
    return len(changed_ids)


def _touch_and_record(store: Store, ids: list[int], changed: list[str], actor: str) -> None:
    now = utcnow()
    for chunk in _chunks(ids):
        db.session.execute(
            sa.update(Customer)
            .where(Customer.store_id == store.id, Customer.id.in_(chunk))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.expire_all()
        for customer in db.session.scalars(
            sa.select(Customer)
            .where(Customer.store_id == store.id, Customer.id.in_(chunk))
            .options(selectinload(Customer.tags), selectinload(Customer.field_values))
        ):
            _record_updated(store, customer, changed, actor)


def bulk_blacklist(store: Store, flt: CustomerFilter, reason: str, *, actor: str = "system") -> int:
    count = 0
    for chunk in _chunks(resolve_selection(store, flt)):
        for customer in db.session.scalars(
            sa.select(Customer).where(
                Customer.store_id == store.id,
                Customer.id.in_(chunk),
                Customer.blacklisted.is_(False),
            )
        ):
            blacklist(store, customer, reason, actor=actor)
            count += 1
    return count


# --- merging (C-09) -------------------------------------------------------------------------


def move_orders(
    store: Store,
    source: Customer,
    target: Customer,
    order_ids: Sequence[int] | None = None,
    *,
    actor: str = "system",
) -> int:
    """Move orders (all, or the listed ones) from ``source`` to ``target``.

    Each move is an ``order.customer_attached`` event on the target's timeline naming the
    previous customer (``previous_customer_id``); both customers' totals are recomputed.
    """
    from core.orders.service import refresh_customer_stats

    if source.id == target.id:
        raise ValidationError("choose two different customers", field="target")
    _ensure_live(target)
    query = sa.select(Order).where(Order.store_id == store.id, Order.customer_id == source.id)
    if order_ids is not None:
        query = query.where(Order.id.in_(order_ids))
    orders = list(db.session.scalars(query))
    if order_ids is not None and len(orders) != len(set(order_ids)):
        missing = sorted(set(order_ids) - {o.id for o in orders})
        raise NotFound(
            f"order {missing[0]} is not an order of customer {source.id}", field="order_ids"
        )
    from core.orders.schemas import OrderSchema

    for order in orders:
        order.customer_id = target.id
        record_event(
            store.id,
            "order.customer_attached",
            {"order": OrderSchema().dump(order), "previous_customer_id": source.id},
            actor=actor,
            customer_id=target.id,
            order_id=order.id,
        )
    db.session.flush()
    refresh_customer_stats(store, [source.id, target.id])
    return len(orders)


def merge_customers(
    store: Store, keep: Customer, merge: Customer, *, actor: str = "system"
) -> Customer:
    """Fold ``merge`` into ``keep``: orders, tags and missing profile data move over.

    ``merge`` stays as a row pointing at ``keep`` (``merged_into_id``) so its history and its
    events remain readable; it leaves the list, cannot log in, and its email is released.
    """
    if keep.id == merge.id:
        raise ValidationError("choose two different customers", field="merge_id")
    _ensure_live(keep)
    _ensure_live(merge)
    moved = move_orders(store, merge, keep, actor=actor)
    merged_email = merge.email
    for attr in ("phone", "first_name", "last_name", "birthday", "location", "salesperson"):
        if not getattr(keep, attr) and getattr(merge, attr):
            setattr(keep, attr, getattr(merge, attr))
    keep.accepts_marketing = keep.accepts_marketing or merge.accepts_marketing
    if merge.note:
        keep.note = "\n".join(n for n in (keep.note, merge.note) if n)
    keep.tags = sorted({*keep.tags, *merge.tags}, key=lambda t: t.name)
    have = {v.field_id for v in keep.field_values}
    for value in list(merge.field_values):
        if value.field_id not in have:
            keep.field_values.append(CustomFieldValue(field_id=value.field_id, value=value.value))
    merge.merged_into_id = keep.id
    merge.email = None
    merge.password_hash = None
    if not keep.email and merged_email:
        db.session.flush()
        keep.email = merged_email
    db.session.flush()
    record_event(
        store.id,
        "customer.merged",
        {
            "customer": customer_snapshot(keep),
            "merged_customer_id": merge.id,
            "merged_email": merged_email,
            "orders_moved": moved,
        },
        actor=actor,
        customer_id=keep.id,
    )
    record_event(
        store.id,
        "customer.updated",
        {"customer": customer_snapshot(merge), "changed": ["merged_into_id"]},
        actor=actor,
        customer_id=merge.id,
    )
    return keep


# --- quick contact (C-11) -------------------------------------------------------------------


def mailto_link(customer: Customer, subject: str = "", body: str = "") -> str | None:
    if not customer.email:
        return None
    params = {k: v for k, v in (("subject", subject), ("body", body)) if v}
    query = urlencode(params, quote_via=quote)
    return f"mailto:{customer.email}" + (f"?{query}" if query else "")


def whatsapp_link(customer: Customer, text: str = "") -> str | None:
    """``https://wa.me/<digits>?text=…``: click-to-chat with a prefilled message."""
    if not customer.phone:
        return None
    link = f"https://wa.me/{digits(customer.phone)}"
    return link + (f"?text={quote(text, safe='')}" if text else "")


# --- privacy (C-13) -------------------------------------------------------------------------


def export_customer_data(store: Store, customer: Customer) -> dict[str, Any]:
    """Everything the core and the store's enabled plugins hold about one customer."""
    from core.orders.schemas import OrderSchema
    from core.plugins.dispatch import each_enabled

    orders = db.session.scalars(
        sa.select(Order)
        .where(Order.store_id == store.id, Order.customer_id == customer.id)
        .order_by(Order.placed_at)
    )
    events = db.session.scalars(
        sa.select(Event)
        .where(Event.store_id == store.id, Event.customer_id == customer.id)
        .order_by(Event.seq)
    )
    return {
        "store": store.slug,
        "exported_at": utcnow().isoformat(),
        "customer": customer_snapshot(customer),
        "orders": OrderSchema(many=True).dump(orders),
        "events": [
            {
                "id": e.id,
                "seq": e.seq,
                "type": e.type,
                "occurred_at": e.occurred_at.isoformat(),
                "payload": e.payload,
            }
            for e in events
        ],
        "plugins": {
            plugin_id: data
            for plugin_id, data in each_enabled(
                store, "export_customer_data", customer_id=customer.id
            ).items()
            if data
        },
    }


def erase_customer(store: Store, customer: Customer, *, actor: str = "system") -> Customer:
    """Redact a customer's personal data everywhere the core and the plugins keep it.

    The row stays (orders keep pointing at it and totals stay right) with every personal field
    blanked; orders lose their contact email; the payloads of the customer's events are replaced
    by a marker. Every enabled plugin's ``erase_customer_data`` runs first, in the same
    transaction: if one raises, nothing is erased and the error says which plugin.
    """
    if customer.erased_at is not None:
        return customer
    from core.plugins.dispatch import each_enabled

    try:
        each_enabled(store, "erase_customer_data", customer_id=customer.id)
    except Exception as exc:
        raise Conflict(f"a plugin could not erase its data, so nothing was erased: {exc}",
                       field="plugins") from exc
    customer.email = None
    customer.phone = None
    customer.first_name = ""
    customer.last_name = ""
    customer.birthday = None
    customer.note = ""
    customer.location = ""
    customer.salesperson = ""
    customer.password_hash = None
    customer.accepts_marketing = False
    customer.tags = []
    customer.field_values.clear()
    customer.erased_at = utcnow()
    db.session.execute(
        sa.update(Order)
        .where(Order.store_id == store.id, Order.customer_id == customer.id)
        .values(email=None, note="")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(Event)
        .where(Event.store_id == store.id, Event.customer_id == customer.id)
        .values(payload={"erased": True})
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    record_event(
        store.id,
        "customer.erased",
        {"customer_id": customer.id},
        actor=actor,
        customer_id=customer.id,
    )
    return customer
