"""docs/scaling.md's Citus DDL runs on a freshly migrated PostgreSQL database, and leaves
every key between per-workspace tables leading with workspace_id, as Citus requires for
co-located distribution. (Citus itself is not installed here: the `create_*_table` calls
are left out; the ALTERs are plain PostgreSQL.) PostgreSQL only: SQLite has no Citus."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg

from app.db import close_database, open_database
from tests.conftest import PG_ADMIN_URL, _pg_url
from tests.workspace_sql import PER_WORKSPACE

DOC = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
DISTRIBUTED = PER_WORKSPACE


def _citus_ddl() -> tuple[str, list[str]]:
    """(the ALTERs, the tables given to create_distributed_table)."""
    block = DOC.read_text().split("```sql\nCREATE EXTENSION citus;")[1].split("```")[0]
    lines = block.splitlines()
    alters = "\n".join(line for line in lines if not line.startswith("SELECT create_"))
    distributed = [
        line.split("'")[1] for line in lines if line.startswith("SELECT create_distributed_table(")
    ]
    return alters, distributed


async def test_the_citus_ddl_leads_every_key_with_workspace_id():
    alters, distributed = _citus_ddl()
    assert set(distributed) == DISTRIBUTED
    name = f"sieve_citus_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await open_database(_pg_url(name))  # migrates
        await close_database()
        conn = await asyncpg.connect(_pg_url(name))
        try:
            await conn.execute(alters)
            rows = await conn.fetch(
                "SELECT conrelid::regclass::text AS tbl, contype::text AS contype, confrelid::regclass::text AS ref,"
                " (SELECT array_agg(a.attname) FROM pg_attribute a"
                "   WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)) AS cols"
                " FROM pg_constraint c WHERE connamespace = 'public'::regnamespace"
                " AND contype IN ('p', 'u', 'f')"
            )
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    keys = [r for r in rows if r["tbl"] in DISTRIBUTED]
    assert {r["tbl"] for r in keys if r["contype"] == "p"} == DISTRIBUTED
    for row in keys:
        if row["contype"] == "f" and row["ref"] == "workspaces":
            continue  # to the reference table
        if row["contype"] == "f":
            assert row["ref"] in DISTRIBUTED, dict(row)
        assert "workspace_id" in row["cols"], dict(row)
