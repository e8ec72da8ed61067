"""Segment evaluation benchmark: compiled SQL vs hand-written SQL, through GraphQL and at
the database, for six named segments (benchmarks/_segment_cases.py).

    python -m benchmarks.segments --database-url postgres://postgres@127.0.0.1:5432/sieve_bench \\
        --workspace-id 1
    # both sizes in one run (the default when no URL is given): 1M, then 10k
    python -m benchmarks.segments \\
        --database-url postgres://postgres@127.0.0.1:5432/sieve_bench --workspace-id 1 \\
        --database-url postgres://postgres@127.0.0.1:5432/sieve_bench_10k --workspace-id 1

Per database: starts a real uvicorn server on the app (migrations not applied: the
benchmark never changes the schema of a shared database), creates an API key and the
segments through `createSegment`, then measures, each measurement warmed up right before
it and taken as the median of 5 (compiled and hand-written alternate, side by side):

- count: `segment(id){count}` over HTTP; the compiled statement that `count_members`
  issues, run alone; the hand-written count;
- the first page of 100 members (`members(first: 100)` over HTTP, which also computes
  `totalCount`) and at the database; a 1,000-member keyset page after a cursor from the
  middle of the segment, at the database;
- membership of 1,000 people (half members, half drawn from everyone): p50/p99 of
  `segment(id){contains(personId)}` over HTTP, of the compiled one-person statement
  (`evaluate.contains`) and of the hand-written check; and `memberships(personId)` for
  all six segments at once.

"The compiled SQL" is captured from app.segments.evaluate itself (its fetch functions are
wrapped), so it is exactly what the app sends, with the same parameters. Statements run
on asyncpg connections with the app's own session settings plus any `--set name=value`:
`app.db.PG_SESSION_SETTINGS` for counts and pages, `app.db.PG_POINT_SETTINGS` (generic
plans, as the app's `point` pool) for the one-person checks, hand-written ones included.

Cleans up: the segments and the API key it created are deleted at the end (and
segments left by an interrupted run, recognised by their name prefix, at the start).
`--explain FILE` writes EXPLAIN (ANALYZE, BUFFERS) of the compiled and hand-written
statements to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from app.db import PG_POINT_SETTINGS, PG_SESSION_SETTINGS
from benchmarks._segment_cases import CASES, Case, resolve

DEFAULT_TARGETS = [
    ("postgres://postgres@127.0.0.1:5432/sieve_bench", 1),
    ("postgres://postgres@127.0.0.1:5432/sieve_bench_10k", 1),
]
NAME_PREFIX = "[bench:segments] "
RUNS = 5
CHECKS = 1000
PAGE = 100
BIG_PAGE = 1000
LANES = 8  # connections for the statements member_page sends side by side (up to 7)
APP_SETTINGS = dict(PG_SESSION_SETTINGS)  # exactly the app's own sessions
POINT_SETTINGS = dict(PG_POINT_SETTINGS)  # ... and its one-person reads' (generic plans)

console = Console(width=None if sys.stdout.isatty() else 200)
Statement = tuple[str, list[Any]]

COUNT = "query($id: ID!) { segment(id: $id) { count } }"
MEMBERS = """query($id: ID!, $first: Int!) { segment(id: $id) {
  members(first: $first) { edges { node { id email } } pageInfo { hasNextPage endCursor } } } }"""
CONTAINS = "query($id: ID!, $p: ID!) { segment(id: $id) { contains(personId: $p) } }"
MEMBERSHIPS = (
    "query($p: ID!, $ids: [ID!]) { memberships(personId: $p, segmentIds: $ids) { member } }"
)
CREATE = """mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) { segment { id } userErrors { path message code } } }"""
DELETE = "mutation($id: ID!) { deleteSegment(id: $id) { userErrors { message } } }"


def server_app() -> Any:
    """The real app for `uvicorn --factory`, opening the database without migrating it."""
    import app.main as main

    main.open_database = partial(main.open_database, migrate=False)  # type: ignore[assignment]
    return main.create_app()


# ------------------------------------------------------------------------ timing


def ms(seconds: float) -> float:
    return seconds * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def timed(run: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await run()
    return ms(time.perf_counter() - started), result


async def side_by_side(
    runs: dict[str, Callable[[], Awaitable[Any]]], n: int = RUNS
) -> dict[str, tuple[float, Any]]:
    """Warm each once right before measuring, then n alternating rounds: the medians."""
    results: dict[str, Any] = {}
    for name, run in runs.items():
        results[name] = await run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(n):
        for name, run in runs.items():
            elapsed, _ = await timed(run)
            samples[name].append(elapsed)
    return {name: (statistics.median(samples[name]), results[name]) for name in runs}


# ------------------------------------------------------------- compiled statements


class Captured(list[Statement]):
    """Statements in the order sent; `lanes[i]` is 0 for one sent by the capturing task
    itself, else a number per task it ran in alongside others (member_page reads the
    bounded branches of an OR side by side, on separate connections)."""

    def __init__(self) -> None:
        super().__init__()
        self.lanes: list[int] = []
        self._tasks: dict[int, int] = {}
        self._owner = asyncio.current_task()

    def add(self, statement: Statement) -> None:
        task = asyncio.current_task()
        lane = 0 if task is self._owner else self._tasks.setdefault(id(task), len(self._tasks) + 1)
        self.append(statement)
        self.lanes.append(lane)


@contextlib.contextmanager
def captured(execute: bool) -> Iterator[Captured]:
    """Every statement app.segments.evaluate sends, with its parameters. With
    `execute=False` nothing reaches the database (an empty answer comes back)."""
    from app.segments import evaluate

    seen = Captured()
    real_all, real_one = evaluate.fetch_all, evaluate.fetch_one

    async def fetch_all(conn: Any, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        seen.add((sql, list(params)))
        return await real_all(conn, sql, params) if execute else []

    async def fetch_one(conn: Any, sql: str, params: Any = ()) -> dict[str, Any] | None:
        seen.add((sql, list(params)))
        return await real_one(conn, sql, params) if execute else None

    evaluate.fetch_all, evaluate.fetch_one = fetch_all, fetch_one  # type: ignore[assignment]
    try:
        yield seen
    finally:
        evaluate.fetch_all, evaluate.fetch_one = real_all, real_one  # type: ignore[assignment]


@dataclass
class Compiled:
    evaluation: Any  # app.segments.service.Evaluation, one `now`
    count: Statement
    page: Captured  # member_page issues one or more per branch of a top-level OR
    big_page: Captured

    async def check(self, person_id: int) -> Statement:
        with captured(execute=False) as seen:
            await self.evaluation.contains(person_id)
        return seen[0]


async def evaluation_of(gid: str, workspace_id: int) -> Any:
    """The segment as the app evaluates it: definitions loaded, one `now` fixed."""
    from app.segments import service

    model = await service.get_segment(workspace_id, int(gid.split("_")[1]))
    return await service.evaluation_of(workspace_id, model)


async def capture(evaluation: Any, cursor: int) -> Compiled:
    """The statements count_members and member_page send (pages run, to follow their
    fallback from the row stretch to the set form exactly as the app does)."""
    with captured(execute=False) as seen:
        await evaluation.count()
    with captured(execute=True) as page:
        await evaluation.page(None, PAGE)
    with captured(execute=True) as big:
        await evaluation.page(cursor, BIG_PAGE)
    return Compiled(evaluation, seen[0], page, big)


async def run_all(lanes: list[asyncpg.Connection], statements: Captured, limit: int) -> list[Any]:
    """The statements of one member_page, sent as it sends them (in order; those it sent
    side by side, side by side, one connection each) and merged as it merges them (a
    top-level OR is paged branch by branch: the page is the first `limit` of their union).
    """
    ids: set[int] = set()

    async def run(conn: asyncpg.Connection, batch: list[Statement]) -> None:
        for sql, params in batch:  # an event-driven page's reach row (last, n) is no member
            ids.update(r["id"] for r in await conn.fetch(sql, *params) if r.get("n") is None)

    side: dict[int, list[Statement]] = {}
    for statement, lane in [*zip(statements, statements.lanes, strict=True), (None, 0)]:
        if lane:
            side.setdefault(lane, []).append(statement)
            continue
        if side:
            batches = list(side.values())
            assert len(batches) <= len(lanes), "more statements side by side than LANES"
            await asyncio.gather(*(run(c, b) for c, b in zip(lanes, batches)))  # noqa: B905
            side = {}
        if statement is not None:
            await run(lanes[0], [statement])
    return [(i,) for i in sorted(ids)[:limit]]


_SUPERSCRIPTS = {2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸"}


def fetch_value(conn: asyncpg.Connection, statement: Statement) -> Callable[[], Awaitable[Any]]:
    return lambda: conn.fetchval(statement[0], *statement[1])


# ---------------------------------------------------------------------- GraphQL


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables})
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]


@contextlib.asynccontextmanager
async def server(url: str, key: str) -> Any:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the per-key rate limit (50/s by default) would refuse the benchmark's own bursts
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_PER_SECOND": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "benchmarks.segments:server_app", "--factory",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(
            base_url=base, timeout=600, headers={"Authorization": f"Bearer {key}"}
        ) as client:
            for _ in range(150):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/health", timeout=1)).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("the server did not start")
            yield Api(client)
    finally:
        process.terminate()
        process.wait(timeout=30)


# ---------------------------------------------------------------------- results


@dataclass
class Row:
    case: Case
    members: int = 0
    agree: bool = True  # compiled and hand-written answers identical
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class SizeResult:
    label: str
    people: int
    events: int
    rows: list[Row]
    memberships: dict[str, float]


def _pid(person: int) -> str:
    return f"per_{person}"


async def sample_people(
    conn: asyncpg.Connection, ws: int, members_sql: Statement, seed: int
) -> list[int]:
    """Half members, half drawn from everyone (members among them too), shuffled."""
    rng = random.Random(seed)
    everyone = [r[0] for r in await conn.fetch("SELECT id FROM people WHERE workspace_id = $1", ws)]
    members = [r[0] for r in await conn.fetch(members_sql[0], *members_sql[1])]
    picked = rng.sample(members, min(len(members), CHECKS // 2))
    picked += rng.sample(everyone, CHECKS - len(picked))
    rng.shuffle(picked)
    return picked


async def measure_case(
    lanes: list[asyncpg.Connection],
    point: asyncpg.Connection,
    api: Api,
    case: Case,
    gid: str,
    ws: int,
    seed: int,
) -> Row:
    conn = lanes[0]
    row = Row(case)
    evaluation = await evaluation_of(gid, ws)
    now: datetime = evaluation.now  # one moment for compiled and hand-written alike
    hand = case.hand
    members_sql = hand.members(ws, now)
    members = sorted(r[0] for r in await conn.fetch(*_flat(members_sql)))
    row.members = len(members)
    cursor = members[len(members) // 2] if members else 0
    compiled = await capture(evaluation, cursor)

    # --- count
    hand_count = hand.count(ws, now)
    counts = await side_by_side(
        {
            "compiled": fetch_value(conn, compiled.count),
            "hand": fetch_value(conn, hand_count),
        }
    )
    gql = await side_by_side({"gql": lambda: api(COUNT, id=gid)})
    row.figures |= {
        "count_gql": gql["gql"][0],
        "count_sql": counts["compiled"][0],
        "count_hand": counts["hand"][0],
    }
    gql_count = gql["gql"][1]["segment"]["count"]
    if not (counts["compiled"][1] == counts["hand"][1] == len(members)):
        row.agree = False
        row.notes.append(
            f"counts differ: compiled {counts['compiled'][1]}, hand {counts['hand'][1]},"
            f" members {len(members)}"
        )
    if gql_count != len(members):  # the server's `now` is a little later: windows slid
        row.notes.append(f"GraphQL count {gql_count:,} (its own, later now)")

    # --- pages
    pages = await side_by_side(
        {
            "compiled": lambda: run_all(lanes, compiled.page, PAGE),
            "hand": lambda: conn.fetch(*_flat(hand.page(ws, now, -1, PAGE))),
            "compiled_big": lambda: run_all(lanes, compiled.big_page, BIG_PAGE),
            "hand_big": lambda: conn.fetch(*_flat(hand.page(ws, now, cursor, BIG_PAGE))),
        }
    )
    gql_page = await side_by_side({"gql": lambda: api(MEMBERS, id=gid, first=PAGE)})
    row.figures |= {
        "page_gql": gql_page["gql"][0],
        "page_sql": pages["compiled"][0],
        "page_hand": pages["hand"][0],
        "big_sql": pages["compiled_big"][0],
        "big_hand": pages["hand_big"][0],
        "page_statements": len(compiled.page),
        "big_statements": len(compiled.big_page),
    }
    expected_first = members[:PAGE]
    expected_big = [m for m in members if m > cursor][:BIG_PAGE]
    got = {
        "compiled first page": [r[0] for r in pages["compiled"][1]],
        "hand first page": [r[0] for r in pages["hand"][1]],
    }
    edges = gql_page["gql"][1]["segment"]["members"]["edges"]
    if [int(e["node"]["id"].split("_")[1]) for e in edges] != expected_first:
        row.notes.append("GraphQL first page differs (its own, later now)")
    got_big = {
        "compiled 1,000 page": [r[0] for r in pages["compiled_big"][1]],
        "hand 1,000 page": [r[0] for r in pages["hand_big"][1]],
    }
    for what, ids in got.items():
        if ids != expected_first:
            row.agree = False
            row.notes.append(f"{what} differs from the member set")
    for what, ids in got_big.items():
        if ids != expected_big:
            row.agree = False
            row.notes.append(f"{what} differs from the member set")

    # --- membership checks
    people = await sample_people(conn, ws, members_sql, seed)
    member_set = set(members)
    compiled_checks = [await compiled.check(p) for p in people]
    hand_checks = [hand.check(ws, now, p) for p in people]
    for statement in (*compiled_checks, *hand_checks):  # warm
        await point.fetchval(*_flat(statement))
    db_compiled: list[float] = []
    db_hand: list[float] = []
    wrong = gql_wrong = 0
    for person, c_stmt, h_stmt in zip(people, compiled_checks, hand_checks, strict=True):
        t, answer = await timed(fetch_value(point, c_stmt))
        db_compiled.append(t)
        t, hand_answer = await timed(fetch_value(point, h_stmt))
        db_hand.append(t)
        wrong += (bool(answer) != (person in member_set)) + (
            bool(hand_answer) != (person in member_set)
        )
    for person in people[:100]:  # warm the server's path
        await api(CONTAINS, id=gid, p=_pid(person))
    gql_checks: list[float] = []
    for person in people:
        t, data = await timed(partial(api, CONTAINS, id=gid, p=_pid(person)))
        gql_checks.append(t)
        gql_wrong += data["segment"]["contains"] != (person in member_set)
    if wrong:
        row.agree = False
        row.notes.append(f"{wrong} membership answers differ from the member set")
    if gql_wrong:
        row.notes.append(f"{gql_wrong} GraphQL contains answers differ (its own, later now)")
    row.figures |= {
        "check_sql_p50": pct(db_compiled, 0.5),
        "check_sql_p99": pct(db_compiled, 0.99),
        "check_hand_p50": pct(db_hand, 0.5),
        "check_hand_p99": pct(db_hand, 0.99),
        "check_gql_p50": pct(gql_checks, 0.5),
        "check_gql_p99": pct(gql_checks, 0.99),
        "member_share": sum(p in member_set for p in people) / len(people),
    }
    return row


def _flat(statement: Statement) -> list[Any]:
    return [statement[0], *statement[1]]


async def measure_memberships(api: Api, ids: list[str], people: list[int]) -> dict[str, float]:
    for person in people[:100]:
        await api(MEMBERSHIPS, p=_pid(person), ids=ids)
    samples = []
    for person in people:
        t, _ = await timed(partial(api, MEMBERSHIPS, p=_pid(person), ids=ids))
        samples.append(t)
    return {"p50": pct(samples, 0.5), "p99": pct(samples, 0.99)}


# ---------------------------------------------------------------------- explain


async def explain(conn: asyncpg.Connection, statement: Statement) -> str:
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement[0]}", *statement[1])
    return "\n".join(r[0] for r in rows)


async def write_explains(
    conn: asyncpg.Connection, label: str, ws: int, cases: list[tuple[Case, str]], out: Any
) -> None:
    for case, gid in cases:
        evaluation = await evaluation_of(gid, ws)
        now = evaluation.now
        members = sorted(r[0] for r in await conn.fetch(*_flat(case.hand.members(ws, now))))
        cursor = members[len(members) // 2] if members else 0
        compiled = await capture(evaluation, cursor)
        person = members[len(members) // 3] if members else 1
        pairs = [
            ("count", [compiled.count], case.hand.count(ws, now)),
            (
                "1,000 page after a cursor",
                compiled.big_page,
                case.hand.page(ws, now, cursor, BIG_PAGE),
            ),
            (
                "one-person check (a member)",
                [await compiled.check(person)],
                case.hand.check(ws, now, person),
            ),
        ]
        for what, compiled_statements, hand_statement in pairs:
            for statement in [*compiled_statements, hand_statement]:  # warm
                await conn.fetch(*_flat(statement))
            for n, statement in enumerate(compiled_statements, 1):
                out.write(f"\n===== {label} ({case.key}) {case.title}: {what}, COMPILED #{n}\n")
                out.write(f"-- {statement[0]}\n-- params: {statement[1]!r}\n")
                out.write(await explain(conn, statement) + "\n")
            out.write(f"\n===== {label} ({case.key}) {case.title}: {what}, HAND\n")
            out.write(f"-- {hand_statement[0]}\n-- params: {hand_statement[1]!r}\n")
            out.write(await explain(conn, hand_statement) + "\n")
        out.flush()


# ---------------------------------------------------------------------- the run


async def _api_key(ws: int) -> tuple[str, int]:
    from app.people.models import ApiKey
    from app.tenancy import create_api_key, hash_key

    key = await create_api_key(ws)
    row = await ApiKey.get(key_hash=hash_key(key))
    return key, row.id


async def delete_leftovers(ws: int, prefix: str = NAME_PREFIX) -> None:
    """Segments an interrupted run left behind (named with the benchmark's prefix)."""
    from app.segments import service
    from app.segments.models import Segment

    query = Segment.filter(workspace_id=ws, name__startswith=prefix).order_by("-id")
    for segment in await query:
        await service.delete_segment(ws, segment.id)


async def create_segments(
    api: Api, prefix: str = NAME_PREFIX, by: str = "benchmarks/segments.py"
) -> dict[str, str]:
    """The cases' segments through the API, in order (a reference needs its target first)."""
    ids: dict[str, str] = {}
    for case in CASES:
        data = await api(
            CREATE,
            input={
                "name": f"{prefix}({case.key}) {case.title}",
                "description": f"created by {by}; deleted when it ends",
                "definition": resolve(case.definition, ids),
            },
        )
        payload = data["createSegment"]
        if payload["userErrors"]:
            raise RuntimeError(f"createSegment ({case.key}): {payload['userErrors']}")
        ids[case.key] = payload["segment"]["id"]
    return ids


async def delete_segments(api: Api | None, ws: int, ids: dict[str, str]) -> None:
    from app.segments import service

    for key in reversed(list(ids)):  # referrers first
        if api is not None:
            with contextlib.suppress(Exception):
                data = await api(DELETE, id=ids[key])
                if not data["deleteSegment"]["userErrors"]:
                    continue
        with contextlib.suppress(Exception):
            await service.delete_segment(ws, int(ids[key].split("_")[1]))


async def run_size(url: str, ws: int, args: argparse.Namespace) -> SizeResult:
    from app.db import database
    from app.people.models import ApiKey

    label = url.rsplit("/", 1)[-1]
    async with database(url, migrate=False):
        await delete_leftovers(ws)
        key, key_id = await _api_key(ws)
        lanes = [await asyncpg.connect(url, server_settings=APP_SETTINGS) for _ in range(LANES)]
        conn = lanes[0]
        point = await asyncpg.connect(url, server_settings=POINT_SETTINGS)
        ids: dict[str, str] = {}
        api: Api | None = None
        try:
            for setting in args.set:
                name, _, value = setting.partition("=")
                for session in (*lanes, point):
                    await session.execute("SELECT set_config($1, $2, false)", name, value)
            people = await conn.fetchval("SELECT count(*) FROM people WHERE workspace_id = $1", ws)
            events = await conn.fetchval("SELECT count(*) FROM events WHERE workspace_id = $1", ws)
            async with server(url, key) as api:
                ids = await create_segments(api)
                if args.explain:
                    with open(args.explain, "a") as out:
                        await write_explains(conn, label, ws, [(c, ids[c.key]) for c in CASES], out)
                rows = []
                for n, case in enumerate(CASES):
                    if args.only and case.key not in args.only:
                        continue
                    console.log(f"{label}: ({case.key}) {case.title}")
                    rows.append(
                        await measure_case(lanes, point, api, case, ids[case.key], ws, seed=n)
                    )
                console.log(f"{label}: memberships of one person in all six")
                rng = random.Random(99)
                everyone = [
                    r[0]
                    for r in await conn.fetch("SELECT id FROM people WHERE workspace_id = $1", ws)
                ]
                sampled = rng.sample(everyone, CHECKS)
                both = await measure_memberships(api, list(ids.values()), sampled)
                await delete_segments(api, ws, ids)
                ids = {}
        finally:
            await delete_segments(None, ws, ids)
            await ApiKey.filter(id=key_id).delete()
            for session in (*lanes, point):
                await session.close()
    return SizeResult(label, people, events, rows, both)


# ---------------------------------------------------------------------- report


def _f(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "–"


def render(result: SizeResult) -> list[Table]:
    head = f"{result.label}: {result.people:,} people / {result.events:,} events"
    counts = Table(title=f"{head} — counts and pages (ms, warm, median of {RUNS})")
    for name in ("segment", "members", "count GQL", "count SQL", "count hand", "SQL/hand",
                 "page100 GQL", "page100 SQL", "page100 hand", "page1000 SQL", "page1000 hand",
                 "SQL/hand", "ok"):  # fmt: skip
        counts.add_column(name, justify="left" if name == "segment" else "right")
    checks = Table(title=f"{head} — membership of {CHECKS:,} people (ms: p50 / p99)")
    for name in ("segment", "members in sample", "GQL contains", "SQL compiled", "SQL hand",
                 "p99 SQL/hand"):  # fmt: skip
        checks.add_column(name, justify="left" if name == "segment" else "right")
    for row in result.rows:
        f = row.figures
        counts.add_row(
            f"({row.case.key}) {row.case.title}", f"{row.members:,}",
            _f(f["count_gql"]), _f(f["count_sql"]), _f(f["count_hand"]),
            _ratio(f["count_sql"], f["count_hand"]),
            _f(f["page_gql"]), _f(f["page_sql"]) + _SUPERSCRIPTS.get(f["page_statements"], ""),
            _f(f["page_hand"]),
            _f(f["big_sql"]) + _SUPERSCRIPTS.get(f["big_statements"], ""), _f(f["big_hand"]),
            _ratio(f["big_sql"], f["big_hand"]),
            ("✓" if row.agree else "✗") + "".join(f" {n}" for n in row.notes),
        )  # fmt: skip
        checks.add_row(
            f"({row.case.key}) {row.case.title}", f"{f['member_share']:.0%}",
            f"{_f(f['check_gql_p50'])} / {_f(f['check_gql_p99'])}",
            f"{_f(f['check_sql_p50'])} / {_f(f['check_sql_p99'])}",
            f"{_f(f['check_hand_p50'])} / {_f(f['check_hand_p99'])}",
            _ratio(f["check_sql_p99"], f["check_hand_p99"]),
        )  # fmt: skip
    checks.add_row(
        "memberships(personId) in all six", "–",
        f"{_f(result.memberships['p50'])} / {_f(result.memberships['p99'])}", "", "", "",
    )  # fmt: skip
    return [counts, checks]


def render_targets(results: list[SizeResult]) -> Table:
    table = Table(title="Targets (issue 3): ✓ met, ✗ missed")
    for name in ("database", "segment", "count ≤ 1.3× hand", "check p99 ≤ 1 ms (SQL)",
                 "check p99 ≤ 10 ms (GQL)", "page1000 ≤ 20 ms (SQL)", "p99 vs 10k ≤ 1.5× (SQL / GQL)"):  # fmt: skip
        table.add_column(name)
    small = results[-1] if len(results) > 1 else None
    for result in results:
        for row in result.rows:
            f = row.figures
            scale = ""
            if small is not None and result is not small:
                other = next((r for r in small.rows if r.case.key == row.case.key), None)
                if other is not None:
                    a = f["check_sql_p99"] / other.figures["check_sql_p99"]
                    b = f["check_gql_p99"] / other.figures["check_gql_p99"]
                    scale = (
                        f"{'✓' if a <= 1.5 else '✗'} {a:.2f}× / {'✓' if b <= 1.5 else '✗'} {b:.2f}×"
                    )
            table.add_row(
                result.label, f"({row.case.key})",
                _mark(f["count_sql"] / f["count_hand"] <= 1.3, _ratio(f["count_sql"], f["count_hand"])),
                _mark(f["check_sql_p99"] <= 1, _f(f["check_sql_p99"])),
                _mark(f["check_gql_p99"] <= 10, _f(f["check_gql_p99"])),
                _mark(f["big_sql"] <= 20, _f(f["big_sql"])),
                scale,
            )  # fmt: skip
    return table


def _mark(ok: bool, text: str) -> str:
    return f"{'✓' if ok else '✗'} {text}"


async def main_async(args: argparse.Namespace) -> None:
    urls = args.database_url or [u for u, _ in DEFAULT_TARGETS]
    workspaces = args.workspace_id or [w for _, w in DEFAULT_TARGETS][: len(urls)]
    if len(workspaces) != len(urls):
        raise SystemExit("give one --workspace-id per --database-url")
    if args.explain:
        open(args.explain, "w").close()
    results = []
    for url, ws in zip(urls, workspaces, strict=True):
        results.append(await run_size(url, ws, args))
        for table in render(results[-1]):
            console.print(table)
    console.print(
        f"{os.cpu_count()} cores; PostgreSQL session settings: {APP_SETTINGS}"
        + (f" + {args.set}" if args.set else "")
        + "; ² ³ … = member_page issued that many statements (a top-level OR, branch by"
        " branch; once one branch fills the page, the rest side by side)"
    )
    for result in results:
        for table in render(result):
            console.print(table)
    console.print(render_targets(results))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", action="append", help="repeatable: one per size")
    parser.add_argument("--workspace-id", action="append", type=int, help="one per --database-url")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="extra session setting for the SQL timings, e.g. work_mem=64MB")  # fmt: skip
    parser.add_argument("--only", action="append", help="only these cases (i, ii, ... vi)")
    parser.add_argument("--explain", metavar="FILE", help="write EXPLAIN (ANALYZE, BUFFERS) here")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
