"""Private PostgreSQL clusters for the replica benchmark and tests: a primary made by
`initdb`, and streaming standbys made by `pg_basebackup` from any primary (the shared one
at 127.0.0.1:5432 too), each on a free port in a folder of its own, removed when done.

The shared server is only ever read from here (a base backup is a replication
connection); its configuration is never changed, so synchronous replication, which needs
`synchronous_standby_names` on the primary, is only set up on a private primary.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg


def pg_bin() -> Path:
    """The server binaries: SIEVE_PG_BIN, else the newest /usr/lib/postgresql/*/bin."""
    if configured := os.environ.get("SIEVE_PG_BIN"):
        return Path(configured)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError(
            "no PostgreSQL server binaries under /usr/lib/postgresql (set SIEVE_PG_BIN)"
        )
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and the server refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(_as_postgres(args), capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}"
        )
    return done


@dataclass
class Cluster:
    """One running server: its folder, port and log."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _run(
            [
                str(pg_bin() / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop(self) -> None:
        _run([str(pg_bin() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])


def _folder(name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"sieve-{name}-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    return folder


def _write(path: Path, text: str) -> None:
    """Written as root it would not be the server's: write, then hand it over."""
    path.write_text(text)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _server_conf(cluster: Cluster, extra: dict[str, str]) -> str:
    settings = {
        "port": str(cluster.port),
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{cluster.folder}'",
        "hot_standby": "on",
        "max_wal_senders": "10",
        **extra,
    }
    return "".join(f"{key} = {value}\n" for key, value in settings.items())


HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n"


def make_primary() -> Cluster:
    """A fresh primary on a free port (see `make_synchronous` for a synchronous standby)."""
    cluster = Cluster(_folder("primary"), free_port())
    with _removed_on_failure(cluster):
        _run([str(pg_bin() / "initdb"), "-D", str(cluster.data), "-U", "postgres",
              "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])  # fmt: skip
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(_server_conf(cluster, {"wal_level": "replica"}))
        _write(cluster.data / "pg_hba.conf", HBA)
        cluster.start()
    return cluster


@contextmanager
def _removed_on_failure(cluster: Cluster) -> Iterator[None]:
    try:
        yield
    except BaseException:
        shutil.rmtree(cluster.folder, ignore_errors=True)
        raise


async def make_synchronous(primary_url: str, standby: str) -> None:
    """From now on, commits that ask for it (synchronous_commit on, remote_write,
    remote_apply) wait for that standby. Only once it streams: before, every commit would
    wait for it, CREATE DATABASE included. Private primaries only."""
    await wait_streaming(primary_url, standby)
    conn = await asyncpg.connect(primary_url)
    try:
        await conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{standby}'")
        await conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while (
            await conn.fetchval(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", standby
            )
            != "sync"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{standby} did not become synchronous")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def make_standby(
    primary_host: str, primary_port: int, name: str, limits: dict[str, str]
) -> Cluster:
    """A hot standby streaming from the primary: pg_basebackup -R (standby.signal and
    primary_conninfo), under `name` as application_name. `limits` are the primary's
    max_connections & co., which a hot standby may not undercut."""
    cluster = Cluster(_folder("standby"), free_port())
    with _removed_on_failure(cluster):
        _run([str(pg_bin() / "pg_basebackup"), "-h", primary_host, "-p", str(primary_port),
              "-U", "postgres", "-D", str(cluster.data), "-R", "-X", "stream", "-c", "fast",
              "--no-sync"])  # fmt: skip
        conninfo = f"host={primary_host} port={primary_port} user=postgres application_name={name}"
        with (cluster.data / "postgresql.auto.conf").open("a") as auto:
            auto.write(f"primary_conninfo = '{conninfo}'\n")
        # a Debian cluster keeps its configuration outside the data folder: write our own
        _write(cluster.data / "postgresql.conf", _server_conf(cluster, limits))
        _write(cluster.data / "pg_hba.conf", HBA)
        cluster.start()
    return cluster


def remove(cluster: Cluster) -> None:
    try:
        cluster.stop()
    finally:
        shutil.rmtree(cluster.folder, ignore_errors=True)


async def wait_streaming(primary_url: str, name: str, timeout: float = 30.0) -> None:
    """Until the primary reports the standby as streaming (a condition, not a sleep)."""
    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(primary_url)
    try:
        while True:
            state = await conn.fetchval(
                "SELECT state FROM pg_stat_replication WHERE application_name = $1", name
            )
            if state == "streaming":
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"standby {name} is not streaming after {timeout}s ({state})")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def standby_limits(primary_url: str) -> dict[str, str]:
    """The settings a hot standby must match or exceed."""
    conn = await asyncpg.connect(primary_url)
    try:
        names = ["max_connections", "max_worker_processes", "max_wal_senders",
                 "max_prepared_transactions", "max_locks_per_transaction"]  # fmt: skip
        rows = await conn.fetch("SELECT name, setting FROM pg_settings WHERE name = ANY($1)", names)
        return {r["name"]: r["setting"] for r in rows}
    finally:
        await conn.close()


@contextmanager
def running(cluster: Cluster) -> Iterator[Cluster]:
    try:
        yield cluster
    finally:
        remove(cluster)
