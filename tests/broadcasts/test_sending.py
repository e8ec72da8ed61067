"""The send on real arq workers, to a real SMTP server, on both databases."""

from __future__ import annotations

from app.broadcasts import delivery, recovery, service
from app.broadcasts.models import BroadcastStatus
from app.people.models import Status
from app.people.service import set_status
from tests.broadcasts.helpers import counts, draft, reload, run_workers, segment
from workers.broadcasts import sender_for


async def test_audience_is_include_minus_exclude_minus_unsubscribed_each_once(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given: overlapping included segments, an excluded one, and a non-subscribed member
    both = await make_person("both@x.test", tags=["a", "b"], fields={"first_name": "Ann"})
    only_a = await make_person("a@x.test", tags=["a"])
    await make_person("b-excluded@x.test", tags=["b", "vip"])
    await make_person("gone@x.test", tags=["a"], status=Status.UNSUBSCRIBED)
    await make_person("other@x.test", tags=["c"])
    a, b = await segment(workspace.id, "a", "a"), await segment(workspace.id, "b", "b")
    vip = await segment(workspace.id, "vip", "vip")
    broadcast = await service.create_broadcast(workspace.id, draft([a, b], [vip]))

    # when
    await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)
    await run_workers(arq_redis, worker_ctx)

    # then
    sent = await reload(broadcast.id)
    assert sent.status is BroadcastStatus.SENT
    assert (sent.audience, sent.suppressed) == (2, 1)
    assert sorted(mailbox.recipients.elements()) == sorted([both.email, only_a.email])
    assert (await counts(broadcast.id))["sent"] == 2
    by_rcpt = {m["To"]: m for m in mailbox.messages}
    assert by_rcpt[both.email]["Subject"] == "Hello Ann"
    assert by_rcpt[only_a.email]["Subject"] == "Hello there"


async def test_messages_are_personalised_escaped_and_carry_one_click_unsubscribe(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    await make_person("eve@x.test", tags=["a"], fields={"first_name": "<b>Eve</b>"})
    a = await segment(workspace.id, "a", "a")
    broadcast = await service.create_broadcast(workspace.id, draft([a]))
    await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)
    await run_workers(arq_redis, worker_ctx)

    (message,) = mailbox.messages
    assert message["From"] == "news@shop.test" and message["To"] == "eve@x.test"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.strip() == "Hi <b>Eve</b>"  # text is not HTML: no escaping
    assert "Hi &lt;b&gt;Eve&lt;/b&gt;" in html  # html is autoescaped
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip("<>")
    assert url.startswith("http://sieve.test/unsubscribe/")


async def test_a_template_failing_for_the_first_member_fails_the_broadcast_unsent(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    await make_person(tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast = await service.create_broadcast(
        workspace.id, draft([a], text="{{ person.fields.missing.deeper }}")
    )
    await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)
    await run_workers(arq_redis, worker_ctx)
    failed = await reload(broadcast.id)
    assert failed.status is BroadcastStatus.FAILED
    assert "text" in failed.error and "missing" in failed.error
    assert mailbox.count() == 0


async def test_people_unsubscribed_after_the_start_are_skipped(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    keep = await make_person(tags=["a"])
    leave = await make_person(tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast = await service.create_broadcast(workspace.id, draft([a]))
    await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)
    sender = sender_for({**worker_ctx, "redis": arq_redis})
    row = await reload(broadcast.id)
    # the audience is resolved now
    await delivery.start_broadcast(sender, row.id, row.send_token, workspace_id=workspace.id)
    await set_status(workspace.id, [leave.id], Status.UNSUBSCRIBED)
    await run_workers(arq_redis, worker_ctx)
    assert list(mailbox.recipients) == [keep.email]
    assert (await counts(broadcast.id))["skipped"] == 1
    assert (await reload(broadcast.id)).status is BroadcastStatus.SENT


async def test_cancel_stops_the_remaining_batches(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    # given 60 recipients in 3 batches of 20, sent group by group
    for _ in range(60):
        await make_person(tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast = await service.create_broadcast(workspace.id, draft([a]))
    await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)
    sender = sender_for({**worker_ctx, "redis": arq_redis})
    row = await reload(broadcast.id)
    await delivery.start_broadcast(sender, row.id, row.send_token, workspace_id=workspace.id)
    # when the first batch has been sent, the broadcast is cancelled
    first = await delivery.send_batch(sender, row.id, row.send_token, 0, workspace_id=workspace.id)
    assert first.done and mailbox.count() == 20
    await service.cancel_broadcast(workspace.id, row.id)
    await run_workers(arq_redis, worker_ctx)
    await sender.transport.close()
    # then nothing more went out, and the rest stays pending (never sent)
    assert mailbox.count() == 20
    progress = await counts(row.id)
    assert (progress["sent"], progress["pending"]) == (20, 40)
    assert (await reload(row.id)).status is BroadcastStatus.CANCELLED


async def test_in_flight_deliveries_of_a_dead_run_become_unknown_and_are_not_resent(
    workspace, make_person, arq_redis, worker_ctx, mailbox
):
    for _ in range(10):
        await make_person(tags=["a"])
    a = await segment(workspace.id, "a", "a")
    broadcast = await service.create_broadcast(workspace.id, draft([a]))
    await service.send_broadcast(workspace.id, broadcast.id, None, arq_redis)
    sender = sender_for({**worker_ctx, "redis": arq_redis})
    row = await reload(broadcast.id)
    await delivery.start_broadcast(sender, row.id, row.send_token, workspace_id=workspace.id)
    # a run claimed 3 rows and died before recording anything
    assert len(await delivery.claim(workspace.id, row.id, 0, 3)) == 3
    report = await recovery.recover(sender)
    assert report["batches"] == 1
    await run_workers(arq_redis, worker_ctx)
    progress = await counts(row.id)
    assert (progress["unknown"], progress["sent"]) == (3, 7)
    assert mailbox.count() == 7
    assert (await reload(row.id)).status is BroadcastStatus.SENT
