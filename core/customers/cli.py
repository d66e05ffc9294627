"""``kedai import-customers`` and ``kedai export-customers``: the import and export for operators.

Both run in the foreground with the same code as the admin pages; ``core.cli`` adds them to
the ``kedai`` group through ``register``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

from core.db import db
from core.errors import KedaiError


def _store(slug: str) -> Any:
    from core.stores.service import get_store

    try:
        return get_store(slug)
    except KedaiError as exc:
        raise click.ClickException(exc.message) from exc


@click.command("import-customers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--store", "store_slug", required=True, help="The store's slug.")
@click.option(
    "--encoding",
    type=click.Choice(["auto", "utf-8", "big5", "gbk", "gb18030"]),
    default="auto",
    show_default=True,
    help="The CSV's encoding; auto detects it. XLSX files need none.",
)
@click.option(
    "--match",
    type=click.Choice(["email", "phone"]),
    default="email",
    show_default=True,
    help="Update the customer with the same email (or phone); rows without it use the other.",
)
@click.option("--dry-run", is_flag=True, help="Check every row and count; write nothing.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the rejected rows (default: FILE.rejected.csv beside the file).",
)
@with_appcontext
def import_customers_command(
    file: Path,
    store_slug: str,
    encoding: str,
    match: str,
    dry_run: bool,
    report_path: Path | None,
) -> None:
    """Import customers from a CSV or XLSX FILE into a store.

    Prints progress and a summary; exits with status 1 when rows were rejected (they are in the
    report) or when the file cannot be imported at all.
    """
    from core.customers.importing import ImportFileError, ImportResult, import_customers

    store = _store(store_slug)
    report_path = report_path or file.with_name(file.stem + ".rejected.csv")

    def on_batch(result: ImportResult) -> None:
        if not dry_run:
            db.session.commit()
        total = f"{result.total:,}" if result.total is not None else "?"
        click.echo(f"  {result.processed:,} / {total} rows ({result.percent}%)")

    with force_locale("en"):
        try:
            result = import_customers(
                store,
                file,
                encoding=encoding,
                match=match,
                dry_run=dry_run,
                actor="import:cli",
                report_path=report_path,
                on_batch=on_batch,
            )
        except ImportFileError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from exc
    verb = "would be " if dry_run else ""
    click.echo(
        f"{result.processed:,} rows read ({result.kind}"
        + (f", {result.encoding}" if result.encoding else "")
        + f"): {result.created:,} {verb}created, {result.updated:,} {verb}updated, "
        f"{result.unchanged:,} unchanged, {result.rejected:,} rejected"
    )
    for row in result.rejected_rows[:20]:
        click.echo(f"  line {row['line']}: {row['reason']}")
    if result.rejected > 20:
        click.echo(f"  … and {result.rejected - 20:,} more")
    if result.rejected:
        click.echo(f"Rejected rows: {report_path}")
        click.get_current_context().exit(1)


@click.command("export-customers")
@click.option("--store", "store_slug", required=True, help="The store's slug.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx"]),
    help="Default: from the -o file's extension, else csv.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@click.option("--q", "q", default="", help="Search name, email or phone.")
@click.option("--tag", "tags", multiple=True, help="Only customers with this tag (repeatable).")
@click.option("--created-from", help="Created on or after (YYYY-MM-DD).")
@click.option("--created-to", help="Created on or before (YYYY-MM-DD).")
@click.option("--orders-min", help="At least this many orders.")
@click.option("--orders-max", help="At most this many orders.")
@click.option("--spent-min", help="Spent at least this much (store currency, e.g. 100.50).")
@click.option("--spent-max", help="Spent at most this much.")
@click.option("--last-order-before", help="Last order before (YYYY-MM-DD).")
@click.option("--last-order-after", help="Last order after (YYYY-MM-DD).")
@click.option("--accepts-marketing", type=click.Choice(["yes", "no"]))
@click.option("--blacklisted", type=click.Choice(["yes", "no"]))
@click.option("--field", "field_match", help="Custom field filter: KEY or KEY=VALUE.")
@with_appcontext
def export_customers_command(
    store_slug: str, fmt: str | None, output: Path | None, field_match: str | None, **filters: Any
) -> None:
    """Export a store's customers (all, or those the options match) as CSV or XLSX."""
    from core.customers.exporting import customer_filter_from_args, iter_export

    store = _store(store_slug)
    fmt = fmt or ("xlsx" if output and output.suffix.lower() == ".xlsx" else "csv")
    args: dict[str, Any] = {k: v for k, v in filters.items() if k != "tags" and v}
    args["tag"] = list(filters["tags"])
    if field_match:
        args["field_key"], _, args["field_value"] = field_match.partition("=")
    with force_locale("en"):
        try:
            flt = customer_filter_from_args(store, args)
            chunks = iter_export(store, fmt, flt)
            if output is None:
                stream = click.get_binary_stream("stdout")
                for chunk in chunks:
                    stream.write(chunk)
                stream.flush()
            else:
                with output.open("wb") as fh:
                    for chunk in chunks:
                        fh.write(chunk)
        except KedaiError as exc:
            raise click.ClickException(f"{exc.field}: {exc.message}") from exc
    if output is not None:
        click.echo(f"Exported to {output}", err=True)


def register(main: click.Group) -> None:
    """Add the import and export commands to the ``kedai`` group."""
    main.add_command(import_customers_command)
    main.add_command(export_customers_command)
