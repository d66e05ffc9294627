"""Customer export (C-08): CSV with BOM and XLSX, filters, store isolation, formula guard,
streaming, the command line, and a round trip back through the import."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.customers import exporting, service
from core.customers.exporting import customer_filter_from_args, iter_export
from core.customers.importing import import_customers
from core.customers.models import Customer
from core.customers.service import CustomerFilter
from core.db import db
from core.errors import ValidationError


@pytest.fixture(autouse=True)
def english(session):
    with force_locale("en"):
        yield


@pytest.fixture
def shop(store, paid_order, customer):
    """Three customers in ``store``: 美玲 (an order, tags, custom fields), 志明 and 大文."""
    service.define_field(store, key="city", label="城市", field_type="text")
    service.define_field(
        store, key="size", label="Size", field_type="dropdown", options=["S", "M", "L"]
    )
    service.update_customer(
        store,
        customer,
        {"birthday": date(1990, 8, 31), "accepts_marketing": True, "note": "喜歡烏龍"},
        tags=["VIP", "茶友"],
        custom_fields={"city": "台北", "size": "M"},
    )
    service.create_customer(
        store, {"email": "chiming@example.com", "first_name": "志明", "last_name": "林"}
    )
    service.create_customer(
        store, {"phone": "013-888 1234", "first_name": "大文", "last_name": "黃"}, tags=["新客"]
    )
    db.session.commit()
    return store


def export_csv(store, flt=None) -> tuple[bytes, list[dict[str, str]]]:
    data = b"".join(iter_export(store, "csv", flt))
    return data, list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def export_xlsx(store, flt=None) -> list[dict[str, object]]:
    data = b"".join(iter_export(store, "xlsx", flt))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    header, *rows = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_csv_starts_with_a_bom_and_holds_chinese_names_tags_money_and_custom_fields(shop):
    data, rows = export_csv(shop)

    assert data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8-sig").splitlines()[0].split(",")
    assert header == [*exporting.COLUMNS, "city", "size"]
    assert [r["first_name"] for r in rows] == ["美玲", "志明", "大文"]
    mei = rows[0]
    assert mei["last_name"] == "陳"
    assert mei["phone"] == "'+60123456789"  # guarded: a spreadsheet would read +… as a formula
    assert (mei["birthday"], mei["accepts_marketing"], mei["blacklisted"]) == (
        "1990-08-31",
        "yes",
        "no",
    )
    assert mei["tags"] == "VIP, 茶友"
    assert (mei["orders_count"], mei["total_spent"]) == ("1", "84.00")
    assert (mei["city"], mei["size"], mei["note"]) == ("台北", "M", "喜歡烏龍")
    assert len(mei["created_at"]) == len("2026-01-01 12:00:00")
    assert mei["last_order_at"][:4].isdigit()
    assert (rows[1]["total_spent"], rows[1]["last_order_at"], rows[1]["city"]) == ("0.00", "", "")


def test_money_follows_the_store_currency(session):
    from tests.conftest import make_store

    store = make_store("yen", currency="JPY")
    customer = service.create_customer(store, {"email": "a@b.co"})
    customer.total_spent = 1500
    db.session.commit()

    _, rows = export_csv(store)

    assert rows[0]["total_spent"] == "1500"


def test_xlsx_is_readable_with_typed_cells(shop):
    rows = export_xlsx(shop)

    assert [r["first_name"] for r in rows] == ["美玲", "志明", "大文"]
    mei = rows[0]
    assert mei["phone"] == "+60123456789"
    assert mei["birthday"].date() == date(1990, 8, 31)
    assert mei["total_spent"] == 84
    assert (mei["accepts_marketing"], mei["tags"], mei["city"]) == ("yes", "VIP, 茶友", "台北")
    assert rows[2]["email"] is None


def test_formula_injection_is_guarded_in_both_formats(store):
    service.create_customer(
        store, {"email": "evil@example.com", "first_name": "=HYPERLINK(\"http://x\")",
                "last_name": "@SUM(A1)", "note": "-2+3"}
    )  # fmt: skip
    db.session.commit()

    _, [row] = export_csv(store)
    assert (row["first_name"], row["last_name"], row["note"]) == (
        '\'=HYPERLINK("http://x")',
        "'@SUM(A1)",
        "'-2+3",
    )
    data = b"".join(iter_export(store, "xlsx"))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    first_name = sheet.cell(row=2, column=exporting.COLUMNS.index("first_name") + 1)
    assert first_name.value == '=HYPERLINK("http://x")'
    assert first_name.data_type == "s"  # text, never a formula
    assert first_name.quotePrefix


def test_filtered_export_holds_only_the_matching_customers(shop):
    vip = [t.id for t in service.list_tags(shop) if t.name == "VIP"]

    by_tag = export_csv(shop, CustomerFilter(tag_ids=vip))[1]
    by_search = export_xlsx(shop, CustomerFilter(q="志明"))
    by_spend = export_csv(shop, customer_filter_from_args(shop, {"spent_min": "50"}))[1]

    assert [r["first_name"] for r in by_tag] == ["美玲"]
    assert [r["first_name"] for r in by_search] == ["志明"]
    assert [r["first_name"] for r in by_spend] == ["美玲"]


def test_export_never_holds_another_stores_customers(shop, other_store):
    service.create_customer(other_store, {"email": "rival@example.com", "first_name": "對手"})
    db.session.commit()

    _, rows = export_csv(shop)
    _, theirs = export_csv(other_store)

    assert "rival@example.com" not in {r["email"] for r in rows}
    assert [r["email"] for r in theirs] == ["rival@example.com"]
    assert "city" not in theirs[0]


def test_merged_customers_are_left_out(shop):
    keep, merge = db.session.scalars(
        sa.select(Customer).where(Customer.store_id == shop.id).order_by(Customer.id).limit(2)
    ).all()
    service.merge_customers(shop, keep, merge)
    db.session.commit()

    _, rows = export_csv(shop)

    assert [r["first_name"] for r in rows] == ["美玲", "大文"]


def test_rows_are_read_in_partitions(store, monkeypatch):
    monkeypatch.setattr(exporting, "PARTITION", 2)
    for i in range(5):
        service.create_customer(store, {"email": f"c{i}@example.com"}, tags=[f"t{i}"])
    db.session.commit()

    chunks = list(iter_export(store, "csv"))
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))

    assert len(chunks) == 1 + 3  # the BOM, then one chunk per two rows and the rest
    assert [r["tags"] for r in rows] == [f"t{i}" for i in range(5)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_back_cleanly(shop, other_store, tmp_path, fmt):
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(b"".join(iter_export(shop, fmt)))
    service.define_field(other_store, key="city", label="City", field_type="text")
    service.define_field(
        other_store, key="size", label="Size", field_type="dropdown", options=["S", "M", "L"]
    )
    db.session.commit()

    same = import_customers(shop, path)
    moved = import_customers(other_store, path)

    assert (same.created, same.updated, same.unchanged, same.rejected) == (0, 0, 3, 0)
    assert (moved.created, moved.rejected) == (3, 0)

    def profiles(store):
        found = db.session.scalars(
            sa.select(Customer).where(Customer.store_id == store.id).order_by(Customer.id)
        )
        return [
            (c.email, c.phone, c.first_name, c.last_name, c.birthday, c.accepts_marketing,
             c.note, [t.name for t in c.tags], c.field_value_map())
            for c in found
        ]  # fmt: skip

    assert profiles(other_store) == profiles(shop)


def test_filter_arguments_are_read_like_the_customer_list(shop):
    vip = next(t for t in service.list_tags(shop) if t.name == "VIP")

    flt = customer_filter_from_args(
        shop,
        {
            "q": " 美 ",
            "created_from": "2024-01-01",
            "orders_min": "1",
            "spent_max": "12.50",
            "tag": "VIP,nope",
            "accepts_marketing": "yes",
            "field_key": "city",
            "field_value": "台北",
        },
    )

    assert flt.q == "美"
    assert flt.created_from == date(2024, 1, 1)
    assert (flt.orders_min, flt.spent_max) == (1, 1250)
    assert flt.tag_ids == [vip.id]
    assert flt.accepts_marketing is True
    assert (flt.field_key, flt.field_value) == ("city", "台北")
    assert customer_filter_from_args(shop, {}) == CustomerFilter()
    assert customer_filter_from_args(shop, {"tag": "nope"}).tag_ids == [0]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"created_from": "31/12/2024"}, "created_from"),
        ({"orders_min": "-1"}, "orders_min"),
        ({"spent_min": "1.005"}, "spent_min"),
        ({"blacklisted": "maybe"}, "blacklisted"),
    ],
)
def test_bad_filter_arguments_name_the_argument(store, args, field):
    with pytest.raises(ValidationError) as info:
        customer_filter_from_args(store, args)
    assert info.value.field == field


def test_unknown_format_is_refused(store):
    with pytest.raises(ValidationError):
        iter_export(store, "pdf")


# --- the command line ------------------------------------------------------------------------


def kedai(app, *args):
    from core.cli import main

    return app.test_cli_runner().invoke(main, list(args))


def test_cli_writes_a_csv_file(app, shop, tmp_path):
    path = tmp_path / "out.csv"

    result = kedai(app, "export-customers", "--store", "acme", "-o", str(path))

    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "美玲" in data.decode("utf-8-sig")


def test_cli_writes_xlsx_when_the_file_says_so_and_filters(app, shop, tmp_path):
    path = tmp_path / "vip.xlsx"

    result = kedai(
        app, "export-customers", "--store", "acme", "-o", str(path), "--tag", "VIP",
        "--accepts-marketing", "yes", "--field", "city=台北",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["美玲"]


def test_cli_writes_csv_to_standard_output(app, shop):
    result = kedai(app, "export-customers", "--store", "acme", "--q", "志明")

    assert result.exit_code == 0
    lines = result.stdout_bytes.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and "志明" in lines[1]


def test_cli_reports_a_bad_filter(app, store):
    result = kedai(app, "export-customers", "--store", "acme", "--spent-min", "abc")

    assert result.exit_code == 1
    assert "spent_min" in result.output


def test_total_spent_is_a_decimal_in_major_units(shop):
    rows = export_xlsx(shop)

    assert Decimal(str(rows[0]["total_spent"])) == Decimal("84.00")


def test_plugin_filters_are_read_and_an_unknown_one_is_refused_before_any_row(store):
    flt = customer_filter_from_args(store, {"plugin.rewards.tier": "2", "plugin.empty": ""})

    assert flt.plugin == {"rewards.tier": "2"}
    with pytest.raises(ValidationError) as info:
        iter_export(store, "csv", flt)  # no plugin adds this filter here
    assert info.value.field == "plugin.rewards.tier"
