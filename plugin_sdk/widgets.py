"""What a plugin contributes to a storefront page."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Widget:
    """One widget for one slot of a page.

    ``html`` must come from ``ctx.render(...)`` (autoescaped templates); the host never marks
    plugin strings safe on its own. ``slot`` is a ``data-kedai-slot`` name on the theme's page,
    or ``"floating"`` for an element fixed to the viewport. ``scripts`` are URLs loaded after the
    widget is mounted (the plugin's own static files, or a documented third-party host).
    ``personal`` marks a widget that carries one shopper's data: the response holding it is
    private and never shared-cached.
    """

    slot: str
    html: str
    scripts: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    priority: int = 100
    personal: bool = False
    plugin_id: str = ""
