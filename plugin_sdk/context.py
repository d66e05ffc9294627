"""The context a hook receives, and the small value types hooks take and return.

``PluginContext`` is an interface: the host implements it. Plugins type against it and never
see the core's models: customers and orders come back as plain dicts shaped like the admin
API's JSON (money in minor units).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StoreInfo:
    id: int
    slug: str
    name: str
    currency: str
    timezone: str
    locale: str
    default_phone_region: str


@dataclass(frozen=True)
class Event:
    """A committed domain event. ``id`` is stable across redeliveries: use it with
    ``ctx.once(event.id)`` to apply an event once."""

    id: str
    type: str
    seq: int
    store_id: int
    occurred_at: datetime
    payload: Mapping[str, Any]
    actor: str = "system"
    customer_id: int | None = None
    order_id: int | None = None


@dataclass(frozen=True)
class Shopper:
    """The logged-in shopper on a storefront request (from the signed widget token)."""

    customer_id: int
    email: str | None
    name: str
    phone: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Panel:
    """A box on an admin page (customer or order); ``html`` from ``ctx.render``."""

    title: str
    html: str
    priority: int = 100
    plugin_id: str = ""


@dataclass(frozen=True)
class CustomerFilterSpec:
    """A filter a plugin adds to the customer list.

    ``choices`` (value, label) make it a select; without them it is a text/number input.
    ``customer_ids(value)`` returns a SQLAlchemy ``Select`` of customer ids (from the plugin's
    own tables, scoped to ``ctx.store.id``); the host intersects it with the other filters.
    """

    key: str
    label: str
    customer_ids: Callable[[str], Any]
    choices: tuple[tuple[str, str], ...] = ()
    plugin_id: str = ""


@dataclass(frozen=True)
class BulkAction:
    """An action on a selection of customers. ``run(customer_ids, params)`` returns a message
    for the merchant; the host calls it in a background job for large selections."""

    key: str
    label: str
    run: Callable[[list[int], dict[str, str]], str]
    params: tuple[tuple[str, str], ...] = ()
    plugin_id: str = ""


@dataclass(frozen=True)
class CheckoutLine:
    product_id: str
    sku: str
    title: str
    unit_price: int
    quantity: int


@dataclass(frozen=True)
class Checkout:
    """A cart about to become an order. ``requests`` carries what the shopper asked of each
    plugin (e.g. ``{"rewards": {"points": "200"}}``)."""

    currency: str
    lines: tuple[CheckoutLine, ...]
    subtotal: int
    shipping_total: int = 0
    customer_id: int | None = None
    requests: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Adjustment:
    """A discount a plugin grants at checkout: ``amount`` is negative minor units. ``data`` is
    kept on the order so the plugin can settle it when the order is created."""

    code: str
    label: str
    amount: int
    data: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 100
    plugin_id: str = ""


@dataclass(frozen=True)
class LoginMethod:
    """A way for shoppers to log in, shown by themes next to email and password."""

    key: str
    label: str
    slot_widget: bool = True
    plugin_id: str = ""


@dataclass(frozen=True)
class MessageChannel:
    """A channel a plugin offers to others: ``send(to, body, **options)`` returns a dict with at
    least ``id`` and ``status``; it raises ``PluginError`` with a clear message on failure."""

    name: str
    send: Callable[..., dict[str, Any]]
    label: str = ""
    plugin_id: str = ""


class CustomersFacade(ABC):
    """Customers of the context's store. Reading needs ``customers:read``, changing
    ``customers:write``; otherwise ``PermissionDenied``."""

    @abstractmethod
    def get(self, customer_id: int) -> dict[str, Any] | None: ...

    @abstractmethod
    def find(self, *, email: str | None = None, phone: str | None = None
             ) -> list[dict[str, Any]]: ...

    @abstractmethod
    def iter_all(self, *, batch_size: int = 500, after_id: int = 0
                 ) -> Iterator[list[dict[str, Any]]]:
        """Every live customer in id order, in batches (for initial syncs)."""

    @abstractmethod
    def update(self, customer_id: int, **changes: Any) -> dict[str, Any]: ...

    @abstractmethod
    def add_tags(self, customer_id: int, names: list[str]) -> None: ...

    @abstractmethod
    def remove_tags(self, customer_id: int, names: list[str]) -> None: ...


class OrdersFacade(ABC):
    """Orders of the context's store (``orders:read``)."""

    @abstractmethod
    def get(self, order_id: int) -> dict[str, Any] | None: ...

    @abstractmethod
    def for_customer(self, customer_id: int) -> list[dict[str, Any]]: ...


class KeyValue(ABC):
    """Small per-store, per-plugin JSON values (cursors, tokens, flags)."""

    @abstractmethod
    def get(self, key: str, default: Any = None) -> Any: ...

    @abstractmethod
    def set(self, key: str, value: Any) -> None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def increment(self, key: str, by: int = 1) -> int:
        """Add ``by`` to an integer value (missing counts as 0) and return the new value;
        safe when several deliveries run at once (the row is locked until commit)."""


class PluginContext(ABC):
    """What a hook gets for the store it runs in."""

    plugin_id: str
    store: StoreInfo
    #: The plugin's settings for this store, validated, secrets decrypted.
    settings: Mapping[str, Any]
    customers: CustomersFacade
    orders: OrdersFacade
    kv: KeyValue
    log: logging.LoggerAdapter[logging.Logger]
    #: The shopper of a storefront request, if one is logged in.
    shopper: Shopper | None

    @property
    @abstractmethod
    def session(self) -> Any:
        """The SQLAlchemy session for the plugin's own tables. The host commits it after a
        hook returns and rolls it back if the hook raises."""

    @property
    @abstractmethod
    def http(self) -> Any:
        """An ``httpx.Client`` with timeouts whose connections refuse private, loopback and
        link-local addresses (checked after DNS resolution) unless the operator allows them."""

    @abstractmethod
    def once(self, key: str) -> bool:
        """``True`` the first time ``key`` is seen for this plugin and store, then ``False``.

        Recorded in the hook's transaction, so it commits together with the plugin's own
        writes: ``if not ctx.once(event.id): return`` makes an event handler idempotent.
        """

    @abstractmethod
    def emit(self, type: str, payload: dict[str, Any], *, customer_id: int | None = None,
             order_id: int | None = None) -> str:
        """Record a ``<plugin id>.<thing>`` event (declared in ``event_types``); returns its id.
        It reaches other plugins and webhooks after the hook's transaction commits."""

    @abstractmethod
    def send_message(self, channel: str, to: str, body: str, **options: Any) -> dict[str, Any]:
        """Send through a channel another enabled plugin offers (``sms``, ``email``); needs
        ``messages:send``. Raises ``ChannelUnavailable`` when no plugin offers it."""

    @abstractmethod
    def render(self, template: str, **values: Any) -> str:
        """Render one of the plugin's templates (``templates/<plugin id>/…``), autoescaped."""

    @abstractmethod
    def url_for(self, endpoint: str, **values: Any) -> str: ...

    @abstractmethod
    def gettext(self, text: str, **variables: Any) -> str:
        """Translate with the plugin's own catalogue (``translations/`` in its package)."""
