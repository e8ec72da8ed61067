"""SEND_EMAIL steps through a real SMTP server (aiosmtpd, started by the test): the flow
mailer lives in the worker's arq `ctx`, so the test gives the jobs its own server, and
checks what the server received, message by message. Both databases, real Redis."""

from __future__ import annotations

import dataclasses
from collections import Counter

from app.email.unsubscribe import read_token
from app.flows import dispatch, service
from app.flows.models import Enrollment, EnrollmentState, Send, SendStatus
from app.people.models import Status
from app.settings import settings
from tests.flows.conftest import active_flow, make_segment, run_flows
from workers.flows import close_flows

WELCOME = {
    "subject": "Welcome, {{ person.fields.name }}",
    "text": "Hello {{ person.fields.name }}: {{ unsubscribe_url }}",
    "html": "<p>Hello <b>{{ person.fields.name }}</b></p>",
    "next": "vip?",
}


def vip_flow(segment_id: int) -> dict[str, object]:
    """welcome email -> split on VIP: yes -> a second email -> exit; no -> exit."""
    return {"entry": "welcome", "steps": [
        {"id": "welcome", "sendEmail": WELCOME},
        {"id": "vip?", "split": {"segmentId": f"seg_{segment_id}", "yes": "vips", "no": "end"}},
        {"id": "vips", "sendEmail": {"subject": "For VIPs", "text": "Just for you", "next": "end"}},
        {"id": "end", "exit": {}},
    ]}  # fmt: skip


async def test_send_email_steps_reach_a_real_smtp_server(
    db, arq_redis, workspace, make_person, smtp_server
):
    # given: a real SMTP server that refuses one mailbox, and flow jobs configured for it
    controller, mailbox = smtp_server
    mailbox.refused.add("gone@example.com")
    config = dataclasses.replace(
        settings,
        email_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_connections=2,
        public_url="http://sieve.test",
        flow_from_email="flows@sieve.test",
    )
    ctx: dict[str, object] = {"flow_config": config}
    vip = await make_segment(workspace.id, "VIP", "vip")
    flow = await active_flow(workspace.id, vip_flow(vip.id))
    ada = await make_person("ada@example.com", tags=["vip"], fields={"name": "Ada <3"})
    bob = await make_person("bob@example.com", fields={"name": "Bob"})
    carol = await make_person("carol@example.com", status=Status.UNSUBSCRIBED)
    gone = await make_person("gone@example.com", fields={"name": "Gone"})
    people = [ada, bob, carol, gone]
    await service.enroll_people(
        workspace.id, flow.id, [p.id for p in people], dispatch.ArqScheduler(arq_redis)
    )

    # when: a real burst worker runs the flow
    try:
        worker = await run_flows(arq_redis, ctx)
    finally:
        await close_flows(ctx)

    # then: the server got ada's two messages and bob's one; carol was skipped, gone refused
    assert worker.jobs_failed == 0
    assert mailbox.recipients == Counter({"ada@example.com": 2, "bob@example.com": 1})
    sends = Counter((s.person_id, s.step, s.status) for s in await Send.filter(flow_id=flow.id))
    assert sends == Counter({
        (ada.id, "welcome", SendStatus.SENT): 1, (ada.id, "vips", SendStatus.SENT): 1,
        (bob.id, "welcome", SendStatus.SENT): 1, (carol.id, "welcome", SendStatus.SKIPPED): 1,
        (gone.id, "welcome", SendStatus.FAILED): 1,
    })  # fmt: skip
    refused = await Send.get(flow_id=flow.id, person_id=gone.id)
    assert refused.error is not None and "No such mailbox" in refused.error
    # a refused or skipped send does not stop the flow
    assert {e.state for e in await Enrollment.filter(flow_id=flow.id)} == {
        EnrollmentState.COMPLETED
    }

    # and each message is personalised, from the flow sender, with a working unsubscribe link
    by_subject = {(m["To"], m["Subject"]): m for m in mailbox.messages}
    assert set(by_subject) == {
        ("ada@example.com", "Welcome, Ada <3"),
        ("ada@example.com", "For VIPs"),
        ("bob@example.com", "Welcome, Bob"),
    }
    welcome = by_subject[("ada@example.com", "Welcome, Ada <3")]
    assert welcome["From"] == "flows@sieve.test"
    unsubscribe = welcome["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://sieve.test/unsubscribe/")
    token = unsubscribe.rsplit("/", 1)[1]
    assert read_token(token, config.secret_key) == (workspace.id, ada.id)
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = welcome.get_body(("plain",)).get_content()
    html = welcome.get_body(("html",)).get_content()
    assert text.strip() == f"Hello Ada <3: {unsubscribe}"
    assert "<b>Ada &lt;3</b>" in html  # autoescaped
    # the Message-ID names the step visit recorded on the send row
    row = await Send.get(flow_id=flow.id, person_id=ada.id, step="welcome")
    assert row.message_id is not None and row.message_id in welcome["Message-ID"]
