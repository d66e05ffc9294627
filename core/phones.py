"""Phone numbers in E.164, parsed with ``phonenumbers`` and the store's default region."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from core.errors import ValidationError

#: Types a customer may register with: the others (premium rate, VoIP, toll free …) cannot
#: receive an SMS code and are a common vector for toll fraud.
PERSONAL_TYPES = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.FIXED_LINE,
}


def normalise_phone(raw: str, region: str | None, *, field: str = "phone") -> str:
    """Return ``raw`` as E.164 (``+60123456789``), or raise ``ValidationError`` saying why.

    National input (``012-345 6789``) is read in ``region``; input starting with ``+`` or
    ``00`` needs no region.
    """
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region else " (no default region: start the number with +country code)"
        raise ValidationError(f"{raw!r} is not a phone number{hint}", field=field) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{raw!r} is not a valid phone number", field=field)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def phone_type(e164: str) -> int:
    return phonenumbers.number_type(phonenumbers.parse(e164, None))


def digits(e164: str) -> str:
    """The number without ``+``: the form wa.me and OneWaySMS want."""
    return e164.lstrip("+")
