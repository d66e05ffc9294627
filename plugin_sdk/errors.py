"""Errors a plugin may raise or receive."""


class PluginError(Exception):
    """Base class. A plugin raises it (or a subclass) with a message meant for the merchant."""


class PermissionDenied(PluginError):
    """The plugin used the context for something its granted permissions do not cover."""


class SettingsInvalid(PluginError):
    """Settings failed validation; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class ChannelUnavailable(PluginError):
    """No enabled plugin in this store offers the message channel asked for (e.g. ``sms``)."""


class OutboundRefused(PluginError):
    """An outbound HTTP request was refused: a private, loopback or link-local address."""
