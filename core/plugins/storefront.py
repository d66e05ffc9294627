"""Storefront embedding: ``embed.js``, the widget list, shopper tokens, server-side slots.

A theme adds one tag::

    <script src="https://kedai.example/storefront/<store>/embed.js" data-page="product" async>
    </script>

and marks places with ``<div data-kedai-slot="header"></div>``. The script fetches
``/storefront/<store>/widgets?page=…`` and mounts each widget in its slot (or fixed to the
viewport for ``floating``), then loads the widgets' scripts and styles once each.

Caching: the anonymous list is the same for every shopper of a store, page and language, so
it is shared-cacheable: its ETag is derived from the store, page, locale and the store's
``plugins_version`` (which every install, enable, disable and settings change bumps), and a
matching ``If-None-Match`` answers 304 without calling any plugin. Rendered lists are also kept
in process memory under that key. A request carrying a shopper token gets widgets for that
shopper, marked ``Cache-Control: private, no-store`` and never cached.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from threading import Lock
from typing import Any

from flask import Response, current_app, g, jsonify, request, url_for
from markupsafe import Markup

import core
from core.i18n import browser_locale
from core.plugins.dispatch import contributions
from core.stores.models import Store
from core.stores.service import LOCALES, get_store
from core.web.storefront import (
    current_store,
    customer_from_token,
    request_token,
    shopper_of,
    storefront_blueprint,
)
from plugin_sdk.context import Shopper

bp = storefront_blueprint("storefront", __name__)
_CACHE_SIZE = 512


# --- the widget list -------------------------------------------------------------------------


class _RenderedCache:
    """A small LRU of rendered anonymous widget lists, keyed by ETag."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
        _fresh.clear()

    def put(self, key: str, value: bytes) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


rendered = _RenderedCache(_CACHE_SIZE)


def widget_locale(store: Store) -> str:
    wanted = request.args.get("locale")
    if wanted in LOCALES:
        return wanted
    return browser_locale(store.locale) or store.locale


def anonymous_etag(store: Store, page: str, locale: str) -> str:
    key = f"{store.id}:{store.plugins_version}:{page}:{locale}:{core.__version__}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def widget_payload(store: Store, page: str, shopper: Shopper | None) -> list[dict[str, Any]]:
    widgets = contributions(store, "storefront_widgets", page=page, shopper=shopper)
    return [
        {"plugin": w.plugin_id, "slot": w.slot, "html": str(w.html), "scripts": list(w.scripts),
         "styles": list(w.styles), "personal": bool(w.personal)}
        for w in widgets
    ]


def _page_name() -> str:
    page = (request.args.get("page") or "*").strip()[:64]
    return page if page.replace("-", "").replace("_", "").replace("*", "").isalnum() or \
        page == "*" else "*"


#: How long a process answers an anonymous widget list from memory without looking at the
#: store's ``plugins_version``: a change shows within this second, well inside the
#: ``max-age=60`` shared caches already get, and a busy storefront skips the database.
FRESH_SECONDS = 1.0
_fresh: dict[tuple[str, str, str], tuple[float, str]] = {}


def forget_store(slug: str) -> None:
    """Drop this process's fresh answers for a store (its plugins just changed here)."""
    for key in [k for k in _fresh if k[0] == slug]:
        _fresh.pop(key, None)


def _wanted_locale() -> str:
    """The shopper's language preference, before the store's default fills a gap."""
    wanted = request.args.get("locale")
    if wanted in LOCALES:
        return wanted
    return browser_locale("") or ""


def _public(etag: str) -> Response:
    g.public_response = True
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        data = rendered.get(etag)
        if data is None:
            return None  # type: ignore[return-value]
        response = Response(data, mimetype="application/json")
    response.set_etag(etag, weak=True)
    response.headers["Cache-Control"] = "public, max-age=60, stale-while-revalidate=300"
    response.headers["Vary"] = "Accept-Language"
    return response


@bp.get("/widgets")
def widgets() -> Response:
    """The widgets of the store's enabled plugins for ``?page=``, as JSON."""
    page = _page_name()
    token = request_token()
    key = (g.get("kedai_store_slug", ""), page, _wanted_locale())
    if token is None:
        fresh = _fresh.get(key)
        if fresh is not None and fresh[0] > time.monotonic():
            response = _public(fresh[1])
            if response is not None:
                return response
    store = current_store()
    locale = widget_locale(store)
    g.locale = locale
    shopper = shopper_of(customer_from_token(store, token))
    if shopper is not None:
        body = {"store": store.slug, "page": page, "locale": locale,
                "widgets": widget_payload(store, page, shopper)}
        response = jsonify(body)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    etag = anonymous_etag(store, page, locale)
    if rendered.get(etag) is None:
        body = {"store": store.slug, "page": page, "locale": locale,
                "widgets": [w for w in widget_payload(store, page, None) if not w["personal"]]}
        rendered.put(etag, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    if len(_fresh) > _CACHE_SIZE:
        _fresh.clear()
    _fresh[key] = (time.monotonic() + FRESH_SECONDS, etag)
    return _public(etag)


@bp.route("/widgets", methods=["OPTIONS"])
def widgets_preflight() -> Response:
    return Response(status=204)


@bp.get("/embed.js")
def embed_js() -> Response:
    store = current_store()
    script = current_app.jinja_env.get_template("storefront/embed.js").render(
        widgets_url=url_for("storefront.widgets", _external=True),
        store_slug=store.slug,
    )
    response = Response(script, mimetype="text/javascript")
    response.add_etag()
    response.headers["Cache-Control"] = "public, max-age=300"
    return response.make_conditional(request)


def render_slot(store_slug: str, page: str, slot: str, shopper_token: str | None = None
                ) -> Markup:
    """Server-side slot for Python themes: ``{{ kedai_slot("demo", "product", "header") }}``.

    The widgets' HTML was rendered by the plugins' autoescaped templates, so it is emitted
    as-is inside a container; their scripts are listed as tags after it.
    """
    store = get_store(store_slug)
    shopper = shopper_of(customer_from_token(store, shopper_token))
    parts = []
    for widget in widget_payload(store, page, shopper):
        if widget["slot"] != slot:
            continue
        # The widget's HTML comes from the plugin's autoescaped template (``ctx.render``);
        # everything else is formatted in, and so escaped.
        html = Markup(widget["html"])  # noqa: S704
        scripts = Markup("").join(
            Markup('<script src="{}" defer></script>').format(src) for src in widget["scripts"]
        )
        parts.append(
            Markup('<div class="kedai-widget" data-kedai-plugin="{}">{}</div>{}').format(
                widget["plugin"], html, scripts
            )
        )
    return Markup("").join(parts)
