"""Every hook a Kedai plugin can implement. Each docstring is the hook's contract.

Implementations take any subset of a hook's arguments, by name (pluggy's opt-in arguments), so
a new argument breaks nobody. Hooks run only for plugins enabled in the store at hand.

Families, named so a reader knows when a hook runs and what it returns:

``register_*``
    Once per process, at start. A plugin whose ``register_*`` hook raises is marked failed and
    left out; everything else runs.
``on_<noun>_<pastverb>`` and ``on_event``
    After the event's transaction commits, through the executor: one delivery per event and
    plugin, at least once, retried with exponential backoff. Return values are ignored. An
    exception rolls back what the hook wrote through ``ctx.session``, counts against the
    plugin and retries the delivery later; a plugin that keeps failing is suspended in that
    store. Use ``ctx.once(event.id)`` to apply an event once.
Request-time contributions (``storefront_widgets``, ``admin_panels`` …)
    Inside a web request, plugin by plugin. Results are merged by ``priority`` then plugin id.
    An exception is logged, counted against the plugin and its contribution skipped: the page
    and the other plugins go on.
First answer wins (``authenticate_customer``)
    Inside a request; the first non-``None`` answer is used, in plugin id order.
Store lifecycle (``plugin_installed`` …)
    When a merchant acts, called for that one plugin only. An exception aborts the action with
    the plugin's message shown to the merchant (``plugin_uninstalled`` excepted: uninstall
    goes on and the host removes the plugin's data regardless).
Privacy (``export_customer_data``, ``erase_customer_data``)
    On a merchant's request, for every enabled plugin. An exception fails the whole request so
    that an erasure is never reported done while a plugin kept the data.
"""

from __future__ import annotations

from typing import Any

from plugin_sdk.markers import hookspec

# --- register_*: once per process ----------------------------------------------------------


@hookspec
def register_blueprints() -> list[Any]:
    """Flask blueprints for the plugin's admin pages, storefront routes and inbound webhook
    receivers. The host prefixes them: admin blueprints under ``/admin/plugins/<id>/``
    (staff login required), storefront blueprints under ``/storefront/<store>/plugins/<id>/``.
    Return ``[("admin", bp), ("storefront", bp), ("webhook", bp)]`` pairs. Routes of a plugin
    that is not enabled in the store answer 404. Runs once per process, at start."""


@hookspec
def register_cli(cli: Any) -> None:
    """Add ``click`` commands to ``cli``, the ``kedai plugins run <id>`` group of this plugin.
    Runs when that group is used (``kedai plugins run <id> --help`` lists what it added), once
    per process; ``--store SLUG`` on the group gives the commands ``current_context()``."""


@hookspec
def register_jobs() -> list[Any]:
    """Scheduled jobs: ``[ScheduledJob(name, at="03:00", run=callable(ctx))]``. ``at`` is a
    store-local time; the job runs once per store and store-local day for each store where the
    plugin is enabled, even when several workers are running or a worker restarts."""


@hookspec
def register_event_types() -> dict[str, str]:
    """Extra event types, ``{"<plugin id>.<thing>": description}``. The plugin class's
    ``event_types`` attribute is read the same way; use this hook for computed lists."""


# --- on_*: after commit, one delivery per (event, plugin) -----------------------------------


@hookspec
def on_customer_created(ctx: Any, event: Any) -> None:
    """A customer was created (``event.payload["customer"]``, ``["source"]``). After commit."""


@hookspec
def on_customer_updated(ctx: Any, event: Any) -> None:
    """A customer changed (``payload["customer"]``, ``payload["changed"]`` field names)."""


@hookspec
def on_customer_blacklisted(ctx: Any, event: Any) -> None:
    """A customer was blacklisted (``payload["reason"]``)."""


@hookspec
def on_customer_merged(ctx: Any, event: Any) -> None:
    """``payload["merged_customer_id"]`` was merged into ``payload["customer"]``. Move what
    the plugin holds for the merged account to the kept one."""


@hookspec
def on_customer_birthday(ctx: Any, event: Any) -> None:
    """It is the customer's birthday today in the store's timezone (once a year)."""


@hookspec
def on_customer_erased(ctx: Any, event: Any) -> None:
    """A customer's personal data was erased; ``erase_customer_data`` already ran."""


@hookspec
def on_order_created(ctx: Any, event: Any) -> None:
    """An order was placed (``payload["order"]`` with lines and adjustments)."""


@hookspec
def on_order_paid(ctx: Any, event: Any) -> None:
    """An order was paid."""


@hookspec
def on_order_fulfilled(ctx: Any, event: Any) -> None:
    """An order was shipped or picked up."""


@hookspec
def on_order_cancelled(ctx: Any, event: Any) -> None:
    """An order was cancelled; ``payload["refunded_amount"]`` was refunded with it."""


@hookspec
def on_order_refunded(ctx: Any, event: Any) -> None:
    """Part or all of an order was refunded (``payload["refund"]["amount"]``,
    ``payload["full"]``)."""


@hookspec
def on_order_customer_attached(ctx: Any, event: Any) -> None:
    """A guest order was attached to a customer or moved between customers."""


@hookspec
def on_event(ctx: Any, event: Any) -> None:
    """Every event of the store, core and plugin events alike (``event.type``). For plugins
    that react to other plugins' events. After commit, like the ``on_*`` hooks."""


# --- request-time contributions --------------------------------------------------------------


@hookspec
def storefront_widgets(ctx: Any, page: str, shopper: Any) -> list[Any]:
    """Widgets for a storefront page: ``[Widget(slot=…, html=ctx.render(…))]``. ``page`` is the
    theme's page name (``home``, ``product``, ``cart``, ``account`` …, or ``*``); ``shopper``
    is the logged-in ``Shopper`` or ``None``. In the request; mark widgets with a shopper's
    data ``personal=True``."""


@hookspec
def admin_panels(ctx: Any, page: str, customer: Any, order: Any) -> list[Any]:
    """Panels on the admin customer page (``page="customer"``, ``customer`` a dict) or order
    page (``page="order"``, ``order`` a dict). In the request."""


@hookspec
def admin_menu(ctx: Any) -> list[Any]:
    """Links in the admin navigation: ``[(label, url)]``. In the request."""


@hookspec
def customer_filters(ctx: Any) -> list[Any]:
    """``CustomerFilterSpec`` filters added to the customer list (e.g. tier, points balance).
    In the request."""


@hookspec
def customer_bulk_actions(ctx: Any) -> list[Any]:
    """``BulkAction`` actions offered on a customer selection (e.g. "Adjust points")."""


@hookspec
def checkout_adjustments(ctx: Any, checkout: Any) -> list[Any]:
    """Discounts the plugin grants on a ``Checkout``: ``[Adjustment(amount=-500, …)]``. In the
    request. The adjustments are stored on the order, whose ``order.created`` event the plugin
    then settles (deduct points, spend credit)."""


@hookspec
def login_methods(ctx: Any) -> list[Any]:
    """``LoginMethod`` entries the storefront offers besides email and password."""


@hookspec(firstresult=True)
def authenticate_customer(ctx: Any, method: str, credentials: dict[str, Any]) -> int | None:
    """Return a customer id if ``credentials`` prove who the shopper is for ``method`` (one of
    the plugin's login methods), else ``None``. First answer wins. The host refuses blacklisted
    customers afterwards."""


@hookspec
def message_channels(ctx: Any) -> list[Any]:
    """``MessageChannel`` entries the plugin offers to other plugins (``sms``, ``email``)."""


# --- store lifecycle: called for one plugin ------------------------------------------------


@hookspec
def plugin_installed(ctx: Any) -> None:
    """The merchant installed the plugin in ``ctx.store`` (it starts disabled)."""


@hookspec
def plugin_enabled(ctx: Any) -> None:
    """The plugin was enabled in the store (also after a suspension is lifted)."""


@hookspec
def plugin_disabled(ctx: Any) -> None:
    """The plugin was disabled in the store; its data stays."""


@hookspec
def plugin_uninstalled(ctx: Any) -> None:
    """The plugin is being uninstalled; release anything held outside Kedai (remote webhooks,
    subscriptions). The host then deletes every row of the plugin's tables for the store."""


# --- privacy ---------------------------------------------------------------------------------


@hookspec
def export_customer_data(ctx: Any, customer_id: int) -> dict[str, Any]:
    """Everything the plugin holds about one customer, JSON-serialisable."""


@hookspec
def erase_customer_data(ctx: Any, customer_id: int) -> None:
    """Delete or redact everything the plugin holds about one customer."""
