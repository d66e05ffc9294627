"""The "Hook reference" of ``docs/plugins.md``, generated from ``core/plugins/hookspecs.py``.

The hookspecs module is the contract: its docstrings and signatures are the reference, and
this script copies them into the guide between two markers, so the guide cannot drift from
the code unnoticed (``tests/sdk/test_docs.py`` fails when it has)::

    python -m core.plugins.docs            # print the reference
    python -m core.plugins.docs --write    # rewrite the section in docs/plugins.md
    python -m core.plugins.docs --check    # exit 1 when docs/plugins.md is out of date

Hooks are grouped under the ``# --- …`` section comments of the hookspecs module, in the order
they are defined there.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from core.plugins import hookspecs as default_hookspecs
from plugin_sdk.markers import PROJECT

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
START = ("<!-- hook-reference:start — generated from core/plugins/hookspecs.py by "
         "`python -m core.plugins.docs --write`; edit the hookspecs, not this section -->")
END = "<!-- hook-reference:end -->"
_SECTION = re.compile(r"^# --- (?P<title>.+?) -*$")


@dataclass(frozen=True)
class HookDoc:
    """One hook as the reference shows it."""

    name: str
    section: str
    arguments: tuple[tuple[str, str], ...]
    returns: str
    firstresult: bool
    doc: str

    @property
    def definition(self) -> str:
        """How an implementation is written, every argument taken."""
        shown = ["self"] + [name if kind in ("", "Any") else f"{name}: {kind}"
                            for name, kind in self.arguments]
        returns = f" -> {self.returns}" if self.returns else ""
        return f"@hookimpl\ndef {self.name}({', '.join(shown)}){returns}: ..."


def _annotation(value: object) -> str:
    if value is inspect.Parameter.empty or value is inspect.Signature.empty:
        return ""
    return value if isinstance(value, str) else inspect.formatannotation(value)


def hooks(module: ModuleType = default_hookspecs) -> list[HookDoc]:
    """Every hookspec of ``module`` in source order, with its section title."""
    source = inspect.getsource(module).splitlines()
    sections: list[tuple[int, str]] = []
    for number, line in enumerate(source, start=1):
        match = _SECTION.match(line)
        if match:
            sections.append((number, match["title"].strip()))
    found = []
    for name, value in vars(module).items():
        options = getattr(value, f"{PROJECT}_spec", None)
        if options is None or not inspect.isfunction(value):
            continue
        line = value.__code__.co_firstlineno
        section = next((title for start, title in reversed(sections) if start < line), "")
        signature = inspect.signature(value)
        found.append(HookDoc(
            name=name,
            section=section,
            arguments=tuple((p.name, _annotation(p.annotation))
                            for p in signature.parameters.values()),
            returns=_annotation(signature.return_annotation),
            firstresult=bool(options.get("firstresult")),
            doc=inspect.cleandoc(value.__doc__ or ""),
        ))
    return sorted(found, key=lambda hook: vars(module)[hook.name].__code__.co_firstlineno)


def _paragraphs(text: str) -> str:
    """Docstring paragraphs as Markdown: hard-wrapped lines joined, paragraphs kept."""
    blocks = [" ".join(line.strip() for line in block.splitlines())
              for block in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(block for block in blocks if block)


def _definition_lists(text: str) -> str:
    """The module docstring's reST definition lists (term, then indented text) as bullets."""
    out: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and not line.startswith(" ") and following.startswith("    "):
            body = []
            index += 1
            while index < len(lines) and lines[index].startswith("    "):
                body.append(lines[index].strip())
                index += 1
            out.append(f"- **{line.strip()}**: {' '.join(body)}")
            continue
        out.append(line)
        index += 1
    return "\n".join(out)


def _event_types_of(hook: HookDoc) -> str:
    if not hook.name.startswith("on_") or hook.name == "on_event":
        return ""
    from core.events.types import CORE_EVENT_TYPES
    from core.plugins.manager import event_hook_name

    names = [t for t in CORE_EVENT_TYPES if event_hook_name(t) == hook.name]
    return f"`{names[0]}`" if names else ""


def _title(hook: HookDoc, *, short: bool = False) -> str:
    """The hook's section title: ``register_*: once per process`` → `register_*`: once …;
    ``short`` keeps what comes before the colon."""
    if not hook.section:
        return "Other hooks"
    head, colon, rest = hook.section.partition(":")
    if short:
        colon = rest = ""
    if "_" in head or "*" in head:
        return f"`{head}`{colon}{rest}"
    return head[:1].upper() + head[1:] + colon + rest


def _lines(module: ModuleType) -> Iterator[str]:
    found = hooks(module)
    intro = inspect.cleandoc(module.__doc__ or "")
    first, _, rest = intro.partition("\n\n")
    yield _paragraphs(first)
    yield ""
    yield _definition_lists(rest.strip())
    yield ""
    yield "| hook | arguments | returns | when |"
    yield "|---|---|---|---|"
    for hook in found:
        arguments = ", ".join(f"`{name}`" for name, _ in hook.arguments) or "none"
        returns = f"`{hook.returns}`" if hook.returns else ""
        if hook.firstresult:
            returns += " (first answer wins)"
        returns = returns.replace("|", "\\|")  # a pipe would end the table cell
        when = _title(hook, short=True)
        yield f"| [`{hook.name}`](#{hook.name}) | {arguments} | {returns} | {when} |"
    section = None
    for hook in found:
        if hook.section != section:
            section = hook.section
            yield ""
            yield f"### {_title(hook)}"
        yield ""
        yield f"#### `{hook.name}`"
        yield ""
        yield "```python"
        yield hook.definition
        yield "```"
        yield ""
        yield _paragraphs(hook.doc)
        events = _event_types_of(hook)
        if events:
            yield ""
            yield f"Event type: {events}."
        if hook.firstresult:
            yield ""
            yield "The first non-`None` answer is used; later plugins are not called."


def reference(module: ModuleType = default_hookspecs) -> str:
    """The generated reference, markers excluded."""
    return "\n".join(_lines(module)).strip() + "\n"


def section_of(guide: str) -> str | None:
    """What stands between the markers of ``guide`` now, or ``None`` without markers."""
    start, end = guide.find(START), guide.find(END)
    if start < 0 or end < start:
        return None
    return guide[start + len(START):end].strip("\n") + "\n"


def updated(guide: str, module: ModuleType = default_hookspecs) -> str:
    """``guide`` with the reference between its markers replaced by a fresh one."""
    start, end = guide.find(START), guide.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the guide has no {START!r} … {END!r} markers")
    return guide[:start + len(START)] + "\n\n" + reference(module) + "\n" + guide[end:]


def main(argv: list[str] | None = None, module: ModuleType = default_hookspecs) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite the guide's section")
    action.add_argument("--check", action="store_true",
                        help="exit 1 when the guide's section is out of date")
    parser.add_argument("--guide", type=Path, default=GUIDE, help="default: docs/plugins.md")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        sys.stdout.write(reference(module))
        return 0
    text = args.guide.read_text(encoding="utf-8")
    if args.check:
        if section_of(text) != reference(module):
            print(f"{args.guide}: the hook reference is out of date; run "
                  "python -m core.plugins.docs --write", file=sys.stderr)
            return 1
        return 0
    new = updated(text, module)
    if new != text:
        args.guide.write_text(new, encoding="utf-8")
        print(f"{args.guide}: hook reference updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
