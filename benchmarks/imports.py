"""CSV import benchmark: rows/s into PostgreSQL for new people and for updates.

    python -m benchmarks.imports [--rows 100000] \
        [--database-url postgres://postgres@127.0.0.1:5432/sieve_bench_importer]

Recreates its own database (the name must contain `bench`), writes a CSV of N rows
(email, tags, two string fields, a number field, country, city), and imports it through
`app.imports.service.run_import` — the code path of both the HTTP upload and `sieve
import` — into an empty workspace (every row creates a person), then imports a second
file for the same emails with other tags and fields (every row updates a person). A
hundredth of the rows are bad (an invalid email or a number field that is not a number)
and go to the error report. Each phase includes the scan, validation, writes, the
suppression checks and the job's counters. For scale, the last two rows write the same
rows into another workspace with bare `INSERT ... SELECT FROM unnest` and `UPDATE ...
FROM unnest` statements (chunks of the same size, no checks, no Python work per row):
the database's own floor on this machine, and a third row COPYs them (binary COPY, the
fastest way in; still no checks, no change marks). Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sieve_bench_importer"
PLANS = ["free", "pro", "team", "enterprise"]
TAGS = ["vip", "beta", "newsletter", "churn-risk", "trial", "partner"]
COUNTRIES = ["US", "FR", "DE", "GB", "BR", "JP", "IN"]
MAPPING = {
    "email": "email",
    "tags": "tags",
    "country": "country",
    "city": "city",
    "fields": {
        "first_name": "first_name",
        "plan": "plan",
        "seats": {"column": "seats", "type": "number"},
    },
}


def write_csv(path: Path, rows: int, *, seed: int, bad_every: int = 100) -> None:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "tags", "first_name", "plan", "seats", "country", "city"])
        for i in range(rows):
            email = f"user{i}@example{i % 50}.com"
            seats = str(rng.randint(1, 500))
            if i % bad_every == bad_every - 1:
                if rng.random() < 0.5:
                    email = f"user{i}-at-example.com"
                else:
                    seats = "many"
            tags = ",".join(rng.sample(TAGS, rng.randint(0, 3)))
            writer.writerow(
                [
                    email,
                    tags,
                    f"Name{rng.randint(1, 9999)}",
                    rng.choice(PLANS),
                    seats,
                    rng.choice(COUNTRIES),
                    f"City {rng.randint(1, 300)}",
                ]
            )


async def _fresh_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to recreate {name!r}: its name must contain 'bench'")
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _columns(path: Path) -> list[tuple[str, str, str, str]]:
    """(email, tags JSON, fields JSON, country) of the good rows, as the floor writes them."""
    import json

    out = []
    with open(path, newline="", encoding="utf-8") as handle:
        for email, tags, first, plan, seats, country, _city in list(csv.reader(handle))[1:]:
            if "@" in email and seats.isdigit():
                fields = {"first_name": first, "plan": plan, "seats": int(seats)}
                out.append(
                    (
                        email,
                        json.dumps(tags.split(",") if tags else []),
                        json.dumps(fields),
                        country,
                    )
                )
    return out


async def _floor(
    url: str, workspace_id: int, rows: list[tuple[str, str, str, str]], chunk: int
) -> tuple[float, float]:
    """Seconds to insert, then to update, the rows with bare set-based statements."""
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        for i in range(0, len(rows), chunk):
            part = rows[i : i + chunk]
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO people (workspace_id, email, status, tags, fields, country,"
                    " created_at, updated_at) SELECT $1, u.e, 'SUBSCRIBED', u.t::jsonb, u.f::jsonb,"
                    " u.c, now(), now() FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])"
                    " AS u(e, t, f, c)",
                    workspace_id,
                    *[list(column) for column in zip(*part, strict=True)],
                )
        inserted = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(0, len(rows), chunk):
            part = rows[i : i + chunk]
            async with conn.transaction():
                await conn.execute(
                    "UPDATE people AS p SET tags = u.t::jsonb, fields = u.f::jsonb, updated_at ="
                    " now() FROM unnest($2::text[], $3::text[], $4::text[]) AS u(e, t, f)"
                    " WHERE p.workspace_id = $1 AND p.email = u.e",
                    workspace_id,
                    [r[0] for r in part],
                    [r[2] for r in part],
                    [r[1] for r in part],
                )
        return inserted, time.perf_counter() - started
    finally:
        await conn.close()


async def _copy_floor(
    url: str, workspace_id: int, rows: list[tuple[str, str, str, str]], chunk: int
) -> float:
    """Seconds to COPY the rows straight into people (binary COPY, a transaction a chunk):
    the fastest way PostgreSQL takes new rows, with nothing checked or merged."""
    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        started = time.perf_counter()
        for i in range(0, len(rows), chunk):
            records = [
                (workspace_id, e, "SUBSCRIBED", t, f, c, now, now)
                for e, t, f, c in rows[i : i + chunk]
            ]
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "people",
                    records=records,
                    columns=[
                        "workspace_id",
                        "email",
                        "status",
                        "tags",
                        "fields",
                        "country",
                        "created_at",
                        "updated_at",
                    ],
                )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run(url: str, rows: int) -> list[tuple[str, int, float, int, int, int]]:
    from app.db import database
    from app.imports.jobs import ImportMode
    from app.imports.service import prepare, run_import
    from app.settings import settings
    from app.tenancy import create_workspace

    await _fresh_database(url)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        first, second = Path(folder, "new.csv"), Path(folder, "update.csv")
        write_csv(first, rows, seed=1)
        write_csv(second, rows, seed=2)
        async with database(url):
            workspace = await create_workspace("import-bench")
            for label, path in (("new people", first), ("updates", second)):
                job = await prepare(
                    workspace.id,
                    path,
                    mapping=MAPPING,
                    mode=ImportMode.CREATE_OR_UPDATE,
                    filename=path.name,
                    source="bench",
                )
                started = time.perf_counter()
                done = await run_import(job, path)
                seconds = time.perf_counter() - started
                assert done.rows_processed == rows, done
                results.append((label, rows, seconds, done.created, done.updated, done.rejected))
            floor = await create_workspace("import-bench-floor")
            copied = await create_workspace("import-bench-copy")
        good = _columns(first)
        inserted, updated = await _floor(url, floor.id, good, settings.import_chunk_rows)
        copy = await _copy_floor(url, copied.id, good, settings.import_chunk_rows)
        results.append(("floor: bare INSERT", len(good), inserted, len(good), 0, 0))
        results.append(("floor: bare UPDATE", len(good), updated, 0, len(good), 0))
        results.append(("floor: COPY", len(good), copy, len(good), 0, 0))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    before = os.getloadavg()[0]
    results = asyncio.run(run(args.database_url, args.rows))
    table = Table(
        title=f"CSV import into PostgreSQL, {args.rows:,} rows (run_import); load average"
        f" {before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    for column in ("phase", "rows", "seconds", "rows/s", "created", "updated", "rejected"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for label, n, seconds, created, updated, rejected in results:
        table.add_row(
            label,
            f"{n:,}",
            f"{seconds:.2f}",
            f"{n / seconds:,.0f}",
            f"{created:,}",
            f"{updated:,}",
            f"{rejected:,}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
