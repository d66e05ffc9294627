"""Customer import (C-07): a CSV or XLSX file in, customers created or updated in batches.

The file is read as a stream and written in batches of ``BATCH_SIZE`` rows, one transaction
each, so a 100,000-row file never sits in memory and a process killed halfway leaves whole
batches only. After each batch the caller's ``on_batch`` commits; the background job uses it to
store a checkpoint (the last line done and the counts) in the same transaction as the rows, so a
job that is run again carries on after the last committed batch, and a file imported twice
updates the customers it created the first time instead of duplicating them.

Rules, in the merchant's terms:

- The first row names the columns (English or the Chinese headers of the template, any case);
  one column per custom field, by key or label. An unknown column stops the import before any
  row is written. Columns a Kedai export adds (``id``, ``orders_count`` …) are read past, and so
  are columns whose name starts with ``_`` (the rejected-rows report adds ``_line``,
  ``_column`` and ``_error``, so a corrected report can be imported as it is).
- A row is matched on its email (or phone, as chosen; a row without that value is matched on
  the other one). A match is updated with the cells the row fills; a blank cell keeps what the
  customer has. No match creates a customer. A later row for the same customer updates it again.
- A row with any bad cell is rejected as a whole, with its line (the header is line 1) and a
  reason naming the column, and writes nothing; the other rows are imported.
- Each customer created records ``customer.created`` (``source: import``) and each customer
  changed ``customer.updated``, in the transaction of its batch, exactly as the service does.

Writes go through a bulk path (one query per kind of write per batch) because the service
functions, one flush per customer, manage about 250 rows per second; the events carry the same
payloads (``CustomerSchema``), so plugins and webhooks cannot tell the difference.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from copy import copy
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import charset_normalizer
import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from marshmallow import Schema
from marshmallow import fields as ma_fields

from core.customers.models import (
    Customer,
    CustomFieldDefinition,
    CustomFieldValue,
    Tag,
    customer_tags,
)
from core.customers.schemas import CustomerSchema
from core.customers.service import (
    ensure_tags,
    list_fields,
    normalise_email,
    validate_field_value,
)
from core.db import db, utcnow
from core.errors import ValidationError
from core.events.service import record_event
from core.i18n import gettext as _
from core.jobs.models import Job
from core.jobs.service import JobRun, enqueue, job_handler
from core.phones import normalise_phone
from core.stores.models import Store

JOB_KIND = "customers.import"
#: Encodings a merchant may choose; ``auto`` detects (UTF-8 first, then Big5 / GB18030).
ENCODINGS = ("auto", "utf-8", "big5", "gbk", "gb18030")
MATCH_ON = ("email", "phone")
#: Rows per transaction. Each batch costs a few fixed queries and a commit; 2,000 rows keep
#: those under a tenth of the time (benchmarks/customers_import.py) and memory near flat.
BATCH_SIZE = 2000
#: Rejected rows kept in the job result for the report page; the CSV report has them all.
REPORT_SAMPLE = 200
#: Bytes read to detect a CSV's encoding.
SAMPLE_BYTES = 256 * 1024

# Python codec per encoding choice. Big5 files from Excel on Windows are code page 950, a
# superset of Big5; ``utf-8-sig`` reads UTF-8 with or without the byte-order mark.
_CODECS = {"utf-8": "utf-8-sig", "big5": "cp950", "gbk": "gbk", "gb18030": "gb18030"}
_DETECTED = {
    "big5": "big5",
    "cp950": "big5",
    "big5hkscs": "big5",
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
}

# --- columns -------------------------------------------------------------------------------

#: The columns an import reads, with the header names accepted for each (any case; spaces,
#: ``_`` and ``-`` are alike). The first name of each is the English template header.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "e-mail",
        "email address",
        "電子郵件",
        "电子邮件",
        "電郵",
        "电邮",
        "郵箱",
        "邮箱",
        "電子信箱",
        "电子信箱",
    ),
    "phone": (
        "phone",
        "mobile",
        "phone number",
        "mobile phone",
        "手機",
        "手机",
        "電話",
        "电话",
        "手機號碼",
        "手机号码",
        "電話號碼",
        "电话号码",
    ),
    "first_name": ("first_name", "first name", "firstname", "given name", "名", "名字"),
    "last_name": ("last_name", "last name", "lastname", "surname", "family name", "姓", "姓氏"),
    "birthday": ("birthday", "birth date", "date of birth", "dob", "生日", "出生日期"),
    "accepts_marketing": (
        "accepts_marketing",
        "accepts marketing",
        "marketing",
        "接受行銷",
        "接受营销",
        "接受推廣",
        "接受推广",
    ),
    "tags": ("tags", "tag", "標籤", "标签"),
    "note": ("note", "notes", "備註", "备注"),
    "location": ("location", "地區", "地区"),
    "salesperson": ("salesperson", "銷售員", "销售员"),
}
#: Columns a Kedai export writes that Kedai keeps itself: an import reads past them.
READ_ONLY_COLUMNS = (
    "id",
    "orders_count",
    "total_spent",
    "last_order_at",
    "created_at",
    "blacklisted",
)
#: Template headers per locale; English uses the column names themselves.
TEMPLATE_HEADERS: dict[str, dict[str, str]] = {
    "zh_Hant": {
        "email": "電子郵件",
        "phone": "手機",
        "first_name": "名",
        "last_name": "姓",
        "birthday": "生日",
        "accepts_marketing": "接受行銷",
        "tags": "標籤",
        "note": "備註",
    },
    "zh_Hans": {
        "email": "电子邮件",
        "phone": "手机",
        "first_name": "名",
        "last_name": "姓",
        "birthday": "生日",
        "accepts_marketing": "接受营销",
        "tags": "标签",
        "note": "备注",
    },
}
TEMPLATE_COLUMNS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "birthday",
    "accepts_marketing",
    "tags",
    "note",
)
_TEXT_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "note": 5000,
    "location": 100,
    "salesperson": 100,
}
_TRUE = {"yes", "y", "true", "t", "1", "是", "接受"}
_FALSE = {"no", "n", "false", "f", "0", "否", "不接受"}
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
#: Tags are separated by commas or semicolons, ASCII or full-width, or 、.
_TAG_SPLIT = re.compile("[,;\uff0c\uff1b\u3001]")
#: A cell starting with one of these is a formula to a spreadsheet: exports prefix ``'``.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.replace("\ufeff", "").strip().lower())


_ALIAS_LOOKUP = {
    _norm(alias): column for column, names in COLUMN_ALIASES.items() for alias in names
}


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported; nothing was written. ``line`` when it is one."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message, field="file", **({"line": line} if line else {}))
        self.line = line


def unguard(text: str) -> str:
    """Undo an export's formula guard: ``'+60123456789`` → ``+60123456789``."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def column_lookup(definitions: Sequence[FieldSpec | CustomFieldDefinition]) -> dict[str, str]:
    """Normalised header → target: a profile column, ``fields.<key>`` or ``""`` (read past).

    Built-in names win over custom field keys, and keys over labels, so no header is ambiguous.
    """
    lookup = {_norm(name): "" for name in READ_ONLY_COLUMNS}
    lookup.update(_ALIAS_LOOKUP)
    for definition in definitions:
        lookup.setdefault(_norm(definition.key), f"fields.{definition.key}")
    for definition in definitions:
        lookup.setdefault(_norm(definition.label), f"fields.{definition.key}")
    return lookup


def map_columns(
    header: Sequence[str], definitions: Sequence[FieldSpec | CustomFieldDefinition]
) -> list[str]:
    """The target of each column of ``header`` (``""`` for columns read past).

    Raises ``ImportFileError`` for unknown or repeated columns and when neither an email nor a
    phone column is present.
    """
    lookup = column_lookup(definitions)
    targets: list[str] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for name in header:
        text = name.replace("\ufeff", "").strip()
        if not text or text.startswith("_"):
            targets.append("")
            continue
        target = lookup.get(_norm(text))
        if target is None:
            unknown.append(text)
            target = ""
        elif target and target in seen:
            raise ImportFileError(
                _(
                    "The columns “%(first)s” and “%(second)s” both fill the same field; keep one.",
                    first=seen[target],
                    second=text,
                )
            )
        elif target:
            seen[target] = text
        targets.append(target)
    if unknown:
        known = ", ".join([*COLUMN_ALIASES, *(d.key for d in definitions)])
        raise ImportFileError(
            _(
                "Unknown column(s): %(names)s. Rename them to one of: %(known)s, or remove them.",
                names=", ".join(f"“{name}”" for name in unknown),
                known=known,
            )
        )
    if "email" not in seen and "phone" not in seen:
        raise ImportFileError(
            _("The file needs an email or a phone column (the first row holds the column names).")
        )
    return targets


def template_header(store: Store, locale: str | None = None) -> list[str]:
    """The header of the downloadable template: profile columns, then one per custom field.

    Custom fields are headed by their label where it cannot be mistaken for another column,
    else by their key.
    """
    names = TEMPLATE_HEADERS.get(str(locale or "en"), {})
    header = [names.get(column, column) for column in TEMPLATE_COLUMNS]
    definitions = list_fields(store)
    lookup = column_lookup(definitions)
    for definition in definitions:
        label_target = lookup.get(_norm(definition.label))
        header.append(
            definition.label if label_target == f"fields.{definition.key}" else definition.key
        )
    return header


def _template_notes(store: Store, locale: str | None) -> list[tuple[str, str]]:
    """(column, what to enter) for the template's instructions sheet."""
    header = template_header(store, locale)
    notes = [
        _("An email or a phone number is needed; rows are matched on it."),
        _(
            "Mobile number; without +country code it is read as a %(region)s number.",
            region=store.default_phone_region,
        ),
        _("Given name."),
        _("Family name."),
        _("YYYY-MM-DD, e.g. 1990-08-31 (YYYY/MM/DD works too)."),
        _("yes or no (是 / 否, true / false, 1 / 0)."),
        _("Tags separated by commas or semicolons."),
        _("Free text."),
    ]
    for definition in list_fields(store):
        if definition.field_type == "dropdown":
            note = _("One of: %(options)s", options=", ".join(definition.options))
        elif definition.field_type == "date":
            note = _("YYYY-MM-DD")
        else:
            note = _("Text.")
        if definition.required:
            note += " " + _("Required for new customers.")
        notes.append(note)
    return list(zip(header, notes, strict=True))


def template_csv(store: Store, locale: str | None = None) -> bytes:
    """The CSV template: the header row only, UTF-8 with a byte-order mark for Excel."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(template_header(store, locale))
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


def template_xlsx(store: Store, locale: str | None = None) -> bytes:
    """The XLSX template: a header row with every column formatted as text (so Excel keeps
    the leading 0 and + of phone numbers), drop-down lists where the values are fixed, and a
    second sheet saying what each column takes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Customers")
    notes = _template_notes(store, locale)
    sheet.append([column for column, _note in notes])
    choices: dict[int, list[str]] = {TEMPLATE_COLUMNS.index("accepts_marketing"): ["yes", "no"]}
    for offset, definition in enumerate(list_fields(store), start=len(TEMPLATE_COLUMNS)):
        if definition.field_type == "dropdown":
            choices[offset] = definition.options
    for index, (column, _note) in enumerate(notes):
        letter = get_column_letter(index + 1)
        sheet[f"{letter}1"].font = Font(bold=True)
        sheet.column_dimensions[letter].width = max(12, min(40, len(column) * 2 + 4))
        sheet.column_dimensions[letter].number_format = "@"
        options = choices.get(index)
        formula = '"' + ",".join(options) + '"' if options else ""
        if options and len(formula) <= 255 and not any("," in o or '"' in o for o in options):
            validation = DataValidation(type="list", formula1=formula, allow_blank=True)
            validation.add(f"{letter}2:{letter}1000")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    help_sheet = workbook.create_sheet(_("Instructions"))
    help_sheet.append([_("Column"), _("What to enter")])
    for column, note in notes:
        help_sheet.append([column, note])
    help_sheet.column_dimensions["A"].width = 24
    help_sheet.column_dimensions["B"].width = 80
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- reading files -------------------------------------------------------------------------


def detect_encoding(sample: bytes) -> str:
    """The encoding choice (``utf-8``, ``big5`` or ``gb18030``) that reads ``sample``."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError(
            _("This file is UTF-16 (Excel “Unicode text”); save it as “CSV UTF-8” or XLSX instead.")
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    best = charset_normalizer.from_bytes(
        sample, cp_isolation=["cp950", "big5", "gb18030", "gbk"]
    ).best()
    detected = _DETECTED.get(best.encoding) if best is not None else None
    if detected is None:
        raise ImportFileError(
            _(
                "Could not tell the file's encoding; choose it (UTF-8, Big5, "
                "GBK or GB18030) and upload it again."
            )
        )
    return detected


def _cell_text(value: Any) -> str:
    """A cell as text: spreadsheet numbers without ``.0``, dates as ISO, guard removed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return unguard(value.strip())
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


class SourceFile:
    """A CSV or XLSX file read row by row: ``header``, ``total`` and ``rows()``."""

    kind = ""
    encoding: str | None = None
    header: list[str]
    #: Data rows (without the header), counted or estimated before the first row is read.
    total: int | None = None

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        """``(line, cells)`` for every data row that is not blank; the header is line 1."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""


class _CsvSource(SourceFile):
    kind = "csv"

    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        with path.open("rb") as fh:
            sample = fh.read(SAMPLE_BYTES)
        if encoding == "auto":
            cut = sample.rfind(b"\n")
            encoding = detect_encoding(sample[: cut + 1] if cut > 0 else sample)
        self.encoding = encoding
        self.codec = _CODECS[encoding]
        lines = self._lines()
        first_line = next(lines, "")
        lines.close()
        self.dialect = self._dialect(first_line)
        self.header = next(csv.reader([first_line], self.dialect), [])
        # Counting reads (and decodes) the whole file once, so a bad line stops the import
        # before anything is written.
        self.total = sum(1 for _ in self._records()) - 1

    @staticmethod
    def _dialect(first_line: str) -> type[csv.Dialect]:
        counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
        delimiter = max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","

        class Dialect(csv.excel):
            pass

        Dialect.delimiter = delimiter
        return Dialect

    def _lines(self) -> Iterator[str]:
        # Line by line, so an undecodable byte is reported with its line. A newline byte
        # cannot occur inside a multibyte character in UTF-8, Big5, GBK or GB18030.
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    yield raw.decode(self.codec)
                except UnicodeDecodeError as exc:
                    raise ImportFileError(
                        _(
                            "Line %(line)s cannot be read as %(encoding)s (byte %(byte)s); "
                            "choose the file's encoding or save it as UTF-8.",
                            line=number,
                            encoding=self.encoding.upper(),
                            byte=f"0x{raw[exc.start]:02X}",
                        ),
                        line=number,
                    ) from exc

    def _records(self) -> Iterator[list[str]]:
        reader = csv.reader(self._lines(), self.dialect)
        while True:
            try:
                yield next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a cell over the csv module's size limit
                raise ImportFileError(
                    _("Line %(line)s cannot be read: %(error)s", line=reader.line_num, error=exc),
                    line=reader.line_num,
                ) from exc

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        records = self._records()
        next(records, None)
        for line, cells in enumerate(records, start=2):
            if any(cell.strip() for cell in cells):
                yield line, cells


class _XlsxSource(SourceFile):
    kind = "xlsx"

    def __init__(self, path: Path) -> None:
        import openpyxl

        try:
            self.workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise ImportFileError(_("This is not a readable XLSX file.")) from exc
        self.sheet = self.workbook.worksheets[0]
        max_row = self.sheet.max_row
        self.total = max_row - 1 if max_row else None
        # A wrong <dimension> in the file would cut rows off: read to the real end instead.
        self.sheet.reset_dimensions()
        first = next(self.sheet.iter_rows(values_only=True), ())
        self.header = [_cell_text(value) for value in first]

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        rows = self.sheet.iter_rows(values_only=True)
        next(rows, None)
        for line, cells in enumerate(rows, start=2):
            if any(value is not None and str(value).strip() for value in cells):
                yield line, cells

    def close(self) -> None:
        self.workbook.close()


@contextmanager
def open_source(path: str | Path, encoding: str = "auto") -> Iterator[SourceFile]:
    """Open an uploaded file as CSV or XLSX, judged by its first bytes, not its name."""
    path = Path(path)
    if encoding not in ENCODINGS:
        raise ImportFileError(_("Unknown encoding %(name)s.", name=encoding))
    with path.open("rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_("This is an old Excel (.xls) file; save it as XLSX or CSV."))
    source: SourceFile = (
        _XlsxSource(path) if magic.startswith(b"PK\x03\x04") else _CsvSource(path, encoding)
    )
    try:
        if not any(name.strip() for name in source.header):
            raise ImportFileError(_("The file is empty: the first row must name the columns."))
        yield source
    finally:
        source.close()


# --- rows ------------------------------------------------------------------------------------


class RowRejected(Exception):
    """A row that cannot be imported: each problem as ``(column, reason)``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{column}: {reason}" for column, reason in problems))
        self.problems = problems


@dataclass(slots=True)
class ImportRow:
    """One row of the file, checked: only the cells it fills."""

    line: int
    cells: Sequence[Any]
    profile: dict[str, Any]
    tags: list[str] | None
    fields: dict[str, str]


def _parse_date(text: str) -> date:
    match = _DATE.fullmatch(text)
    if match:
        with suppress(ValueError):
            return date(*(int(part) for part in match.groups()))
    raise ValueError(text)


@dataclass(frozen=True)
class FieldSpec:
    """A custom field definition as plain data: batches commit, and a committed ORM object
    would reload itself on the next attribute read."""

    id: int
    key: str
    label: str
    field_type: str
    options: tuple[str, ...]
    required: bool

    @classmethod
    def of(cls, definition: CustomFieldDefinition) -> FieldSpec:
        return cls(
            id=definition.id,
            key=definition.key,
            label=definition.label,
            field_type=definition.field_type,
            options=tuple(definition.options or ()),
            required=definition.required,
        )


Reader = Callable[[ImportRow, str], None]


class RowParser:
    """Turns the cells of a row into an ``ImportRow`` or raises ``RowRejected``.

    Each column gets its reader once, up front: this runs for every cell of the file.
    """

    def __init__(
        self,
        store: Store,
        header: Sequence[str],
        targets: Sequence[str],
        definitions: Sequence[FieldSpec],
    ) -> None:
        self.region = store.default_phone_region
        self.definitions = {d.key: d for d in definitions}
        self.readers = [
            (index, header[index].strip(), self._reader(target))
            for index, target in enumerate(targets)
            if target
        ]
        named = {target: header[i].strip() for i, target in enumerate(targets) if target}
        self.identity_column = named.get("email") or named.get("phone") or "email"

    def parse(self, line: int, cells: Sequence[Any]) -> ImportRow:
        row = ImportRow(line=line, cells=cells, profile={}, tags=None, fields={})
        problems: list[tuple[str, str]] = []
        size = len(cells)
        for index, column, read in self.readers:
            if index >= size:
                continue
            value = cells[index]
            if value.__class__ is str:
                text = value.strip()
                if text[:1] == "'":
                    text = unguard(text)
            else:
                text = _cell_text(value)
            if not text:
                continue
            try:
                read(row, text)
            except ValidationError as exc:
                problems.append((column, exc.message))
        if not row.profile.get("email") and not row.profile.get("phone") and not problems:
            problems.append((self.identity_column, _("a row needs an email or a phone number")))
        if problems:
            raise RowRejected(problems)
        return row

    def _reader(self, target: str) -> Reader:
        region = self.region

        def email(row: ImportRow, text: str) -> None:
            row.profile["email"] = normalise_email(text)

        def phone(row: ImportRow, text: str) -> None:
            row.profile["phone"] = normalise_phone(text, region)

        def birthday(row: ImportRow, text: str) -> None:
            row.profile["birthday"] = _date(text)

        def accepts_marketing(row: ImportRow, text: str) -> None:
            word = text.lower()
            if word in _TRUE:
                row.profile["accepts_marketing"] = True
            elif word in _FALSE:
                row.profile["accepts_marketing"] = False
            else:
                raise ValidationError(_("“%(value)s” is not yes or no", value=text))

        def tags(row: ImportRow, text: str) -> None:
            names = sorted({" ".join(t.split()) for t in _TAG_SPLIT.split(text) if t.strip()})
            for name in names:
                if len(name) > 64:
                    raise ValidationError(
                        _("the tag “%(tag)s” is longer than 64 characters", tag=name)
                    )
            row.tags = names

        readers: dict[str, Reader] = {
            "email": email,
            "phone": phone,
            "birthday": birthday,
            "accepts_marketing": accepts_marketing,
            "tags": tags,
        }
        if target in readers:
            return readers[target]
        if target.startswith("fields."):
            return self._field_reader(self.definitions[target[len("fields.") :]])
        limit = _TEXT_LIMITS[target]

        def text_column(row: ImportRow, text: str) -> None:
            if len(text) > limit:
                raise ValidationError(_("at most %(count)s characters", count=limit))
            row.profile[target] = text

        return text_column

    @staticmethod
    def _field_reader(definition: FieldSpec) -> Reader:
        def custom_field(row: ImportRow, text: str) -> None:
            if definition.field_type == "date":
                text = _date(text).isoformat()
            value = validate_field_value(definition, text)  # type: ignore[arg-type]
            if value is not None:
                row.fields[definition.key] = value

        return custom_field


def _date(text: str) -> date:
    try:
        return _parse_date(text)
    except ValueError:
        raise ValidationError(_("“%(value)s” is not a date (YYYY-MM-DD)", value=text)) from None


# --- results and the rejected-rows report ----------------------------------------------------


@dataclass
class ImportResult:
    """What an import did: counts, the last line done, and where the rejected rows are."""

    total: int | None = None
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    #: The last line of the file done (the header is line 1): where a re-run carries on.
    line: int = 1
    kind: str = ""
    encoding: str | None = None
    match: str = "email"
    dry_run: bool = False
    report_path: str | None = None
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def percent(self) -> int:
        if not self.total:
            return 100
        return min(100, int(100 * self.processed / self.total))

    def checkpoint(self) -> dict[str, Any]:
        """The result without the sample of rejected rows: stored after every batch."""
        data = asdict(self)
        data.pop("rejected_rows")
        return data

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


REPORT_HEADER = ["_line", "_column", "_error"]


class RejectedReport:
    """The rejected rows as a CSV (UTF-8 with BOM) beside the upload, written as they come.

    Each row is the original row with its line, the columns at fault and the reasons in front,
    so the merchant can fix the rows in the report and import it again.
    """

    def __init__(self, path: Path | None, header: Sequence[str], keep: int = 0) -> None:
        self.path = path
        self.header = list(header)
        self.count = keep
        self.pending: list[list[str]] = []
        self.kept: list[dict[str, Any]] = []
        if path is not None and path.exists():
            self._truncate(keep)

    def _truncate(self, keep: int) -> None:
        """Drop rows written for a batch that never committed (a run killed halfway)."""
        assert self.path is not None
        if keep == 0:
            self.path.unlink()
            return
        partial = self.path.with_suffix(".partial")
        with (
            self.path.open(encoding="utf-8-sig", newline="") as src,
            partial.open("w", encoding="utf-8-sig", newline="") as dst,
        ):
            reader, writer = csv.reader(src), csv.writer(dst)
            for number, record in enumerate(reader):
                if number > keep:
                    break
                writer.writerow(record)
        partial.replace(self.path)

    def add(self, line: int, problems: list[tuple[str, str]], cells: Sequence[Any]) -> None:
        self.count += 1
        columns = ", ".join(dict.fromkeys(column for column, _ in problems))
        reasons = "; ".join(f"{column}: {reason}" for column, reason in problems)
        if len(self.kept) < REPORT_SAMPLE:
            self.kept.append({"line": line, "column": columns, "reason": reasons})
        self.pending.append(
            [str(line), columns, reasons, *(guard_formula(_cell_text(c)) for c in cells)]
        )

    def flush(self) -> None:
        """Append this batch's rows to the file (before the batch commits)."""
        if not self.pending or self.path is None:
            self.pending.clear()
            return
        new = not self.path.exists()
        with self.path.open("a", encoding="utf-8-sig" if new else "utf-8", newline="") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow([*REPORT_HEADER, *(guard_formula(h) for h in self.header)])
            writer.writerows(self.pending)
        self.pending.clear()

    def sample(self, limit: int = REPORT_SAMPLE) -> list[dict[str, Any]]:
        """The first rejected rows as ``{"line", "column", "reason"}`` for the report page."""
        if self.path is None:
            return self.kept[:limit]
        return read_report_sample(self.path, limit)


def read_report_sample(path: Path | None, limit: int = REPORT_SAMPLE) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for record in reader:
            if len(rows) >= limit:
                break
            rows.append({"line": int(record[0]), "column": record[1], "reason": record[2]})
    return rows


def guard_formula(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula (CSV injection)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


# --- writing batches -------------------------------------------------------------------------


@dataclass(eq=False)
class _Target:
    """A customer as the batch sees it: every column, tag names and custom field values."""

    values: dict[str, Any]
    tags: list[str]
    fields: dict[str, str]
    new: bool
    stored_fields: frozenset[str] = frozenset()
    dirty: bool = False
    tags_dirty: bool = False
    fields_dirty: set[str] = field(default_factory=set)

    @property
    def id(self) -> int | None:
        return self.values["id"]


def _snapshot_function(schema: Schema) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``schema.dump`` for one customer view, about eight times faster, or ``schema.dump``
    itself when the schema holds a field this shortcut does not know.

    The events an import records carry the same payload as the service's (the tests compare
    them); marshmallow's per-field machinery was a sixth of the import's time.
    """
    plan: list[tuple[str, str, str]] = []
    for name, field_ in schema.dump_fields.items():
        key = field_.data_key or name
        attribute = field_.attribute or name
        if isinstance(field_, ma_fields.Date):
            plan.append((key, attribute, "date"))
        elif isinstance(field_, ma_fields.DateTime) and field_.format in (None, "iso"):
            plan.append((key, attribute, "datetime"))
        elif type(field_) in (ma_fields.Int, ma_fields.Integer, ma_fields.Bool,
                              ma_fields.Boolean, ma_fields.Str, ma_fields.String,
                              ma_fields.Email, ma_fields.Raw):  # fmt: skip
            plan.append((key, attribute, "plain"))
        elif type(field_) in (ma_fields.List, ma_fields.Dict):
            plan.append((key, attribute, "copy"))
        else:
            return schema.dump

    def dump(view: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, attribute, kind in plan:
            value = view.get(attribute)
            if value is None or kind == "plain":
                out[key] = value
            elif kind == "copy":
                out[key] = copy(value)
            else:
                out[key] = value.isoformat()
        return out

    return dump


_PROFILE_COLUMNS = (
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
_table = Customer.__table__
#: Columns of a new customer's INSERT: not the id, nor those an import never sets and that
#: start empty (password, blacklisting, merge, erasure, orders): fewer values, faster batches.
_INSERT_COLUMNS = [
    c.key
    for c in _table.columns
    if c.key != "id" and (c.default is not None or c.key in _PROFILE_COLUMNS or c.key == "store_id")
]


def _connection() -> sa.Connection:
    """The session's connection: batches of plain rows go through Core, skipping the ORM's
    bulk layer, which costs a third more per row and loads nothing back we need."""
    return db.session.connection()


class BatchWriter:
    """Matches, checks and writes one batch of rows; remembers nothing between batches except
    (in a dry run) which identities earlier batches would have created."""

    def __init__(
        self,
        store: Store,
        definitions: Sequence[FieldSpec],
        header: Sequence[str],
        targets: Sequence[str],
        *,
        match: str,
        actor: str,
        dry_run: bool,
    ) -> None:
        self.store = store
        self.store_id = store.id
        self.definition_ids = {d.key: d.id for d in definitions}
        self.field_keys = {d.id: d.key for d in definitions}
        columns_by_target = {t: header[i].strip() for i, t in enumerate(targets) if t}
        self.required = [
            (d.key, columns_by_target.get(f"fields.{d.key}", d.label))
            for d in definitions
            if d.required
        ]
        self.match = match
        self.actor = actor
        self.dry_run = dry_run
        self.snapshot = _snapshot_function(CustomerSchema())
        self.phantoms: dict[tuple[str, str], int] = {}

    # -- loading

    def _load(self, rows: Sequence[ImportRow]) -> None:
        emails = {r.profile["email"] for r in rows if r.profile.get("email")}
        phones = {r.profile["phone"] for r in rows if r.profile.get("phone")}
        self.by_email: dict[str, _Target] = {}
        self.by_phone: dict[str, list[_Target]] = {}
        targets: dict[int, _Target] = {}
        # One query per key: an OR of the two would make SQLite scan the whole store.
        for column, values in ((_table.c.email, emails), (_table.c.phone, phones)):
            if not values:
                continue
            found = db.session.execute(
                sa.select(_table).where(
                    _table.c.store_id == self.store_id,
                    column.in_(values),
                    _table.c.merged_into_id.is_(None),
                    _table.c.erased_at.is_(None),
                )
            ).mappings()
            for row in found:
                if row["id"] not in targets:
                    targets[row["id"]] = _Target(values=dict(row), tags=[], fields={}, new=False)
        if targets:
            for customer_id, name in db.session.execute(
                sa.select(customer_tags.c.customer_id, Tag.name)
                .join(Tag, Tag.id == customer_tags.c.tag_id)
                .where(customer_tags.c.customer_id.in_(targets))
            ):
                targets[customer_id].tags.append(name)
            for customer_id, field_id, value in db.session.execute(
                sa.select(
                    CustomFieldValue.customer_id, CustomFieldValue.field_id, CustomFieldValue.value
                ).where(CustomFieldValue.customer_id.in_(targets))
            ):
                if field_id in self.field_keys:
                    targets[customer_id].fields[self.field_keys[field_id]] = value
        for target in targets.values():
            target.tags.sort()
            target.stored_fields = frozenset(target.fields)
            self._index(target)
        if self.phantoms:
            self._load_phantoms(emails, phones)

    def _load_phantoms(self, emails: set[str], phones: set[str]) -> None:
        """Dry run: customers an earlier batch would have created, as bare identities."""
        keys = [("email", e) for e in emails if e not in self.by_email]
        keys += [("phone", p) for p in phones if p not in self.by_phone]
        for kind, value in keys:
            phantom_id = self.phantoms.get((kind, value))
            if phantom_id is not None:
                values = self._defaults()
                values.update({"id": phantom_id, kind: value})
                self._index(_Target(values=values, tags=[], fields={}, new=False))

    def _index(self, target: _Target) -> None:
        if target.values["email"]:
            self.by_email[target.values["email"]] = target
        if target.values["phone"]:
            self.by_phone.setdefault(target.values["phone"], []).append(target)

    def _unindex(self, target: _Target) -> None:
        if self.by_email.get(target.values["email"]) is target:
            del self.by_email[target.values["email"]]
        same_phone = self.by_phone.get(target.values["phone"], [])
        if target in same_phone:
            same_phone.remove(target)

    def _defaults(self) -> dict[str, Any]:
        """Every column of a new customer, with the model's defaults."""
        if self._new_values is None:
            values: dict[str, Any] = {}
            for column in _table.columns:
                default = column.default
                values[column.key] = (
                    default.arg if default is not None and not default.is_callable else None
                )
            values.update(
                store_id=self.store_id, source="import", created_at=self.now, updated_at=self.now
            )
            self._new_values = values
        return dict(self._new_values)

    # -- matching

    def _resolve(self, row: ImportRow) -> tuple[_Target, bool]:
        email, phone = row.profile.get("email"), row.profile.get("phone")
        order = [("email", email), ("phone", phone)]
        if self.match == "phone":
            order.reverse()
        kind, value = next((k, v) for k, v in order if v)
        if kind == "email":
            found = self.by_email.get(value)
        else:
            candidates = self.by_phone.get(value, [])
            if len(candidates) > 1:
                reason = _(
                    "%(count)s customers have the phone %(phone)s; add the email to the row "
                    "and match on email",
                    count=len(candidates),
                    phone=value,
                )
                raise RowRejected([("phone", reason)])
            found = candidates[0] if candidates else None
        owner = self.by_email.get(email) if email else None
        if owner is not None and owner is not found:
            raise RowRejected([("email", _("%(email)s belongs to another customer", email=email))])
        if found is not None:
            return found, False
        missing = [
            (column, _("required for a new customer"))
            for key, column in self.required
            if key not in row.fields
        ]
        if missing:
            raise RowRejected(missing)
        return _Target(values=self._defaults(), tags=[], fields={}, new=True), True

    def _apply(self, target: _Target, row: ImportRow) -> list[str]:
        changed = [c for c, v in row.profile.items() if target.values[c] != v]
        if changed:
            self._unindex(target)
            for column in changed:
                target.values[column] = row.profile[column]
            self._index(target)
            target.dirty = True
            target.values["updated_at"] = self.now
        if row.tags is not None and row.tags != target.tags:
            target.tags = row.tags
            target.tags_dirty = True
            changed.append("tags")
        fields_changed = [k for k, v in row.fields.items() if target.fields.get(k) != v]
        if fields_changed:
            target.fields.update(row.fields)
            target.fields_dirty.update(fields_changed)
            changed.append("fields")
        return sorted(changed)

    def _snapshot(self, target: _Target) -> dict[str, Any]:
        return self.snapshot(
            {**target.values, "tags": list(target.tags), "fields": dict(target.fields)}
        )

    # -- the batch

    def write(
        self,
        rows: Iterable[ImportRow],
        result: ImportResult,
        reject: Callable[[ImportRow, RowRejected], None],
    ) -> None:
        """Apply ``rows`` in file order; stage the writes and events in the session."""
        rows = list(rows)
        if not rows:
            return
        self.now = utcnow()
        self._new_values: dict[str, Any] | None = None
        self._load(rows)
        touched: dict[int, _Target] = {}
        events: list[tuple[str, _Target, dict[str, Any], list[str]]] = []
        for row in rows:
            try:
                target, created = self._resolve(row)
            except RowRejected as exc:
                reject(row, exc)
                continue
            if created:
                self._apply(target, row)
                result.created += 1
                events.append(("customer.created", target, self._snapshot(target), []))
            else:
                changed = self._apply(target, row)
                if changed:
                    result.updated += 1
                    events.append(("customer.updated", target, self._snapshot(target), changed))
                else:
                    result.unchanged += 1
            touched[id(target)] = target
        if self.dry_run:
            self._remember_phantoms(touched.values())
            return
        self._store(list(touched.values()))
        for kind, target, snapshot, changed in events:
            snapshot["id"] = target.id
            payload: dict[str, Any] = {"customer": snapshot}
            payload.update(
                {"source": "import"} if kind == "customer.created" else {"changed": changed}
            )
            record_event(self.store_id, kind, payload, actor=self.actor, customer_id=target.id)

    def _remember_phantoms(self, targets: Iterable[_Target]) -> None:
        for target in targets:
            if target.new:
                phantom_id = -(len(self.phantoms) + 1)
                for kind in ("email", "phone"):
                    if target.values[kind]:
                        self.phantoms[(kind, target.values[kind])] = phantom_id

    def _store(self, targets: list[_Target]) -> None:
        new = [t for t in targets if t.new]
        changed = [t for t in targets if not t.new and t.dirty]
        if new:
            self._insert(new)
        if changed:
            # No .values(): the SET clause comes from the keys of the parameter rows.
            keys = [*_PROFILE_COLUMNS, "updated_at"]
            db.session.execute(
                sa.update(_table).where(
                    _table.c.id == sa.bindparam("_id"), _table.c.store_id == self.store_id
                ),
                [{"_id": t.id, **{k: t.values[k] for k in keys}} for t in changed],
            )
        self._store_tags([t for t in targets if t.tags_dirty])
        self._store_fields([t for t in targets if t.fields_dirty])

    def _insert(self, new: list[_Target]) -> None:
        """Insert new customers and learn their ids.

        New customers of one batch differ in (email, phone): two rows with the same email, or
        without email and with the same phone, are one customer. So the ids come back in
        multi-row INSERTs matched by that pair; asking for them in parameter order would make
        SQLite insert row by row.
        """
        rows = [{c: t.values[c] for c in _INSERT_COLUMNS} for t in new]
        keys = [(t.values["email"], t.values["phone"]) for t in new]
        if len(set(keys)) == len(keys):
            statement = sa.insert(_table).returning(_table.c.id, _table.c.email, _table.c.phone)
            ids = {(r.email, r.phone): r.id for r in _connection().execute(statement, rows)}
            for target, key in zip(new, keys, strict=True):
                target.values["id"] = ids[key]
            return
        statement = sa.insert(_table).returning(_table.c.id, sort_by_parameter_order=True)
        for target, customer_id in zip(
            new, _connection().execute(statement, rows).scalars(), strict=True
        ):
            target.values["id"] = customer_id

    def _store_tags(self, targets: list[_Target]) -> None:
        if not targets:
            return
        names = {name for t in targets for name in t.tags}
        tag_ids = {tag.name: tag.id for tag in ensure_tags(self.store, names)} if names else {}
        existing = [t.id for t in targets if not t.new]
        if existing:
            db.session.execute(
                sa.delete(customer_tags).where(customer_tags.c.customer_id.in_(existing))
            )
        links = [{"customer_id": t.id, "tag_id": tag_ids[n]} for t in targets for n in t.tags]
        if links:
            _connection().execute(sa.insert(customer_tags), links)

    def _store_fields(self, targets: list[_Target]) -> None:
        inserts, updates = [], []
        for target in targets:
            for key in target.fields_dirty:
                row = {
                    "customer_id": target.id,
                    "field_id": self.definition_ids[key],
                    "value": target.fields[key],
                }
                (updates if key in target.stored_fields else inserts).append(row)
        values = CustomFieldValue.__table__
        if inserts:
            _connection().execute(sa.insert(values), inserts)
        if updates:
            db.session.execute(
                sa.update(values).where(
                    values.c.customer_id == sa.bindparam("_customer_id"),
                    values.c.field_id == sa.bindparam("_field_id"),
                ),
                [
                    {
                        "_customer_id": u["customer_id"],
                        "_field_id": u["field_id"],
                        "value": u["value"],
                    }
                    for u in updates
                ],
            )


# --- the import ------------------------------------------------------------------------------


@contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Keep the cyclic garbage collector off the objects that exist before the import.

    An import allocates millions of short-lived containers, and every full collection they
    trigger would walk the whole application heap again (SQLAlchemy, Flask, the phonenumbers
    metadata): about a tenth of the import's time. Frozen objects are freed by reference
    counting as usual; cycles among them wait for ``unfreeze``, which hands them back to the
    collector.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 10_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _check_options(encoding: str, match: str) -> None:
    if encoding not in ENCODINGS:
        raise ValidationError(
            _("Choose one of the encodings: %(names)s.", names=", ".join(ENCODINGS)),
            field="encoding",
        )
    if match not in MATCH_ON:
        raise ValidationError(_("Match on email or phone."), field="match")


def import_customers(
    store: Store,
    path: str | Path,
    *,
    encoding: str = "auto",
    match: str = "email",
    dry_run: bool = False,
    actor: str = "import",
    report_path: str | Path | None = None,
    resume: dict[str, Any] | None = None,
    on_batch: Callable[[ImportResult], None] | None = None,
    batch_size: int | None = None,
) -> ImportResult:
    """Import the customers in the CSV or XLSX file at ``path`` into ``store``.

    Rows are written in batches of ``batch_size`` (default ``BATCH_SIZE``); after each batch
    ``on_batch(result)`` runs and must commit (the default commits). ``resume`` is a previous
    ``result.checkpoint()``: the import carries on after its line with its counts. A dry run
    checks every row and counts what would happen, and writes nothing but the report. Raises
    ``ImportFileError`` (nothing written) when the file cannot be read or has unknown columns.
    """
    _check_options(encoding, match)
    definitions = [FieldSpec.of(d) for d in list_fields(store)]
    commit = on_batch or (lambda _result: db.session.commit())
    batch_size = batch_size or BATCH_SIZE
    with open_source(path, encoding) as source, _long_lived_objects_frozen():
        targets = map_columns(source.header, definitions)
        if resume:
            known = {f for f in ImportResult.__dataclass_fields__ if f != "rejected_rows"}
            result = ImportResult(**{k: v for k, v in resume.items() if k in known})
        else:
            result = ImportResult(
                total=source.total,
                kind=source.kind,
                encoding=source.encoding,
                match=match,
                dry_run=dry_run,
            )
        result.report_path = str(report_path) if report_path else None
        report = RejectedReport(
            Path(report_path) if report_path else None, source.header, keep=result.rejected
        )
        parser = RowParser(store, source.header, targets, definitions)
        writer = BatchWriter(
            store, definitions, source.header, targets, match=match, actor=actor, dry_run=dry_run
        )

        def reject(row: ImportRow, exc: RowRejected) -> None:
            result.rejected += 1
            report.add(row.line, exc.problems, row.cells)

        def finish(batch: list[ImportRow], last_line: int, read: int) -> None:
            writer.write(batch, result, reject)
            result.processed += read
            result.line = last_line
            if result.total is not None and result.processed > result.total:
                result.total = result.processed
            report.flush()
            commit(result)

        batch: list[ImportRow] = []
        read = 0
        for line, cells in source.rows():
            if line <= result.line:
                continue
            read += 1
            try:
                batch.append(parser.parse(line, cells))
            except RowRejected as exc:
                result.rejected += 1
                report.add(line, exc.problems, cells)
            if read >= batch_size:
                finish(batch, line, read)
                batch, read = [], 0
        if read:
            finish(batch, line, read)
    result.total = result.processed
    result.rejected_rows = report.sample()
    return result


# --- uploads and the background job ----------------------------------------------------------


def uploads_folder(store: Store) -> Path:
    """``<instance>/imports/<store id>``: uploads and their reports, one folder per store."""
    folder = Path(current_app.config["KEDAI_INSTANCE_PATH"]) / "imports" / str(store.id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def report_path_for(upload: Path) -> Path:
    """Where the rejected rows of ``upload`` go: beside it."""
    return upload.with_name(upload.stem + ".rejected.csv")


def start_import(
    store: Store,
    stream: IO[bytes],
    filename: str,
    *,
    encoding: str = "auto",
    match: str = "email",
    created_by: str = "system",
    locale: str | None = None,
) -> Job:
    """Save an upload under the instance folder and queue its import (in this transaction).

    The header is checked at once, so an unknown column is reported before anything is queued.
    """
    _check_options(encoding, match)
    folder = uploads_folder(store)
    upload = folder / f"{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.upload"
    with upload.open("wb") as fh:
        shutil.copyfileobj(stream, fh, 1024 * 1024)
    try:
        with open_source(upload, encoding) as source:
            map_columns(source.header, list_fields(store))
            kind = source.kind
    except ValidationError:
        upload.unlink()
        raise
    final = upload.with_suffix(f".{kind}")
    os.replace(upload, final)
    return enqueue(
        JOB_KIND,
        {
            "path": final.name,
            "filename": Path(filename or final.name).name[:200],
            "encoding": encoding,
            "match": match,
            "locale": locale,
        },
        store_id=store.id,
        created_by=created_by,
        max_attempts=3,
    )


def job_upload_path(store: Store, job: Job) -> Path:
    return uploads_folder(store) / Path(job.payload["path"]).name


def job_report_path(store: Store, job: Job) -> Path | None:
    """The rejected-rows CSV of an import job, when it has one."""
    path = report_path_for(job_upload_path(store, job))
    return path if path.exists() else None


@job_handler(JOB_KIND)
def run_import_job(run: JobRun) -> dict[str, Any]:
    """Run (or carry on) an uploaded import; the result is ``ImportResult.to_dict()``.

    A file-level problem ends the job at once with ``{"error": ..., "line": ...}`` rather than
    being retried: the same file would fail the same way. The upload is deleted when the job
    ends (it holds customers' personal data); the rejected-rows report stays for the page.
    """
    job = run.job
    store = db.session.get(Store, job.store_id)
    if store is None:
        return {"error": "store not found"}
    payload = run.payload
    upload = job_upload_path(store, job)
    checkpoint = (job.result or {}).get("checkpoint")

    def commit(result: ImportResult) -> None:
        job.result = {"checkpoint": result.checkpoint()}
        run.progress(result.processed, result.total)

    with force_locale(payload.get("locale") or store.locale):
        if not upload.exists():
            return {**(checkpoint or {}), "error": _("The uploaded file is gone; upload it again.")}
        try:
            result = import_customers(
                store,
                upload,
                encoding=payload.get("encoding", "auto"),
                match=payload.get("match", "email"),
                actor=f"import:{job.id}",
                report_path=report_path_for(upload),
                resume=checkpoint,
                on_batch=commit,
            )
        except ImportFileError as exc:
            db.session.rollback()
            upload.unlink(missing_ok=True)
            return {"error": exc.message, "line": exc.line}
    upload.unlink(missing_ok=True)
    return result.to_dict()
