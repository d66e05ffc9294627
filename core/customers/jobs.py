"""The core's daily customer jobs."""

from __future__ import annotations

import calendar
from datetime import date

import sqlalchemy as sa

from core.customers.models import Customer
from core.customers.schemas import customer_snapshot
from core.db import db
from core.events.service import record_event
from core.plugins.schedule import core_job
from core.stores.models import Store


@core_job("birthdays", at="00:05")
def emit_birthdays(store: Store, today: date) -> int:
    """Record ``customer.birthday`` for each live customer whose birthday is today in the
    store's timezone. Someone born on 29 February celebrates on the 28th in other years."""
    days = [today.day]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append(29)
    month = sa.extract("month", Customer.birthday)
    day = sa.extract("day", Customer.birthday)
    customers = db.session.scalars(
        sa.select(Customer).where(
            Customer.store_id == store.id, Customer.birthday.is_not(None),
            Customer.merged_into_id.is_(None), Customer.erased_at.is_(None),
            Customer.blacklisted.is_(False), month == today.month, day.in_(days),
        ).order_by(Customer.id)
    )
    count = 0
    for customer in customers:
        record_event(store.id, "customer.birthday",
                     {"customer": customer_snapshot(customer), "date": today.isoformat()},
                     customer_id=customer.id)
        count += 1
    return count
