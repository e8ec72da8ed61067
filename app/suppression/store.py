"""The suppression tables in raw SQL (one statement per operation, bound values only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.sql import SqlParams, bind_list, db_datetime, dialect_of, fetch_all
from app.suppression.hashing import EmailHasher
from app.suppression.models import RANK, Entry, Reason, Suppression


@dataclass(frozen=True)
class Listed:
    """What the list says about one digest."""

    reason: Reason
    suppressed_at: datetime


def _rank_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{reason.value}' THEN {rank}" for reason, rank in RANK.items())
    return f"(CASE {column} {cases} ELSE 0 END)"


async def lookup(
    conn: BaseDBAsyncClient, workspace_id: int, digests: Sequence[str]
) -> dict[str, Listed]:
    """digest -> entry, for the digests on the workspace's list."""
    if not digests:
        return {}
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT email_hash, reason, suppressed_at FROM suppressions"
        f" WHERE workspace_id = {params.add(workspace_id)}"
        f" AND email_hash {bind_list(params, list(digests), 'text')}",
        params.values,
    )
    return {
        r["email_hash"]: Listed(Reason(r["reason"]), db_datetime(r["suppressed_at"])) for r in rows
    }


async def suppress(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    hasher: EmailHasher,
    entries: Sequence[Entry],
    now: datetime,
) -> None:
    """Put entries on the list; an entry already there keeps its reason unless the new
    one ranks higher (then the reason, source, detail and time are the new ones)."""
    if not entries:
        return
    params = SqlParams(dialect_of(conn))
    ws, ts = params.add(workspace_id), params.add(now)
    rows = ", ".join(
        f"({ws}, {params.add(hasher.digest(e.email))}, {params.add(e.reason.value)},"
        f" {params.add(e.source)}, {params.add(e.detail)}, {params.add(e.person_id)}, {ts}, {ts})"
        for e in {hasher.digest(e.email): e for e in entries}.values()
    )
    higher = f"{_rank_sql('excluded.reason')} > {_rank_sql('suppressions.reason')}"
    keep = lambda c: f"{c} = CASE WHEN {higher} THEN excluded.{c} ELSE suppressions.{c} END"  # noqa: E731
    await conn.execute_query(
        "INSERT INTO suppressions (workspace_id, email_hash, reason, source, detail, person_id,"
        f" suppressed_at, created_at) VALUES {rows}"
        " ON CONFLICT (workspace_id, email_hash) DO UPDATE SET"
        f" {', '.join(keep(c) for c in ('reason', 'source', 'detail', 'suppressed_at'))},"
        " person_id = COALESCE(excluded.person_id, suppressions.person_id)",
        params.values,
    )


async def link_people(
    conn: BaseDBAsyncClient, workspace_id: int, person_by_digest: dict[str, int]
) -> None:
    """Point entries at the people who now hold their address (lists show the email)."""
    if not person_by_digest:
        return
    params = SqlParams(dialect_of(conn))
    sql = (
        f"UPDATE suppressions SET person_id = {params.add(0)} WHERE workspace_id ="
        f" {params.add(workspace_id)} AND email_hash = {params.add('')}"
    )
    await conn.execute_many(
        sql, [[pid, workspace_id, digest] for digest, pid in person_by_digest.items()]
    )


async def lift(conn: BaseDBAsyncClient, workspace_id: int, digests: Sequence[str]) -> int:
    if not digests:
        return 0
    params = SqlParams(dialect_of(conn))
    changed, _ = await conn.execute_query(
        f"DELETE FROM suppressions WHERE workspace_id = {params.add(workspace_id)}"
        f" AND email_hash {bind_list(params, list(digests), 'text')}",
        params.values,
    )
    return int(changed)


async def record_consent(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    digest: str,
    person_id: int | None,
    source: str,
    consented_at: datetime,
    lifted: Reason,
    now: datetime,
) -> None:
    params = SqlParams(dialect_of(conn))
    await conn.execute_query(
        "INSERT INTO consents (workspace_id, email_hash, person_id, source, consented_at,"
        f" lifted_reason, created_at) VALUES ({params.add(workspace_id)}, {params.add(digest)},"
        f" {params.add(person_id)}, {params.add(source)}, {params.add(consented_at)},"
        f" {params.add(lifted.value)}, {params.add(now)})",
        params.values,
    )


async def page(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    *,
    after_id: int | None,
    limit: int,
    reason: Reason | None = None,
    digests: Sequence[str] | None = None,
) -> list[Suppression]:
    """Entries in id order, with the email of the person who holds it (if any)."""
    params = SqlParams(dialect_of(conn))
    where = [f"s.workspace_id = {params.add(workspace_id)}"]
    if after_id is not None:
        where.append(f"s.id > {params.add(after_id)}")
    if reason is not None:
        where.append(f"s.reason = {params.add(reason.value)}")
    if digests is not None:
        where.append(f"s.email_hash {bind_list(params, list(digests), 'text')}")
    rows = await fetch_all(
        conn,
        "SELECT s.id, s.email_hash, s.reason, s.source, s.detail, s.person_id, p.email,"
        " s.suppressed_at, s.created_at FROM suppressions s"
        " LEFT JOIN people p ON p.id = s.person_id AND p.workspace_id = s.workspace_id"
        f" WHERE {' AND '.join(where)} ORDER BY s.id LIMIT {params.add(limit)}",
        params.values,
    )
    return [
        Suppression(
            id=int(r["id"]),
            email_hash=r["email_hash"],
            reason=Reason(r["reason"]),
            source=r["source"],
            detail=r["detail"],
            person_id=int(r["person_id"]) if r["person_id"] is not None else None,
            email=r["email"],
            suppressed_at=db_datetime(r["suppressed_at"]),
            created_at=db_datetime(r["created_at"]),
        )
        for r in rows
    ]


async def count(conn: BaseDBAsyncClient, workspace_id: int, reason: Reason | None = None) -> int:
    params = SqlParams(dialect_of(conn))
    sql = f"SELECT count(*) AS n FROM suppressions WHERE workspace_id = {params.add(workspace_id)}"
    if reason is not None:
        sql += f" AND reason = {params.add(reason.value)}"
    rows = await fetch_all(conn, sql, params.values)
    return int(rows[0]["n"])
