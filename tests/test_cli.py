"""The `sieve` command, run as a user would, against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.demo import load_demo
from app.main import create_app
from app.people.models import Event, Person
from app.settings import settings
from tests.conftest import PG_ADMIN_URL, REDIS_TEST_URL, pg_admin


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


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request, tmp_path) -> Iterator[str]:
    """A database of the test's own, so that ids start at 1 whatever ran before."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/empty.sqlite3"
        return
    name = f"sieve_test_cli_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_keys_by_workspace_name_with_scopes_list_rotate_and_revoke(empty_database_url):
    database_url = empty_database_url
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


# --- sieve demo ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "explicit", "expected"),
    [
        ("127.0.0.1", 8123, None, "http://127.0.0.1:8123"),
        ("0.0.0.0", 9000, None, "http://127.0.0.1:9000"),
        ("::", 9000, None, "http://127.0.0.1:9000"),
        ("demo.example", 80, None, "http://demo.example:80"),
        ("::1", 8000, None, "http://[::1]:8000"),
        ("0.0.0.0", 9000, "https://sieve.example/", "https://sieve.example"),
    ],
)
def test_the_demo_links_to_where_it_serves_unless_public_url_is_set(host, port, explicit, expected):
    from app.cli import demo_public_url

    assert demo_public_url(host, port, explicit) == expected


MEMBERSHIPS = '{ memberships(personId: "per_1", segmentIds: ["seg_1", "seg_2"]) { member } }'
ENROLL = """mutation { activateFlow(id: "flw_1") { userErrors { code } }
  enrollPeople(flowId: "flw_1", personIds: ["per_1"]) { enrolled userErrors { code } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Demo:
    """`sieve demo` in a process group of its own, read until it printed its keys."""

    def __init__(self, env: dict[str, str], cwd: Path, port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "demo", "--port", str(port), "--people", "30"],
            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if line.strip().startswith("keys kept in"):
                break
        self.keys = {
            prev.split()[2].rstrip(":"): line.split("Bearer ")[1].rstrip('"}')
            for prev, line in zip(self.lines, self.lines[1:], strict=False)
            if prev.strip().startswith("workspace ") and "Bearer" in line
        }

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def test_demo_serves_the_sample_links_to_its_own_port_and_reuses_its_keys(
    empty_database_url, tmp_path
):
    port = _free_port()
    outbox = tmp_path / "outbox"
    env = {**os.environ, "DATABASE_URL": empty_database_url, "REDIS_URL": REDIS_TEST_URL,
           "SIEVE_QUEUE": f"sieve-test:{uuid.uuid4().hex[:12]}", "EMAIL_TRANSPORT": "file",
           "EMAIL_FILE_DIR": str(outbox), "PYTHONUNBUFFERED": "1"}  # fmt: skip
    env.pop("PUBLIC_URL", None)
    demo = Demo(env, tmp_path, port)
    try:
        assert f"Sieve demo at http://127.0.0.1:{port}" in demo.lines, demo.lines
        assert set(demo.keys) == {"sample", "demo"}, demo.lines
        assert any("the README's sample, loaded now" in line for line in demo.lines)
        url = f"http://127.0.0.1:{port}/graphql"

        def ask(query: str, key: str) -> dict:
            headers = {"Authorization": f"Bearer {key}"}
            return httpx.post(url, json={"query": query}, headers=headers, timeout=10).json()

        def served() -> bool:
            try:
                return "data" in ask(MEMBERSHIPS, demo.keys["sample"])
            except httpx.TransportError:
                return False

        _wait_for(served, "the demo's API")
        member = ask(MEMBERSHIPS, demo.keys["sample"])["data"]["memberships"]
        assert member == [{"member": True}, {"member": True}]  # as the README prints
        # the console's URL is printed, and it is served there
        console_url = f"http://127.0.0.1:{port}/console/"
        assert f"  Console:   {console_url}" in demo.lines, demo.lines
        page = httpx.get(console_url, timeout=10)
        assert page.status_code == 200 and '<div id="app">' in page.text
        generated = ask("{ people(first: 1) { totalCount } }", demo.keys["demo"])
        assert generated["data"]["people"]["totalCount"] == 30
        # the worker's welcome email links back to this port, not PUBLIC_URL's default
        assert ask(ENROLL, demo.keys["sample"])["data"]["enrollPeople"]["enrolled"] == 1
        sent = _wait_for(lambda: list(outbox.glob("*.eml")), "the welcome email")
        assert f"http://127.0.0.1:{port}/unsubscribe/" in sent[0].read_text()
    finally:
        demo.stop()

    again = Demo(env, tmp_path, port)
    try:
        assert again.keys == demo.keys  # reused, from .sieve/demo-keys.json
        assert any("the README's sample, as you left it" in line for line in again.lines)
    finally:
        again.stop()


def test_export_takes_the_workspace_by_id_or_name(empty_database_url, tmp_path):
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    from app.db import database
    from app.demo.sample import load_sample
    from app.tenancy import create_workspace

    async def load() -> int:
        EXECUTOR_CACHE.clear()
        async with database(empty_database_url):
            workspace = await create_workspace("sample")
            await load_sample(workspace.id)
            return workspace.id

    workspace_id = asyncio.run(load())
    for ref in ("sample", str(workspace_id)):
        out = tmp_path / f"vips-{ref}.csv"
        done = sieve(
            empty_database_url, "export", "seg_2", "--workspace", ref, "--output", str(out)
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith(f"exported 3 people to {out}")
        emails = [line.split(",")[1] for line in out.read_text().splitlines()[1:]]
        assert sorted(emails) == ["ada@example.com", "linus@example.com", "margaret@example.com"]
    missing = sieve(empty_database_url, "export", "seg_2", "--workspace", "nope", "--output",
                    str(tmp_path / "x.csv"))  # fmt: skip
    assert missing.returncode == 1 and "no workspace named 'nope'" in missing.stderr
