"""Marketplace manifests: what a valid listing holds, and errors that name their field (P-06)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin_sdk import Plugin
from plugin_sdk.manifest import ManifestInvalid, disagreements, load_manifest

VALID = """\
id = "guestbook"
version = "1.2.0"
category = "marketing"
author = "Example Ltd"
distribution = "kedai-guestbook"
support_url = "https://example.com/support"
permissions = ["customers:read"]
requires = []

[name]
en = "Guestbook"
zh-Hant = "留言簿"
zh-Hans = "留言簿"

[description]
en = "Greets shoppers."
zh-Hant = "問候購物者。"
zh-Hans = "问候购物者。"
"""


class Guestbook(Plugin):
    id = "guestbook"
    name = "Guestbook"
    version = "1.2.0"
    category = "marketing"
    permissions = ("customers:read",)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_manifest_loads(tmp_path):
    path = write(tmp_path, VALID)
    manifest = load_manifest(path)
    assert (manifest.id, manifest.version, manifest.category) == ("guestbook", "1.2.0",
                                                                  "marketing")
    assert manifest.permissions == ["customers:read"] and manifest.requires == []
    assert manifest.text("name", "zh-Hant") == "留言簿"
    assert manifest.text("description", "zh_Hans") == "问候购物者。"
    assert manifest.text("description", "ms") == "Greets shoppers."
    assert manifest.source == str(path)
    assert disagreements(manifest, Guestbook) == []


def test_bad_toml_says_where(tmp_path):
    path = write(tmp_path, VALID.replace('author = "Example Ltd"', "author = Example Ltd"))
    with pytest.raises(ManifestInvalid) as info:
        load_manifest(path)
    assert list(info.value.errors) == ["toml"]
    assert "line 4" in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (('zh-Hans = "留言簿"\n', ""), "name.zh-Hans", "Missing data for required field."),
        (('"customers:read"]', '"customers:delete"]'), "permissions.0", "Must be one of"),
        (('"marketing"', '"games"'), "category", "Must be one of"),
        (('version = "1.2.0"', 'version = "1.2"'), "version", "Use a version like 1.2.0."),
        (('id = "guestbook"', 'id = "Guest-Book"'), "id", "Use lowercase letters"),
        (('support_url = "https://example.com/support"', 'support_url = "example"'),
         "support_url", "Not a valid URL."),
        (('author = "Example Ltd"', 'author = "Example Ltd"\nprice = 3'), "price",
         "Unknown field."),
    ],
    ids=["missing zh-Hans", "unknown permission", "unknown category", "bad version", "bad id",
         "bad support url", "unknown field"],
)
def test_each_error_names_its_field(tmp_path, change, field, message):
    path = write(tmp_path, VALID.replace(*change))
    with pytest.raises(ManifestInvalid) as info:
        load_manifest(path)
    text = str(info.value)
    assert text.startswith(f"{path}: {field}: {message}"), text


def test_several_errors_are_reported_together(tmp_path):
    path = write(tmp_path, VALID.replace('"marketing"', '"games"').replace(
        'version = "1.2.0"', 'version = "one"'))
    with pytest.raises(ManifestInvalid) as info:
        load_manifest(path)
    assert set(info.value.errors) == {"category", "version"}


def test_disagreement_with_the_plugin_class_is_reported(tmp_path):
    manifest = load_manifest(write(tmp_path, VALID.replace('"1.2.0"', '"1.3.0"').replace(
        'requires = []', 'requires = ["sms"]')))

    class Drifted(Guestbook):
        category = "loyalty"
        permissions = ("customers:read", "orders:read")

    assert disagreements(manifest, Drifted) == [
        "version: the manifest says '1.3.0', the plugin '1.2.0'",
        "category: the manifest says 'marketing', the plugin 'loyalty'",
        "permissions: the manifest lists ['customers:read'], the plugin "
        "['customers:read', 'orders:read']",
        "requires: the manifest lists ['sms'], the plugin []",
    ]
