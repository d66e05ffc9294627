"""The Kedai plugin SDK: everything a plugin imports.

A plugin is a ``Plugin`` subclass whose methods marked ``@hookimpl`` implement hooks of
``core/plugins/hookspecs.py`` (documented in ``docs/plugins.md``). The host hands each hook a
``PluginContext`` for the store it runs in: the plugin's settings, permission-checked facades
for customers and orders, events, message channels, an HTTP client, key/value storage, a
database session and a logger.
"""

from plugin_sdk.context import (
    Adjustment,
    BulkAction,
    Checkout,
    CustomerFilterSpec,
    Event,
    LoginMethod,
    MessageChannel,
    Panel,
    PluginContext,
    Shopper,
    StoreInfo,
)
from plugin_sdk.errors import (
    ChannelUnavailable,
    OutboundRefused,
    PermissionDenied,
    PluginError,
    SettingsInvalid,
)
from plugin_sdk.jobs import ScheduledJob
from plugin_sdk.markers import hookimpl
from plugin_sdk.plugin import CATEGORIES, PERMISSIONS, Plugin
from plugin_sdk.settings import Color, Secret, Text, TextArea, Toggle
from plugin_sdk.widgets import Widget

__all__ = [
    "CATEGORIES",
    "PERMISSIONS",
    "Adjustment",
    "BulkAction",
    "ChannelUnavailable",
    "Checkout",
    "Color",
    "CustomerFilterSpec",
    "Event",
    "LoginMethod",
    "MessageChannel",
    "OutboundRefused",
    "Panel",
    "PermissionDenied",
    "Plugin",
    "PluginContext",
    "PluginError",
    "ScheduledJob",
    "Secret",
    "SettingsInvalid",
    "Shopper",
    "StoreInfo",
    "Text",
    "TextArea",
    "Toggle",
    "Widget",
    "hookimpl",
]
