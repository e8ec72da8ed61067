"""Flows through GraphQL: save and read back, refusals with paths, segment references,
status changes, enrollment by ids and by segment, and the membership matrix."""

from __future__ import annotations

from app.flows.models import Enrollment
from app.segments import evaluate
from app.segments.ast import from_json
from app.segments.models import Segment
from tests.flows.conftest import make_segment, split_flow

CREATE = """
mutation($input: CreateFlowInput!) { createFlow(input: $input) {
  flow { id name status definitionJson
         definition { entry trigger allowReentry steps { id kind
           wait { duration next } split { segmentId yes no }
           sendEmail { subject html text next } addTag { tag next } removeTag { tag next }
           exit { reason } } } }
  userErrors { path message code } } }"""
UPDATE = """
mutation($input: UpdateFlowInput!) { updateFlow(input: $input) {
  flow { id name definition { entry } } userErrors { path message code } } }"""
ACTIVATE = (
    "mutation($id: ID!) { activateFlow(id: $id) { flow { status } userErrors { path code } } }"
)
PAUSE = "mutation($id: ID!) { pauseFlow(id: $id) { flow { status } userErrors { path code } } }"
ENROLL = """
mutation($flow: ID!, $people: [ID!], $segment: ID) {
  enrollPeople(flowId: $flow, personIds: $people, segmentId: $segment) {
    enrolled skipped userErrors { path message code } } }"""
FLOWS = "query($after: String) { flows(first: 2, after: $after) { totalCount edges { node { name } } pageInfo { hasNextPage endCursor } } }"
DELETE_SEGMENT = (
    "mutation($id: ID!) { deleteSegment(id: $id) { deletedSegmentId userErrors { message code } } }"
)
MATRIX = """
query($people: [ID!]!, $segments: [ID!]!) {
  membershipMatrix(personIds: $people, segmentIds: $segments) { personId found memberOf member } }"""


async def create(gql, definition, name="Onboarding"):
    return (await gql.ok(CREATE, {"input": {"name": name, "definition": definition}}))["createFlow"]


async def test_a_flow_reads_back_exactly_as_sent(flow_gql, workspace):
    vip = await make_segment(workspace.id, "VIP", "vip")
    definition = {
        "entry": "hello", "trigger": "signed_up", "allowReentry": True,
        "steps": [
            {"id": "hello", "sendEmail": {"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi", "next": "pause"}},
            {"id": "pause", "wait": {"duration": 60, "next": "vip?"}},
            {"id": "vip?", "split": {"segmentId": f"seg_{vip.id}", "yes": "tag", "no": "untag"}},
            {"id": "tag", "addTag": {"tag": "engaged", "next": "end"}},
            {"id": "untag", "removeTag": {"tag": "engaged", "next": "end"}},
            {"id": "end", "exit": {"reason": "done"}},
        ],
    }  # fmt: skip
    saved = await create(flow_gql, definition)
    assert saved["userErrors"] == []
    flow = saved["flow"]
    assert flow["status"] == "DRAFT"
    assert flow["definitionJson"] == {"version": 1, **definition}  # segment IDs, not row ids
    steps = flow["definition"]["steps"]
    assert [s["kind"] for s in steps] == [
        "SEND_EMAIL",
        "WAIT",
        "SPLIT",
        "ADD_TAG",
        "REMOVE_TAG",
        "EXIT",
    ]
    assert steps[2]["split"] == {"segmentId": f"seg_{vip.id}", "yes": "tag", "no": "untag"}
    assert steps[5]["exit"] == {"reason": "done"}
    assert flow["definition"]["trigger"] == "signed_up"
    assert flow["definition"]["allowReentry"] is True


async def test_invalid_definitions_answer_with_paths(flow_gql, workspace):
    saved = await create(flow_gql, {
        "entry": "a",
        "steps": [{"id": "a", "split": {"segmentId": "seg_1", "yes": "b", "no": "zz"}},
                  {"id": "b", "addTag": {"tag": "x", "next": "a"}}],
    })  # fmt: skip
    assert saved["flow"] is None
    assert {(".".join(e["path"]), e["code"]) for e in saved["userErrors"]} == {
        ("input.definition.steps.0.split.no", "NOT_FOUND")
    }


async def test_a_split_on_an_unknown_or_foreign_segment_is_refused_at_its_step(
    flow_gql, workspace, make_workspace
):
    other = await make_workspace("other")
    foreign = await make_segment(other.id, "theirs", "vip")
    mine = await make_segment(workspace.id, "mine", "vip")
    definition = {
        "entry": "a",
        "steps": [
            {"id": "a", "split": {"segmentId": f"seg_{mine.id}", "yes": "b", "no": "c"}},
            {"id": "b", "split": {"segmentId": f"seg_{foreign.id}", "yes": "end", "no": "end"}},
            {"id": "c", "split": {"segmentId": "seg_999999", "yes": "end", "no": "end"}},
            {"id": "end", "exit": {}},
        ],
    }
    saved = await create(flow_gql, definition)
    assert saved["flow"] is None
    assert [(e["path"], e["code"]) for e in saved["userErrors"]] == [
        (["input", "definition", "steps", "1", "split", "segmentId"], "NOT_FOUND"),
        (["input", "definition", "steps", "2", "split", "segmentId"], "NOT_FOUND"),
    ]


async def test_a_segment_used_by_a_flow_cannot_be_deleted(flow_gql, workspace):
    vip = await make_segment(workspace.id, "VIP", "vip")
    spare = await make_segment(workspace.id, "Spare", "spare")
    flow = (await create(flow_gql, split_flow(vip.id), name="Welcome"))["flow"]
    refused = (await flow_gql.ok(DELETE_SEGMENT, {"id": f"seg_{vip.id}"}))["deleteSegment"]
    assert refused["deletedSegmentId"] is None
    assert refused["userErrors"][0]["code"] == "IN_USE"
    assert f"flow 'Welcome' ({flow['id']})" in refused["userErrors"][0]["message"]
    # moving the split to another segment releases the first one
    updated = await flow_gql.ok(
        UPDATE, {"input": {"id": flow["id"], "definition": split_flow(spare.id)}}
    )
    assert updated["updateFlow"]["userErrors"] == []
    deleted = (await flow_gql.ok(DELETE_SEGMENT, {"id": f"seg_{vip.id}"}))["deleteSegment"]
    assert deleted["userErrors"] == []
    assert await Segment.filter(id=vip.id).count() == 0


async def test_status_changes_and_listing(flow_gql, workspace):
    vip = await make_segment(workspace.id, "VIP", "vip")
    ids = [
        (await create(flow_gql, split_flow(vip.id), name=f"f{i}"))["flow"]["id"] for i in range(3)
    ]
    refused = (await flow_gql.ok(PAUSE, {"id": ids[0]}))["pauseFlow"]
    assert refused["userErrors"] == [{"path": ["id"], "code": "INVALID_STATE"}]
    assert (await flow_gql.ok(ACTIVATE, {"id": ids[0]}))["activateFlow"]["flow"][
        "status"
    ] == "ACTIVE"
    assert (await flow_gql.ok(PAUSE, {"id": ids[0]}))["pauseFlow"]["flow"]["status"] == "PAUSED"
    missing = (await flow_gql.ok(ACTIVATE, {"id": "flw_999999"}))["activateFlow"]
    assert missing["userErrors"] == [{"path": ["id"], "code": "NOT_FOUND"}]
    first = (await flow_gql.ok(FLOWS))["flows"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
    rest = (await flow_gql.ok(FLOWS, {"after": first["pageInfo"]["endCursor"]}))["flows"]
    assert [e["node"]["name"] for e in first["edges"] + rest["edges"]] == ["f0", "f1", "f2"]


async def test_enroll_people_by_ids_once(flow_gql, workspace, make_person, make_workspace):
    vip = await make_segment(workspace.id, "VIP", "vip")
    flow = (await create(flow_gql, split_flow(vip.id)))["flow"]
    ada, bob = await make_person(), await make_person()
    stranger = await make_person(in_workspace=await make_workspace("other"))
    variables = {
        "flow": flow["id"],
        "people": [f"per_{ada.id}", f"per_{bob.id}", f"per_{stranger.id}"],
    }
    # a draft flow takes no one
    refused = (await flow_gql.ok(ENROLL, variables))["enrollPeople"]
    assert (refused["enrolled"], refused["userErrors"][0]["code"]) == (0, "INVALID_STATE")
    await flow_gql.ok(ACTIVATE, {"id": flow["id"]})
    done = (await flow_gql.ok(ENROLL, variables))["enrollPeople"]
    assert (done["enrolled"], done["skipped"]) == (2, 0)
    assert [(e["path"], e["code"]) for e in done["userErrors"]] == [
        (["personIds", "2"], "NOT_FOUND")
    ]
    again = (await flow_gql.ok(ENROLL, variables))["enrollPeople"]
    assert (again["enrolled"], again["skipped"]) == (0, 2)  # once per person
    assert await Enrollment.filter(flow_id=int(flow["id"][4:])).count() == 2
    # a paused flow and a missing flow enroll nobody
    await flow_gql.ok(PAUSE, {"id": flow["id"]})
    paused = (await flow_gql.ok(ENROLL, {**variables, "people": [f"per_{ada.id}"]}))["enrollPeople"]
    assert (paused["enrolled"], paused["userErrors"][0]["code"]) == (0, "INVALID_STATE")
    missing = (await flow_gql.ok(ENROLL, {**variables, "flow": "flw_424242"}))["enrollPeople"]
    assert missing["userErrors"] == [
        {"path": ["flowId"], "message": "No such flow.", "code": "NOT_FOUND"}
    ]
    both = (await flow_gql.ok(ENROLL, {"flow": flow["id"]}))["enrollPeople"]
    assert both["userErrors"][0]["code"] == "INVALID"


async def test_enroll_a_segments_current_members(flow_gql, workspace, make_person):
    vip = await make_segment(workspace.id, "VIP", "vip")
    members = [await make_person(tags=["vip"]) for _ in range(5)]
    await make_person(tags=["other"])
    flow = (await create(flow_gql, split_flow(vip.id)))["flow"]
    await flow_gql.ok(ACTIVATE, {"id": flow["id"]})
    done = (await flow_gql.ok(ENROLL, {"flow": flow["id"], "segment": f"seg_{vip.id}"}))[
        "enrollPeople"
    ]
    assert (done["enrolled"], done["skipped"], done["userErrors"]) == (5, 0, [])
    enrolled = await Enrollment.filter(flow_id=int(flow["id"][4:])).values_list(
        "person_id", flat=True
    )
    assert sorted(enrolled) == sorted(p.id for p in members)
    unknown = (await flow_gql.ok(ENROLL, {"flow": flow["id"], "segment": "seg_999"}))[
        "enrollPeople"
    ]
    assert unknown["userErrors"][0]["path"] == ["segmentId"]


async def test_membership_matrix_agrees_with_contains(flow_gql, workspace, make_person, make_event):
    people = []
    for i in range(12):
        person = await make_person(
            tags=["vip"] if i % 3 == 0 else [], fields={"plan": "pro" if i % 2 else "free"}
        )
        if i % 4 == 0:
            await make_event(person, "purchase", value=100 + i)
        people.append(person)
    definitions = {
        "vip": {"conditions": [{"tag": {"tag": "vip"}}]},
        "pro": {"conditions": [{"field": {"key": "plan", "op": "EQ", "value": "pro"}}]},
        "buyer": {"conditions": [{"event": {"names": ["purchase"]}}]},
        "not vip": {"match": "NONE", "conditions": [{"tag": {"tag": "vip"}}]},
    }
    from app.segments import service as segments

    saved = [
        await segments.create_segment(workspace.id, n, None, d) for n, d in definitions.items()
    ]
    stranger_id = 10**9
    answer = (await flow_gql.ok(MATRIX, {
        "people": [f"per_{p.id}" for p in people] + [f"per_{stranger_id}"],
        "segments": [f"seg_{s.id}" for s in saved],
    }))["membershipMatrix"]  # fmt: skip
    assert len(answer) == 13
    assert answer[-1] == {"personId": f"per_{stranger_id}", "found": False, "memberOf": [],
                          "member": [False] * 4}  # fmt: skip
    from app.sql import now_utc

    for person, row in zip(people, answer, strict=False):
        expected = []
        for segment in saved:
            root = from_json(segment.definition)
            expected.append(await evaluate.contains(
                root, workspace_id=workspace.id, person_id=person.id, now=now_utc(), segments={}))  # fmt: skip
        assert row["personId"] == f"per_{person.id}" and row["found"] is True
        assert row["member"] == expected
        assert row["memberOf"] == [f"seg_{s.id}" for s, m in zip(saved, expected, strict=True) if m]


async def test_membership_matrix_limits(flow_gql, workspace):
    vip = await make_segment(workspace.id, "VIP", "vip")
    body = await flow_gql(
        MATRIX, {"people": [f"per_{i}" for i in range(1001)], "segments": [f"seg_{vip.id}"]}
    )
    assert body["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    assert "1000" in body["errors"][0]["message"]
    body = await flow_gql(MATRIX, {"people": ["per_1"], "segments": [f"seg_{vip.id}"] * 51})
    assert body["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    body = await flow_gql(MATRIX, {"people": ["per_1"], "segments": ["seg_424242"]})
    assert body["errors"][0]["extensions"] == {
        "code": "NOT_FOUND",
        "path": "segmentIds[0]",
        "inputPath": ["segmentIds", "0"],
    }
