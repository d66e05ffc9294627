"""The hook reference in docs/plugins.md is generated from the hookspecs and kept current."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

from core.plugins import docs, hookspecs


def test_the_guides_hook_reference_is_current():
    guide = docs.GUIDE.read_text(encoding="utf-8")
    assert docs.section_of(guide) == docs.reference(), (
        "docs/plugins.md's hook reference is out of date with core/plugins/hookspecs.py: "
        "run `python -m core.plugins.docs --write`"
    )


def test_every_hook_is_documented_with_its_contract():
    reference = docs.reference()
    specs = [name for name, value in vars(hookspecs).items() if hasattr(value, "kedai_spec")]
    assert len(specs) > 20
    for name in specs:
        assert f"#### `{name}`" in reference
        first_line = getattr(hookspecs, name).__doc__.split("\n")[0].strip()
        assert first_line in reference
    assert ("def storefront_widgets(self, ctx, page: str, shopper) -> list[Any]: ..."
            in reference)
    assert "def register_blueprints(self) -> list[Any]: ..." in reference
    assert "| [`authenticate_customer`](#authenticate_customer) | `ctx`, `method`, " \
           "`credentials` | `int \\| None` (first answer wins) | Request-time contributions |" \
           in reference
    assert "Event type: `order.customer_attached`." in reference


def _specs_module(tmp_path: Path, source: str):
    path = tmp_path / "fake_hookspecs.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("fake_hookspecs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FAKE = '''\
    """Fake hooks.

    ``register_*``
        Once per process.
    """

    from plugin_sdk.markers import hookspec

    # --- register_*: once per process ---------------------------------------------------


    @hookspec
    def register_things() -> list:
        """Things.
        Over two lines."""


    # --- privacy ---------------------------------------------------------------------------


    @hookspec(firstresult=True)
    def forget(ctx, customer_id: int) -> None:
        """Forget the customer."""
    '''


def test_sections_signatures_and_docstrings_come_from_the_module(tmp_path):
    module = _specs_module(tmp_path, FAKE)
    [things, forget] = docs.hooks(module)
    assert (things.name, things.section, things.doc) == (
        "register_things", "register_*: once per process", "Things.\nOver two lines.")
    assert (forget.section, forget.firstresult) == ("privacy", True)
    assert forget.definition == "@hookimpl\ndef forget(self, ctx, customer_id: int) -> None: ..."
    text = docs.reference(module)
    assert "- **``register_*``**: Once per process." in text
    assert "### `register_*`: once per process" in text and "### Privacy" in text
    assert "Things. Over two lines." in text
    assert "The first non-`None` answer is used" in text


def test_check_fails_until_the_guide_is_rewritten(tmp_path, capsys):
    guide = tmp_path / "plugins.md"
    guide.write_text(f"# Guide\n\n## Hook reference\n\n{docs.START}\nold text\n{docs.END}\n"
                     "\nafter\n", encoding="utf-8")
    assert docs.main(["--check", "--guide", str(guide)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert docs.main(["--write", "--guide", str(guide)]) == 0
    assert docs.main(["--check", "--guide", str(guide)]) == 0
    text = guide.read_text(encoding="utf-8")
    assert "old text" not in text and text.endswith(f"{docs.END}\n\nafter\n")
    assert "#### `on_customer_created`" in text

    changed = _specs_module(tmp_path, FAKE)
    assert docs.main(["--check", "--guide", str(guide)], module=changed) == 1
