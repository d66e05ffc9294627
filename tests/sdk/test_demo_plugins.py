"""The demo store gets the first-party plugins, enabled where no outside account is needed."""

from __future__ import annotations

from core.demo import install_demo_plugins
from core.plugins import service
from plugin_sdk import Plugin
from tests.sdk.sample_plugins import Guestbook, NeedsGuestbook, Stamps


class NeedsStamps(Plugin):
    id = "needs_stamps"
    name = "Needs stamps"
    version = "0.1.0"
    category = "loyalty"
    requires = ("stamps",)


def test_plugins_without_outside_accounts_are_enabled_the_rest_wait(store, register_plugin):
    for plugin in (Guestbook, NeedsGuestbook, Stamps, NeedsStamps):
        register_plugin(plugin)

    # Listed before what it requires: enabled on a later round all the same.
    status = install_demo_plugins(store, ["needs_stamps", "needs_guestbook", "guestbook", "stamps"])

    assert status == {
        "needs_stamps": "enabled",
        "stamps": "enabled",
        # Guestbook needs an API key the demo cannot have, so it and what needs it wait.
        "guestbook": "disabled",
        "needs_guestbook": "disabled",
    }
    rows = {row.plugin_id: row.status for row in service.installations(store)}
    assert rows == {pid: state for pid, state in status.items()}


def test_a_plugin_that_cannot_be_installed_is_reported_and_the_others_go_on(
    store, register_plugin
):
    register_plugin(Stamps)

    status = install_demo_plugins(store, ["no_such_plugin", "stamps"])

    assert status["stamps"] == "enabled"
    assert status["no_such_plugin"].startswith("not installed: ")
    assert [row.plugin_id for row in service.installations(store)] == ["stamps"]
