"""`sieve import FILE.csv --workspace W`: the upload's code path from the command line,
with a progress bar (docs/imports.md). Registered on the `sieve` group by app/cli.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def _mapping_option(raw: str | None) -> Any:
    """--mapping as JSON text, or @path to a JSON file."""
    import json

    if raw is None:
        return None
    text = Path(raw[1:]).read_text(encoding="utf-8") if raw.startswith("@") else raw
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--mapping") from None


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--workspace", "workspace_ref", required=True, help="Workspace id or name.")
@click.option("--mapping", help="Column mapping as JSON, or @file.json (docs/imports.md).")
@click.option(
    "--mode",
    type=click.Choice(["create-or-update", "create-only"]),
    default="create-or-update",
    show_default=True,
)
@click.option(
    "--errors",
    "errors_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the error report (row, column, code, message) to this CSV file.",
)
def import_people(
    file: str, workspace_ref: str, mapping: str | None, mode: str, errors_path: str | None
) -> None:
    """Import people from a CSV file, with a progress bar (the upload's code path)."""
    import csv

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from app.imports import jobs
    from app.imports.jobs import ImportJob, ImportMode
    from app.imports.service import prepare, run_import
    from app.tenancy import resolve_workspace

    plan = _mapping_option(mapping)
    path = Path(file)

    async def work() -> ImportJob:
        workspace_id = (await resolve_workspace(workspace_ref)).id
        job = await prepare(
            workspace_id,
            path,
            mapping=plan,
            mode=ImportMode(mode.upper().replace("-", "_")),
            filename=path.name,
            source="cli",
        )
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, transient=False) as progress:
            task = progress.add_task(f"importing {path.name}", total=None)

            def show(state: ImportJob) -> None:
                progress.update(task, total=state.rows_total, completed=state.rows_processed)

            done = await run_import(job, path, show)
        if errors_path is not None:
            with open(errors_path, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(("row", "column", "code", "message"))
                async for error in jobs.all_errors(done.id):
                    writer.writerow((error.row, error.column, error.code.value, error.message))
        return done

    from app.cli import _call  # the CLI's runner: database open and closed, refusals as one line

    done = _call(work)
    click.echo(
        f"{done.status.value}: {done.rows_processed} rows, {done.created} created,"
        f" {done.updated} updated, {done.unchanged} unchanged, {done.skipped} skipped,"
        f" {done.rejected} rejected ({done.error_count} errors)"
    )
    if done.error_code is not None:
        raise click.ClickException(f"{done.error_code.value}: {done.error_message}")
