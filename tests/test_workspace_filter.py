"""Every statement that the segment compiler and the services send to the database pins
every per-workspace table to one workspace (`workspace_id = <value>`), which is what
Citus needs to route it to one shard (docs/scaling.md). The statements are captured at the
driver while a workspace does what its users do: people and events, counts, pages,
contains, memberships, previews, exports, broadcasts and flows, with their worker jobs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from app.settings import settings
from app.sql import now_utc
from tests.conftest import run_burst_worker
from tests.factories import GraphQLClient
from tests.workspace_sql import PER_WORKSPACE, colocated, record_statements, unpinned_tables
from workers.analytics import record_segment_sizes
from workers.broadcasts import BROADCAST_FUNCTIONS, close_broadcasts, recover_broadcasts
from workers.flows import FLOW_FUNCTIONS, sweep_flows
from workers.observe import record_operations


class FanOut(NamedTuple):
    """A statement that looks for work in every workspace; `phrase` identifies it (quotes
    dropped, spaces collapsed) on both dialects; `source` is where the code emits it."""

    tables: tuple[str, ...]
    phrase: str
    source: str
    reason: str


# The only statements allowed to leave per-workspace tables unpinned: periodic sweeps that
# look for work across every workspace. On Citus each fans out to every shard, on purpose;
# each must still be co-located (joined on workspace_id), so that every shard answers it
# alone, and docs/scaling.md ("Sweeps") must name it. Everything else, the segment
# compiler's SQL, the services', the jobs', filters every table by workspace_id.
FAN_OUT_SWEEPS = [
    FanOut(("flow_enrollments", "flows"), "FROM flow_enrollments e JOIN flows f",
           "app/flows/store.py due_enrollments (the flow sweep, every few seconds)",
           "which workspaces have due enrollments is what it is looking for"),
    FanOut(("flow_enrollments", "flows"), "SELECT min(e.due_at) AS due FROM flow_enrollments e",
           "app/flows/store.py oldest_due_at (the flow lag gauge of workers/observe.py)",
           "a lag over every workspace: the oldest due enrollment anywhere"),
]  # fmt: skip

PEOPLE = """
mutation {
  upsertPeople(people: [
    {email: "ada@example.com", tags: ["VIP"], fields: {plan: "pro"}, country: "us"}
    {email: "grace@example.com", tags: ["vip"], status: UNSUBSCRIBED}
    {email: "linus@example.com", tags: ["vip", "beta"], country: "fi"}
  ]) { people { id } userErrors { code } }
}"""
EVENTS = """
mutation {
  trackEvents(events: [
    {email: "ada@example.com", name: "purchase", value: 42.5, properties: {product: "Mug"},
     idempotencyKey: "order-1"}
    {email: "ada@example.com", name: "email_opened"}
    {email: "new@example.com", name: "signed_up"}
  ]) { recorded duplicates userErrors { code } }
}"""
SEGMENT = """
mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) { segment { id count } userErrors { code message } }
}"""
READS = """
query($seg: ID!, $ref: ID!, $person: ID!) {
  segment(id: $seg) {
    count contains(personId: $person) explain(personId: $person) { matched }
    members(first: 1) { totalCount edges { cursor node { email } } pageInfo { endCursor } }
    engagement { members opened revenue }
    sizeHistory(last: 5) { count }
  }
  segments(first: 5) { totalCount edges { node { id name } } }
  previewSegment(definition: {match: ANY, conditions: [
      {event: {names: ["email_opened"], window: {lastDays: 30}, count: {op: GTE, value: 1}}}
      {field: {key: "plan", op: EQ, value: "pro"}}
      {attribute: {attribute: COUNTRY, op: EQ, value: "US"}}]}) {
    count members(first: 2) { edges { node { id } } } explain(personId: $person) { matched }
  }
  memberships(personId: $person) { member }
  some: memberships(personId: $person, segmentIds: [$seg, $ref]) { member }
  membershipMatrix(personIds: [$person], segmentIds: [$seg, $ref]) { found member }
  segmentEngagement(segmentIds: [$seg, $ref]) { engagement { members } }
  people(first: 2, where: {conditions: [{tag: {tag: "vip"}}]}) { totalCount edges { node { email } } }
  everyone: people(first: 2) { totalCount pageInfo { hasNextPage endCursor } }
  person(email: "ADA@example.com") { id tags }
}"""
NEXT_PAGE = """
query($seg: ID!, $after: String!) { segment(id: $seg) { members(first: 1, after: $after) { edges { node { id } } } } }"""
PEOPLE_CHANGES = """
mutation($ids: [ID!]!) {
  tagPeople(personIds: $ids, tags: ["Beta"]) { userErrors { code } }
  untagPeople(personIds: $ids, tags: ["beta"]) { userErrors { code } }
  setStatus(personIds: $ids, status: SUBSCRIBED) { userErrors { code } }
}"""
BROADCAST = """
mutation($include: [ID!]!, $exclude: [ID!]!) {
  createBroadcast(input: {name: "Spring", subject: "Hi {{ person.email }}", text: "Sale",
      fromEmail: "news@shop.test", includeSegmentIds: $include, excludeSegmentIds: $exclude,
      trackOpens: true}) {
    broadcast { id audiencePreview { count suppressed } } userErrors { code message }
  }
}"""
BROADCAST_FLOW = """
mutation($id: ID!) {
  updateBroadcast(input: {id: $id, subject: "Spring sale"}) { userErrors { code } }
  sendBroadcast(id: $id) { broadcast { status } userErrors { code message } }
}"""
BROADCAST_READS = """
query($id: ID!, $include: [ID!]!) {
  broadcast(id: $id) { status audience sent failed unknown skipped pending }
  broadcasts(first: 5) { totalCount edges { node { id status } } }
  previewAudience(includeSegmentIds: $include) { count suppressed members(first: 2) { edges { node { id } } } }
}"""
CAPPED_AGAIN = """
mutation($id: ID!) {
  setFrequencyCap(input: {maxMessages: 1, windowHours: 24}) { userErrors { code } }
  createBroadcast(input: {name: "Again", subject: "Again", text: "Again",
      fromEmail: "news@shop.test", basedOn: {broadcastId: $id, audience: NOT_OPENED}}) {
    broadcast { id } userErrors { code message }
  }
}"""
SEND = """
mutation($id: ID!) { sendBroadcast(id: $id) { broadcast { status } userErrors { code message } } }"""
RESEND = """
mutation($id: ID!) {
  resendCapped(broadcastId: $id) { requeued userErrors { code message } }
}"""
REPORT = """
query($id: ID!) {
  broadcast(id: $id) { status capped report { sent delivered unsubscribed uniqueOpens
    revenue purchases links { url clicks } } }
}"""
LISTS = """
mutation($grace: ID!, $at: DateTime!) {
  removeFrequencyCap { removed userErrors { code } }
  setStatus(personIds: [$grace], status: SUBSCRIBED,
            resubscribe: {source: "preference centre", at: $at}) {
    people { status } userErrors { code message } }
  addSuppressions(suppressions: [{email: "linus@example.com", reason: MANUAL}]) {
    userErrors { code message } }
  removeSuppressions(emails: ["linus@example.com"]) { removed userErrors { code } }
}"""
FLOW = """
mutation($input: CreateFlowInput!) { createFlow(input: $input) { flow { id } userErrors { code message } } }"""
FLOW_RUN = """
mutation($id: ID!, $people: [ID!]!, $seg: ID!) {
  updateFlow(input: {id: $id, name: "Welcome series"}) { userErrors { code } }
  activateFlow(id: $id) { flow { status } userErrors { code } }
  byIds: enrollPeople(flowId: $id, personIds: $people) { enrolled userErrors { code } }
  bySegment: enrollPeople(flowId: $id, segmentId: $seg) { enrolled skipped userErrors { code } }
}"""
FLOW_READS = """
query($id: ID!) {
  flow(id: $id) { status enrollments(first: 5) { totalCount edges { node { state step person { email } } } } }
  flows(first: 5) { totalCount }
}"""
CLEAN_UP = """
mutation($flow: ID!, $seg: ID!, $person: ID!) {
  pauseFlow(id: $flow) { userErrors { code } }
  updateSegment(input: {id: $seg, name: "Renamed"}) { userErrors { code } }
  deleteSegment(id: $seg) { userErrors { code } }
  deletePerson(id: $person) { deletedPersonId userErrors { code } }
}"""


@pytest.fixture
async def app_gql(db, api_key, arq_redis):
    from app.main import create_app

    app = create_app()
    app.state.arq = arq_redis
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        gql = GraphQLClient(client, api_key)
        gql.http = client  # type: ignore[attr-defined]
        yield gql


def _no_user_errors(data: dict[str, Any]) -> None:
    for name, payload in data.items():
        if isinstance(payload, dict) and "userErrors" in payload:
            assert payload["userErrors"] == [], (name, payload)


async def _run_broadcast_jobs(arq_redis: Any, ctx: dict[str, Any]) -> None:
    try:
        await asyncio.wait_for(run_burst_worker(arq_redis, BROADCAST_FUNCTIONS, ctx=ctx), 60)
    finally:
        await close_broadcasts(ctx)


async def _workspace_life(gql: GraphQLClient, arq_redis: Any, workspace_id: int) -> None:
    """What one workspace does in a day, through the API and the worker jobs."""
    people = (await gql.ok(PEOPLE))["upsertPeople"]["people"]
    ids = [p["id"] for p in people]
    _no_user_errors(await gql.ok(EVENTS))
    vip = (await gql.ok(SEGMENT, {"input": {"name": "VIP", "definition": {
        "conditions": [{"tag": {"tag": "vip"}}]}}}))["createSegment"]  # fmt: skip
    buyers = (await gql.ok(SEGMENT, {"input": {"name": "Buyers", "definition": {"match": "ANY",
        "conditions": [{"aggregate": {"name": "purchase", "fn": "SUM", "op": "GT", "value": 10}},
                       {"segment": {"id": vip["segment"]["id"]}}]}}}))["createSegment"]  # fmt: skip
    seg, ref = vip["segment"]["id"], buyers["segment"]["id"]
    spare = (await gql.ok(SEGMENT, {"input": {"name": "Spare", "definition": {
        "conditions": [{"tag": {"tag": "spare"}}]}}}))["createSegment"]["segment"]["id"]  # fmt: skip
    reads = await gql.ok(READS, {"seg": seg, "ref": ref, "person": ids[0]})
    assert reads["segment"]["count"] == 3 and reads["segment"]["contains"] is True
    after = reads["segment"]["members"]["pageInfo"]["endCursor"]
    await gql.ok(NEXT_PAGE, {"seg": seg, "after": after})
    _no_user_errors(await gql.ok(PEOPLE_CHANGES, {"ids": [ids[0], ids[2]]}))
    export = await gql.http.get(  # type: ignore[attr-defined]
        f"/export/segments/{seg}?format=csv", headers={"Authorization": f"Bearer {gql.key}"}
    )
    assert export.status_code == 200 and "ada@example.com" in export.text

    created = (await gql.ok(BROADCAST, {"include": [seg], "exclude": [ref]}))["createBroadcast"]
    _no_user_errors(created)
    broadcast = (await gql.ok(BROADCAST, {"include": [seg, ref], "exclude": []}))["createBroadcast"]
    _no_user_errors(await gql.ok(BROADCAST_FLOW, {"id": broadcast["broadcast"]["id"]}))
    ctx = {"redis": arq_redis, "broadcast_config": settings.replace(email_transport="null",
                                                   send_rate_per_second=100_000.0)}  # fmt: skip
    await _run_broadcast_jobs(arq_redis, ctx)
    sent = await gql.ok(BROADCAST_READS, {"id": broadcast["broadcast"]["id"], "include": [seg]})
    assert (
        sent["broadcast"]["status"] == "SENT" and sent["broadcast"]["sent"] == 2
    )  # grace stays unsubscribed
    capped = await gql.ok(CAPPED_AGAIN, {"id": broadcast["broadcast"]["id"]})
    _no_user_errors(capped)
    again = capped["createBroadcast"]
    _no_user_errors(await gql.ok(SEND, {"id": again["broadcast"]["id"]}))
    await _run_broadcast_jobs(arq_redis, ctx)
    _no_user_errors(await gql.ok(RESEND, {"id": again["broadcast"]["id"]}))
    await _run_broadcast_jobs(arq_redis, ctx)
    report = await gql.ok(REPORT, {"id": again["broadcast"]["id"]})
    assert report["broadcast"]["capped"] == 2, report  # both had one message today
    assert (await gql.ok(REPORT, {"id": broadcast["broadcast"]["id"]}))["broadcast"]["report"][
        "sent"
    ] == 2
    lists = await gql.ok(LISTS, {"grace": ids[1], "at": now_utc().isoformat()})
    _no_user_errors(lists)
    assert lists["setStatus"]["people"] == [{"status": "SUBSCRIBED"}]  # with her consent

    definition = {"entry": "welcome", "trigger": "signed_up", "steps": [
        {"id": "welcome", "sendEmail": {"subject": "Welcome", "text": "Hi", "next": "vip?"}},
        {"id": "vip?", "split": {"segmentId": seg, "yes": "tag", "no": "done"}},
        {"id": "tag", "addTag": {"tag": "welcomed", "next": "untag"}},
        {"id": "untag", "removeTag": {"tag": "beta", "next": "done"}},
        {"id": "done", "exit": {}}]}  # fmt: skip
    flow = await gql.ok(FLOW, {"input": {"name": "Welcome", "definition": definition}})
    flow_id = flow["createFlow"]["flow"]["id"]
    _no_user_errors(await gql.ok(FLOW_RUN, {"id": flow_id, "people": ids[:1], "seg": seg}))
    _no_user_errors(await gql.ok(EVENTS))  # signed_up again: the trigger enrolls
    await asyncio.wait_for(run_burst_worker(arq_redis, FLOW_FUNCTIONS), 60)
    await sweep_flows({"redis": arq_redis})
    await record_segment_sizes({})
    await record_operations({"redis": arq_redis})  # queue depth and flow lag gauges
    try:
        await recover_broadcasts(ctx)  # a worker's start-up
    finally:
        await close_broadcasts(ctx)
    flow_reads = await gql.ok(FLOW_READS, {"id": flow_id})
    states = {e["node"]["state"] for e in flow_reads["flow"]["enrollments"]["edges"]}
    assert states == {"COMPLETED"}, flow_reads
    _no_user_errors(await gql.ok(CLEAN_UP, {"flow": flow_id, "seg": spare, "person": ids[2]}))


async def test_every_statement_pins_its_workspace(
    app_gql, arq_redis, workspace, db, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)  # the file mail transport of flow emails writes here
    with record_statements(monkeypatch) as recorder:
        await _workspace_life(app_gql, arq_redis, workspace.id)
    dialect = "postgres" if db.value == "postgres" else "sqlite"
    statements = [s for s in recorder.statements if s.dialect == dialect]
    touched: set[str] = set()
    used: set[FanOut] = set()
    unpinned: list[tuple[list[str], str]] = []
    for statement in statements:
        text = " ".join(statement.sql.replace('"', "").split())
        tables = unpinned_tables(statement.sql, dialect)
        sweeps = [s for s in FAN_OUT_SWEEPS if s.phrase in text]
        used.update(sweeps)
        allowed = {t for s in sweeps for t in s.tables}
        unknown = [t for t in tables if t not in allowed]
        if unknown:
            unpinned.append((unknown, statement.sql))
        elif not colocated(statement.sql, dialect):
            unpinned.append((["not co-located"], statement.sql))
        touched |= {t for t in PER_WORKSPACE if t in text}
    assert not unpinned, "\n".join(f"{tables}: {sql}" for tables, sql in unpinned)
    assert used == set(FAN_OUT_SWEEPS), f"no longer emitted: {set(FAN_OUT_SWEEPS) - used}"
    # the scenario really exercised the tables (a capture that saw nothing would pass)
    assert touched == PER_WORKSPACE, PER_WORKSPACE - touched
    assert len(statements) > 100


def test_every_fan_out_sweep_is_documented_as_one():
    """docs/scaling.md names each statement that may fan out, where it comes from and why."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "scaling.md").read_text()
    sweeps = doc.split("### Sweeps")[1].split("\n## ")[0].split("\n### ")[0]
    for sweep in FAN_OUT_SWEEPS:
        function = sweep.source.split()[1]
        assert f"`{function}`" in sweeps, (function, sweep)
        assert set(sweep.tables) <= PER_WORKSPACE


@pytest.mark.parametrize(
    ("sql", "unpinned"),
    [
        ("SELECT count(*) FROM people p WHERE p.workspace_id = $1 AND p.tags @> $2::jsonb", []),
        ("SELECT count(*) FROM people p WHERE p.tags @> $1::jsonb", ["people"]),
        ("SELECT id FROM people WHERE workspace_id = ?1 OR email = ?2", ["people"]),
        ("SELECT id FROM people WHERE workspace_id = ANY($1::bigint[])", ["people"]),
        (
            "SELECT p.id FROM people p JOIN events e ON e.person_id = p.id WHERE p.workspace_id = $1",
            ["events"],
        ),
        (
            "SELECT p.id FROM people p JOIN events e ON e.workspace_id = p.workspace_id"
            " AND e.person_id = p.id WHERE p.workspace_id = $1",
            [],
        ),
        (
            "SELECT p.id FROM people p WHERE p.workspace_id = ?1 AND EXISTS (SELECT 1 FROM events e"
            " WHERE e.workspace_id = p.workspace_id AND e.person_id = p.id AND e.name = ?2)",
            [],
        ),
        (
            "SELECT id FROM people WHERE workspace_id = $1 UNION SELECT person_id FROM events",
            ["events"],
        ),
        ('INSERT INTO "events" ("workspace_id", "name") VALUES ($1, $2), ($3, $4)', []),
        ('INSERT INTO "segments" ("name") VALUES ($1)', ["segments"]),
        ('UPDATE "people" SET "tags" = $1 WHERE "workspace_id" = $2 AND "id" = $3', []),
        ('DELETE FROM "flow_sends" WHERE "id" = $1', ["flow_sends"]),
        ("SELECT id FROM workspaces WHERE name = $1", []),
    ],
)
def test_the_check_tells_pinned_from_unpinned(sql, unpinned):
    assert unpinned_tables(sql, "postgres") == unpinned


def test_the_check_tells_colocated_joins():
    sweep = (
        "SELECT e.id FROM flow_enrollments e JOIN flows f ON f.id = e.flow_id WHERE e.due_at <= $1"
    )
    assert not colocated(sweep, "postgres")
    assert colocated(
        sweep.replace("f.id = e.flow_id", "f.workspace_id = e.workspace_id AND f.id = e.flow_id"),
        "postgres",
    )
    assert colocated("SELECT id FROM segments ORDER BY id", "postgres")


async def test_an_unpinned_statement_is_caught_at_the_driver(db, workspace, monkeypatch):
    """The capture sees what the app sends; one statement written without the filter fails."""
    from app.sql import connection

    with record_statements(monkeypatch) as recorder:
        await connection().execute_query_dict("SELECT count(*) AS n FROM people WHERE email <> ''")
        await connection().execute_query_dict(
            "SELECT count(*) AS n FROM people WHERE workspace_id = "
            + ("$1" if db.value == "postgres" else "?1"),
            [workspace.id],
        )
    dialect = "postgres" if db.value == "postgres" else "sqlite"
    found = [unpinned_tables(s.sql, dialect) for s in recorder.statements if "people" in s.sql]
    assert found == [["people"], []]
