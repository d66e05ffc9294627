"""Admin pages for customers."""

from flask import Blueprint

bp = Blueprint("customers_admin", __name__, url_prefix="/admin/customers")


@bp.get("/")
def index() -> str:
    return "customers"
