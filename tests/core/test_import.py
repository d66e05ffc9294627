"""Customer import (C-07): files in every encoding, row-level rejection, matching, events,
batches, resuming a killed job, templates and the command line."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.customers import importing, service
from core.customers.importing import ImportFileError, import_customers
from core.customers.models import Customer
from core.customers.schemas import customer_snapshot
from core.db import db
from core.jobs.models import Job
from core.jobs.service import run_due_jobs
from tests.conftest import events_of

HEADER_HANT = ["電子郵件", "手機", "名", "姓", "生日", "接受行銷", "標籤", "備註", "城市", "Size"]
HEADER_HANS = ["电子邮件", "手机", "名", "姓", "生日", "接受营销", "标签", "备注", "城市", "size"]
HEADER_EN = ["Email", "Phone", "First Name", "last_name", "birthday", "accepts_marketing",
             "Tags", "note", "city", "size"]  # fmt: skip
GOOD_ROWS = [
    ["mei@example.com", "012-345 6789", "美玲", "陳", "1990-08-31", "是", "VIP, 茶友", "喜歡烏龍",
     "台北", "M"],
    ["chiming@example.com", "+886 912 345 678", "志明", "林", "1985/1/2", "否", "", "", "", ""],
    ["", "013-888 1234", "大文", "黃", "", "yes", "VIP;新客", "", "", "L"],
]  # fmt: skip
#: (row, line in the file, column named in the reason)
BAD_ROWS = [
    (["not-an-email", "", "阿明", "王", "", "", "", "", "", ""], "電子郵件"),
    (["bad-phone@example.com", "12", "阿華", "張", "", "", "", "", "", ""], "手機"),
    (["bad-date@example.com", "", "阿玉", "李", "1990-02-30", "", "", "", "", ""], "生日"),
    (["bad-size@example.com", "", "阿芳", "吳", "", "", "", "", "", "XXL"], "Size"),
    (["", "", "無名", "氏", "", "", "", "只有名字", "", ""], "電子郵件"),
    (["bad-flag@example.com", "", "阿強", "周", "", "maybe", "", "", "", ""], "接受行銷"),
]


@pytest.fixture(autouse=True)
def english(session):
    # Outside a request the admin's locale selector has nothing to read: say which one.
    with force_locale("en"):
        yield


@pytest.fixture
def fields(store):
    service.define_field(store, key="city", label="城市", field_type="text")
    service.define_field(store, key="size", label="Size", field_type="dropdown",
                         options=["S", "M", "L"])  # fmt: skip
    db.session.commit()


def write_csv(path: Path, header, rows, encoding="utf-8", delimiter=",") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, header, rows) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


#: (file kind, Python codec, the encoding the import reports, header)
FORMATS = [
    ("utf-8", "utf-8", "utf-8", HEADER_HANT),
    ("utf-8-bom", "utf-8-sig", "utf-8", HEADER_HANT),
    ("big5", "cp950", "big5", HEADER_HANT),
    ("gbk", "gbk", "gb18030", HEADER_HANS),
    ("gb18030", "gb18030", "gb18030", HEADER_HANS),
    ("xlsx", None, None, HEADER_HANT),
]


def write_file(tmp_path: Path, kind: str, codec: str | None, header, rows) -> Path:
    if kind == "xlsx":
        return write_xlsx(tmp_path / "customers.xlsx", header, rows)
    return write_csv(tmp_path / f"customers-{kind}.csv", header, rows, codec)


def customers(store) -> dict[str, Customer]:
    found = db.session.scalars(sa.select(Customer).where(Customer.store_id == store.id))
    return {c.email or c.phone: c for c in found}


def run(store, path, **kwargs):
    kwargs.setdefault("report_path", path.with_name(path.stem + ".rejected.csv"))
    return import_customers(store, path, **kwargs)


def report_rows(path) -> list[list[str]]:
    raw = Path(path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


# --- good, bad and mixed files in every encoding ----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "codec", "reported", "header"), FORMATS, ids=[f[0] for f in FORMATS]
)
def test_good_file_creates_customers_with_their_chinese_names(
    store, fields, tmp_path, kind, codec, reported, header
):
    path = write_file(tmp_path, kind, codec, header, GOOD_ROWS)

    result = run(store, path)

    assert (result.created, result.updated, result.unchanged, result.rejected) == (3, 0, 0, 0)
    assert result.encoding == reported
    assert result.kind == ("xlsx" if kind == "xlsx" else "csv")
    assert result.report_path and not Path(result.report_path).exists()
    stored = customers(store)
    mei = stored["mei@example.com"]
    assert (mei.first_name, mei.last_name, mei.phone) == ("美玲", "陳", "+60123456789")
    assert mei.birthday == date(1990, 8, 31)
    assert mei.accepts_marketing is True
    assert [t.name for t in mei.tags] == ["VIP", "茶友"]
    assert mei.note == "喜歡烏龍"
    assert mei.field_value_map() == {"city": "台北", "size": "M"}
    assert mei.source == "import"
    chiming = stored["chiming@example.com"]
    assert (chiming.phone, chiming.birthday) == ("+886912345678", date(1985, 1, 2))
    assert chiming.accepts_marketing is False and chiming.tags == []
    wong = stored["+60138881234"]
    assert wong.email is None and wong.first_name == "大文"
    assert [t.name for t in wong.tags] == ["VIP", "新客"]


@pytest.mark.parametrize(
    ("kind", "codec", "reported", "header"), FORMATS, ids=[f[0] for f in FORMATS]
)
def test_mixed_file_imports_good_rows_and_reports_bad_ones_by_line(
    store, fields, tmp_path, kind, codec, reported, header
):
    bad = [row for row, _ in BAD_ROWS]
    rows = [GOOD_ROWS[0], *bad[:3], GOOD_ROWS[1], *bad[3:], GOOD_ROWS[2]]
    path = write_file(tmp_path, kind, codec, header, rows)

    result = run(store, path)

    assert (result.created, result.updated, result.rejected) == (3, 0, 6)
    assert result.processed == 9
    expected_lines = [3, 4, 5, 7, 8, 9]
    assert [r["line"] for r in result.rejected_rows] == expected_lines
    columns = [header[HEADER_HANT.index(column)] for _, column in BAD_ROWS]
    assert [r["column"] for r in result.rejected_rows] == columns
    for row, column in zip(result.rejected_rows, columns, strict=True):
        assert row["reason"].startswith(f"{column}: ")
    assert "'not-an-email' is not an email address" in result.rejected_rows[0]["reason"]
    assert "1990-02-30" in result.rejected_rows[2]["reason"]
    assert "XXL" in result.rejected_rows[3]["reason"]
    assert "email or a phone" in result.rejected_rows[4]["reason"]
    # The report holds every rejected row, as it was, after its line, columns and reasons.
    report = report_rows(result.report_path)
    assert report[0] == ["_line", "_column", "_error", *header]
    assert [int(r[0]) for r in report[1:]] == expected_lines
    assert report[1][3:6] == ["not-an-email", "", "阿明"]
    # Rejected rows wrote nothing: no customer, no event.
    assert set(customers(store)) == {"mei@example.com", "chiming@example.com", "+60138881234"}
    assert len(events_of(store)) == 3


@pytest.mark.parametrize(
    ("kind", "codec", "reported", "header"), FORMATS, ids=[f[0] for f in FORMATS]
)
def test_file_of_bad_rows_writes_nothing(store, fields, tmp_path, kind, codec, reported, header):
    path = write_file(tmp_path, kind, codec, header, [row for row, _ in BAD_ROWS])

    result = run(store, path)

    assert (result.created, result.updated, result.rejected) == (0, 0, len(BAD_ROWS))
    assert customers(store) == {}
    assert events_of(store) == []
    assert len(report_rows(result.report_path)) == len(BAD_ROWS) + 1


def test_several_problems_in_one_row_are_all_named(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "phone", "birthday"], [["x", "1", "1990-13-01"]])

    [row] = run(store, path).rejected_rows

    assert row["line"] == 2
    assert row["column"] == "email, phone, birthday"
    assert row["reason"].count(";") == 2


# --- columns and encodings -------------------------------------------------------------------


def test_unknown_column_stops_the_import_before_any_row_is_written(store, tmp_path):
    path = write_csv(
        tmp_path / "c.csv", ["email", "favourite tea", "名"], [["a@b.co", "oolong", "美"]]
    )

    with pytest.raises(ImportFileError) as info:
        run(store, path)

    assert "favourite tea" in info.value.message
    assert customers(store) == {}


def test_file_without_email_or_phone_column_is_refused(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["first_name", "last_name"], [["美玲", "陳"]])

    with pytest.raises(ImportFileError, match="email or a phone column"):
        run(store, path)


def test_repeated_column_is_refused(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "電子郵件"], [["a@b.co", "a@b.co"]])

    with pytest.raises(ImportFileError, match="both fill the same field"):
        run(store, path)


def test_line_that_cannot_be_decoded_is_named_and_nothing_is_written(store, tmp_path):
    good = "email,first_name\r\na@example.com,美玲\r\nb@example.com,志明\r\n".encode()
    path = tmp_path / "broken.csv"
    path.write_bytes(good + "c@example.com,大文\r\n".encode("big5"))

    with pytest.raises(ImportFileError) as info:
        run(store, path, encoding="utf-8")

    assert info.value.line == 4
    assert "Line 4" in info.value.message and "UTF-8" in info.value.message
    assert customers(store) == {}


def test_chosen_encoding_is_used_instead_of_detection(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "名"], [["a@b.co", "美玲"]], "gb18030")

    result = run(store, path, encoding="gb18030")

    assert result.encoding == "gb18030"
    assert customers(store)["a@b.co"].first_name == "美玲"


def test_headers_ignore_case_and_spacing_and_custom_fields_go_by_key_or_label(
    store, fields, tmp_path
):
    path = write_csv(tmp_path / "c.csv", ["E-MAIL", "first name", "CITY", "size"],
                     [["a@b.co", "美玲", "新竹", "S"]])  # fmt: skip

    run(store, path)

    assert customers(store)["a@b.co"].field_value_map() == {"city": "新竹", "size": "S"}


def test_semicolon_separated_csv(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "first_name", "tags"],
                     [["a@b.co", "美玲", "VIP,茶友"]], delimiter=";")  # fmt: skip

    run(store, path)

    assert [t.name for t in customers(store)["a@b.co"].tags] == ["VIP", "茶友"]


def test_export_columns_and_underscore_columns_are_read_past(store, tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        ["_line", "_error", "id", "email", "orders_count", "total_spent", "blacklisted"],
        [["9", "old reason", "123", "a@b.co", "4", "99.00", "yes"]],
    )

    result = run(store, path)

    assert result.created == 1
    customer = customers(store)["a@b.co"]
    assert (customer.orders_count, customer.total_spent, customer.blacklisted) == (0, 0, False)


def test_xlsx_cells_typed_by_excel_are_read(store, tmp_path):
    path = write_xlsx(
        tmp_path / "c.xlsx",
        ["email", "phone", "birthday", "accepts_marketing", "note"],
        [["a@b.co", 60123456789, datetime(1990, 8, 31), True, 42],
         ["b@b.co", 123456789, date(1991, 1, 2), False, None]],
    )  # fmt: skip

    result = run(store, path)

    assert result.created == 2
    a, b = customers(store)["a@b.co"], customers(store)["b@b.co"]
    assert (a.phone, a.birthday, a.accepts_marketing, a.note) == (
        "+60123456789",
        date(1990, 8, 31),
        True,
        "42",
    )
    assert (b.phone, b.birthday, b.accepts_marketing) == ("+60123456789", date(1991, 1, 2), False)


def test_blank_rows_are_skipped_but_keep_their_line_numbers(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "phone"],
                     [["a@b.co", ""], ["", ""], ["bad", ""]])  # fmt: skip

    result = run(store, path)

    assert (result.created, result.rejected, result.processed) == (1, 1, 2)
    assert result.rejected_rows[0]["line"] == 4


def test_formula_guard_of_an_export_is_removed(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "phone", "note"],
                     [["a@b.co", "'+60123456789", "'=1+2"]])  # fmt: skip

    run(store, path)

    customer = customers(store)["a@b.co"]
    assert (customer.phone, customer.note) == ("+60123456789", "=1+2")


def test_old_excel_files_are_refused_with_advice(store, tmp_path):
    path = tmp_path / "c.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)

    with pytest.raises(ImportFileError, match="xls"):
        run(store, path)


# --- matching and updating -------------------------------------------------------------------


def test_existing_customer_is_updated_by_email_with_the_cells_the_row_fills(
    store, customer, tmp_path
):
    path = write_csv(tmp_path / "c.csv", ["email", "first_name", "last_name", "tags"],
                     [["MEI@Example.com", "美美", "", "VIP"]])  # fmt: skip

    result = run(store, path)

    assert (result.created, result.updated) == (0, 1)
    db.session.refresh(customer)
    assert (customer.first_name, customer.last_name) == ("美美", "陳")
    assert [t.name for t in customer.tags] == ["VIP"]
    [event] = events_of(store, "customer.updated")
    assert event.customer_id == customer.id
    assert event.payload["changed"] == ["first_name", "tags"]
    assert event.actor == "import"
    assert event.payload["customer"] == customer_snapshot(customer)


def test_existing_customer_is_updated_by_phone(store, customer, tmp_path):
    rows = [["012 345 6789", "Mei", ""], ["0161112222", "New", "new@example.com"]]
    path = write_csv(tmp_path / "c.csv", ["phone", "first_name", "email"], rows)

    result = run(store, path, match="phone")

    assert (result.created, result.updated) == (1, 1)
    db.session.refresh(customer)
    assert (customer.first_name, customer.email) == ("Mei", "mei@example.com")
    assert customers(store)["new@example.com"].phone == "+60161112222"


def test_row_without_the_chosen_key_is_matched_on_the_other(store, customer, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "phone", "note"],
                     [["", "0123456789", "by phone"]])  # fmt: skip

    result = run(store, path, match="email")

    assert result.updated == 1
    db.session.refresh(customer)
    assert customer.note == "by phone"


def test_email_of_another_customer_is_rejected_when_matching_on_phone(store, customer, tmp_path):
    service.create_customer(store, {"email": "other@example.com", "phone": "0162223344"})
    db.session.commit()
    rows = [["0162223344", "mei@example.com"], ["0175556677", "mei@example.com"]]
    path = write_csv(tmp_path / "c.csv", ["phone", "email"], rows)

    result = run(store, path, match="phone")

    assert (result.updated, result.created, result.rejected) == (0, 0, 2)
    assert all("belongs to another customer" in r["reason"] for r in result.rejected_rows)


def test_phone_shared_by_two_customers_is_rejected_as_ambiguous(store, tmp_path):
    for email in ("a@example.com", "b@example.com"):
        service.create_customer(store, {"email": email, "phone": "0123456789"})
    db.session.commit()
    path = write_csv(tmp_path / "c.csv", ["phone", "first_name"], [["0123456789", "誰"]])

    result = run(store, path, match="phone")

    assert result.rejected == 1
    assert "2 customers have the phone +60123456789" in result.rejected_rows[0]["reason"]


@pytest.mark.parametrize("batch_size", [500, 1], ids=["same-batch", "next-batch"])
def test_later_row_for_the_same_customer_updates_the_earlier(store, tmp_path, batch_size):
    path = write_csv(
        tmp_path / "c.csv",
        ["email", "phone", "first_name", "last_name"],
        [["a@example.com", "0123456789", "美玲", "陳"],
         ["", "0123456789", "美美", ""],
         ["A@example.com", "", "", "林"]],
    )  # fmt: skip

    result = run(store, path, batch_size=batch_size)

    assert (result.created, result.updated) == (1, 2)
    [customer] = customers(store).values()
    assert (customer.first_name, customer.last_name) == ("美美", "林")
    created, *updated = events_of(store)
    assert created.type == "customer.created"
    assert created.payload["customer"]["first_name"] == "美玲"
    assert [e.payload["changed"] for e in updated] == [["first_name"], ["last_name"]]
    assert {e.customer_id for e in events_of(store)} == {customer.id}


def test_importing_the_same_file_again_updates_instead_of_duplicating(store, fields, tmp_path):
    path = write_csv(tmp_path / "c.csv", HEADER_HANT, GOOD_ROWS)
    run(store, path)
    before = len(events_of(store))

    again = run(store, path)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert len(customers(store)) == 3
    assert len(events_of(store)) == before


def test_required_custom_field_is_needed_for_new_customers_only(store, customer, tmp_path):
    service.define_field(store, key="member_no", label="會員編號", field_type="text", required=True)
    db.session.commit()
    path = write_csv(tmp_path / "c.csv", ["email", "first_name", "會員編號"],
                     [["mei@example.com", "美", ""], ["new@example.com", "新", ""],
                      ["ok@example.com", "好", "A-1"]])  # fmt: skip

    result = run(store, path)

    assert (result.updated, result.created, result.rejected) == (1, 1, 1)
    assert result.rejected_rows == [
        {"line": 3, "column": "會員編號", "reason": "會員編號: required for a new customer"}
    ]


def test_custom_date_field_accepts_slashes(store, tmp_path):
    service.define_field(store, key="joined", label="Joined", field_type="date")
    db.session.commit()
    path = write_csv(tmp_path / "c.csv", ["email", "joined"], [["a@b.co", "2020/3/4"]])

    run(store, path)

    assert customers(store)["a@b.co"].field_value_map() == {"joined": "2020-03-04"}


def test_another_stores_customer_is_never_matched(store, other_store, tmp_path):
    service.create_customer(other_store, {"email": "mei@example.com", "first_name": "Rival"})
    db.session.commit()
    path = write_csv(tmp_path / "c.csv", ["email", "first_name"], [["mei@example.com", "美玲"]])

    result = run(store, path)

    assert result.created == 1
    rival = db.session.scalar(sa.select(Customer).where(Customer.store_id == other_store.id))
    assert rival.first_name == "Rival"
    assert events_of(other_store, "customer.updated") == []


# --- events ----------------------------------------------------------------------------------


def test_each_created_customer_gets_the_same_event_as_the_service_gives(store, fields, tmp_path):
    path = write_csv(tmp_path / "c.csv", HEADER_HANT, GOOD_ROWS)

    run(store, path, actor="import:7")

    created = events_of(store, "customer.created")
    assert len(created) == 3
    for event in created:
        customer = db.session.get(Customer, event.customer_id)
        assert event.payload == {"customer": customer_snapshot(customer), "source": "import"}
        assert event.actor == "import:7"
    assert [e.seq for e in events_of(store)] == [1, 2, 3]


# --- batches, progress, dry runs and resuming ------------------------------------------------


def numbered_rows(count: int, start: int = 0) -> list[list[str]]:
    return [[f"c{i}@example.com", f"+6012{i:07d}", f"名{i}", "陳"] for i in range(start, count)]


def test_rows_are_written_and_committed_batch_by_batch(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "phone", "名", "姓"], numbered_rows(12))
    seen = []

    def on_batch(result):
        seen.append((result.processed, result.total, result.percent, result.line))
        seen_customers = db.session.scalar(sa.select(sa.func.count()).select_from(Customer))
        assert seen_customers == result.created
        db.session.commit()

    result = run(store, path, batch_size=5, on_batch=on_batch)

    assert seen == [(5, 12, 41, 6), (10, 12, 83, 11), (12, 12, 100, 13)]
    assert result.created == 12


def test_dry_run_counts_and_reports_but_writes_nothing(store, customer, tmp_path):
    rows = [["mei@example.com", "", "改"], ["new@example.com", "", "新"],
            ["NEW@example.com", "", "又"], ["bad", "", ""]]  # fmt: skip
    path = write_csv(tmp_path / "c.csv", ["email", "phone", "first_name"], rows)

    result = run(store, path, dry_run=True, batch_size=2)

    assert (result.updated, result.created, result.rejected, result.dry_run) == (2, 1, 1, True)
    assert len(customers(store)) == 1
    db.session.refresh(customer)
    assert customer.first_name == "美玲"
    assert events_of(store, "customer.updated") == []
    assert Path(result.report_path).exists()


def test_resume_carries_on_after_the_checkpoint(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "phone", "名", "姓"], numbered_rows(10))
    checkpoints = []

    def crash_after_two_batches(result):
        db.session.commit()
        checkpoints.append(result.checkpoint())
        if len(checkpoints) == 2:
            raise KeyboardInterrupt  # the process dies between batches

    with pytest.raises(KeyboardInterrupt):
        run(store, path, batch_size=3, on_batch=crash_after_two_batches)
    assert len(customers(store)) == 6

    result = run(store, path, batch_size=3, resume=checkpoints[-1])

    assert (result.created, result.processed, result.total) == (10, 10, 10)
    assert len(customers(store)) == 10
    assert len(events_of(store, "customer.created")) == 10


# --- the background job ----------------------------------------------------------------------


def start(store, content: bytes, name="customers.csv", **kwargs):
    job = importing.start_import(store, io.BytesIO(content), name, **kwargs)
    db.session.commit()
    return job


def csv_bytes(header, rows, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode(encoding)


def test_job_imports_the_upload_and_keeps_the_report(store, app):
    rows = [["a@example.com", "美玲"], ["bad", "志明"], ["b@example.com", "大文"]]
    job = start(store, csv_bytes(["電子郵件", "名"], rows, "big5"), locale="zh_Hant")
    upload = Path(app.config["KEDAI_INSTANCE_PATH"]) / "imports" / str(store.id)

    assert run_due_jobs() == 1

    db.session.refresh(job)
    assert job.status == "done"
    assert (job.progress_done, job.progress_total, job.percent) == (3, 3, 100)
    result = job.result
    assert (result["created"], result["rejected"], result["encoding"]) == (2, 1, "big5")
    assert result["rejected_rows"] == [
        {"line": 3, "column": "電子郵件", "reason": "電子郵件: 'bad' is not an email address"}
    ]
    report = importing.job_report_path(store, job)
    assert report is not None and report.parent == upload
    assert not importing.job_upload_path(store, job).exists()  # personal data: not kept
    assert [e.actor for e in events_of(store)] == [f"import:{job.id}"] * 2


def test_job_for_a_file_with_unknown_columns_ends_with_the_error(store, app):
    job = start(store, csv_bytes(["email"], [["a@b.co"]]))
    # The column check at upload passed; then the merchant renamed a custom field away.
    path = importing.job_upload_path(store, job)
    path.write_bytes(csv_bytes(["email", "colour"], [["a@b.co", "red"]]))

    run_due_jobs()

    db.session.refresh(job)
    assert job.status == "done"
    assert "colour" in job.result["error"]
    assert customers(store) == {}


def test_upload_with_unknown_columns_is_refused_at_once(store, app):
    with pytest.raises(ImportFileError, match="colour"):
        start(store, csv_bytes(["email", "colour"], [["a@b.co", "red"]]))
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_killed_job_leaves_whole_batches_and_carries_on_when_run_again(store, app, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 4)
    job = start(store, csv_bytes(["email", "phone", "名", "姓"], numbered_rows(10)))
    writes = []
    real_write = importing.BatchWriter.write

    def dying_write(self, rows, result, reject):
        writes.append(len(rows))
        real_write(self, rows, result, reject)
        if len(writes) == 2:
            raise SystemExit("killed")  # not an Exception: the worker cannot record anything

    monkeypatch.setattr(importing.BatchWriter, "write", dying_write)
    with pytest.raises(SystemExit):
        run_due_jobs()
    db.session.rollback()  # the dead process's open transaction is gone with it
    db.session.refresh(job)
    assert job.status == "running"
    assert len(customers(store)) == 4  # the first batch; the second never committed
    assert job.progress_done == 4

    monkeypatch.setattr(importing.BatchWriter, "write", real_write)
    job.lease_until = datetime.now(UTC) - timedelta(seconds=1)  # the lease runs out
    db.session.commit()
    assert run_due_jobs() == 1

    db.session.refresh(job)
    assert job.status == "done"
    assert (job.result["created"], job.result["processed"]) == (10, 10)
    assert len(customers(store)) == 10
    assert len(events_of(store, "customer.created")) == 10


def test_failed_attempt_is_retried_from_its_checkpoint(store, app, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 3)
    rows = [*numbered_rows(4), ["bad", "", "", ""], *numbered_rows(8, start=4)]
    job = start(store, csv_bytes(["email", "phone", "名", "姓"], rows))
    calls = []
    real_write = importing.BatchWriter.write

    def flaky_write(self, rows, result, reject):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        real_write(self, rows, result, reject)

    monkeypatch.setattr(importing.BatchWriter, "write", flaky_write)
    run_due_jobs()
    db.session.refresh(job)
    assert (job.status, job.result["checkpoint"]["line"]) == ("pending", 4)
    job.run_after = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()

    run_due_jobs()

    db.session.refresh(job)
    assert job.status == "done"
    assert (job.result["created"], job.result["rejected"]) == (8, 1)
    assert [r["line"] for r in job.result["rejected_rows"]] == [6]
    assert len(report_rows(importing.job_report_path(store, job))) == 2


# --- templates -------------------------------------------------------------------------------


def test_csv_template_has_a_bom_and_the_stores_custom_fields(store, fields):
    data = importing.template_csv(store, "zh_Hant")

    assert data.startswith(b"\xef\xbb\xbf")
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header == HEADER_HANT


def test_xlsx_template_has_the_columns_and_instructions(store, fields):
    workbook = openpyxl.load_workbook(io.BytesIO(importing.template_xlsx(store, "en")))

    sheet = workbook.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header == [*importing.TEMPLATE_COLUMNS, "城市", "Size"]
    assert sheet.column_dimensions["B"].number_format == "@"
    assert "S,M,L" in str([v.formula1 for v in sheet.data_validations.dataValidation])
    assert workbook.worksheets[1].max_row == len(header) + 1


@pytest.mark.parametrize("locale", ["en", "zh_Hant", "zh_Hans"])
def test_filled_in_template_imports(store, fields, tmp_path, locale):
    path = tmp_path / "filled.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(importing.template_xlsx(store, locale)))
    workbook.worksheets[0].append(GOOD_ROWS[0])
    workbook.save(path)

    result = run(store, path)

    assert (result.created, result.rejected) == (1, 0)
    assert customers(store)["mei@example.com"].field_value_map() == {"city": "台北", "size": "M"}


def test_corrected_report_imports_as_it_is(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "first_name"], [["mei@example", "美玲"]])
    result = run(store, path)
    report = report_rows(result.report_path)
    report[1][3] = "mei@example.com"
    fixed = write_csv(tmp_path / "fixed.csv", report[0], report[1:])

    again = run(store, fixed)

    assert (again.created, again.rejected) == (1, 0)
    assert customers(store)["mei@example.com"].first_name == "美玲"


# --- the command line ------------------------------------------------------------------------


def kedai(app, *args):
    from core.cli import main

    return app.test_cli_runner().invoke(main, list(args))


def test_cli_imports_and_prints_progress_and_a_summary(app, store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "名"], [["a@example.com", "美玲"]], "big5")

    result = kedai(app, "import-customers", str(path), "--store", "acme")

    assert result.exit_code == 0, result.output
    assert "1 / 1 rows (100%)" in result.output
    assert "1 rows read (csv, big5): 1 created, 0 updated, 0 unchanged, 0 rejected" in result.output
    assert "Rejected rows" not in result.output
    assert customers(store)["a@example.com"].first_name == "美玲"
    assert [e.actor for e in events_of(store)] == ["import:cli"]


def test_cli_exits_non_zero_and_names_the_report_when_rows_are_rejected(app, store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "phone"], [["a@example.com", ""], ["bad", ""]])

    result = kedai(app, "import-customers", str(path), "--store", "acme", "--match", "phone")

    assert result.exit_code == 1
    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in result.output
    assert "line 3: email: 'bad' is not an email address" in result.output
    report = tmp_path / "c.rejected.csv"
    assert f"Rejected rows: {report}" in result.output
    assert report_rows(report)[1][0] == "3"
    assert len(customers(store)) == 1


def test_cli_dry_run_writes_nothing(app, store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email"], [["a@example.com"], ["b@example.com"]])

    result = kedai(app, "import-customers", str(path), "--store", "acme", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "2 would be created" in result.output
    assert customers(store) == {}
    assert events_of(store) == []


def test_cli_refuses_a_file_with_unknown_columns_and_an_unknown_store(app, store, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["email", "colour"], [["a@example.com", "red"]])

    bad_file = kedai(app, "import-customers", str(path), "--store", "acme")
    bad_store = kedai(app, "import-customers", str(path), "--store", "nowhere")

    assert bad_file.exit_code == 1 and "colour" in bad_file.output
    assert bad_store.exit_code == 1 and "nowhere" in bad_store.output
    assert customers(store) == {}


def test_a_line_the_csv_reader_cannot_parse_is_named(store, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("email,note\na@b.co,short\nb@b.co," + "x" * 200_000 + "\n", encoding="utf-8")

    with pytest.raises(ImportFileError) as info:
        run(store, path)

    assert info.value.line == 3
    assert customers(store) == {}
