"""Logs as an operator reads them: JSON lines, one per operation, with the request id;
a client's mistake is one line without a traceback, an unexpected error carries one."""

from __future__ import annotations

import json
import logging
from typing import Any

from app.sql import connection

MEMBERSHIPS = (
    'query Check($p: ID!) { memberships(personId: $p, segmentIds: ["seg_999999"]) { member } }'
)
PREVIEW_TOO_DEEP = "query { previewSegment(definition: %s) { count } }"
SEGMENT = "query Broken($id: ID!) { segment(id: $id) { name definition { match } } }"


def events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == name]


async def test_client_errors_are_one_line_without_a_traceback(gql, log_output, make_person):
    person = await make_person()
    deep: dict[str, Any] = {"conditions": [{"tag": {"tag": "x"}}]}
    for _ in range(10):
        deep = {"conditions": [{"group": deep}]}
    filter_text = json.dumps(deep).replace('"conditions"', "conditions").replace('"group"', "group").replace('"tag"', "tag")  # fmt: skip
    # when: a wrong key, an unknown segment, a filter over the depth limit
    wrong_key = await gql("query { segments(first: 1) { totalCount } }", key="sk_wrong")
    not_found = await gql(MEMBERSHIPS, {"p": f"per_{person.id}"})
    too_deep = await gql(PREVIEW_TOO_DEEP % filter_text)
    codes = [b["errors"][0]["extensions"]["code"] for b in (wrong_key, not_found, too_deep)]
    assert codes == ["UNAUTHENTICATED", "NOT_FOUND", "TOO_DEEP"]
    # then: one line each, with its code, and no traceback anywhere
    lines = log_output()
    logged = events(lines, "graphql_client_error")
    assert [line["code"] for line in logged] == codes
    assert "Traceback" not in log_output.raw.getvalue()  # type: ignore[attr-defined]
    assert not any("exception" in line for line in lines)
    operations = events(lines, "graphql_operation")
    assert [op["outcome"] for op in operations] == ["client_error"] * 3
    assert operations[1]["operation"] == "Check" and operations[0]["operation"] == "segments"
    assert operations[1]["workspace"] == person.workspace_id  # type: ignore[attr-defined]
    assert all(op["request_id"] and op["duration_ms"] >= 0 for op in operations)


async def test_an_unexpected_error_is_logged_with_its_traceback(gql, log_output, workspace):
    from app.segments.service import create_segment

    segment = await create_segment(workspace.id, "Corrupt", None, {"conditions": [{"tag": {"tag": "x"}}]})  # fmt: skip
    # a stored definition damaged outside the app: nothing the client did
    await connection().execute_query(
        f"UPDATE segments SET definition = '{{\"version\": 99}}' WHERE id = {segment.id}"
    )
    body = await gql(SEGMENT, {"id": f"seg_{segment.id}"})
    assert body["errors"][0]["message"] == "Unexpected error."  # masked for the client
    lines = log_output()
    [logged] = events(lines, "graphql_unexpected_error")
    assert "Traceback" in logged["exception"]
    assert logged["level"] == "error" and logged["request_id"]
    [operation] = events(lines, "graphql_operation")
    assert operation["outcome"] == "error" and operation["operation"] == "Broken"


async def test_a_mutation_with_user_errors_is_logged_as_such(gql, log_output):
    body = await gql.ok('mutation { deleteSegment(id: "seg_424242") { userErrors { code } } }')
    assert body["deleteSegment"]["userErrors"] == [{"code": "NOT_FOUND"}]
    [operation] = events(log_output(), "graphql_operation")
    assert (operation["outcome"], operation["error_codes"]) == ("user_error", ["NOT_FOUND"])
    assert operation["operation_type"] == "mutation"


async def test_the_request_id_is_echoed_and_logged(gql, log_output):
    given = await gql.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": "abc-123"}
    )
    fresh = await gql.client.post("/graphql", json={"query": "{ __typename }"})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(fresh.headers["x-request-id"]) == 32
    hostile = await gql.client.get("/health", headers={"X-Request-ID": "a b\n{}" * 20})
    assert hostile.headers["x-request-id"] != "a b\n{}" * 20  # replaced, not echoed
    ids = [op["request_id"] for op in events(log_output(), "graphql_operation")]
    assert ids == ["abc-123", fresh.headers["x-request-id"]]


def test_library_loggers_are_routed_through_the_same_handler(log_output):
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("arq.worker").warning("redis connection error")
    lines = log_output()
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("uvicorn.error", "info"), ("arq.worker", "warning")
    ]  # fmt: skip
    assert all(line["timestamp"].endswith("Z") for line in lines)
