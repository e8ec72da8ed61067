"""Workers advance enrollments: live splits with recorded decisions, WAIT deferral,
trigger enrollment, idempotency. A real burst arq worker on real Redis, both databases."""

from __future__ import annotations

import asyncio

from app.flows import dispatch, engine, service, store
from app.flows.models import Decision, Enrollment, EnrollmentState, Send, SendStatus
from app.flows.sends import claim_send
from app.people.models import Person
from app.people.service import tag_people, track_events
from app.sql import now_utc
from tests.flows.conftest import active_flow, make_segment, run_flows, sent_files, split_flow
from workers.flows import advance_flow_batch, mailer_for

ENROLL = """
mutation($flow: ID!, $people: [ID!]) { enrollPeople(flowId: $flow, personIds: $people) {
  enrolled userErrors { code } } }"""
DECISIONS = """
query($id: ID!) { flow(id: $id) { decisions(first: 10) { totalCount edges { node {
  enrollmentId personId step segmentId result nextStep evaluatedAt } } } } }"""
HISTORY = """
query($id: ID!) { person(id: $id) { flowHistory { totalCount edges { node {
  id state step stepsTaken source flow { name } person { email }
  decisions { step result segmentId nextStep } } } } } }"""


async def test_a_split_follows_live_membership_and_every_decision_is_readable(
    flow_gql, arq_redis, workspace, make_person, outbox, flow_ctx
):
    # given: a VIP split; ada is a VIP when enrolled, bob is not
    vip = await make_segment(workspace.id, "VIP", "vip")
    flow = await active_flow(workspace.id, split_flow(vip.id), name="Welcome")
    ada, bob = (
        await make_person("ada@example.com", tags=["vip"]),
        await make_person("bob@example.com"),
    )
    enrolled = await flow_gql.ok(
        ENROLL, {"flow": f"flw_{flow.id}", "people": [f"per_{ada.id}", f"per_{bob.id}"]}
    )
    assert enrolled["enrollPeople"]["enrolled"] == 2
    # when: their tags flip after enrollment, before any worker reaches the split
    await tag_people(workspace.id, [ada.id], ["vip"], remove=True)
    await tag_people(workspace.id, [bob.id], ["vip"])
    worker = await run_flows(arq_redis, flow_ctx)
    # then: the split followed the live state
    assert worker.jobs_failed == 0
    decisions = {d.person_id: d for d in await Decision.filter(flow_id=flow.id)}
    assert (decisions[ada.id].result, decisions[ada.id].next_step) == (False, "end")
    assert (decisions[bob.id].result, decisions[bob.id].next_step) == (True, "follow")
    assert "followed" in (await Person.get(id=bob.id)).tags
    assert "followed" not in (await Person.get(id=ada.id)).tags
    assert {e.state for e in await Enrollment.filter(flow_id=flow.id)} == {
        EnrollmentState.COMPLETED
    }
    assert len(sent_files(outbox)) == 2
    # and the decisions are readable through the API, per flow and per person
    page = (await flow_gql.ok(DECISIONS, {"id": f"flw_{flow.id}"}))["flow"]["decisions"]
    assert page["totalCount"] == 2
    node = next(e["node"] for e in page["edges"] if e["node"]["personId"] == f"per_{bob.id}")
    assert node["step"] == "vip?" and node["segmentId"] == f"seg_{vip.id}"
    assert node["result"] is True and node["nextStep"] == "follow" and node["evaluatedAt"]
    history = (await flow_gql.ok(HISTORY, {"id": f"per_{bob.id}"}))["person"]["flowHistory"]
    assert history["totalCount"] == 1
    entry = history["edges"][0]["node"]
    assert entry["state"] == "COMPLETED" and entry["flow"]["name"] == "Welcome"
    assert entry["person"]["email"] == "bob@example.com" and entry["source"] == "people"
    assert entry["stepsTaken"] == 4  # welcome, vip?, follow, end
    assert entry["decisions"] == [
        {"step": "vip?", "result": True, "segmentId": f"seg_{vip.id}", "nextStep": "follow"}
    ]


async def test_a_wait_defers_the_next_step(
    flow_gql, arq_redis, workspace, make_person, outbox, flow_ctx
):
    vip = await make_segment(workspace.id, "VIP", "vip")
    flow = await active_flow(workspace.id, split_flow(vip.id, wait=1))
    person = await make_person(tags=["vip"])
    await flow_gql.ok(ENROLL, {"flow": f"flw_{flow.id}", "people": [f"per_{person.id}"]})
    # the deferred job is in the queue: a burst worker waits for it (deadline in run_flows)
    worker = await run_flows(arq_redis, flow_ctx)
    assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)
    enrollment = await Enrollment.get(flow_id=flow.id)
    decision = await Decision.get(enrollment_id=enrollment.id)
    sent = await Send.get(enrollment_id=enrollment.id)
    assert enrollment.state == EnrollmentState.COMPLETED
    assert (decision.evaluated_at - sent.created_at).total_seconds() >= 1.0


async def test_events_enroll_people_once_and_again_only_with_reentry(
    db, arq_redis, workspace, make_person, outbox, flow_ctx
):
    vip = await make_segment(workspace.id, "VIP", "vip")
    once = await active_flow(workspace.id, split_flow(vip.id, trigger="signed_up"), name="once")
    again = await active_flow(
        workspace.id, split_flow(vip.id, trigger="signed_up", reentry=True), name="again"
    )
    other = await active_flow(workspace.id, split_flow(vip.id, trigger="purchase"), name="other")
    # one batch, with the same person twice: one enrollment per flow
    await track_events(
        workspace.id,
        [
            {"name": "signed_up", "email": "new@example.com"},
            {"name": "signed_up", "email": "new@example.com"},
            {"name": "page_viewed", "email": "new@example.com"},
        ],
    )
    person = await Person.get(email="new@example.com")
    assert await Enrollment.filter(flow_id=once.id, person_id=person.id).count() == 1
    assert await Enrollment.filter(flow_id=again.id, person_id=person.id).count() == 1
    assert await Enrollment.filter(flow_id=other.id).count() == 0
    # while enrolled, a second event enrolls no one (one open enrollment per flow)
    await track_events(workspace.id, [{"name": "signed_up", "email": "new@example.com"}])
    assert await Enrollment.filter(person_id=person.id).count() == 2
    # the sweep dispatches trigger enrollments; the worker finishes them
    assert await dispatch.sweep(dispatch.ArqScheduler(arq_redis)) == 2
    await run_flows(arq_redis, flow_ctx)
    assert {e.state for e in await Enrollment.filter(person_id=person.id)} == {
        EnrollmentState.COMPLETED
    }
    # after they ended: re-entry enrolls again, once-only does not
    await track_events(workspace.id, [{"name": "signed_up", "email": "new@example.com"}])
    assert await Enrollment.filter(flow_id=once.id, person_id=person.id).count() == 1
    assert await Enrollment.filter(flow_id=again.id, person_id=person.id).count() == 2
    # a replayed event (same idempotency key) triggers nothing, a paused flow neither
    scheduler = dispatch.ArqScheduler(arq_redis)

    async def finish_all() -> None:
        await dispatch.sweep(scheduler)
        await run_flows(arq_redis, flow_ctx)

    await finish_all()
    keyed = {"name": "signed_up", "email": "new@example.com", "idempotencyKey": "k1"}
    await track_events(workspace.id, [keyed])
    assert await Enrollment.filter(flow_id=again.id, person_id=person.id).count() == 3
    await finish_all()
    replay = await track_events(workspace.id, [keyed])
    assert replay.duplicates == 1
    await service.set_status(workspace.id, again.id, service.FlowStatus.PAUSED)
    await track_events(workspace.id, [{"name": "signed_up", "email": "new@example.com"}])
    assert await Enrollment.filter(flow_id=again.id, person_id=person.id).count() == 3


async def test_a_paused_flow_holds_its_enrollments_until_resumed(
    db, arq_redis, workspace, make_person, outbox, flow_ctx
):
    vip = await make_segment(workspace.id, "VIP", "vip")
    flow = await active_flow(workspace.id, split_flow(vip.id))
    person = await make_person()
    scheduler = dispatch.ArqScheduler(arq_redis)
    await service.enroll_people(workspace.id, flow.id, [person.id], scheduler)
    await service.set_status(workspace.id, flow.id, service.FlowStatus.PAUSED)
    await run_flows(arq_redis, flow_ctx)
    held = await Enrollment.get(flow_id=flow.id)
    assert (held.state, held.step, held.seq) == (EnrollmentState.ACTIVE, "welcome", 0)
    await service.set_status(workspace.id, flow.id, service.FlowStatus.ACTIVE)
    assert await dispatch.sweep(scheduler) == 1
    await run_flows(arq_redis, flow_ctx)
    assert (await Enrollment.get(flow_id=flow.id)).state == EnrollmentState.COMPLETED


async def test_the_same_job_twice_sends_once_and_advances_once(
    db, arq_redis, workspace, make_person, outbox, flow_ctx
):
    vip = await make_segment(workspace.id, "VIP", "vip")
    flow = await active_flow(workspace.id, split_flow(vip.id, wait=3600))
    people = [await make_person(tags=["vip"]) for _ in range(3)]
    await service.enroll_people(
        workspace.id, flow.id, [p.id for p in people], dispatch.NoScheduler()
    )
    ids = list(await Enrollment.filter(flow_id=flow.id).values_list("id", flat=True))
    ctx = {"redis": arq_redis, **flow_ctx}
    # twice at the same time, then once more
    first, second = await asyncio.gather(
        advance_flow_batch(ctx, flow.id, ids, workspace.id),
        advance_flow_batch(ctx, flow.id, ids, workspace.id),
    )
    third = await advance_flow_batch(ctx, flow.id, ids, workspace.id)
    assert first["moves"] + second["moves"] + third["moves"] == 6  # welcome and wait, once each
    assert third["claimed"] == 0
    assert len(sent_files(outbox)) == 3
    assert await Send.filter(flow_id=flow.id, status=SendStatus.SENT).count() == 3
    for e in await Enrollment.filter(flow_id=flow.id):
        assert (e.step, e.seq, e.state) == ("vip?", 2, EnrollmentState.ACTIVE)
        assert e.lease_until is None  # waiting: free for the deferred job
    # a stale move (the step visit was already left) loses its compare-and-set
    stale = store.Move(
        store.Cursor(ids[0], people[0].id, "welcome", 0), "wait", EnrollmentState.ACTIVE, now_utc()
    )
    from tortoise.transactions import in_transaction

    async with in_transaction("default") as conn:
        moved = await store.apply_moves(
            conn, workspace_id=workspace.id, flow_id=flow.id, moves=[stale], now=now_utc()
        )
    assert moved == set()
    # one deferred job per group, named by its first step visit
    queue = arq_redis.default_queue_name
    keys = {k.decode() async for k in arq_redis.scan_iter(f"arq:job:{queue}:flow:*")}
    assert f"arq:job:{queue}:flow:{min(ids)}:vip?:2" in keys


async def test_a_job_queued_without_its_workspace_still_advances(
    db, arq_redis, workspace, make_person, outbox, flow_ctx
):
    """Jobs queued before they carried `workspace_id` (docs/scaling.md) still run: the
    worker looks the workspace up by the flow's id, then filters by it as usual."""
    vip = await make_segment(workspace.id, "VIP", "vip")
    flow = await active_flow(workspace.id, split_flow(vip.id, wait=3600))
    people = [await make_person(tags=["vip"]) for _ in range(2)]
    await service.enroll_people(
        workspace.id, flow.id, [p.id for p in people], dispatch.NoScheduler()
    )
    ids = list(await Enrollment.filter(flow_id=flow.id).values_list("id", flat=True))
    ctx = {"redis": arq_redis, **flow_ctx}
    # the old job shape: (flow_id, enrollment_ids) and nothing else
    outcome = await advance_flow_batch(ctx, flow.id, ids)
    assert (outcome["claimed"], outcome["moves"], outcome["sends"]) == (2, 4, {"SENT": 2})
    assert len(sent_files(outbox)) == 2
    for e in await Enrollment.filter(flow_id=flow.id):
        assert (e.step, e.seq, e.state) == ("vip?", 2, EnrollmentState.ACTIVE)
    assert (await advance_flow_batch(ctx, 999_999, ids))["claimed"] == 0  # a deleted flow


async def test_a_send_left_unfinished_by_a_dead_worker_is_marked_unknown_not_resent(
    db, arq_redis, workspace, make_person, outbox, flow_ctx
):
    vip = await make_segment(workspace.id, "VIP", "vip")
    flow = await active_flow(workspace.id, split_flow(vip.id))
    ada, bob = await make_person(), await make_person()
    await service.enroll_people(workspace.id, flow.id, [ada.id, bob.id], dispatch.NoScheduler())
    ada_enrollment = await Enrollment.get(flow_id=flow.id, person_id=ada.id)
    # a worker claimed ada's send and died before it recorded the outcome
    await claim_send(
        workspace_id=workspace.id,
        flow_id=flow.id,
        recipient=ada.email,
        cursor=store.Cursor(ada_enrollment.id, ada.id, "welcome", 0),
        now=now_utc(),
    )
    ids = list(await Enrollment.filter(flow_id=flow.id).values_list("id", flat=True))
    outcome = await engine.advance_batch(
        flow.id, ids, dispatch.NoScheduler(), mailer_for(flow_ctx), workspace_id=workspace.id
    )
    assert dict(outcome.sends) == {"UNKNOWN": 1, "SENT": 1}
    sends = {s.person_id: s.status for s in await Send.filter(flow_id=flow.id)}
    assert sends == {ada.id: SendStatus.UNKNOWN, bob.id: SendStatus.SENT}
    assert [f.read_text().count(bob.email) > 0 for f in sent_files(outbox)] == [True]
    assert {e.state for e in await Enrollment.filter(flow_id=flow.id)} == {
        EnrollmentState.COMPLETED
    }
