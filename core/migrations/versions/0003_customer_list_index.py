"""customer list index: live customers by spend, covering the list's numeric filters

Revision ID: 0003_customer_list_index
Revises: 0002_oauth_apps
Create Date: 2026-11-25 10:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_customer_list_index"
down_revision = "0002_oauth_apps"
branch_labels = None
depends_on = None

LIVE = sa.text("merged_into_id IS NULL AND erased_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_customers_store_spent", table_name="customers")
    op.create_index(
        "ix_customers_store_list",
        "customers",
        ["store_id", "total_spent"],
        postgresql_include=["orders_count", "last_order_at"],
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_customers_store_list", table_name="customers")
    op.create_index("ix_customers_store_spent", "customers", ["store_id", "total_spent"])
