"""A real `uvicorn app.asgi:app` in a subprocess, on a PostgreSQL database of its own with
a seeded workspace: what the fuzz test and the load benchmark talk to over loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, workspace: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[workspace]}"}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def create_database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


async def drop_database(admin_url: str, url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


def start_server(
    database_url: str, env: dict[str, str], *, sieve_serve: bool = False
) -> LiveServer:
    """Start the app (migrations run in its lifespan), with uvicorn quiet, or as `sieve
    serve` itself; waits until it answers."""
    port = free_port()
    if sieve_serve:
        command = ["-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = ["-m", "uvicorn", "app.asgi:app", "--host", "127.0.0.1", "--port", str(port),
                   "--log-level", "warning", "--no-access-log"]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, *command],
        env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, **env},
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return LiveServer(url, process)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start within 60 s")


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
