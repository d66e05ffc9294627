"""Customer export (C-08): every customer, or those a filter matches, as CSV or XLSX.

Rows come from one query read in partitions (``yield_per``: a server-side cursor on
PostgreSQL), with the tags and custom field values of each partition fetched in two more
queries, so 100,000 customers never sit in memory. CSV is UTF-8 with a byte-order mark, so
Excel shows Chinese; XLSX is written with openpyxl's write-only mode, which keeps rows in a
temporary file rather than in memory.

Cells a spreadsheet would run as a formula (starting with ``= + - @``, or tab / carriage
return) are guarded: a leading ``'`` in CSV, and in XLSX a text cell with Excel's own quote
prefix. ``core.customers.importing`` removes the CSV guard again, so an export re-imports as it
is.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.numbers import get_currency_precision

from core.customers.importing import FORMULA_PREFIXES, guard_formula
from core.customers.models import Customer, CustomFieldValue, Tag, customer_tags
from core.customers.service import CustomerFilter, filtered_ids_query, list_fields
from core.db import db
from core.errors import ValidationError
from core.i18n import gettext as _
from core.money import to_decimal, to_minor
from core.stores.models import Store

FORMATS = ("csv", "xlsx")
#: Profile and statistics columns, in file order; one column per custom field (by key) follows.
COLUMNS = (
    "id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "birthday",
    "accepts_marketing",
    "tags",
    "note",
    "orders_count",
    "total_spent",
    "last_order_at",
    "created_at",
    "blacklisted",
)
PARTITION = 1000
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Query arguments of filters plugins add: ``plugin.<filter key>=<value>``.
PLUGIN_ARG = "plugin."
_BOOL_ARGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class CustomerExport:
    """One export of a store's customers (all, or those ``flt`` matches), oldest first.

    The header and the query are fixed when the export is made, so a bad filter raises before
    a response starts; rows are read only while the export is iterated.
    """

    def __init__(self, store: Store, flt: CustomerFilter | None = None) -> None:
        definitions = list_fields(store)
        self.field_ids = [definition.id for definition in definitions]
        self.header = [*COLUMNS, *(definition.key for definition in definitions)]
        self.currency = store.currency
        self.zone = ZoneInfo(store.timezone)
        columns = [getattr(Customer, name) for name in COLUMNS if name != "tags"]
        self.query = (
            filtered_ids_query(store, flt or CustomerFilter())
            .with_only_columns(*columns)
            .order_by(Customer.id)
        )

    def rows(self) -> Iterator[list[Any]]:
        """One list of typed values per customer, in ``header`` order.

        Dates are ``date``, timestamps naive ``datetime`` in the store's timezone, money a
        ``Decimal`` in major units, yes/no columns ``bool``, tags one comma-separated string.
        """
        result = db.session.execute(self.query.execution_options(yield_per=PARTITION))
        for partition in result.partitions():
            ids = [row.id for row in partition]
            tags: dict[int, list[str]] = {}
            for customer_id, name in db.session.execute(
                sa.select(customer_tags.c.customer_id, Tag.name)
                .join(Tag, Tag.id == customer_tags.c.tag_id)
                .where(customer_tags.c.customer_id.in_(ids))
                .order_by(Tag.name)
            ):
                tags.setdefault(customer_id, []).append(name)
            values: dict[tuple[int, int], str] = {
                (customer_id, field_id): value
                for customer_id, field_id, value in db.session.execute(
                    sa.select(
                        CustomFieldValue.customer_id,
                        CustomFieldValue.field_id,
                        CustomFieldValue.value,
                    ).where(CustomFieldValue.customer_id.in_(ids))
                )
            }
            for row in partition:
                yield [
                    row.id,
                    row.email,
                    row.phone,
                    row.first_name,
                    row.last_name,
                    row.birthday,
                    row.accepts_marketing,
                    ", ".join(tags.get(row.id, [])),
                    row.note,
                    row.orders_count,
                    to_decimal(row.total_spent, self.currency),
                    _local(row.last_order_at, self.zone),
                    _local(row.created_at, self.zone),
                    row.blacklisted,
                    *(values.get((row.id, field_id)) for field_id in self.field_ids),
                ]

    def csv(self) -> Iterator[bytes]:
        """The export as CSV, UTF-8 with a byte-order mark, in chunks of ``PARTITION`` rows."""
        yield codecs.BOM_UTF8
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.header)
        for count, row in enumerate(self.rows(), start=1):
            writer.writerow([_csv_cell(value) for value in row])
            if count % PARTITION == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    def write_xlsx(self, target: IO[bytes]) -> int:
        """Write the export as XLSX to ``target``; returns the number of customers."""
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(_("Customers"))
        sheet.freeze_panes = "A2"
        header = []
        for name in self.header:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        precision = get_currency_precision(self.currency)
        money_format = "0." + "0" * precision if precision else "0"
        money_index = COLUMNS.index("total_spent")

        def cell(index: int, value: Any) -> Any:
            if isinstance(value, bool):
                return "yes" if value else "no"
            if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
                # Text, shown as typed: Excel's quote prefix is the apostrophe of the CSV guard.
                guarded = WriteOnlyCell(sheet, value=value)
                guarded.data_type = "s"
                guarded.quotePrefix = True
                return guarded
            if isinstance(value, datetime):
                stamped = WriteOnlyCell(sheet, value=value)
                stamped.number_format = "yyyy-mm-dd hh:mm:ss"
                return stamped
            if isinstance(value, date):
                dated = WriteOnlyCell(sheet, value=value)
                dated.number_format = "yyyy-mm-dd"
                return dated
            if index == money_index:
                amount = WriteOnlyCell(sheet, value=value)
                amount.number_format = money_format
                return amount
            return value

        count = 0
        for count, row in enumerate(self.rows(), start=1):  # noqa: B007 - the count is returned
            sheet.append([cell(index, value) for index, value in enumerate(row)])
        workbook.save(target)
        return count

    def xlsx(self) -> Iterator[bytes]:
        """The export as XLSX in 64 KB chunks, built in a temporary file first (a ZIP needs its
        directory at the end, so it cannot go out row by row)."""
        with tempfile.TemporaryFile() as spool:
            self.write_xlsx(spool)
            spool.seek(0)
            while chunk := spool.read(64 * 1024):
                yield chunk


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0) if moment else None


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime(_DATETIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    return guard_formula(str(value))


def iter_export(store: Store, fmt: str, flt: CustomerFilter | None = None) -> Iterator[bytes]:
    """The export in ``fmt`` (``csv`` or ``xlsx``) as byte chunks for a streamed response.

    Raises ``ValidationError`` at once for an unknown format or a filter the store cannot
    apply; nothing is read until the chunks are.
    """
    if fmt not in FORMATS:
        raise ValidationError(_("Export as CSV or XLSX."), field="format")
    export = CustomerExport(store, flt)
    return export.csv() if fmt == "csv" else export.xlsx()


def export_filename(store: Store, fmt: str, today: date) -> str:
    return f"{store.slug}-customers-{today.isoformat()}.{fmt}"


# --- filters from query arguments ------------------------------------------------------------


def _getlist(args: Mapping[str, Any], name: str) -> list[str]:
    raw = args.getlist(name) if hasattr(args, "getlist") else args.get(name) or []
    items = [raw] if isinstance(raw, str) else list(raw)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def customer_filter_from_args(store: Store, args: Mapping[str, Any]) -> CustomerFilter:
    """A ``CustomerFilter`` from query arguments named as its fields.

    ``q``, ``created_from`` / ``created_to`` / ``last_order_before`` / ``last_order_after``
    (YYYY-MM-DD), ``orders_min`` / ``orders_max``, ``spent_min`` / ``spent_max`` (in the store
    currency's major units, e.g. ``12.50``), ``tag_ids`` (repeated or comma-separated) or
    ``tag`` (names), ``blacklisted`` / ``accepts_marketing`` (yes/no), ``field_key`` and
    ``field_value``, ``ids``, and ``plugin.<key>`` for filters plugins add. Empty arguments
    do not filter; a bad one raises ``ValidationError`` naming it.
    """
    flt = CustomerFilter(q=str(args.get("q") or "").strip())
    for name in ("created_from", "created_to", "last_order_before", "last_order_after"):
        if text := str(args.get(name) or "").strip():
            try:
                setattr(flt, name, date.fromisoformat(text))
            except ValueError:
                raise ValidationError(
                    _("“%(value)s” is not a date (YYYY-MM-DD)", value=text), field=name
                ) from None
    for name in ("orders_min", "orders_max"):
        if text := str(args.get(name) or "").strip():
            if not re.fullmatch(r"\d+", text):
                raise ValidationError(_("Enter a whole number."), field=name)
            setattr(flt, name, int(text))
    for name in ("spent_min", "spent_max"):
        if text := str(args.get(name) or "").strip():
            try:
                setattr(flt, name, to_minor(Decimal(text), store.currency))
            except (ArithmeticError, ValueError):
                raise ValidationError(
                    _(
                        "“%(value)s” is not an amount in %(currency)s",
                        value=text,
                        currency=store.currency,
                    ),
                    field=name,
                ) from None
    for name in ("blacklisted", "accepts_marketing"):
        if text := str(args.get(name) or "").strip().lower():
            if text not in _BOOL_ARGS:
                raise ValidationError(_("Use yes or no."), field=name)
            setattr(flt, name, _BOOL_ARGS[text])
    try:
        flt.tag_ids = [int(v) for v in _getlist(args, "tag_ids")]
        flt.ids = [int(v) for v in _getlist(args, "ids")]
    except ValueError:
        raise ValidationError(_("Ids are whole numbers."), field="ids") from None
    if names := _getlist(args, "tag"):
        found = db.session.scalars(
            sa.select(Tag.id).where(Tag.store_id == store.id, Tag.name.in_(names))
        ).all()
        # An unknown tag name matches nobody, rather than being ignored.
        flt.tag_ids = [*flt.tag_ids, *found] or [0]
    flt.plugin = {
        name[len(PLUGIN_ARG) :]: text
        for name in args
        if name.startswith(PLUGIN_ARG) and (text := str(args.get(name) or "").strip())
    }
    flt.field_key = str(args.get("field_key") or "").strip()
    flt.field_value = str(args.get("field_value") or "").strip()
    return flt
