"""The admin's import and export pages: upload → background job → report, templates, streamed
exports with the list's filters, and one store never reaching another's jobs or customers."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
import sqlalchemy as sa

from core.customers import importing, service
from core.customers.models import Customer
from core.db import db
from core.jobs.models import Job
from core.jobs.service import run_due_jobs
from tests.conftest import csrf_token, events_of


@pytest.fixture
def fields(store):
    service.define_field(store, key="city", label="城市", field_type="text")
    db.session.commit()


def csv_bytes(header, rows, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode(encoding)


def upload(admin, content: bytes, filename="客戶.csv", **fields):
    token = csrf_token(admin, "/admin/customers/import")
    data = {"csrf_token": token, "encoding": "auto", "match": "email", **fields}
    data["file"] = (io.BytesIO(content), filename)
    return admin.post("/admin/customers/import", data=data, content_type="multipart/form-data")


def test_import_page_offers_templates_encodings_and_matching(admin, store, fields):
    page = admin.get("/admin/customers/import")

    assert page.status_code == 200
    for value in ("auto", "utf-8", "big5", "gbk", "gb18030", "email", "phone"):
        assert f'value="{value}"' in page.text
    assert "/admin/customers/import/template.csv" in page.text
    assert "/admin/customers/import/template.xlsx" in page.text
    assert "城市" in page.text


def test_upload_runs_as_a_job_whose_page_shows_progress_then_the_report(admin, store, fields):
    rows = [["a@example.com", "美玲", "台北"], ["bad", "志明", ""], ["b@example.com", "大文", ""]]

    response = upload(admin, csv_bytes(["電子郵件", "名", "城市"], rows, "big5"))

    assert response.status_code == 302
    job_path = response.headers["Location"]
    job_id = int(re.fullmatch(r".*/admin/customers/import/(\d+)", job_path).group(1))
    waiting = admin.get(job_path)
    assert waiting.status_code == 200
    assert "progress-bar" in waiting.text and "客戶.csv" in waiting.text
    assert admin.get(f"{job_path}/status").json["status"] == "pending"

    assert run_due_jobs() == 1

    status = admin.get(f"{job_path}/status").json
    assert (status["status"], status["percent"]) == ("done", 100)
    assert (status["created"], status["updated"], status["rejected"]) == (2, 0, 1)
    report = admin.get(job_path)
    assert "progress-bar" not in report.text
    assert re.search(r"<td>3</td><td>電子郵件</td><td>電子郵件: &#39;bad&#39; is not", report.text)
    assert f"/admin/customers/import/{job_id}/rejected.csv" in report.text
    assert "BIG5" in report.text
    rejected = admin.get(f"{job_path}/rejected.csv")
    assert rejected.status_code == 200
    assert rejected.data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(rejected.data.decode("utf-8-sig"))))
    assert lines[1][:2] == ["3", "電子郵件"] and lines[1][3:] == ["bad", "志明", ""]
    customers = db.session.scalars(sa.select(Customer).where(Customer.store_id == store.id))
    assert {c.email: c.field_value_map() for c in customers} == {
        "a@example.com": {"city": "台北"},
        "b@example.com": {},
    }
    assert [e.actor for e in events_of(store, "customer.created")] == [f"import:{job_id}"] * 2


def test_finished_import_without_rejections_offers_no_report(admin, store):
    response = upload(admin, csv_bytes(["email"], [["a@example.com"]]), filename="ok.csv")
    run_due_jobs()

    page = admin.get(response.headers["Location"])

    assert "rejected.csv" not in page.text
    assert admin.get(response.headers["Location"] + "/rejected.csv").status_code == 404


def test_upload_with_unknown_columns_is_refused_on_the_form(admin, store):
    page = upload(admin, csv_bytes(["email", "colour"], [["a@example.com", "red"]]))

    assert page.status_code == 200
    assert "colour" in page.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_upload_without_a_file_is_refused(admin, store):
    token = csrf_token(admin, "/admin/customers/import")

    page = admin.post(
        "/admin/customers/import", data={"csrf_token": token, "encoding": "auto", "match": "email"}
    )

    assert page.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_another_stores_import_job_is_not_found(admin, store, other_store):
    job = importing.start_import(other_store, io.BytesIO(b"email\nbad\n"), "theirs.csv")
    db.session.commit()
    run_due_jobs()

    for suffix in ("", "/status", "/rejected.csv"):
        assert admin.get(f"/admin/customers/import/{job.id}{suffix}").status_code == 404
    assert "theirs.csv" not in admin.get("/admin/customers/import").text


def test_templates_hold_the_stores_custom_fields(admin, store, fields):
    csv_template = admin.get("/admin/customers/import/template.csv?lang=zh_Hans")
    xlsx_template = admin.get("/admin/customers/import/template.xlsx")

    assert csv_template.status_code == 200
    assert "attachment" in csv_template.headers["Content-Disposition"]
    assert csv_template.data.startswith(b"\xef\xbb\xbf")
    assert csv_template.data.decode("utf-8-sig").strip().split(",") == [
        "电子邮件", "手机", "名", "姓", "生日", "接受营销", "标签", "备注", "城市",
    ]  # fmt: skip
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_template.data)).worksheets[0]
    assert [c.value for c in sheet[1]][-1] == "城市"
    assert admin.get("/admin/customers/import/template.pdf").status_code == 404


@pytest.fixture
def shop(store, other_store):
    service.create_customer(store, {"email": "mei@example.com", "first_name": "美玲"}, tags=["VIP"])
    service.create_customer(store, {"email": "chiming@example.com", "first_name": "志明"})
    service.create_customer(other_store, {"email": "rival@example.com", "first_name": "對手"})
    db.session.commit()
    return store


def test_export_streams_csv_with_the_list_filters(admin, shop):
    everyone = admin.get("/admin/customers/export?format=csv")
    assert everyone.status_code == 200
    assert everyone.is_streamed
    assert everyone.mimetype == "text/csv"
    assert 'filename="acme-customers-' in everyone.headers["Content-Disposition"]
    data = everyone.data  # read before the next request: the stream holds its request open
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["first_name"] for r in rows] == ["美玲", "志明"]  # never the other store's 對手

    vip = admin.get("/admin/customers/export?format=csv&tag=VIP").data

    vip_rows = list(csv.DictReader(io.StringIO(vip.decode("utf-8-sig"))))
    assert [r["email"] for r in vip_rows] == ["mei@example.com"]


def test_export_as_xlsx(admin, shop):
    response = admin.get("/admin/customers/export?format=xlsx&q=志明")

    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        "chiming@example.com"
    ]


def test_export_with_a_bad_filter_goes_back_to_the_list(admin, shop):
    response = admin.get("/admin/customers/export?format=csv&created_from=yesterday")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/customers/")


def test_pages_need_a_staff_login(client, store):
    for path in (
        "/admin/customers/import",
        "/admin/customers/import/1",
        "/admin/customers/import/template.csv",
        "/admin/customers/export",
    ):
        response = client.get(path)
        assert response.status_code == 302
        assert "/admin/login" in response.headers["Location"]
