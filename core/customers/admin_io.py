"""Admin pages for importing and exporting customers."""

from flask import Blueprint

bp = Blueprint("customers_io", __name__, url_prefix="/admin/customers")


@bp.get("/import")
def import_start() -> str:
    return "import"
