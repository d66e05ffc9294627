"""``kedai plugins``: what is loaded, is a plugin sound, a new plugin project, plugin commands.

``kedai plugins list [--json] [--store SLUG]``
    Every plugin the environment provides, like ``datasette plugins``: id, name, version, the
    distribution it came from, the hooks it implements, and the error of one that failed to
    load; with ``--store``, its installation in that store.
``kedai plugins check PATH``
    A plugin package folder, or a project folder with ``pyproject.toml``: imports the plugin
    class, checks it as the host does when it loads it, checks every hook implementation against
    the hookspecs, the settings schema, the tables, and the manifest (and that it agrees with
    the class). Prints each problem with where it is, and exits 1 if there are any.
``kedai plugins new NAME [--dir DIR]``
    A new third-party plugin project from ``plugin_sdk/scaffold``, whose tests pass as made.
``kedai plugins run ID [--store SLUG] COMMAND``
    The commands a plugin adds through its ``register_cli`` hook.

``core.cli`` adds the group to the ``kedai`` command through ``register``.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import json
import os
import re
import sys
import tomllib
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from flask import current_app, g
from flask.cli import ScriptInfo, with_appcontext

import core
from plugin_sdk.markers import PROJECT
from plugin_sdk.plugin import Plugin

# --- kedai plugins list ----------------------------------------------------------------------


def _distributions() -> dict[str, str]:
    """Plugin id → the distribution (and its version) whose entry point provides it."""
    from core.plugins.manager import ENTRY_POINT_GROUP

    found = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        if dist is not None:
            found[entry_point.name] = f"{dist.metadata['Name']} {dist.version}"
    return found


def plugin_rows(store: Any = None) -> list[dict[str, Any]]:
    """One row per plugin loaded, failed, or (with ``store``) installed there but missing."""
    from core.plugins import service
    from core.plugins.manager import host

    installed = {row.plugin_id: row for row in service.installations(store)} if store else {}
    distributions = _distributions()
    rows = []
    for plugin_id in sorted(set(host.plugins) | set(host.failed) | set(installed)):
        plugin = host.get(plugin_id)
        row: dict[str, Any] = {
            "id": plugin_id,
            "name": plugin.name if plugin else None,
            "version": plugin.version if plugin else None,
            "category": plugin.category if plugin else None,
            "distribution": distributions.get(plugin_id),
            "module": type(plugin).__module__ if plugin else None,
            "status": "loaded" if plugin else ("failed" if plugin_id in host.failed
                                               else "missing"),
            "error": host.failed.get(plugin_id),
            "hooks": host.hooks_of(plugin_id) if plugin else [],
        }
        if store is not None:
            installation = installed.get(plugin_id)
            row["installation"] = None if installation is None else {
                "store": store.slug,
                "status": installation.status,
                "version": installation.version,
                "granted_permissions": list(installation.granted_permissions or []),
                "failure_count": installation.failure_count,
                "suspended_reason": installation.suspended_reason or None,
            }
        rows.append(row)
    return rows


def _render_rows(rows: list[dict[str, Any]], store_slug: str | None) -> str:
    if not rows:
        return "No plugins: none is installed in this Python environment."
    lines = []
    for row in rows:
        head = f"{row['id']} {row['version'] or ''}".strip()
        if row["name"]:
            head += f"  {row['name']}"
        status = row["status"]
        if store_slug is not None:
            installation = row["installation"]
            where = (f"not installed in {store_slug}" if installation is None
                     else f"{installation['status']} in {store_slug}")
            if installation and installation["failure_count"]:
                where += f", {installation['failure_count']} failures in a row"
            status += f"; {where}"
        lines.append(f"{head}  [{status}]")
        if row["distribution"]:
            lines.append(f"    from {row['distribution']}")
        elif row["module"]:
            lines.append(f"    from module {row['module']}")
        if row["hooks"]:
            lines.append("    hooks: " + ", ".join(row["hooks"]))
        if row["error"]:
            lines.append(f"    error: {row['error']}")
        if store_slug is not None and row["installation"] and row["installation"][
                "suspended_reason"]:
            lines.append(f"    suspended: {row['installation']['suspended_reason']}")
    return "\n".join(lines)


# --- kedai plugins check ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plugin, and where it is (``file:line`` when known)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class _Target:
    """What ``check`` found at a path: where to import from and what."""

    root: Path
    #: ``module:Class`` references (entry points) or module names to search for plugin classes.
    references: list[tuple[str | None, str]]
    project_version: str | None = None
    pyproject: Path | None = None


def _shown(path: str | Path) -> str:
    """A path relative to the working directory when it is below it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _locate(path: Path) -> tuple[_Target | None, list[Problem]]:
    path = path.resolve()
    pyproject = path / "pyproject.toml"
    if pyproject.is_file():
        return _locate_project(path, pyproject)
    if (path / "__init__.py").is_file():
        top = path
        while (top.parent / "__init__.py").is_file():
            top = top.parent
        package = ".".join(path.relative_to(top.parent).parts)
        module = f"{package}.plugin" if (path / "plugin.py").is_file() else package
        return _Target(root=top.parent, references=[(None, module)]), []
    return None, [Problem(_shown(path), "neither a project folder (no pyproject.toml) nor a "
                                        "plugin package (no __init__.py)")]


def _locate_project(path: Path, pyproject: Path) -> tuple[_Target | None, list[Problem]]:
    from core.plugins.manager import ENTRY_POINT_GROUP

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        return None, [Problem(_shown(pyproject), f"not valid TOML: {exc}")]
    project = data.get("project", {})
    entry_points = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    if not entry_points:
        return None, [Problem(_shown(pyproject), f'no [project.entry-points."{ENTRY_POINT_GROUP}"]'
                                                 ' table: Kedai would never find the plugin')]
    references = [(name, str(value).strip()) for name, value in entry_points.items()]
    top = references[0][1].split(":")[0].split(".")[0]
    root = path
    if not (path / top).exists() and (path / "src" / top).exists():
        root = path / "src"
    return _Target(root=root, references=references, project_version=project.get("version"),
                   pyproject=pyproject), []


def _import(root: Path, module_name: str) -> ModuleType:
    """Import ``module_name`` from ``root``, never a same-named module from elsewhere."""
    top = module_name.split(".")[0]
    for name in list(sys.modules):
        if name != top and not name.startswith(top + "."):
            continue
        module = sys.modules[name]
        locations = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
        if not any(loc and Path(loc).resolve().is_relative_to(root) for loc in locations):
            del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(str(root))


@contextmanager
def _modules_restored(tops: set[str]) -> Iterator[None]:
    """Afterwards, ``sys.modules`` holds for these top-level packages what it held before, so
    that checking ``plugins/x`` from elsewhere never shadows the real ``plugins`` package."""
    before = {name: module for name, module in sys.modules.items()
              if name.split(".")[0] in tops}
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] in tops]:
            if before.get(name) is not sys.modules[name]:
                del sys.modules[name]
        sys.modules.update(before)


def _import_problem(root: Path, module_name: str, exc: BaseException) -> Problem:
    where = _shown(root)
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{_shown(exc.filename)}:{exc.lineno}"
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if Path(f.filename).resolve().is_relative_to(root)]
        if frames:
            where = f"{_shown(frames[-1].filename)}:{frames[-1].lineno}"
    return Problem(where, f"cannot import {module_name}: {type(exc).__name__}: {exc}")


def _where(obj: Any) -> str:
    try:
        source = inspect.getsourcefile(obj)
        _, line = inspect.getsourcelines(obj)
    except (OSError, TypeError):
        return getattr(obj, "__qualname__", repr(obj))
    return f"{_shown(source)}:{line}" if source else repr(obj)


def _plugin_classes(target: _Target) -> tuple[list[tuple[str | None, type]], list[Problem]]:
    classes: list[tuple[str | None, type]] = []
    problems: list[Problem] = []
    for expected_id, reference in target.references:
        module_name, _, attribute = reference.partition(":")
        try:
            module = _import(target.root, module_name.strip())
        except Exception as exc:
            problems.append(_import_problem(target.root, module_name, exc))
            continue
        if attribute:
            value: Any = module
            try:
                for part in attribute.strip().split("."):
                    value = getattr(value, part)
            except AttributeError:
                where = _shown(target.pyproject) if target.pyproject else _where(module)
                problems.append(Problem(where, f"{reference}: {module_name} has no {attribute}"))
                continue
            classes.append((expected_id, value))
            continue
        found = [value for value in vars(module).values()
                 if isinstance(value, type) and issubclass(value, Plugin) and value is not Plugin
                 and value.__module__ == module.__name__]
        if not found:
            problems.append(Problem(_where(module),
                                    f"{module_name} defines no plugin_sdk.Plugin subclass"))
        classes.extend((None, value) for value in found)
    return classes, problems


def _hook_specs() -> dict[str, tuple[str, ...]]:
    """Hook name → the spec's argument names."""
    import pluggy

    from core.plugins import hookspecs

    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    specs = {}
    for name in dir(manager.hook):
        caller = getattr(manager.hook, name)
        spec = getattr(caller, "spec", None)
        if spec is not None:
            specs[name] = tuple(spec.argnames)
    return specs


def _impl_argnames(plugin_class: type, name: str) -> tuple[str, ...]:
    """The arguments pluggy would pass: positional parameters without a default."""
    raw = inspect.getattr_static(plugin_class, name)
    function = raw.__func__ if isinstance(raw, staticmethod | classmethod) else raw
    parameters = list(inspect.signature(function).parameters.values())
    if not isinstance(raw, staticmethod) and parameters:
        parameters = parameters[1:]
    return tuple(
        p.name for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )


def _check_hooks(plugin_class: type, specs: dict[str, tuple[str, ...]]) -> list[Problem]:
    problems = []
    for name in sorted(dir(plugin_class)):
        if name.startswith("__"):
            continue
        value = getattr(plugin_class, name, None)
        if not callable(value):
            continue
        options = getattr(value, f"{PROJECT}_impl", None)
        where = _where(value)
        if options is None:
            if name in specs:
                problems.append(Problem(where, f"{name} has a hook's name but no @hookimpl: "
                                               "Kedai will never call it"))
            continue
        hook = options.get("specname") or name
        if hook not in specs:
            close = difflib.get_close_matches(hook, specs, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(Problem(where, f"{name}: there is no hook {hook!r}{hint}"))
            continue
        arguments = _impl_argnames(plugin_class, name)
        unknown = [a for a in arguments if a not in specs[hook]]
        if unknown:
            problems.append(Problem(
                where, f"{name}({', '.join(arguments)}): {', '.join(unknown)} "
                       f"{'is not an argument' if len(unknown) == 1 else 'are not arguments'}"
                       f" of the hook, which passes {', '.join(specs[hook])}"))
        if options.get("wrapper") or options.get("hookwrapper"):
            problems.append(Problem(where, f"{name}: plugins may not wrap hooks"))
        if options.get("tryfirst") or options.get("trylast"):
            problems.append(Problem(where, f"{name}: tryfirst/trylast have no effect; Kedai "
                                           "promises no call order between plugins"))
    return problems


def _check_class(plugin_class: type, expected_id: str | None,
                 specs: dict[str, tuple[str, ...]]) -> list[Problem]:
    import pluggy

    from core.plugins.manager import PluginHost, PluginLoadError

    if not (isinstance(plugin_class, type) and issubclass(plugin_class, Plugin)):
        return [Problem(_where(plugin_class),
                        f"{plugin_class!r} is not a plugin_sdk.Plugin subclass")]
    where = _where(plugin_class)
    problems = _check_hooks(plugin_class, specs)
    try:
        # A host of its own, so the check is exactly what loading would check.
        PluginHost().register(plugin_class, expected_id=expected_id)
    except PluginLoadError as exc:
        if not (problems and "unknown hook" in str(exc)):
            problems.append(Problem(where, str(exc)))
    except pluggy.PluginValidationError as exc:
        if not problems:
            problems.append(Problem(where, " ".join(str(exc).split())))
    except Exception as exc:
        problems.append(Problem(where, f"could not create the plugin: "
                                       f"{type(exc).__name__}: {exc}"))
    problems += _check_settings(plugin_class, where)
    plugin_id = getattr(plugin_class, "id", None)
    if not plugin_id:
        return problems
    for event_type in getattr(plugin_class, "event_types", {}) or {}:
        if not str(event_type).startswith(f"{plugin_id}."):
            problems.append(Problem(where, f"event type {event_type!r} must start with "
                                           f"{plugin_id + '.'!r}"))
    problems += _check_files(plugin_class, plugin_id, where)
    return problems


def _check_settings(plugin_class: type, where: str) -> list[Problem]:
    from marshmallow import Schema
    from marshmallow import ValidationError as SchemaError

    schema = getattr(plugin_class, "settings_schema", None)
    if schema is None:
        return []
    if not (isinstance(schema, type) and issubclass(schema, Schema)):
        return [Problem(where, f"settings_schema must be a marshmallow Schema class, "
                               f"not {schema!r}")]
    try:
        instance = schema()
    except Exception as exc:
        return [Problem(_where(schema), f"settings schema {schema.__name__} cannot be "
                                        f"created: {type(exc).__name__}: {exc}")]
    try:
        instance.load({})
    except SchemaError:
        pass  # required settings: the merchant fills them in
    except Exception as exc:
        return [Problem(_where(schema), f"settings schema {schema.__name__} raised "
                                        f"{type(exc).__name__} on empty settings: {exc}")]
    return []


def _check_files(plugin_class: type, plugin_id: str, where: str) -> list[Problem]:
    problems = []
    try:
        package = plugin_class.package_path()
    except (TypeError, OSError):
        return []
    templates = package / "templates"
    if templates.is_dir() and any(templates.iterdir()) and not (templates / plugin_id).is_dir():
        problems.append(Problem(_shown(templates), f"templates belong in templates/{plugin_id}/"
                                                   " (ctx.render looks there)"))
    metadata = getattr(plugin_class, "metadata", None)
    if metadata is None:
        return problems
    for table in metadata.sorted_tables:
        if not table.name.startswith(f"{plugin_id}_"):
            problems.append(Problem(where, f"table {table.name!r} must be named "
                                           f"{plugin_id}_…"))
        if "store_id" not in table.columns:
            problems.append(Problem(where, f"table {table.name!r} has no store_id column "
                                           "(use plugin_sdk.db.StoreScoped)"))
    if not (package / "migrations" / "versions").is_dir():
        problems.append(Problem(_shown(package), "the plugin has tables but no "
                                                 "migrations/versions/ folder: kedai db upgrade "
                                                 "will not create them"))
    return problems


def _toml_line(text: str, dotted: str) -> int | None:
    """The line of ``dotted`` (``name.zh-Hans``, ``version``) in a TOML text, if findable."""
    lines = text.splitlines()
    table, _, key = dotted.rpartition(".")
    start = 0
    if table:
        header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]")
        found = [i for i, line in enumerate(lines) if header.match(line)]
        if not found:
            return None
        start = found[0]
    pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
    for number in range(start, len(lines)):
        if number > start and table and lines[number].lstrip().startswith("["):
            break
        if not table and lines[number].lstrip().startswith("["):
            break
        if pattern.match(lines[number]):
            return number + 1
    return start + 1 if table else None


def _manifest_path(plugin_class: type, plugin_id: str, root: Path) -> Path | None:
    try:
        own = plugin_class.package_path() / "manifest.toml"
    except (TypeError, OSError):
        return None
    if own.is_file():
        return own
    first_party = root / "manifests" / f"{plugin_id}.toml"
    return first_party if first_party.is_file() else None


def _check_manifest(plugin_class: type, plugin_id: str, root: Path) -> list[Problem]:
    from plugin_sdk.manifest import ManifestInvalid, _flatten, disagreements, load_manifest

    path = _manifest_path(plugin_class, plugin_id, root)
    if path is None:
        return [Problem(_shown(plugin_class.package_path()),
                        "no manifest.toml: the marketplace has no listing for the plugin")]
    try:
        manifest = load_manifest(path)
    except ManifestInvalid as exc:
        text = path.read_text(encoding="utf-8")
        problems = []
        for field, message in _flatten(exc.errors).items():
            line = None if field == "toml" else _toml_line(text, field)
            where = f"{_shown(path)}:{line}" if line else _shown(path)
            problems.append(Problem(where, f"{field}: {message}"))
        return problems
    text = path.read_text(encoding="utf-8")
    problems = []
    for problem in disagreements(manifest, plugin_class):
        line = _toml_line(text, problem.partition(":")[0])
        problems.append(Problem(f"{_shown(path)}:{line}" if line else _shown(path), problem))
    return problems


def check_plugin_path(path: Path) -> tuple[list[str], list[Problem]]:
    """Check the plugin(s) at ``path``; returns what was checked and every problem found."""
    target, problems = _locate(Path(path))
    if target is None:
        return [], problems
    tops = {reference.split(":")[0].strip().split(".")[0] for _, reference in target.references}
    with _modules_restored(tops):
        checked = _check_target(target, problems)
    return checked, sorted(problems, key=_position)


def _position(problem: Problem) -> tuple[str, int]:
    where, _, line = problem.where.rpartition(":")
    return (where, int(line)) if line.isdigit() else (problem.where, 0)


def _check_target(target: _Target, problems: list[Problem]) -> list[str]:
    classes, import_problems = _plugin_classes(target)
    problems += import_problems
    specs = _hook_specs()
    checked = []
    for expected_id, plugin_class in classes:
        problems += _check_class(plugin_class, expected_id, specs)
        plugin_id = getattr(plugin_class, "id", None)
        if not isinstance(plugin_class, type) or not plugin_id:
            continue
        checked.append(f"{plugin_id} {getattr(plugin_class, 'version', '?')} "
                       f"({plugin_class.__module__}:{plugin_class.__qualname__})")
        problems += _check_manifest(plugin_class, plugin_id, target.root)
        version = getattr(plugin_class, "version", None)
        if target.project_version and version and target.project_version != version:
            problems.append(Problem(_shown(target.pyproject or target.root),
                                    f"version: pyproject.toml says {target.project_version!r}, "
                                    f"the plugin {version!r}"))
    return checked


# --- kedai plugins run -----------------------------------------------------------------------


class _PluginCommands(click.Group):
    """One subgroup per plugin implementing ``register_cli``, filled by that hook."""

    def _host(self) -> Any:
        from core.plugins.manager import host

        host.load()
        return host

    def list_commands(self, ctx: click.Context) -> list[str]:
        host = self._host()
        return sorted(pid for pid in host.plugins if host.implements(pid, "register_cli"))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from core.plugins.manager import call_impl

        host = self._host()
        impl = host.impl_of(name, "register_cli")
        if impl is None:
            return None
        plugin = host.get(name)
        group = click.Group(
            name, help=f"Commands of {plugin.name}.", callback=_plugin_group_callback(name),
            params=[click.Option(["--store", "store_slug"], metavar="SLUG",
                                 help="Run for this store: the plugin's context is "
                                      "plugin_sdk.web.current_context().")],
        )
        group.result_callback()(_commit)
        try:
            call_impl(impl, {"cli": group})
        except Exception as exc:
            raise click.ClickException(f"register_cli of {name} failed: "
                                       f"{type(exc).__name__}: {exc}") from exc
        return group


def _plugin_group_callback(plugin_id: str) -> Any:
    @click.pass_context
    def callback(ctx: click.Context, store_slug: str | None) -> None:
        if not current_app:
            app = ctx.ensure_object(ScriptInfo).load_app()
            ctx.with_resource(app.app_context())
        if store_slug is None:
            return
        from core.errors import KedaiError
        from core.plugins.context import context_for
        from core.plugins.service import store_view
        from core.stores.service import get_store

        try:
            store = get_store(store_slug)
        except KedaiError as exc:
            raise click.ClickException(exc.message) from exc
        view = store_view(store)
        if not view.enabled(plugin_id):
            raise click.ClickException(f"{plugin_id} is not enabled in store {store_slug}")
        g.kedai_store = store
        g.kedai_plugin_context = context_for(store, plugin_id, view.installations[plugin_id])

    return callback


def _commit(*_: Any, **__: Any) -> None:
    from core.db import db

    db.session.commit()


# --- the group -------------------------------------------------------------------------------


@click.group("plugins")
def plugins_group() -> None:
    """Plugins: list them, check one, start a new one, run their commands."""


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
@click.option("--store", "store_slug", metavar="SLUG",
              help="Also show each plugin's installation in this store.")
@with_appcontext
def list_plugins(as_json: bool, store_slug: str | None) -> None:
    """Every plugin in this environment: version, hooks, load errors."""
    from core.errors import KedaiError
    from core.stores.service import get_store

    store = None
    if store_slug is not None:
        try:
            store = get_store(store_slug)
        except KedaiError as exc:
            raise click.ClickException(exc.message) from exc
    rows = plugin_rows(store)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        click.echo(_render_rows(rows, store_slug))


@plugins_group.command("check")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def check(path: Path) -> None:
    """Check the plugin at PATH (a package folder, or a project folder with pyproject.toml)."""
    checked, problems = check_plugin_path(path)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        count = len(problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''} found.", err=True)
        sys.exit(1)
    for what in checked:
        click.echo(f"{what}: no problems found.")


@plugins_group.command("new")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="The project folder to create (default: ./kedai-NAME).")
def new(name: str, directory: Path | None) -> None:
    """Create a new plugin project NAME (the plugin id, e.g. loyalty_stamps)."""
    from plugin_sdk.scaffold import ScaffoldError, create_project, names_for

    try:
        names = names_for(name, core_version=core.__version__)
        target = directory or Path(names.distribution)
        written = create_project(name, target, core_version=core.__version__)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {names.distribution} in {_shown(target)} ({len(written)} files).")
    click.echo("Next:")
    click.echo(f"  cd {os.path.relpath(target)}")
    click.echo("  pip install -e '.[test]'")
    click.echo("  python -m pytest")
    click.echo("  kedai plugins check .")


plugins_group.add_command(_PluginCommands(
    "run", help="Commands that plugins add (their register_cli hook)."))


def register(cli: click.Group) -> None:
    """Add ``kedai plugins`` to the ``kedai`` command."""
    cli.add_command(plugins_group)
