"""The `sieve` command, run as a user would, against SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
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
    app = create_app(dataclasses.replace(settings, cors_origins=("https://app.example.com",)))
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


def test_keys_by_workspace_name_with_scopes_list_rotate_and_revoke(database_url):
    assert sieve(database_url, "workspace", "create", "bars").returncode == 0
    assert sieve(database_url, "workspace", "create", "cafes").returncode == 0
    duplicate = sieve(database_url, "workspace", "create", " bars ")
    assert duplicate.returncode == 1 and "named 'bars' exists already" in duplicate.stderr

    created = sieve(database_url, "key", "create", "bars", "--name", "CRM sync", "--scope", "read")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("sk_") and "\n" not in secret  # stdout is the secret alone
    assert "key_1 (read) for workspace 1 bars" in created.stderr
    assert sieve(database_url, "key", "create", "2", "--name", "cafe app").returncode == 0
    unknown = sieve(database_url, "key", "create", "pubs")
    assert unknown.returncode == 1 and "no workspace named 'pubs'" in unknown.stderr
    bad_scope = sieve(database_url, "key", "create", "bars", "--scope", "root")
    assert bad_scope.returncode == 2 and "'root' is not one of" in bad_scope.stderr

    workspaces = sieve(database_url, "workspace", "list").stdout.splitlines()
    assert workspaces[0].split() == ["ID", "NAME", "CREATED", "ACTIVE", "KEYS"]
    assert [(r.split()[0], r.split()[1], r.split()[-1]) for r in workspaces[1:]] == [
        ("1", "bars", "1"), ("2", "cafes", "1")
    ]  # fmt: skip

    rotated = sieve(database_url, "key", "rotate", "key_1")
    assert rotated.returncode == 0, rotated.stderr
    new_secret = rotated.stdout.strip()
    assert new_secret.startswith("sk_") and new_secret != secret
    assert "key_3 replaces key_1" in rotated.stderr
    listed = sieve(database_url, "key", "list", "bars").stdout.splitlines()
    assert listed[0].split()[:4] == ["ID", "WORKSPACE", "NAME", "SCOPE"]
    rows = {line.split()[0]: line for line in listed[1:]}
    assert set(rows) == {"key_1", "key_3"}  # only bars' keys
    assert "CRM sync" in rows["key_3"] and " read " in rows["key_3"]
    assert rows["key_3"].rstrip().endswith("-")  # not revoked
    assert not rows["key_1"].rstrip().endswith("-")  # revoked by the rotation
    assert secret not in "\n".join(listed) and new_secret[:10] in rows["key_3"]
    assert len(sieve(database_url, "key", "list").stdout.splitlines()) == 4  # every workspace

    revoked = sieve(database_url, "key", "revoke", "3")
    assert revoked.returncode == 0 and revoked.stdout.startswith("revoked key_3 CRM sync at ")
    again = sieve(database_url, "key", "revoke", "key_3")
    assert again.returncode == 1 and "key_3 was revoked at" in again.stderr
    for verb in ("revoke", "rotate"):
        missing = sieve(database_url, "key", verb, "key_99")
        assert missing.returncode == 1 and "No key key_99" in missing.stderr
        assert "Traceback" not in missing.stderr
    nonsense = sieve(database_url, "key", "revoke", "per_1")
    assert nonsense.returncode == 1 and "'per_1' is not a key id" in nonsense.stderr


def test_version():
    printed = sieve(settings.database_url, "--version")
    assert printed.returncode == 0 and printed.stdout.startswith("sieve, version ")
