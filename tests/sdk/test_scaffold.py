"""``kedai plugins new``: a third-party plugin project that checks clean and whose tests pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import main
from plugin_sdk.manifest import disagreements, load_manifest
from plugin_sdk.scaffold import TEMPLATE, ScaffoldError, names_for, template_files


def new(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["plugins", "new", *args])
    return result.exit_code, result.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "kedai-visit-counter"
    code, output = new("visit_counter", "--dir", str(target))
    assert code == 0, output
    return target


def test_the_project_has_every_piece_a_plugin_needs(project):
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "README.md",
        "kedai_visit_counter/__init__.py",
        "kedai_visit_counter/manifest.toml",
        "kedai_visit_counter/migrations/versions/README.md",
        "kedai_visit_counter/plugin.py",
        "kedai_visit_counter/settings.py",
        "kedai_visit_counter/templates/visit_counter/widget.html",
        "pyproject.toml",
        "tests/test_plugin.py",
    ]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "kedai-visit-counter"
    assert pyproject["project"]["entry-points"]["kedai.plugins"] == {
        "visit_counter": "kedai_visit_counter.plugin:VisitCounterPlugin"}
    assert any(d.startswith("kedai>=") for d in pyproject["project"]["dependencies"])
    package_data = pyproject["tool"]["setuptools"]["package-data"]["kedai_visit_counter"]
    assert {"manifest.toml", "templates/**/*", "migrations/**/*"} <= set(package_data)

    manifest = load_manifest(project / "kedai_visit_counter" / "manifest.toml")
    assert set(manifest.name) == {"en", "zh_hant", "zh_hans"}
    assert manifest.distribution == "kedai-visit-counter"


def test_the_project_checks_clean_and_its_tests_pass(project):
    result = CliRunner().invoke(main, ["plugins", "check", str(project)])
    assert result.exit_code == 0, result.output
    assert "visit_counter 0.1.0" in result.output and "no problems found" in result.output

    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "KEDAI_INSTANCE_PATH", "PYTEST_ADDOPTS"}}
    env["PYTHONPATH"] = str(project)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(project.parent / "inner-tmp")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def test_the_class_and_the_manifest_agree(project, monkeypatch):
    monkeypatch.syspath_prepend(str(project))
    from kedai_visit_counter.plugin import VisitCounterPlugin

    try:
        manifest = load_manifest(project / "kedai_visit_counter" / "manifest.toml")
        assert disagreements(manifest, VisitCounterPlugin) == []
        assert VisitCounterPlugin.settings_schema().fields.keys() == {"greeting", "colour"}
    finally:
        for name in [n for n in sys.modules if n.startswith("kedai_visit_counter")]:
            del sys.modules[name]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_the_project_is_lint_clean(project):
    for command in (["ruff", "check", "--select", "E,F,W,I,B,UP,SIM", "."],
                    ["ruff", "format", "--check", "."]):
        run = subprocess.run(command, cwd=project, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr


def test_names_come_from_the_plugin_id():
    names = names_for("loyalty_stamps", core_version="0.1.0")
    assert (names.package, names.distribution, names.class_name, names.title) == (
        "kedai_loyalty_stamps", "kedai-loyalty-stamps", "LoyaltyStampsPlugin", "Loyalty stamps")
    with pytest.raises(ScaffoldError, match="'loyalty_stamps'"):
        names_for("Loyalty-Stamps", core_version="0.1.0")


def test_new_refuses_a_bad_name_and_a_folder_in_use(tmp_path):
    code, output = new("Visit-Counter", "--dir", str(tmp_path / "x"))
    assert code == 1 and "(e.g. 'visit_counter')" in output
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    code, output = new("visit_counter", "--dir", str(tmp_path / "used"))
    assert code == 1 and "already exists and is not empty" in output
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["notes.txt"]


def test_new_defaults_to_a_folder_named_after_the_distribution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, output = new("visit_counter")
    assert code == 0, output
    assert (tmp_path / "kedai-visit-counter" / "kedai_visit_counter" / "plugin.py").is_file()
    assert "cd kedai-visit-counter" in output


def test_the_template_ships_as_package_data():
    """Every template file matches a package-data pattern of Kedai's pyproject.toml."""
    from fnmatch import fnmatch

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = [p for key, values in config["package-data"].items()
                if key in {"*", "plugin_sdk", "plugin_sdk.scaffold"} for p in values]
    files = template_files()
    assert files, f"no template files under {TEMPLATE}"
    unshipped = [str(f) for f in files if not any(fnmatch(f.name, p) for p in patterns)]
    assert unshipped == []
