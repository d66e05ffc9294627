"""Languages: the translation helpers and how a request's language is chosen.

Every user-facing string goes through ``gettext`` / ``lazy_gettext`` so zh-Hant and zh-Hans can
follow; outside a request (CLI, workers) they fall back to the source text unless the caller
uses ``flask_babel.force_locale``. The core's catalogues are ``core/web/translations``
(``babel.cfg`` at the top of the repository says how to extract them; the compiled ``.mo``
files are committed and a test keeps them in step with the ``.po`` files). Plugins keep their
own catalogues (``ctx.gettext``).

A request's language, first that applies:

1. ``g.locale`` set by the view (the widget list answers in the language the theme asked for);
2. the logged-in staff member's own choice (profile page or the navbar's switcher), else a
   visitor's choice kept in the session (the switcher on the login page, the demo storefront);
3. the store's locale: the staff member's store, or the store a storefront URL names
   (``g.kedai_store``, set by storefront views before anything is rendered);
4. the browser's ``Accept-Language`` (``zh-TW``, ``zh-HK`` and ``zh-Hant`` read as Traditional,
   ``zh-CN``, ``zh-SG``, ``zh-Hans`` and plain ``zh`` as Simplified);
5. English.
"""

from __future__ import annotations

from flask import g, has_request_context, request, session
from flask_babel import gettext, lazy_gettext, ngettext

__all__ = [
    "LANGUAGE_NAMES",
    "LOCALES",
    "browser_locale",
    "gettext",
    "lazy_gettext",
    "ngettext",
    "normalise_locale",
    "select_locale",
]

#: The languages Kedai speaks, as Babel locale identifiers.
LOCALES = ("en", "zh_Hant", "zh_Hans")

#: Each language in its own words, for the switcher.
LANGUAGE_NAMES = {"zh_Hant": "繁體中文", "zh_Hans": "简体中文", "en": "English"}

#: Session key of a visitor's (not logged-in) language choice.
SESSION_KEY = "kedai_locale"

_TRADITIONAL_REGIONS = {"tw", "hk", "mo"}


def normalise_locale(tag: str | None) -> str | None:
    """One of ``LOCALES`` for a language tag (``zh-TW``, ``zh_Hant``, ``en-GB``), else ``None``."""
    if not tag:
        return None
    parts = [part for part in tag.replace("_", "-").lower().split("-") if part]
    if not parts:
        return None
    language, rest = parts[0], parts[1:]
    if language == "en":
        return "en"
    if language == "yue":  # Cantonese is written in Traditional characters
        return "zh_Hant"
    if language in ("zh", "cmn"):
        if "hant" in rest or _TRADITIONAL_REGIONS.intersection(rest):
            return "zh_Hant"
        return "zh_Hans"
    return None


def browser_locale(default: str | None = None) -> str | None:
    """The first of the browser's ``Accept-Language`` entries (best quality first) we speak."""
    for tag, _quality in request.accept_languages:
        locale = normalise_locale(tag)
        if locale:
            return locale
    return default


def select_locale() -> str | None:
    """Flask-Babel's locale selector: see the module docstring for the order."""
    if not has_request_context():
        return None
    if g.get("locale"):
        return g.locale
    from flask_login import current_user

    if current_user and current_user.is_authenticated:
        if current_user.locale in LOCALES:
            return current_user.locale
        store_locale = current_user.store.locale
    else:
        chosen = session.get(SESSION_KEY)
        if chosen in LOCALES:
            return chosen
        store_locale = getattr(g.get("kedai_store"), "locale", None)
    if store_locale in LOCALES:
        return store_locale
    return browser_locale("en")
