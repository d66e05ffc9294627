"""REST endpoints for orders (filled in by the API work)."""

from flask_smorest import Blueprint

blp = Blueprint("orders_api", __name__, description="Orders")
