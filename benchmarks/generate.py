"""Load N synthetic people and M events into PostgreSQL, fast.

    python -m benchmarks.generate --people 1000000 --events 20000000
    python -m benchmarks.generate --database-url postgres://postgres@127.0.0.1:5432/sieve_bench_10k \\
        --people 10000 --events 200000 --fresh

The database is created if missing and migrated with the app's own migrations. One
transaction then: records the definitions of every index and constraint of `people` and
`events` except the primary keys, drops them, COPYs the rows (streamed from a generator
thread, constant memory), recreates them from the recorded definitions, and commits;
then VACUUM ANALYZE. A crash leaves the database as it was before the run.

A workspace that already exists under the given name is not loaded again: the data is
kept between runs, `--fresh` drops and recreates the database.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse, urlunparse

import asyncpg
import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from benchmarks._data import (
    EVENT_COLUMNS,
    EVENT_NAMES,
    PEOPLE_COLUMNS,
    PopulationSpec,
    Stats,
    produce,
)

# a wide log when redirected to a file (rich would wrap at 80 columns)
console = Console(width=None if sys.stdout.isatty() else 140)

LOADED_TABLES = ["people", "events"]  # in load order: events reference people
# filled by the triggers on events during the COPY (docs/summaries.md); analyzed with the
# loaded tables, or the planner takes them for empty (statistics from before the load)
TRIGGER_FILLED = ["activity_summaries"]
NOISE_SHARE = 0.01
PEOPLE_CHUNK = 20_000
EVENTS_CHUNK = 100_000


# --- settings and URLs -----------------------------------------------------------------


def _short(n: int) -> str:
    for unit, size in (("m", 1_000_000), ("k", 1_000)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def default_database(people: int, events: int) -> str:
    """sieve_bench for the reference 1M/20M size, sieve_bench_10k for 10k people, ..."""
    if (people, events) == (1_000_000, 20_000_000):
        return "sieve_bench"
    return f"sieve_bench_{_short(people)}"


def with_database(url: str, name: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=f"/{name}"))


def session_settings(parallel_workers: int) -> list[str]:
    """Per-session settings for the load (the server's configuration is left alone)."""
    return [
        "SET maintenance_work_mem = '1GB'",
        f"SET max_parallel_maintenance_workers = {parallel_workers}",
        f"SET max_parallel_workers_per_gather = {parallel_workers}",
        "SET work_mem = '256MB'",  # the foreign-key check is one big join
        "SET synchronous_commit = off",
        "SET jit = off",
        "SET TimeZone = 'UTC'",
    ]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- indexes and constraints -------------------------------------------------------


@dataclass
class Definition:
    table: str
    kind: str  # index | unique | check | exclusion | foreign key
    name: str
    sql: str  # recreates it
    drop: str


@dataclass
class Definitions:
    by_table: dict[str, list[Definition]] = field(default_factory=dict)
    incoming: list[Definition] = field(default_factory=list)  # other tables' FKs on ours

    def all(self) -> list[Definition]:
        return [d for defs in self.by_table.values() for d in defs] + self.incoming


CONSTRAINT_KINDS = {
    "u": "unique",
    "c": "check",
    "x": "exclusion",
    "f": "foreign key",
    "t": "trigger",
}
# recreated in this order within a table: indexes before the constraints that need them
KIND_ORDER = {"index": 0, "unique": 1, "exclusion": 1, "check": 2, "trigger": 3, "foreign key": 4}


async def record_definitions(conn: asyncpg.Connection, tables: list[str]) -> Definitions:
    """Every index and constraint of `tables` except primary keys, as SQL that recreates it."""
    defs = Definitions()
    dropped_indexes: set[int] = set()
    for table in tables:
        rel = await conn.fetchval("SELECT to_regclass($1)::oid", table)
        if rel is None:
            raise SystemExit(f"table {table} does not exist: are the migrations applied?")
        items: list[Definition] = []
        constraint_indexes = set()
        for row in await conn.fetch(
            """SELECT c.oid, c.conname, c.contype::text AS contype, c.conindid,
                      c.conrelid::regclass::text AS tbl, pg_get_constraintdef(c.oid) AS def
               FROM pg_constraint c
               WHERE c.conrelid = $1 AND c.contype <> 'p'
               ORDER BY c.oid""",
            rel,
        ):
            if row["contype"] not in CONSTRAINT_KINDS:  # e.g. 'n' (not null) on PG 18
                continue
            if row["contype"] in ("u", "x"):
                constraint_indexes.add(row["conindid"])
                dropped_indexes.add(row["conindid"])
            items.append(
                Definition(
                    table=table,
                    kind=CONSTRAINT_KINDS[row["contype"]],
                    name=row["conname"],
                    sql=f"ALTER TABLE {row['tbl']} ADD CONSTRAINT {quote_ident(row['conname'])} "
                    f"{row['def']}",
                    drop=f"ALTER TABLE {row['tbl']} DROP CONSTRAINT {quote_ident(row['conname'])}",
                )
            )
        for row in await conn.fetch(
            """SELECT i.indexrelid, ix.schemaname, ix.indexname, ix.indexdef
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_indexes ix ON ix.schemaname = n.nspname AND ix.indexname = c.relname
               WHERE i.indrelid = $1 AND NOT i.indisprimary
               ORDER BY c.relname""",
            rel,
        ):
            if row["indexrelid"] in constraint_indexes:
                continue  # recreated by its constraint
            dropped_indexes.add(row["indexrelid"])
            items.append(
                Definition(
                    table=table,
                    kind="index",
                    name=row["indexname"],
                    sql=row["indexdef"],
                    drop=f"DROP INDEX {quote_ident(row['schemaname'])}."
                    f"{quote_ident(row['indexname'])}",
                )
            )
        items.sort(key=lambda d: KIND_ORDER[d.kind])
        defs.by_table[table] = items
    # foreign keys of other tables that lean on a unique index we are about to drop
    loaded = [await conn.fetchval("SELECT to_regclass($1)::oid", t) for t in tables]
    for row in await conn.fetch(
        """SELECT c.conname, c.conrelid::regclass::text AS tbl, pg_get_constraintdef(c.oid) AS def
           FROM pg_constraint c
           WHERE c.contype = 'f' AND c.conindid = ANY($1::oid[]) AND NOT c.conrelid = ANY($2::oid[])
           ORDER BY c.oid""",
        list(dropped_indexes),
        loaded,
    ):
        defs.incoming.append(
            Definition(
                table=row["tbl"],
                kind="foreign key",
                name=row["conname"],
                sql=f"ALTER TABLE {row['tbl']} ADD CONSTRAINT {quote_ident(row['conname'])} "
                f"{row['def']}",
                drop=f"ALTER TABLE {row['tbl']} DROP CONSTRAINT {quote_ident(row['conname'])}",
            )
        )
    return defs


async def referencing_closure(conn: asyncpg.Connection, tables: list[str]) -> list[str]:
    """tables, plus every table whose foreign keys lead to them, directly or not."""
    rows = await conn.fetch(
        """WITH RECURSIVE reach(rel) AS (
               SELECT to_regclass(t)::oid FROM unnest($1::text[]) AS t
               UNION
               SELECT c.conrelid FROM pg_constraint c JOIN reach r ON c.confrelid = r.rel
               WHERE c.contype = 'f'
           )
           SELECT rel::regclass::text AS name FROM reach""",
        tables,
    )
    extra = sorted(r["name"] for r in rows if r["name"] not in tables)
    return [*tables, *extra]


async def drop_definitions(conn: asyncpg.Connection, defs: Definitions) -> None:
    # foreign keys first (they depend on the unique indexes), then the rest
    ordered = sorted(defs.all(), key=lambda d: -KIND_ORDER[d.kind])
    for d in ordered:
        await conn.execute(d.drop)


# --- streaming COPY ------------------------------------------------------------------


class Feeder:
    """Generates chunks in a child process; the event loop here only forwards the bytes.

    Python generation (one core) and PostgreSQL's COPY parsing (the other) then overlap;
    a thread would not do: it holds the GIL that the sending loop needs. The queue holds
    a few chunks at most, so memory stays constant.
    """

    def __init__(
        self, kind: str, jobs: list[tuple[PopulationSpec, int]], chunk_size: int, *, depth: int = 4
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._queue = ctx.Queue(maxsize=depth)
        self._process = ctx.Process(
            target=produce, args=(kind, jobs, chunk_size, self._queue), daemon=True
        )
        self.stats: list[Stats] = []
        self.wait_seconds = 0.0  # time the sender waited for the generator

    async def stream(self, on_chunk: Callable[[int], None]) -> AsyncIterator[bytes]:
        self._process.start()
        try:
            while True:
                started = time.perf_counter()
                kind, payload, rows = await asyncio.to_thread(self._queue.get)
                self.wait_seconds += time.perf_counter() - started
                if kind == "done":
                    self.stats = payload
                    return
                if kind == "error":
                    raise RuntimeError(f"generator process failed:\n{payload}")
                yield payload
                on_chunk(rows)
        finally:
            if self._process.is_alive():
                self._process.join(timeout=5)
            if self._process.is_alive():  # we are failing: stop our own child
                self._process.terminate()
                self._process.join()


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:  # type: ignore[no-untyped-def]
        return Text(f"{task.speed or 0:>10,.0f} rows/s")


class Reporter:
    """A rich progress bar on a terminal; a log line every few seconds otherwise."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.interactive = console.is_terminal
        self._last_log = 0.0

    def callback(
        self, task: TaskID, label: str, total: int, started: float
    ) -> Callable[[int], None]:
        done = 0

        def advance(rows: int) -> None:
            nonlocal done
            done += rows
            self.progress.advance(task, rows)
            now = time.perf_counter()
            if not self.interactive and (now - self._last_log >= 10 or done == total):
                self._last_log = now
                rate = done / max(now - started, 1e-9)
                console.log(f"{label}: {done:,}/{total:,} rows, {rate:,.0f} rows/s")

        return advance


async def copy_rows(
    conn: asyncpg.Connection,
    table: str,
    columns: list[str],
    feeder: Feeder,
    *,
    total: int,
    freeze: bool,
    reporter: Reporter,
    label: str,
) -> tuple[float, float]:
    """COPY the feeder's chunks into table; returns (seconds, seconds waiting on it)."""
    task = reporter.progress.add_task(label, total=total)
    started = time.perf_counter()
    await conn.copy_to_table(
        table,
        source=feeder.stream(reporter.callback(task, label, total, started)),
        columns=columns,
        format="text",
        freeze=freeze or None,
    )
    return time.perf_counter() - started, feeder.wait_seconds


# --- the run -------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    rows: int
    seconds: float
    note: str = ""


async def ensure_database(url: str, *, fresh: bool) -> bool:
    """Create the database if missing (dropping it first with --fresh). True if created."""
    name = (urlparse(url).path or "/").lstrip("/")
    if not name:
        raise SystemExit("the database URL names no database")
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and fresh:
            if "bench" not in name:
                raise SystemExit(f"--fresh drops the database: refusing for {name!r} (no 'bench')")
            console.log(f"dropping database {name}")
            await admin.execute(f"DROP DATABASE {quote_ident(name)} WITH (FORCE)")
            exists = False
        if not exists:
            console.log(f"creating database {name}")
            await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
        return not exists
    finally:
        await admin.close()


async def apply_migrations(url: str) -> None:
    from app.db import close_database, open_database

    await open_database(url)  # applies the app's migrations
    await close_database()


async def existing_workspace(conn: asyncpg.Connection, name: str) -> int | None:
    return await conn.fetchval("SELECT min(id) FROM workspaces WHERE name = $1", name)


async def describe_existing(conn: asyncpg.Connection, workspace_id: int, name: str) -> None:
    people = await conn.fetchval(
        "SELECT count(*) FROM people WHERE workspace_id = $1", workspace_id
    )
    events = await conn.fetchval(
        "SELECT count(*) FROM events WHERE workspace_id = $1", workspace_id
    )
    console.print(
        f"workspace {name!r} already loaded: id {workspace_id}, {people:,} people, "
        f"{events:,} events (use --fresh to regenerate)"
    )


async def load(args: argparse.Namespace, url: str) -> int:
    phases: list[Phase] = []
    t = time.perf_counter()
    await ensure_database(url, fresh=args.fresh)
    await apply_migrations(url)
    phases.append(Phase("create + migrate", 0, time.perf_counter() - t))

    conn = await asyncpg.connect(url)
    try:
        found = await existing_workspace(conn, args.workspace_name)
        if found is not None:
            await describe_existing(conn, found, args.workspace_name)
            print(f"WORKSPACE_ID={found}")
            return found
        for statement in session_settings(args.parallel_workers):
            await conn.execute(statement)

        now = int(time.time())
        noise_people = round(args.people * NOISE_SHARE) if args.noise else 0
        noise_events = round(args.events * NOISE_SHARE) if noise_people else 0
        progress = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        reporter = Reporter(progress)
        index_timings: list[tuple[str, float]] = []
        async with conn.transaction():
            closure = await referencing_closure(conn, LOADED_TABLES)
            empty = not any(
                [await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {t})") for t in closure]
            )
            if empty:
                # truncated in this transaction: COPY FREEZE writes frozen, all-visible pages,
                # so the VACUUM afterwards has nothing to rewrite. TRUNCATE must name every
                # table whose foreign keys reach these; all of them are empty.
                await conn.execute(f"TRUNCATE {', '.join(closure)}")
            workspace_id = await conn.fetchval(
                "INSERT INTO workspaces (name) VALUES ($1) RETURNING id", args.workspace_name
            )
            noise_id = None
            if noise_people:
                noise_id = await conn.fetchval(
                    "INSERT INTO workspaces (name) VALUES ($1) RETURNING id",
                    f"{args.workspace_name}-noise",
                )
            console.log(f"workspace {args.workspace_name!r}: id {workspace_id}")

            t = time.perf_counter()
            defs = await record_definitions(conn, LOADED_TABLES)
            await drop_definitions(conn, defs)
            console.log(
                "dropped for the load: "
                + ", ".join(f"{d.table}.{d.name} ({d.kind})" for d in defs.all())
            )
            first_id = (await conn.fetchval("SELECT coalesce(max(id), 0) FROM people")) + 1
            jobs = [
                (
                    PopulationSpec(workspace_id, first_id, args.people, now, args.seed),
                    args.events,
                )
            ]
            if noise_id is not None:
                jobs.append(
                    (
                        PopulationSpec(
                            noise_id, first_id + args.people, noise_people, now, args.seed + 1
                        ),
                        noise_events,
                    )
                )
            phases.append(Phase("record + drop indexes", 0, time.perf_counter() - t))

            with progress:
                total_people = args.people + noise_people
                people_feed = Feeder("people", jobs, PEOPLE_CHUNK)
                seconds, waited = await copy_rows(
                    conn,
                    "people",
                    PEOPLE_COLUMNS,
                    people_feed,
                    total=total_people,
                    freeze=empty,
                    reporter=reporter,
                    label="people COPY",
                )
                phases.append(
                    Phase(
                        "people COPY", total_people, seconds, f"waited on generator {waited:.1f}s"
                    )
                )
                await conn.execute(
                    "SELECT setval(pg_get_serial_sequence('people', 'id'),"
                    " (SELECT max(id) FROM people))"
                )
                t = time.perf_counter()
                await rebuild(conn, defs.by_table["people"], index_timings)
                phases.append(Phase("people indexes", total_people, time.perf_counter() - t))

                total_events = args.events + noise_events
                events_feed = Feeder("events", jobs, EVENTS_CHUNK)
                seconds, waited = await copy_rows(
                    conn,
                    "events",
                    EVENT_COLUMNS,
                    events_feed,
                    total=total_events,
                    freeze=empty,
                    reporter=reporter,
                    label="events COPY",
                )
                phases.append(
                    Phase(
                        "events COPY", total_events, seconds, f"waited on generator {waited:.1f}s"
                    )
                )
            t = time.perf_counter()
            await rebuild(conn, defs.by_table["events"], index_timings)
            await rebuild(conn, defs.incoming, index_timings)
            phases.append(Phase("events indexes + keys", total_events, time.perf_counter() - t))
            t = time.perf_counter()
        phases.append(Phase("commit", 0, time.perf_counter() - t))

        t = time.perf_counter()
        for table in ["workspaces", *LOADED_TABLES, *TRIGGER_FILLED]:
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        phases.append(Phase("VACUUM ANALYZE", total_people + total_events, time.perf_counter() - t))

        generated = [
            (spec.workspace_id, people.merge(events))
            for (spec, _), people, events in zip(
                jobs, people_feed.stats, events_feed.stats, strict=True
            )
        ]
        report(args, url, phases, index_timings, generated)
        await report_database(conn, workspace_id, noise_id)
        print(f"WORKSPACE_ID={workspace_id}")
        return workspace_id
    finally:
        await conn.close()


async def rebuild(
    conn: asyncpg.Connection, defs: list[Definition], timings: list[tuple[str, float]]
) -> None:
    for d in defs:
        t = time.perf_counter()
        await conn.execute(d.sql)
        seconds = time.perf_counter() - t
        timings.append((f"{d.table}.{d.name} ({d.kind})", seconds))
        console.log(f"rebuilt {d.table}.{d.name} ({d.kind}) in {seconds:.1f}s")


# --- reports -------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    url: str,
    phases: list[Phase],
    index_timings: list[tuple[str, float]],
    generated: list[tuple[int, Stats]],
) -> None:
    table = Table(title=f"Loaded {urlparse(url).path.lstrip('/')}")
    table.add_column("phase")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("note")
    for p in phases:
        rate = f"{p.rows / p.seconds:,.0f}" if p.rows and p.seconds else ""
        table.add_row(p.name, f"{p.rows:,}" if p.rows else "", f"{p.seconds:.1f}", rate, p.note)
    table.add_row("total", "", f"{sum(p.seconds for p in phases):.1f}", "", "")
    console.print(table)

    idx = Table(title="Index and constraint builds")
    idx.add_column("definition")
    idx.add_column("seconds", justify="right")
    for name, seconds in index_timings:
        idx.add_row(name, f"{seconds:.1f}")
    console.print(idx)

    gen = Table(title="Generated data (generator's own counts)")
    gen.add_column("workspace")
    gen.add_column("people", justify="right")
    gen.add_column("events", justify="right")
    gen.add_column("zero events", justify="right")
    gen.add_column("events/person p50 / p90 / p99 / max", justify="right")
    gen.add_column("generator s", justify="right")
    for workspace_id, st in generated:
        pp = st.per_person
        assert pp is not None
        if pp.size:
            pct = np.percentile(pp, [50, 90, 99])
            spread = f"{pct[0]:.0f} / {pct[1]:.0f} / {pct[2]:.0f} / {pp.max():,}"
            zero = f"{(pp == 0).mean() * 100:.1f}%"
        else:
            spread = zero = "-"
        gen.add_row(
            str(workspace_id),
            f"{st.people:,}",
            f"{st.events:,}",
            zero,
            spread,
            f"{st.generate_seconds:.1f}",
        )
    console.print(gen)

    main_id, main = generated[0]
    names = Table(title=f"Events per name (workspace {main_id})")
    names.add_column("name")
    names.add_column("events", justify="right")
    names.add_column("share", justify="right")
    for name, n in zip(EVENT_NAMES, main.per_name.tolist(), strict=True):
        names.add_row(name, f"{n:,}", f"{n / max(main.events, 1) * 100:.1f}%")
    console.print(names)
    if main.purchase_values:
        values = np.concatenate(main.purchase_values)
        if values.size:
            p = np.percentile(values, [50, 90, 99])
            console.print(
                f"purchase value: median ${p[0]:.2f}, p90 ${p[1]:.2f}, p99 ${p[2]:.2f}, "
                f"max ${values.max():,.2f}, sum ${values.sum():,.0f}"
            )
    people = max(main.people, 1)
    console.print(
        "status: "
        + ", ".join(f"{k} {v / people * 100:.1f}%" for k, v in sorted(main.statuses.items()))
    )
    console.print(
        "tags: "
        + ", ".join(
            f"{k} {v / people * 100:.1f}%"
            for k, v in sorted(main.tags.items(), key=lambda kv: -kv[1])
        )
    )
    console.print(
        "countries: "
        + ", ".join(
            f"{k} {v / people * 100:.1f}%"
            for k, v in sorted(main.countries.items(), key=lambda kv: -kv[1])[:10]
        )
    )


async def report_database(
    conn: asyncpg.Connection, workspace_id: int, noise_id: int | None
) -> None:
    sizes = await conn.fetch(
        """SELECT relname, pg_size_pretty(pg_table_size(oid)) AS heap,
                  pg_size_pretty(pg_indexes_size(oid)) AS indexes
           FROM pg_class WHERE relname = ANY($1::text[]) ORDER BY relname""",
        LOADED_TABLES,
    )
    db = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    console.print(
        f"database size {db}; "
        + "; ".join(f"{r['relname']}: heap {r['heap']}, indexes {r['indexes']}" for r in sizes)
    )
    console.print(
        f"workspace ids: main {workspace_id}" + (f", noise {noise_id}" if noise_id else "")
    )


# --- CLI -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate",
        description="Load synthetic people and events into PostgreSQL with COPY.",
    )
    parser.add_argument(
        "--database-url",
        help="postgres://user@host:port/db (default: postgres://postgres@127.0.0.1:5432/"
        "sieve_bench for 1M/20M, sieve_bench_<people> otherwise, e.g. sieve_bench_10k)",
    )
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--workspace-name", default="bench")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="drop and recreate the database (name must contain 'bench')",
    )
    parser.add_argument(
        "--no-noise",
        dest="noise",
        action="store_false",
        help="skip the second workspace with 1%% as many people and events",
    )
    parser.add_argument(
        "--parallel-workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="max_parallel_maintenance_workers for the index builds (default: cores - 1)",
    )
    args = parser.parse_args(argv)
    if args.people < 1 or args.events < 0:
        parser.error("--people must be at least 1 and --events at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.database_url or (
        f"postgres://postgres@127.0.0.1:5432/{default_database(args.people, args.events)}"
    )
    console.log(f"{args.people:,} people, {args.events:,} events -> {url}")
    asyncio.run(load(args, url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
