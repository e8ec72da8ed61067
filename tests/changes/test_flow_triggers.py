"""Flows triggered by entering or leaving a segment: the change log's hook enrolls people
in the detector's transaction, the enrollment names the change, re-entry rules hold."""

from __future__ import annotations

from typing import Any

from app.changes.detector import detect_pending
from app.flows import triggers
from app.flows.models import Enrollment, FlowStatus
from app.flows.service import create_flow, set_status
from app.people.service import tag_people, upsert_people
from app.segments.service import create_segment
from tests.changes.helpers import log_rows

VIP = {"conditions": [{"tag": {"tag": "vip"}}]}
CREATE_FLOW = """mutation($d: FlowDefinitionInput!) { createFlow(input: {name: "f", definition: $d}) {
  flow { id definition { trigger segmentTrigger { segmentId kind } } definitionJson }
  userErrors { path code message } } }"""


def flow_definition(trigger: Any, reentry: bool = False) -> dict[str, Any]:
    return {
        "entry": "tag",
        "trigger": trigger,
        "allowReentry": reentry,
        "steps": [
            {"id": "tag", "addTag": {"tag": "welcomed", "next": "end"}},
            {"id": "end", "exit": {}},
        ],
    }


async def active(workspace_id: int, definition: dict[str, Any]) -> Any:
    flow = await create_flow(workspace_id, "f", definition)
    return await set_status(workspace_id, flow.id, FlowStatus.ACTIVE)


async def test_entering_and_leaving_enroll_with_the_change(workspace):
    triggers.subscribe()
    vip = await create_segment(workspace.id, "vip", None, VIP)
    on_enter = await active(workspace.id, flow_definition({"segmentEntered": f"seg_{vip.id}"}))
    on_exit = await active(workspace.id, flow_definition({"segmentExited": f"seg_{vip.id}"}, True))
    (person,) = (await upsert_people(workspace.id, [{"email": "a@flow.test"}])).people
    await detect_pending()
    # when: they enter, leave, and enter again
    for remove in (False, True, False, True):
        await tag_people(workspace.id, [person.id], ["vip"], remove=remove)
        await detect_pending()
    rows = await log_rows(vip.id)
    assert [r["kind"] for r in rows] == ["ENTERED", "EXITED", "ENTERED", "EXITED"]
    entered = await Enrollment.filter(flow_id=on_enter.id).order_by("id")
    # no re-entry: once ever, enrolled by the first entry
    assert [(e.person_id, e.source, e.segment_change_id) for e in entered] == [
        (person.id, "segment_change", rows[0]["id"])
    ]
    exited = await Enrollment.filter(flow_id=on_exit.id).order_by("id")
    # re-entry allowed, but never twice at once: the first exit's enrollment is still open
    assert [e.segment_change_id for e in exited] == [rows[1]["id"]]


async def test_a_paused_flow_enrolls_nobody(workspace):
    triggers.subscribe()
    vip = await create_segment(workspace.id, "vip", None, VIP)
    flow = await active(workspace.id, flow_definition({"segmentEntered": f"seg_{vip.id}"}))
    await set_status(workspace.id, flow.id, FlowStatus.PAUSED)
    (person,) = (await upsert_people(workspace.id, [{"email": "p@flow.test"}])).people
    await detect_pending()
    await tag_people(workspace.id, [person.id], ["vip"])
    assert (await detect_pending()).changes == 1
    assert await Enrollment.filter(flow_id=flow.id).count() == 0


async def test_graphql_segment_trigger_round_trips_and_is_checked(gql, workspace):
    vip = await create_segment(workspace.id, "vip", None, VIP)
    steps = flow_definition(None)["steps"]
    body = await gql.ok(
        CREATE_FLOW,
        {
            "d": {
                "entry": "tag",
                "steps": steps,
                "segmentTrigger": {"segmentEntered": f"seg_{vip.id}"},
            }
        },
    )
    flow = body["createFlow"]["flow"]
    assert flow["definition"]["segmentTrigger"] == {"segmentId": f"seg_{vip.id}", "kind": "ENTERED"}
    assert flow["definition"]["trigger"] is None
    assert flow["definitionJson"]["trigger"] == {"segmentEntered": f"seg_{vip.id}"}
    # the event trigger's shape still works beside it
    body = await gql.ok(
        CREATE_FLOW, {"d": {"entry": "tag", "steps": steps, "trigger": "signed_up"}}
    )
    assert body["createFlow"]["flow"]["definition"]["trigger"] == "signed_up"
    # unknown segment; both at once
    body = await gql.ok(
        CREATE_FLOW,
        {"d": {"entry": "tag", "steps": steps, "segmentTrigger": {"segmentExited": "seg_999"}}},
    )
    (error,) = body["createFlow"]["userErrors"]
    assert error["code"] == "NOT_FOUND" and error["path"][:3] == ["input", "definition", "trigger"]
    body = await gql.ok(
        CREATE_FLOW,
        {
            "d": {
                "entry": "tag",
                "steps": steps,
                "trigger": "x",
                "segmentTrigger": {"segmentExited": f"seg_{vip.id}"},
            }
        },
    )
    (error,) = body["createFlow"]["userErrors"]
    assert error["code"] == "INVALID" and error["path"] == ["input", "definition", "segmentTrigger"]
