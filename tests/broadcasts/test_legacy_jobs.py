"""Jobs queued before jobs carried their workspace (`workspace_id` keyword, so that a
worker filters every statement by it: docs/scaling.md) still run after an upgrade: the
worker looks the workspace up by the broadcast's id. Real arq worker, both databases."""

from __future__ import annotations

import secrets

from app.broadcasts import delivery, jobs, service
from app.broadcasts.models import Broadcast, BroadcastStatus, Delivery, DeliveryStatus
from app.sql import now_utc
from tests.broadcasts.helpers import counts, draft, reload, run_workers, segment
from workers.broadcasts import send_broadcast_batch, sender_for, start_broadcast


async def _scheduled_the_old_way(workspace_id: int, include: list[int]) -> tuple[int, str]:
    """SCHEDULED with a token, as sendBroadcast leaves it, but no job queued yet."""
    broadcast = await service.create_broadcast(workspace_id, draft(include))
    token = secrets.token_hex(6)  # job ids are global in Redis: unique per send
    await Broadcast.filter(workspace_id=workspace_id, id=broadcast.id).update(
        status=BroadcastStatus.SCHEDULED, send_token=token, scheduled_at=now_utc()
    )
    return broadcast.id, token


async def test_a_start_job_queued_without_its_workspace_still_sends(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: a start job in the old shape, (broadcast_id, token) and nothing else
    ann = await make_person("ann@x.test", tags=["a"])
    await make_person("bob@x.test", tags=["b"])
    broadcast_id, token = await _scheduled_the_old_way(
        workspace.id, [await segment(workspace.id, "a", "a")]
    )
    job = await arq_redis.enqueue_job(
        jobs.START_JOB, broadcast_id, token, _job_id=jobs.start_job_id(broadcast_id, token)
    )
    assert job is not None

    # when
    await run_workers(arq_redis, worker_ctx)

    # then: the same send as a new-shape job makes
    assert (await reload(broadcast_id)).status is BroadcastStatus.SENT
    assert list(mailbox.recipients) == [ann.email]
    assert (await counts(broadcast_id))["sent"] == 1


async def test_a_batch_job_without_its_workspace_sends_its_batch(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: a started send whose batch job has the old shape (no workspace_id)
    ann = await make_person("ann@x.test", tags=["a"])
    broadcast_id, token = await _scheduled_the_old_way(
        workspace.id, [await segment(workspace.id, "a", "a")]
    )
    ctx = {**worker_ctx, "redis": arq_redis}
    started = await delivery.start_broadcast(
        sender_for(ctx), broadcast_id, token, workspace_id=workspace.id
    )
    assert started == "started"

    # when: arq calls the job function with the old arguments
    detail = await send_broadcast_batch(ctx, broadcast_id, token, 0)

    # then
    assert detail == "sent 1"
    rows = await Delivery.filter(workspace_id=workspace.id, broadcast_id=broadcast_id)
    assert [(r.person_id, r.status) for r in rows] == [(ann.id, DeliveryStatus.SENT)]
    assert (await reload(broadcast_id)).status is BroadcastStatus.SENT
    assert list(mailbox.recipients) == [ann.email]


async def test_an_old_job_for_a_deleted_broadcast_is_gone(db, workspace, arq_redis, worker_ctx):
    ctx = {**worker_ctx, "redis": arq_redis}
    assert await start_broadcast(ctx, 999_999, "0123456789ab") == "gone"
    assert await send_broadcast_batch(ctx, 999_999, "0123456789ab", 0) == "gone"
