"""Settings of the Intercom plugin: the app id is checked against Intercom's format and the
region is a choice, so no setting can put markup or another script on a storefront page."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from plugin_sdk import Secret, Text, TextArea, Toggle
from plugins.intercom.placement import validate_page_names, validate_url_patterns

#: Intercom app ids (workspace ids) are short lowercase letters and digits, e.g. ``abc12def``.
APP_ID = r"^[a-z0-9]{4,20}\Z"  # \Z: "$" would let a trailing newline through

#: Where the Messenger talks to, by the workspace's data region.
API_BASES = {
    "us": "https://api-iam.intercom.io",
    "eu": "https://api-iam.eu.intercom.io",
    "au": "https://api-iam.au.intercom.io",
}


class Settings(Schema):
    app_id = Text(
        required=True,
        label="App ID",
        help="Intercom: Settings → Installation → Web; the app_id in the code shown there "
             "(lowercase letters and digits, like abc12def).",
        placeholder="abc12def",
        validate=validate.Regexp(APP_ID, error="An app ID is 4 to 20 lowercase letters and "
                                               "digits, like abc12def."),
    )
    region = fields.String(
        load_default="us",
        validate=validate.OneOf(list(API_BASES), labels=["United States", "Europe",
                                                         "Australia"]),
        metadata={"label": "Data region",
                  "help": "Where your Intercom workspace is hosted."},
    )
    identify_shoppers = Toggle(
        load_default=True,
        label="Identify logged-in shoppers",
        help="Pass the shopper's id, name, email and signup date to Intercom.",
    )
    verification = fields.String(
        load_default="none",
        validate=validate.OneOf(["none", "jwt", "user_hash"],
                                labels=["Off", "Signed token (JWT, recommended)",
                                        "User hash (older workspaces)"]),
        metadata={"label": "Identity verification",
                  "help": "Intercom: Settings → Security → Messenger. Proves to Intercom that "
                          "a shopper really is who Kedai says, so nobody can read another "
                          "shopper's conversations."},
    )
    verification_secret = Secret(
        load_default="",
        label="Verification secret",
        help="The Messenger API secret (signed token) or identity verification secret (user "
             "hash) from the same page. Stays on the server.",
    )
    show_on_pages = Text(
        load_default="",
        label="Only on these pages",
        help="Page names separated by commas (home, product, cart, account …). "
             "Blank: every page.",
        validate=validate_page_names,
    )
    hide_on_pages = Text(
        load_default="",
        label="Never on these pages",
        help="Page names separated by commas, e.g. checkout.",
        validate=validate_page_names,
    )
    include_urls = TextArea(
        load_default="",
        label="Only at these addresses",
        help="One path per line, * for anything: /products/*. Blank: everywhere.",
        validate=validate_url_patterns,
    )
    exclude_urls = TextArea(
        load_default="",
        label="Never at these addresses",
        help="One path per line, * for anything: /checkout*.",
        validate=validate_url_patterns,
    )

    @validates_schema
    def _secret_for_verification(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("verification", "none") != "none" and not data.get("verification_secret"):
            raise ValidationError("Enter the secret from Intercom, or turn verification off.",
                                  field_name="verification_secret")
