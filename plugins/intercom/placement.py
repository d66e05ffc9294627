"""Where the chat widget shows: theme page names (decided on the server) and URL path patterns
(decided in the browser by ``static/intercom.js``, since the widget list is shared by every URL
of a page type).

Patterns are paths starting with ``/`` in which ``*`` stands for any run of characters, one per
line; the characters allowed are those of a URL path, so a pattern can never carry markup or a
``javascript:`` URL.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError

PAGE_NAME = re.compile(r"^[a-z0-9_-]{1,64}\Z")
URL_PATTERN = re.compile(r"^/[A-Za-z0-9/_.~%*+,;=:@!$-]{0,199}\Z")
MAX_PATTERNS = 50


def page_names(value: str) -> list[str]:
    """``"home, product"`` → ``["home", "product"]``."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def url_patterns(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def validate_page_names(value: str) -> None:
    for name in page_names(value):
        if not PAGE_NAME.match(name):
            raise ValidationError(
                f"“{name[:40]}” is not a page name: use lowercase letters, digits, - and _ "
                "(home, product, cart, account …), separated by commas."
            )


def validate_url_patterns(value: str) -> None:
    patterns = url_patterns(value)
    if len(patterns) > MAX_PATTERNS:
        raise ValidationError(f"Use at most {MAX_PATTERNS} patterns.")
    for pattern in patterns:
        if not URL_PATTERN.match(pattern):
            raise ValidationError(
                f"“{pattern[:40]}” is not a URL path pattern: start with / and use only the "
                "characters of a web address (no spaces or quotes); * matches anything."
            )


def shown_on_page(settings: dict[str, Any], page: str) -> bool:
    """Whether the widget belongs on the theme's ``page`` (``*`` when the theme did not say).

    A page list in ``show_on_pages`` means "only there": an unnamed page does not qualify.
    """
    only = page_names(settings.get("show_on_pages", ""))
    if only and page not in only:
        return False
    return page not in page_names(settings.get("hide_on_pages", ""))


def url_rules(settings: dict[str, Any]) -> dict[str, list[str]]:
    """The URL patterns for the browser script: ``{"include": [...], "exclude": [...]}``."""
    return {"include": url_patterns(settings.get("include_urls", "")),
            "exclude": url_patterns(settings.get("exclude_urls", ""))}
