"""Translation helpers. Every user-facing string goes through these so zh-Hant and zh-Hans
can follow; outside a request (CLI, workers) they fall back to the source text."""

from __future__ import annotations

from flask_babel import gettext, lazy_gettext, ngettext

__all__ = ["gettext", "lazy_gettext", "ngettext"]
