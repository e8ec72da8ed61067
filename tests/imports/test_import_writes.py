"""What an import's chunk writes besides people, and how it merges, on SQLite and
PostgreSQL (where the merge is SQL): per-row counters when a chunk repeats an email, the
change detector's marks, and upserts racing an import of the same people."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from asyncpg.exceptions import LockNotAvailableError
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from app import settings as app_settings
from app.changes.detector import detect_pending
from app.imports import service
from app.imports.jobs import ImportJob, ImportMode, ImportStatus
from app.people.models import Person, Status
from app.people.service import upsert_people
from app.segments.service import create_segment
from app.sql import Dialect, SqlParams, connection, dialect_of, fetch_all
from tests.changes.helpers import assert_log_matches_live, log_rows


async def run(workspace_id: int, path: Path, text: str, **options) -> ImportJob:
    path.write_text(text, encoding="utf-8")
    mode = options.pop("mode", ImportMode.CREATE_OR_UPDATE)
    job = await service.prepare(
        workspace_id, path, mapping=None, mode=mode, filename=path.name, source="test"
    )
    done = await service.run_import(job, path)
    assert done.status is ImportStatus.DONE, done
    return done


async def marks_of(workspace_id: int) -> dict[int, list[dict]]:
    conn = connection()
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        "SELECT person_id, detail FROM segment_change_marks WHERE workspace_id ="
        f" {params.add(workspace_id)} AND cause = 'PERSON_CHANGE' ORDER BY id",
        params.values,
    )
    out: dict[int, list[dict]] = {}
    for r in rows:
        detail = r["detail"] if isinstance(r["detail"], dict) else json.loads(r["detail"])
        out.setdefault(r["person_id"], []).append(detail)
    return out


async def test_a_chunk_repeating_emails_counts_each_row_against_the_state_before_it(
    workspace, make_person, tmp_path
):
    await make_person("b@example.com", tags=["old"], fields={"plan": "free"}, city="Oslo")
    text = (
        "email,tags,plan,city\n"
        "a@example.com,x,pro,\n"  # created
        "a@example.com,x,pro,\n"  # unchanged: the row before made it so
        "a@example.com,y,,Rome\n"  # updated
        "b@example.com,old,free,Oslo\n"  # unchanged: as stored
        "b@example.com,z,,\n"  # updated
        "b@example.com,Z,,\n"  # unchanged (tags are lower-cased)
        "b@example.com,,team,\n"  # updated
    )
    job = await run(workspace.id, tmp_path / "repeat.csv", text)
    assert (job.created, job.updated, job.unchanged, job.rejected) == (1, 3, 3, 0)
    a = await Person.get(workspace_id=workspace.id, email="a@example.com")
    assert (a.tags, a.fields, a.city) == (["x", "y"], {"plan": "pro"}, "Rome")
    b = await Person.get(workspace_id=workspace.id, email="b@example.com")
    assert (b.tags, b.fields, b.city) == (["old", "z"], {"plan": "team"}, "Oslo")
    again = await run(workspace.id, tmp_path / "again.csv", text)
    # b's first row sets plan back to free, its last one to team again: both change b
    assert (again.created, again.updated, again.unchanged) == (0, 2, 5)


async def test_an_import_marks_the_people_it_created_or_changed_and_no_others(
    workspace, make_person, tmp_path
):
    same = await make_person("same@example.com", tags=["vip"], fields={"plan": "pro"})
    changed = await make_person("changed@example.com", tags=["vip"])
    text = (
        "email,tags,plan,country,status\n"
        "same@example.com,vip,pro,,\n"
        "changed@example.com,beta,team,fr,UNSUBSCRIBED\n"
        "new@example.com,,,,\n"
    )
    await run(workspace.id, tmp_path / "marks.csv", text)
    new = await Person.get(workspace_id=workspace.id, email="new@example.com")
    marks = await marks_of(workspace.id)
    assert same.id not in marks
    assert marks[new.id] == [{"all": True}]
    assert marks[changed.id] == [
        {"attributes": ["COUNTRY", "STATUS"], "fields": ["plan"], "tags": ["beta"]}
    ]
    person = await Person.get(id=changed.id)
    assert (person.status, person.tags, person.country) == (
        Status.UNSUBSCRIBED,
        ["beta", "vip"],
        "FR",
    )


async def test_upserts_racing_an_import_of_the_same_people_all_land(
    workspace, make_person, tmp_path, monkeypatch
):
    monkeypatch.setattr(
        app_settings, "settings", app_settings.settings.replace(import_chunk_rows=50)
    )
    emails = [f"p{i:03d}@example.com" for i in range(400)]
    for email in emails[::2]:  # half exist before, half are new to both writers
        await make_person(email, tags=["before"])
    text = "email,tags,plan\n" + "".join(f"{e},imported,gold\n" for e in emails)
    path = tmp_path / "race.csv"

    async def upserts(n: int) -> list[list]:
        order = emails if n % 2 else list(reversed(emails))
        results = []
        for start in range(0, len(order), 40):
            batch = [{"email": e, "tags": [f"api{n}"]} for e in order[start : start + 40]]
            results.append((await upsert_people(workspace.id, batch)).errors)
            await asyncio.sleep(0)
        return results

    job, *results = await asyncio.gather(run(workspace.id, path, text), upserts(0), upserts(1))
    assert all(errors == [] for batch in results for errors in batch)
    assert job.created + job.updated + job.unchanged == 400
    people = {p.email: p for p in await Person.filter(workspace_id=workspace.id)}
    assert len(people) == 400
    for email in emails:
        tags = set(people[email].tags)
        assert {"imported", "api0", "api1"} <= tags, (email, tags)
        assert people[email].fields == {"plan": "gold"}


async def test_a_chunk_waiting_its_turn_gives_way_to_a_writer_the_chunk_before_waits_for(
    db, workspace, make_person, tmp_path, monkeypatch
):
    """The cycle, built on purpose: a transaction holds the first chunk's person, so the
    first chunk waits for it; the second chunk (written at once on PostgreSQL) locks its
    people, then waits for the first to record in turn; the transaction then asks for a
    person of the second chunk. Without the bounded wait nobody moves until the
    statement timeout; with it the second chunk rolls back and everyone finishes."""
    monkeypatch.setattr(
        app_settings, "settings", app_settings.settings.replace(import_chunk_rows=2)
    )
    monkeypatch.setattr(service, "ORDER_WAIT_SECONDS", 0.5)
    first = await make_person("a@example.com")
    second = await make_person("c@example.com")
    path = tmp_path / "cycle.csv"
    text = (
        "email,tags\na@example.com,one\nb@example.com,one\nc@example.com,two\nd@example.com,two\n"
    )
    held, locked = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with in_transaction("default") as conn:
            await conn.execute_query(f"UPDATE people SET city = 'Held' WHERE id = {int(first.id)}")
            held.set()
            await locked.wait()
            update = f"UPDATE people SET region = 'Also' WHERE id = {int(second.id)}"
            await asyncio.wait_for(conn.execute_query(update), timeout=20)

    holder = asyncio.ensure_future(hold())
    await held.wait()
    importing = asyncio.ensure_future(run(workspace.id, path, text))
    if db is Dialect.POSTGRES:
        await _until_locked(second.id)
    locked.set()
    await holder  # TimeoutError: the second chunk kept its lock while waiting its turn
    job = await asyncio.wait_for(importing, timeout=60)
    assert (job.created, job.updated, job.rows_processed) == (2, 2, 4)
    c = await Person.get(id=second.id)
    assert (c.tags, c.region) == (["two"], "Also")
    a = await Person.get(id=first.id)
    assert (a.tags, a.city) == (["one"], "Held")


async def _until_locked(person_id: int) -> None:
    """Until another transaction holds this person's row (NOWAIT fails)."""
    for _ in range(400):
        async with in_transaction("default") as conn:
            try:
                await conn.execute_query(
                    f"SELECT id FROM people WHERE id = {int(person_id)} FOR UPDATE NOWAIT"
                )
            except (OperationalError, LockNotAvailableError):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the second chunk never locked its people")


async def test_imported_people_enter_and_leave_segments_in_the_change_log(
    workspace, make_person, tmp_path
):
    """The marks at work: the change detector logs what an import did to segments."""
    leaving = await make_person("leaving@example.com", tags=["vip"], fields={"plan": "gold"})
    vip = await create_segment(workspace.id, "vip", None, {"conditions": [{"tag": {"tag": "vip"}}]})
    gold = await create_segment(
        workspace.id,
        "gold",
        None,
        {"conditions": [{"field": {"key": "plan", "op": "EQ", "value": "gold"}}]},
    )
    await detect_pending()  # the baselines: leaving is in both
    text = "email,tags,plan\nnew@example.com,vip,gold\nleaving@example.com,vip,silver\n"
    await run(workspace.id, tmp_path / "segments.csv", text)
    await detect_pending()
    new = await Person.get(workspace_id=workspace.id, email="new@example.com")
    rows = [(r["segment_id"], r["person_id"], r["kind"]) for r in await log_rows()]
    assert sorted(rows) == sorted(
        [(vip.id, new.id, "ENTERED"), (gold.id, new.id, "ENTERED"), (gold.id, leaving.id, "EXITED")]
    )
    await assert_log_matches_live(vip)
    await assert_log_matches_live(gold)


async def test_a_stored_number_imported_as_a_boolean_is_a_change_on_both_databases(
    workspace, make_person, tmp_path
):
    """jsonb's 1 is not true: the Python merge (SQLite) must not take them for equal."""
    await make_person("n@example.com", fields={"trial": 1, "seats": 2})
    path = tmp_path / "people.csv"
    path.write_text("email,trial,seats\nn@example.com,true,2.0\n", encoding="utf-8")
    mapping = {
        "email": "email",
        "fields": {
            "trial": {"column": "trial", "type": "boolean"},
            "seats": {"column": "seats", "type": "number"},
        },
    }
    job = await service.prepare(
        workspace.id,
        path,
        mapping=mapping,
        mode=ImportMode.CREATE_OR_UPDATE,
        filename=path.name,
        source="test",
    )
    done = await service.run_import(job, path)
    assert done.status is ImportStatus.DONE, done
    assert (done.created, done.updated) == (0, 1)
    person = await Person.get(workspace_id=workspace.id, email="n@example.com")
    assert person.fields["trial"] is True
    assert person.fields["seats"] == 2
