"""Admin pages for orders."""

from flask import Blueprint

bp = Blueprint("orders_admin", __name__, url_prefix="/admin/orders")
