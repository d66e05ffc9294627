"""``kedai plugins list``, ``check`` and ``run``: what a plugin developer sees (P-06)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from core.cli import main
from core.plugins.manager import host
from plugin_sdk import Plugin, hookimpl
from plugin_sdk.web import current_context
from tests.sdk.sample_plugins import Broken, Guestbook

SETTINGS = {"greeting": "Selamat datang", "api_key": "sk-live-TOPSECRET-123"}

GOOD_MANIFEST = """\
id = "{id}"
version = "1.0.0"
category = "marketing"
author = "Example Ltd"
distribution = "kedai-{id}"
support_url = "https://example.com/support"
permissions = ["customers:read"]

[name]
en = "Tidy"
zh-Hant = "整齊"
zh-Hans = "整齐"

[description]
en = "Does little, well."
zh-Hant = "做得少。"
zh-Hans = "做得少。"
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def check(path: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["plugins", "check", str(path)])
    return result.exit_code, result.stdout.splitlines()


def tidy_package(folder: Path, plugin_id: str = "tidy", **extra: str) -> Path:
    """A correct plugin package, which ``extra`` files may spoil."""
    return write(folder / plugin_id, {
        "__init__.py": "",
        "plugin.py": f"""\
            from plugin_sdk import Plugin, Widget, hookimpl


            class Tidy(Plugin):
                id = "{plugin_id}"
                name = "Tidy"
                version = "1.0.0"
                category = "marketing"
                permissions = ("customers:read",)

                @hookimpl
                def storefront_widgets(self, ctx, page):
                    return [Widget(slot="header", html="")]
            """,
        "manifest.toml": GOOD_MANIFEST.format(id=plugin_id),
        **extra,
    })


# --- kedai plugins list ------------------------------------------------------------------------


def test_list_shows_each_plugin_with_its_hooks_and_load_errors(app, session, register_plugin,
                                                               monkeypatch):
    register_plugin(Guestbook)
    monkeypatch.setitem(host.failed, "ghost", "ModuleNotFoundError: No module named 'ghost'")
    result = app.test_cli_runner().invoke(main, ["plugins", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    guestbook = rows["guestbook"]
    assert (guestbook["name"], guestbook["version"], guestbook["status"]) == (
        "Guestbook", "1.0.0", "loaded")
    assert guestbook["hooks"] == ["admin_panels", "on_customer_created", "storefront_widgets"]
    assert guestbook["module"] == "tests.sdk.sample_plugins" and guestbook["error"] is None
    assert rows["ghost"]["status"] == "failed"
    assert rows["ghost"]["error"] == "ModuleNotFoundError: No module named 'ghost'"
    assert "installation" not in guestbook

    text = app.test_cli_runner().invoke(main, ["plugins", "list"]).stdout
    assert "guestbook 1.0.0  Guestbook  [loaded]" in text
    assert "hooks: admin_panels, on_customer_created, storefront_widgets" in text
    assert "ghost  [failed]" in text and "error: ModuleNotFoundError" in text


def test_list_for_a_store_shows_each_installation(app, store, register_plugin, install):
    register_plugin(Guestbook)
    register_plugin(Broken)
    install("guestbook", **SETTINGS)
    runner = app.test_cli_runner()

    result = runner.invoke(main, ["plugins", "list", "--store", "acme", "--json"])
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows["guestbook"]["installation"]["status"] == "enabled"
    assert rows["guestbook"]["installation"]["granted_permissions"] == ["customers:read"]
    assert rows["broken"]["installation"] is None

    text = runner.invoke(main, ["plugins", "list", "--store", "acme"]).stdout
    assert "[loaded; enabled in acme]" in text and "[loaded; not installed in acme]" in text

    missing = runner.invoke(main, ["plugins", "list", "--store", "nowhere"])
    assert missing.exit_code == 1 and "store 'nowhere' not found" in missing.output


def test_list_shows_a_plugin_installed_but_gone_from_the_environment(app, store,
                                                                     register_plugin, install):
    register_plugin(Guestbook)
    install("guestbook", **SETTINGS)
    host.unregister("guestbook")
    result = app.test_cli_runner().invoke(main, ["plugins", "list", "--store", "acme", "--json"])
    [row] = [r for r in json.loads(result.stdout) if r["id"] == "guestbook"]
    assert row["status"] == "missing" and row["installation"]["status"] == "enabled"


# --- kedai plugins check -----------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_passes_a_sound_plugin(tmp_path):
    code, lines = check(tidy_package(tmp_path))
    assert (code, lines) == (0, ["tidy 1.0.0 (tidy.plugin:Tidy): no problems found."])


def test_check_reports_every_problem_with_where_it_is(in_tmp):
    package = tidy_package(in_tmp, **{"plugin.py": """\
        from marshmallow import Schema

        from plugin_sdk import Plugin, hookimpl


        class BadSettings(Schema):
            def __init__(self, *args, **kwargs):
                raise RuntimeError("no settings today")


        class Sloppy(Plugin):
            id = "tidy"
            name = "Sloppy"
            version = "1.0.0"
            category = "marketing"
            permissions = ("customers:read",)
            settings_schema = BadSettings
            event_types = {"other.thing": "not ours"}

            @hookimpl
            def on_customer_create(self, ctx, event):
                pass

            @hookimpl
            def storefront_widgets(self, ctx, page, customer):
                return []

            def on_order_paid(self, ctx, event):
                pass

            @hookimpl(wrapper=True)
            def admin_panels(self, ctx):
                return (yield)
        """, "templates/widget.html": "<p></p>"})
    code, lines = check(package)
    assert code == 1
    assert lines == [
        "tidy/plugin.py:6: settings schema BadSettings cannot be created: "
        "RuntimeError: no settings today",
        "tidy/plugin.py:11: event type 'other.thing' must start with 'tidy.'",
        "tidy/plugin.py:20: on_customer_create: there is no hook 'on_customer_create' "
        "(did you mean 'on_customer_created'?)",
        "tidy/plugin.py:24: storefront_widgets(ctx, page, customer): customer is not an "
        "argument of the hook, which passes ctx, page, shopper",
        "tidy/plugin.py:28: on_order_paid has a hook's name but no @hookimpl: "
        "Kedai will never call it",
        "tidy/plugin.py:31: admin_panels: plugins may not wrap hooks",
        "tidy/templates: templates belong in templates/tidy/ (ctx.render looks there)",
    ]


def test_check_applies_the_hosts_own_rules(in_tmp):
    package = tidy_package(in_tmp)
    source = (package / "plugin.py").read_text()
    (package / "plugin.py").write_text(source.replace('"marketing"', '"games"'))
    assert check(package) == (1, [
        "tidy/manifest.toml:3: category: the manifest says 'marketing', the plugin 'games'",
        "tidy/plugin.py:4: unknown category 'games'",
    ])
    (package / "plugin.py").write_text(source.replace(
        'category = "marketing"', 'category = "marketing"\n    core_compat = ">=9"'))
    assert check(package) == (1, ["tidy/plugin.py:4: needs Kedai core >=9, this is 0.1.0"])


def test_check_validates_the_manifest_and_compares_it_with_the_class(in_tmp):
    package = tidy_package(in_tmp)
    manifest = GOOD_MANIFEST.format(id="tidy")
    (package / "manifest.toml").write_text(
        manifest.replace('version = "1.0.0"', 'version = "2.0.0"')
        .replace('permissions = ["customers:read"]', 'permissions = ["orders:read"]'))
    assert check(package) == (1, [
        "tidy/manifest.toml:2: version: the manifest says '2.0.0', the plugin '1.0.0'",
        "tidy/manifest.toml:7: permissions: the manifest lists ['orders:read'], "
        "the plugin ['customers:read']",
    ])
    (package / "manifest.toml").write_text(manifest.replace('zh-Hans = "整齐"\n', ""))
    assert check(package) == (1, [
        "tidy/manifest.toml:9: name.zh-Hans: Missing data for required field."])
    (package / "manifest.toml").unlink()
    assert check(package) == (1, [
        "tidy: no manifest.toml: the marketplace has no listing for the plugin"])


def test_check_reports_a_plugin_that_cannot_be_imported(in_tmp):
    package = tidy_package(in_tmp, **{"plugin.py": "import json\nimport no_such_module\n"})
    assert check(package) == (1, [
        "tidy/plugin.py:2: cannot import tidy.plugin: ModuleNotFoundError: "
        "No module named 'no_such_module'"])
    (package / "plugin.py").write_text("class Oops(\n")
    code, [line] = check(package)
    assert code == 1 and line.startswith("tidy/plugin.py:1: cannot import tidy.plugin: "
                                         "SyntaxError")


def test_check_a_project_reads_its_entry_point_and_version(in_tmp):
    project = in_tmp / "kedai-tidy"
    tidy_package(project)
    write(project, {"pyproject.toml": """\
        [project]
        name = "kedai-tidy"
        version = "1.0.1"

        [project.entry-points."kedai.plugins"]
        neat = "tidy.plugin:Tidy"
        """})
    code, lines = check(project)
    assert code == 1
    assert lines == [
        "kedai-tidy/pyproject.toml: version: pyproject.toml says '1.0.1', the plugin '1.0.0'",
        "kedai-tidy/tidy/plugin.py:4: entry point 'neat' provides a plugin whose id is 'tidy'",
    ]
    (project / "pyproject.toml").write_text('[project]\nname = "kedai-tidy"\n')
    assert check(project) == (1, [
        "kedai-tidy/pyproject.toml: no [project.entry-points.\"kedai.plugins\"] table: "
        "Kedai would never find the plugin"])


def test_check_a_first_party_plugin_leaves_the_real_plugins_package_alone(in_tmp):
    import plugins

    write(in_tmp, {"plugins/__init__.py": "", "manifests/tidy.toml": GOOD_MANIFEST.format(
        id="tidy")})
    package = tidy_package(in_tmp / "plugins")
    (package / "manifest.toml").unlink()  # first-party listings live in manifests/
    assert check(package) == (0, ["tidy 1.0.0 (plugins.tidy.plugin:Tidy): no problems found."])
    assert sys.modules["plugins"] is plugins and "plugins.tidy" not in sys.modules


def test_check_plugin_tables(in_tmp):
    package = tidy_package(in_tmp, **{"models.py": """\
        import sqlalchemy as sa
        from sqlalchemy.orm import Mapped, mapped_column

        from plugin_sdk.db import StoreScoped, model_base

        Base = model_base("tidy")


        class Card(StoreScoped, Base):
            __tablename__ = "tidy_cards"
            id: Mapped[int] = mapped_column(primary_key=True)


        class Loose(Base):
            __tablename__ = "loose"
            id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        """})
    source = (package / "plugin.py").read_text()
    (package / "plugin.py").write_text(source.replace(
        "class Tidy(Plugin):", "from tidy.models import Base\n\n\nclass Tidy(Plugin):"
    ).replace('category = "marketing"', 'category = "marketing"\n    metadata = Base.metadata'))
    code, lines = check(package)
    assert code == 1
    assert lines == [
        "tidy: the plugin has tables but no migrations/versions/ folder: kedai db upgrade "
        "will not create them",
        "tidy/plugin.py:7: table 'loose' must be named tidy_…",
        "tidy/plugin.py:7: table 'loose' has no store_id column (use plugin_sdk.db.StoreScoped)",
    ]


def test_check_refuses_a_folder_that_is_no_plugin(in_tmp):
    (in_tmp / "empty").mkdir()
    assert check(in_tmp / "empty") == (1, [
        "empty: neither a project folder (no pyproject.toml) nor a plugin package "
        "(no __init__.py)"])


# --- kedai plugins run -------------------------------------------------------------------------


class Chores(Plugin):
    id = "chores"
    name = "Chores"
    version = "1.0.0"
    category = "analytics"

    @hookimpl
    def register_cli(self, cli: click.Group) -> None:
        @cli.command("count")
        def count() -> None:
            """Count something in the store."""
            ctx = current_context()
            ctx.kv.set("runs", ctx.kv.get("runs", 0) + 1)
            click.echo(f"{ctx.store.name}: run {ctx.kv.get('runs')}")


def test_run_offers_the_commands_a_plugin_registers(app, store, register_plugin, install):
    register_plugin(Chores)
    install("chores")
    runner = app.test_cli_runner()
    listed = runner.invoke(main, ["plugins", "run", "--help"])
    assert "chores" in listed.output
    for expected in ("Acme Tea: run 1", "Acme Tea: run 2"):
        result = runner.invoke(main, ["plugins", "run", "chores", "--store", "acme", "count"])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == expected

    refused = runner.invoke(main, ["plugins", "run", "chores", "--store", "nowhere", "count"])
    assert refused.exit_code == 1 and "store 'nowhere' not found" in refused.output
    unknown = runner.invoke(main, ["plugins", "run", "nothing"])
    assert unknown.exit_code == 2 and "No such command 'nothing'" in unknown.output


def test_run_needs_the_plugin_enabled_in_the_store(app, store, register_plugin, install):
    register_plugin(Chores)
    install("chores", enable=False)
    result = app.test_cli_runner().invoke(
        main, ["plugins", "run", "chores", "--store", "acme", "count"])
    assert result.exit_code == 1 and "chores is not enabled in store acme" in result.output
