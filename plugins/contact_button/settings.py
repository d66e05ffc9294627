"""Settings of the contact button: each channel's value is checked against the format of the
link it becomes (a phone number, a username, an email address), so a setting can never become
a ``javascript:`` link or carry markup."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from plugin_sdk import Color, Text, TextArea, Toggle

#: Channel keys in their default order.
CHANNELS = ("whatsapp", "line", "messenger", "telegram", "instagram", "phone", "sms", "email")

#: An international phone number: + and country code, spaces, dots, dashes and brackets
#: allowed; 7 to 15 digits (E.164).
PHONE = re.compile(r"^\+[0-9 ().-]{6,24}\Z")
LINE_ID = re.compile(r"^@?[a-z0-9._-]{1,40}\Z")
MESSENGER_PAGE = re.compile(r"^[A-Za-z0-9.]{1,50}\Z")
TELEGRAM_USER = re.compile(r"^@?[A-Za-z][A-Za-z0-9_]{3,31}\Z")
INSTAGRAM_USER = re.compile(r"^@?[A-Za-z0-9._]{1,30}\Z")
PAGE_NAME = re.compile(r"^[a-z0-9_-]{1,64}\Z")


def digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _phone(value: str) -> None:
    if value and (not PHONE.match(value) or not 7 <= len(digits(value)) <= 15):
        raise ValidationError("Use the international format with the country code, "
                              "like +60 12-345 6789.")


def _matching(pattern: re.Pattern[str], message: str) -> Any:
    def check(value: str) -> None:
        if value and not pattern.match(value):
            raise ValidationError(message)
    return check


def _email(value: str) -> None:
    if value:
        validate.Email(error="Enter an email address, like hello@example.com.")(value)


def order_of(value: str) -> list[str]:
    """The channels in the merchant's order; those not named follow in the default order."""
    named = [key.strip() for key in (value or "").split(",") if key.strip()]
    return named + [key for key in CHANNELS if key not in named]


def _order(value: str) -> None:
    named = [key.strip() for key in (value or "").split(",") if key.strip()]
    unknown = [key for key in named if key not in CHANNELS]
    if unknown:
        raise ValidationError(f"Unknown channel “{unknown[0][:30]}”: use {', '.join(CHANNELS)}.")
    if len(set(named)) != len(named):
        raise ValidationError("Name each channel once.")


def _pages(value: str) -> None:
    for name in (value or "").split(","):
        if name.strip() and not PAGE_NAME.match(name.strip()):
            raise ValidationError("Use page names (home, product, cart …) separated by commas.")


def _channel(name: str, label: str, help: str, check: Any, placeholder: str = "") -> tuple:
    return (
        Toggle(load_default=False, label=f"Show {name}"),
        Text(load_default="", label=label, help=help, placeholder=placeholder, validate=check),
    )


class Settings(Schema):
    whatsapp_enabled, whatsapp = _channel(
        "WhatsApp", "WhatsApp number", "With the country code: +60 12-345 6789.", _phone,
        "+60 12-345 6789")
    whatsapp_message = Text(load_default="", label="WhatsApp first message",
                            help="Typed in for the shopper, who can change it before sending.",
                            validate=validate.Length(max=300))
    line_enabled, line = _channel(
        "LINE", "LINE official account ID", "Starts with @, like @kedaitea.",
        _matching(LINE_ID, "A LINE ID is lowercase letters, digits, . _ and -, like @kedaitea."),
        "@kedaitea")
    messenger_enabled, messenger = _channel(
        "Messenger", "Facebook page username",
        "From your page's address facebook.com/<username>.",
        _matching(MESSENGER_PAGE, "A page username is letters, digits and dots."), "kedaitea")
    telegram_enabled, telegram = _channel(
        "Telegram", "Telegram username", "Like @kedaitea.",
        _matching(TELEGRAM_USER, "A Telegram username is 4 to 32 letters, digits and _, "
                                 "starting with a letter."), "@kedaitea")
    instagram_enabled, instagram = _channel(
        "Instagram", "Instagram username", "Like @kedaitea.",
        _matching(INSTAGRAM_USER, "An Instagram username is letters, digits, . and _."),
        "@kedaitea")
    phone_enabled, phone = _channel(
        "phone", "Phone number", "With the country code: +60 3-1234 5678.", _phone,
        "+60 3-1234 5678")
    sms_enabled, sms = _channel(
        "SMS", "SMS number", "With the country code: +60 12-345 6789.", _phone,
        "+60 12-345 6789")
    email_enabled = Toggle(load_default=False, label="Show email")
    email = Text(load_default="", label="Email address", placeholder="hello@example.com",
                 validate=_email)
    email_subject = Text(load_default="", label="Email subject",
                         validate=validate.Length(max=150))
    email_body = TextArea(load_default="", label="Email text",
                          validate=validate.Length(max=1000))
    order = Text(load_default=", ".join(CHANNELS), label="Order",
                 help="Channel names separated by commas, first at the top.", validate=_order)
    greeting = Text(load_default="", label="Greeting",
                    help="Shown beside the button and above the channels, e.g. “Questions? "
                         "We reply within the hour.” Blank: “Contact us”.",
                    validate=validate.Length(max=120))
    colour = Color(load_default="#1f7a4d", label="Button colour")
    position = fields.String(load_default="right",
                             validate=validate.OneOf(["right", "left"],
                                                     labels=["Bottom right", "Bottom left"]),
                             metadata={"label": "Position"})
    offset_x = fields.Integer(load_default=20, validate=validate.Range(0, 300),
                              metadata={"label": "Distance from the side (px)"})
    offset_y = fields.Integer(load_default=20, validate=validate.Range(0, 300),
                              metadata={"label": "Distance from the bottom (px)"})
    show_on_desktop = Toggle(load_default=True, label="Show on computers")
    show_on_mobile = Toggle(load_default=True, label="Show on phones")
    delay_seconds = fields.Integer(load_default=0, validate=validate.Range(0, 300),
                                   metadata={"label": "Appear after (seconds)"})
    hide_on_pages = Text(load_default="", label="Never on these pages",
                         help="Page names separated by commas, e.g. checkout.", validate=_pages)

    @validates_schema
    def _enabled_channels_have_values(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = {key: ["Enter it, or switch the channel off."] for key in CHANNELS
                  if data.get(f"{key}_enabled") and not data.get(key)}
        if errors:
            raise ValidationError(errors)
