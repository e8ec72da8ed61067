"""Opens and clicks of a flow's SEND_EMAIL step: opted in through GraphQL, sent to a real
SMTP server by a real flow worker, the pixel and a link fetched from the app."""

from __future__ import annotations

import pytest

from app.errors import ErrorCode, UserInputError
from app.flows.definition import from_json, parse_definition, to_json
from app.flows.models import Send
from app.ids import encode_id
from app.people.models import Status
from tests.flows.conftest import run_flows
from tests.tracking.helpers import BROWSER, HTML, events, links_of
from workers.flows import close_flows

CREATE = """mutation($input: CreateFlowInput!) { createFlow(input: $input) {
  flow { id definition { steps { id sendEmail { trackOpens trackClicks } } } }
  userErrors { path message code } } }"""
ACTIVATE = "mutation($id: ID!) { activateFlow(id: $id) { userErrors { code } } }"
ENROLL = """mutation($flow: ID!, $people: [ID!]) { enrollPeople(flowId: $flow, personIds: $people) {
  enrolled userErrors { code } } }"""


def _flow(**tracking: bool) -> dict:
    email = {"subject": "Welcome", "html": HTML, "text": "Welcome", "next": "end", **tracking}
    return {"entry": "welcome", "steps": [{"id": "welcome", "sendEmail": email},
                                          {"id": "end", "exit": {}}]}  # fmt: skip


async def test_a_flow_email_is_tracked_when_its_step_opts_in(
    workspace, make_person, tgql, arq_redis, send_config, mailbox
):
    # given: a flow whose email step tracks opens and clicks, and one whose step does not
    ada = await make_person("ada@x.test")
    tracked = (await tgql.ok(CREATE, {"input": {"name": "t", "definition": _flow(
        trackOpens=True, trackClicks=True)}}))["createFlow"]  # fmt: skip
    plain = (await tgql.ok(CREATE, {"input": {"name": "p", "definition": _flow()}}))["createFlow"]
    assert tracked["userErrors"] == [] and plain["userErrors"] == []
    assert tracked["flow"]["definition"]["steps"][0]["sendEmail"] == {
        "trackOpens": True, "trackClicks": True}  # fmt: skip
    assert plain["flow"]["definition"]["steps"][0]["sendEmail"] == {
        "trackOpens": False, "trackClicks": False}  # fmt: skip
    for flow in (tracked, plain):
        await tgql.ok(ACTIVATE, {"id": flow["flow"]["id"]})
        enrolled = await tgql.ok(ENROLL, {"flow": flow["flow"]["id"],
                                          "people": [encode_id("Person", ada.id)]})  # fmt: skip
        assert enrolled["enrollPeople"]["enrolled"] == 1

    # when: a real flow worker sends both emails
    ctx: dict[str, object] = {"flow_config": send_config}
    try:
        worker = await run_flows(arq_redis, ctx)
    finally:
        await close_flows(ctx)
    assert worker.jobs_failed == 0

    # then: the tracked one has a pixel and tracked links, the other neither
    messages = [links_of(m) for m in mailbox.messages]
    with_pixel = [m for m in messages if m.images]
    (message,) = with_pixel
    assert len(messages) == 2 and message.hrefs[1] == "mailto:help@shop.test"
    (untracked,) = [m for m in messages if not m.images]
    assert untracked.hrefs[0] == "https://shop.test/sale?x=1&y=2"

    # and fetching them records events naming the flow and its send row
    http = tgql.http
    opened = await http.get(message.images[0].removeprefix("http://sieve.test"),
                            headers={"user-agent": BROWSER})  # fmt: skip
    clicked = await http.get(message.hrefs[0].removeprefix("http://sieve.test"),
                             headers={"user-agent": BROWSER})  # fmt: skip
    assert opened.status_code == 200 and clicked.status_code == 302
    assert clicked.headers["location"] == "https://shop.test/sale?x=1&y=2"
    flow_pk = int(tracked["flow"]["id"].split("_")[1])
    send = await Send.get(flow_id=flow_pk)
    (open_event,) = await events("email_opened")
    assert open_event.properties == {"flow_id": tracked["flow"]["id"], "delivery_id": send.id,
                                     "machine": False}  # fmt: skip
    (click_event,) = await events("email_clicked")
    assert click_event.properties["url"] == "https://shop.test/sale?x=1&y=2"
    assert click_event.properties["flow_id"] == tracked["flow"]["id"]
    assert ada.status is Status.SUBSCRIBED


async def test_a_step_flag_that_is_not_a_boolean_is_refused(tgql):
    definition = _flow()
    definition["steps"][0]["sendEmail"]["trackOpens"] = "yes"
    body = await tgql(CREATE, {"input": {"name": "t", "definition": definition}})
    assert body["data"] is None and body["errors"]  # GraphQL's type check on the input
    with pytest.raises(UserInputError) as raised:  # and the parser's, for stored JSON
        parse_definition(definition)
    (error,) = raised.value.errors
    assert error.path == ("steps", 0, "sendEmail", "trackOpens")
    assert error.code is ErrorCode.TYPE_MISMATCH


def test_step_tracking_round_trips_through_the_stored_json():
    parsed = parse_definition(_flow(trackClicks=True))
    assert from_json(to_json(parsed)) == parsed
    step = parsed.steps[0].action
    assert (step.track_opens, step.track_clicks) == (False, True)  # type: ignore[union-attr]
    assert to_json(parse_definition(_flow()))["steps"][0]["sendEmail"].keys() == {
        "subject", "html", "text", "next"}  # fmt: skip
