"""Settings of the tawk.to plugin: the ids are checked against tawk.to's own formats, so a
setting can never put markup or another script on a storefront page."""

from __future__ import annotations

from marshmallow import Schema, validate

from plugin_sdk import Secret, Text, TextArea, Toggle
from plugins.tawkto.placement import validate_page_names, validate_url_patterns

#: tawk.to's official WordPress plugin accepts exactly these.
PROPERTY_ID = r"^[0-9A-Fa-f]{24}\Z"  # \Z: "$" would let a trailing newline through
WIDGET_ID = r"^[A-Za-z0-9]{1,50}\Z"


class Settings(Schema):
    property_id = Text(
        required=True,
        label="Property ID",
        help="24 characters (0-9, a-f). In tawk.to: Administration → Channels → Chat Widget; "
             "it is the first part of the Direct Chat Link after embed.tawk.to/.",
        placeholder="5f1a2b3c4d5e6f7a8b9c0d1e",
        validate=validate.Regexp(PROPERTY_ID, error="A property ID is 24 characters, 0-9 and a-f."),
    )
    widget_id = Text(
        load_default="default",
        label="Widget ID",
        help="The part after the property ID in the Direct Chat Link; usually “default”.",
        validate=validate.Regexp(WIDGET_ID, error="A widget ID is 1 to 50 letters and digits."),
    )
    identify_shoppers = Toggle(
        load_default=True,
        label="Recognise logged-in shoppers",
        help="Pass the shopper's name and email to tawk.to, so your agents know who is asking.",
    )
    secure_mode_key = Secret(
        load_default="",
        label="Secure mode API key",
        help="Optional. tawk.to: Administration → Property Settings → Secure Mode. With it, "
             "tawk.to can trust the shopper's name and email. Stays on the server.",
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
