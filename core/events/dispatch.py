"""What happens after events commit: subscribers in this process are told about them.

The plugin host and the webhook sender subscribe here to turn committed events into
deliveries. Subscribers run after commit, outside any transaction; one that raises is logged and
the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Subscriber = Callable[[list[dict[str, Any]]], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def events_committed(events: list[dict[str, Any]]) -> None:
    for subscriber in list(_subscribers):
        try:
            subscriber(events)
        except Exception:
            log.exception("event subscriber %r failed", subscriber)
