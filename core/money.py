"""Money: integer minor units in storage, formatted for the reader's locale with Babel."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision
from flask import has_request_context
from flask_babel import get_locale


def to_decimal(minor: int, currency: str) -> Decimal:
    """``1250, "MYR"`` → ``Decimal("12.50")``; exact, whatever the currency's exponent."""
    return Decimal(minor).scaleb(-get_currency_precision(currency))


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """``"12.50", "MYR"`` → ``1250``. Refuses amounts finer than the currency allows."""
    value = Decimal(str(amount)).scaleb(get_currency_precision(currency))
    if value != value.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(value)


def format_money(minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    locale = str(get_locale()) if has_request_context() and get_locale() else "en"
    return format_currency(to_decimal(minor, currency), currency, locale=locale)
