"""The HTTP guards: body limit (413, read no further), request deadline (503), work
cancelled when the client disconnects, and bodies that are not UTF-8 JSON (400 JSON)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from app.web.request_limits import RequestLimits
from tests.api.conftest import auth, serve, stop

QUERY = b'{"query": "{ __typename }"}'


async def test_a_declared_body_over_the_limit_is_a_413_before_the_app_reads_it(
    limited_client, api_key
):
    client = await limited_client(max_body_bytes=1_000)
    body = b'{"query": "{ __typename }", "variables": {"pad": "' + b"x" * 2_000 + b'"}}'
    response = await client.post("/graphql", content=body, headers=auth(api_key))
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    assert "1000 bytes" in response.json()["errors"][0]["message"]


async def test_a_streamed_body_is_refused_at_the_first_chunk_past_the_limit(
    limited_client, api_key
):
    client = await limited_client(max_body_bytes=200_000)
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(160):  # 10 MB in all, no Content-Length
            sent += 1
            yield b"x" * 65_536
        yield b'"}}'

    headers = {**auth(api_key), "content-type": "application/json"}
    response = await client.post("/graphql", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert sent < 10  # refused after ~200 KB, the other 9.8 MB never read


async def test_a_body_under_the_limit_is_answered(limited_client, api_key):
    client = await limited_client(max_body_bytes=1_000)
    headers = {**auth(api_key), "content-type": "application/json"}
    response = await client.post("/graphql", content=QUERY, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "body",
    [b'{"query": "{ __typename \xff }"}', b"\xff\xfe{}", b"{nope", b'{"query": "\xed\xa0\x80"}'],
    ids=["invalid-utf8", "bom-junk", "invalid-json", "encoded-surrogate"],
)
async def test_bodies_that_are_not_utf8_json_are_a_400_with_a_json_error(http_app, api_key, body):
    headers = {**auth(api_key), "content-type": "application/json"}
    response = await http_app.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "Traceback" not in response.text


class Stalled:
    """An ASGI app whose answer never comes: records that it was cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def __call__(self, scope, receive, send) -> None:
        while (await receive()).get("more_body"):
            pass
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


async def test_a_request_past_the_deadline_is_stopped_and_answered_503():
    stalled = Stalled()
    app = RequestLimits(stalled, max_body_bytes=1_000, timeout_seconds=0.2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/graphql", content=QUERY)
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert stalled.cancelled.is_set()


async def test_work_stops_when_the_client_disconnects():
    stalled = Stalled()
    app = RequestLimits(stalled, max_body_bytes=10_000, timeout_seconds=60)
    server, task, port = await serve(app)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(QUERY), QUERY)
        )
        await writer.drain()
        await asyncio.wait_for(stalled.started.wait(), 10)
        writer.transport.abort()  # the client goes away without an answer
        await asyncio.wait_for(stalled.cancelled.wait(), 10)
    finally:
        await stop(server, task)


async def test_the_real_app_cancels_a_graphql_request_whose_client_left(db, api_key):
    """Over a real server: a disconnect mid-request leaves the server answering others."""
    from app.main import create_app

    app = create_app()
    app.state.arq = None
    server, task, port = await serve(app)
    try:
        with socket.create_connection(("127.0.0.1", port)) as raw:
            body = b'{"query": "{ segments { totalCount } }"}'
            raw.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s"
                % (api_key.encode(), len(body), body)
            )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.post(
                "/graphql", json={"query": "{ segments { totalCount } }"}, headers=auth(api_key)
            )
        assert response.json() == {"data": {"segments": {"totalCount": 0}}}
    finally:
        await stop(server, task)


async def test_a_document_of_whitespace_is_refused_before_it_is_parsed(limited_client, api_key):
    client = await limited_client(max_query_chars=1_000)
    query = "{ __typename " + " " * 5_000 + "}"
    response = await client.post("/graphql", json={"query": query}, headers=auth(api_key))
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    assert "1000 characters" in response.json()["errors"][0]["message"]
    fine = await client.post("/graphql", json={"query": "{ __typename }"}, headers=auth(api_key))
    assert fine.json() == {"data": {"__typename": "Query"}}
