"""REST endpoints for customers, tags and custom fields (filled in by the API work)."""

from flask_smorest import Blueprint

blp = Blueprint("customers_api", __name__, description="Customers, tags and custom fields")
