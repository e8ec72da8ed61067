"""Template bombs through the API and at send time, on both databases.

Saving answers TEMPLATE_ERROR with the reason; a bomb that reaches a worker anyway (one
saved before these limits, or one that only explodes for some people) is rendered off
the event loop, so another workspace's broadcast finishes on time meanwhile.
"""

from __future__ import annotations

import asyncio
import time

from app.broadcasts import service
from app.broadcasts.models import Broadcast, BroadcastStatus
from app.email import templates as templates_module
from app.people.service import upsert_people
from tests.broadcasts.helpers import counts, draft, reload, run_workers, segment

CREATE_BROADCAST = """mutation($input: CreateBroadcastInput!) {
  createBroadcast(input: $input) { broadcast { id } userErrors { path message code } } }"""
CREATE_FLOW = """mutation($input: CreateFlowInput!) {
  createFlow(input: $input) { flow { id } userErrors { path message code } } }"""


async def test_saving_a_broadcast_with_a_bomb_answers_template_error_at_once(gql, workspace):
    audience = await segment(workspace.id, "all", "all")
    for field, bomb in (("html", "{{ 9**(9**9) }}"), ("text", "{{ 'x' * 100000000 }}"),
                        ("subject", "{% for i in range(100000) %}{% endfor %}")):  # fmt: skip
        started = time.monotonic()
        body = await gql(CREATE_BROADCAST, {"input": draft([f"seg_{audience}"], **{field: bomb})})
        assert time.monotonic() - started < 5.0
        errors = body["data"]["createBroadcast"]["userErrors"]
        assert [(e["path"], e["code"]) for e in errors] == [(["input", field], "TEMPLATE_ERROR")]
        assert "computes too much" in errors[0]["message"]
    assert await Broadcast.all().count() == 0


async def test_saving_a_flow_with_a_bomb_answers_template_error_at_its_step(gql):
    definition = {
        "entry": "a",
        "steps": [
            {"id": "a", "sendEmail": {"subject": "Hi", "html": "{{ 9**(9**9) }}", "next": "b"}},
            {"id": "b", "exit": {}},
        ],
    }
    body = await gql(CREATE_FLOW, {"input": {"name": "f", "definition": definition}})
    errors = body["data"]["createFlow"]["userErrors"]
    assert [(e["path"], e["code"]) for e in errors] == [
        (["input", "definition", "steps", "0", "sendEmail", "html"], "TEMPLATE_ERROR")
    ]
    assert "TEMPLATE_MAX_INT_BITS" in errors[0]["message"]


SLOW = (
    "{% if person.fields.slow %}{% for i in range(10000) %}"
    "{% set _ = ('ab ' * 300000)|wordwrap(3) %}{% endfor %}{% endif %}<p>hi</p>"
)


async def wait_for(predicate, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_bomb_in_one_workspace_does_not_delay_another_workspaces_broadcast(
    workspace, make_workspace, arq_redis, worker_ctx, mailbox, monkeypatch
):
    # given: workspace A's broadcast takes the full render deadline for 12 of its people
    # (the template passes the save check: the sample person has no `slow` field), and
    # workspace B's broadcast is ordinary
    config = templates_module.settings.replace(template_render_seconds=1.0)
    monkeypatch.setattr(templates_module, "settings", config)
    other = await make_workspace("other")
    await upsert_people(workspace.id, [{"email": "first@a.test", "tags": ["all"]}])
    await upsert_people(workspace.id, [
        {"email": f"slow{i}@a.test", "tags": ["all"], "fields": {"slow": True}} for i in range(12)
    ])  # fmt: skip
    await upsert_people(other.id, [{"email": f"b{i}@b.test", "tags": ["all"]} for i in range(20)])
    bomb = await service.create_broadcast(
        workspace.id, draft([await segment(workspace.id, "all", "all")], html=SLOW)
    )
    calm = await service.create_broadcast(other.id, draft([await segment(other.id, "all", "all")]))
    await service.send_broadcast(workspace.id, bomb.id, None, arq_redis)
    await service.send_broadcast(other.id, calm.id, None, arq_redis)

    # when: one worker runs both
    started = time.monotonic()
    worker = asyncio.create_task(run_workers(arq_redis, worker_ctx))
    try:

        async def calm_sent() -> bool:
            return (await reload(calm.id)).status is BroadcastStatus.SENT

        await wait_for(calm_sent, "the other workspace's broadcast", timeout=60)
        calm_took = time.monotonic() - started
        # then: B finished while A was still rendering (A needs at least 12 x 1 s), in
        # about the time it takes alone (a few seconds on a loaded 2-core machine)
        assert (await reload(bomb.id)).status is BroadcastStatus.SENDING, calm_took
        assert calm_took < 10, calm_took
        assert (await counts(calm.id))["sent"] == 20
    finally:
        await worker
    # and A ends with its slow people failed (their template over the deadline), not stuck
    finished = await reload(bomb.id)
    assert finished.status is BroadcastStatus.SENT
    progress = await counts(bomb.id)
    assert (progress["sent"], progress["failed"]) == (1, 12)
    assert sum(1 for r in mailbox.recipients if r.endswith("@b.test")) == 20
