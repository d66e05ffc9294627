"""Settings of the SMS plugin: the provider, its credentials (secret fields), the sender, and
the provider's address (advanced, so a local fake can stand in for it)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from plugin_sdk import Secret, Text

ONEWAYSMS_URL = "http://gateway.onewaysms.com.my:10001/"
TWILIO_URL = "https://api.twilio.com"

SENDER_ID = r"^[A-Za-z0-9 ]{1,11}\Z"
ACCOUNT_SID = r"^AC[0-9a-fA-F]{32}\Z"
TWILIO_FROM = r"^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32}|[A-Za-z0-9 ]{1,11})\Z"
HTTP_URL = r"^https?://[^\s<>\"']+\Z"


class Settings(Schema):
    provider = fields.String(
        required=True,
        validate=validate.OneOf(["onewaysms", "twilio"], labels=["OneWaySMS", "Twilio"]),
        metadata={"label": "Provider", "widget": "select",
                  "help": "OneWaySMS (Malaysia, Singapore, Australia, Philippines) or Twilio."},
    )
    sender_id = Text(
        load_default="",
        label="Sender id (OneWaySMS)",
        help="Up to 11 letters and digits, shown as the sender. It must be approved by "
             "OneWaySMS for your account.",
        validate=validate.Regexp(SENDER_ID, error="Up to 11 letters, digits and spaces."),
    )
    onewaysms_username = Text(load_default="", label="OneWaySMS API username")
    onewaysms_password = Secret(load_default="", label="OneWaySMS API password")
    twilio_account_sid = Text(
        load_default="", label="Twilio Account SID", placeholder="AC…",
        validate=validate.Regexp(ACCOUNT_SID, error="An Account SID is AC and 32 hex digits."),
    )
    twilio_auth_token = Secret(load_default="", label="Twilio Auth Token")
    twilio_from = Text(
        load_default="", label="Twilio sender",
        help="A Twilio number in +country format, a Messaging Service SID (MG…), or an "
             "alphanumeric sender id where the destination country allows it.",
        validate=validate.Regexp(TWILIO_FROM, error="A +number, an MG… SID or up to 11 "
                                                    "letters and digits."),
    )
    onewaysms_url = Text(
        load_default=ONEWAYSMS_URL, advanced=True, label="OneWaySMS gateway address",
        help="The address shown in your OneWaySMS account (port 10001), e.g. "
             "http://gateway.onewaysms.com.my:10001/.",
        validate=validate.Regexp(HTTP_URL, error="An http:// or https:// address."),
    )
    twilio_url = Text(
        load_default=TWILIO_URL, advanced=True, label="Twilio API address",
        validate=validate.Regexp(HTTP_URL, error="An http:// or https:// address."),
    )
    public_url = Text(
        load_default="", advanced=True, label="Kedai's public address",
        help="Where Twilio can reach Kedai with delivery reports, e.g. https://crm.example.com. "
             "Blank: the address of the page that sends.",
        validate=validate.Regexp(r"^(https?://[^\s<>\"'?#]+)?\Z",
                                 error="An http:// or https:// address without ? or #."),
    )

    @validates_schema
    def credentials_for_the_provider(self, data: dict[str, Any], **kwargs: Any) -> None:
        needed = {
            "onewaysms": ("onewaysms_username", "onewaysms_password", "sender_id"),
            "twilio": ("twilio_account_sid", "twilio_auth_token", "twilio_from"),
        }.get(data.get("provider", ""), ())
        missing = {name: ["Needed for this provider."] for name in needed if not data.get(name)}
        if missing:
            raise ValidationError(missing)
