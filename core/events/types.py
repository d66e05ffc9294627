"""The core's event types: one place that names and describes them.

The same names serve plugins (``on_customer_created`` …), webhooks and the event log. Plugins
add their own ``<plugin>.<thing>`` types through ``register_event_types``.
"""

from __future__ import annotations

from core.i18n import lazy_gettext as _l

CORE_EVENT_TYPES: dict[str, str] = {
    "customer.created": _l("A customer registered, was added by staff, by the API or by import."),
    "customer.updated": _l(
        "A customer's profile, tags, custom fields or blacklist status changed."
    ),
    "customer.blacklisted": _l("A customer was blacklisted: they can no longer log in or order."),
    "customer.merged": _l("Another account was merged into this customer."),
    "customer.birthday": _l("It is the customer's birthday today, in the store's timezone."),
    "customer.erased": _l("A customer's personal data was erased on request."),
    "order.created": _l("An order was placed (paid or not yet)."),
    "order.paid": _l("An order was paid."),
    "order.fulfilled": _l("An order was shipped or picked up."),
    "order.cancelled": _l("An order was cancelled; a paid order is refunded in full."),
    "order.refunded": _l("Part or all of an order was refunded."),
    "order.customer_attached": _l("A guest order was attached to a customer, or moved to another."),
}
