"""The `sieve` command, run as a user would, against SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from app.demo import load_demo
from app.main import create_app
from app.people.models import Event, Person
from app.settings import settings


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path, pg_database) -> str:
    return f"sqlite://{tmp_path}/cli.sqlite3" if request.param == "sqlite" else pg_database


def sieve(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_workspace_and_key(database_url):
    migrated = sieve(database_url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    if database_url.startswith("sqlite"):  # a fresh file: every migration is reported
        assert migrated.stdout.startswith("applied: 0001_foundation"), migrated.stdout
    again = sieve(database_url, "migrate")
    assert again.stdout.strip() == "schema is up to date", again.stdout
    created = sieve(database_url, "workspace", "create", "Acme")
    assert created.returncode == 0, created.stderr
    _, workspace_id, name = created.stdout.split()
    assert name == "Acme"
    key = sieve(database_url, "key", "create", workspace_id)
    assert key.returncode == 0 and key.stdout.strip().startswith("sk_")
    missing = sieve(database_url, "key", "create", "987654")
    assert missing.returncode != 0 and "no workspace with id 987654" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_schema_command_prints_the_sdl():
    printed = sieve(settings.database_url, "schema")
    assert printed.returncode == 0 and "type Query" in printed.stdout


async def test_demo_data_is_realistic_and_segmentable(db, workspace):
    people, events = await load_demo(workspace.id, people=300, seed=3)
    assert await Person.filter(workspace_id=workspace.id).count() == people == 300
    assert await Event.filter(workspace_id=workspace.id).count() == events > 300
    names = set(
        await Event.filter(workspace_id=workspace.id).distinct().values_list("name", flat=True)
    )
    assert {"email_opened", "purchase"} <= names
    # some people never did anything, so "not engaged" segments are not empty
    active = (
        await Event.filter(workspace_id=workspace.id).distinct().values_list("person_id", flat=True)
    )
    assert len(set(active)) < people


async def test_cors_allows_configured_origins_only(db):
    app = create_app(settings.replace(cors_origins=("https://app.example.com",)))
    app.state.arq = None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        headers = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
                   "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
        allowed = await client.options("/graphql", headers=headers)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        denied = await client.options(
            "/graphql", headers={**headers, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in denied.headers
