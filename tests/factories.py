"""Factory fixtures: small functions that put rows in the database for a test."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from app.people.models import Event, Person, Status, Workspace

_counter = itertools.count(1)


@pytest.fixture
def make_workspace(db) -> Callable[..., Awaitable[Workspace]]:
    async def make(name: str | None = None) -> Workspace:
        return await Workspace.create(name=name or f"workspace {next(_counter)}")

    return make


@pytest.fixture
async def workspace(make_workspace) -> Workspace:
    return await make_workspace("main")


@pytest.fixture
def make_person(workspace) -> Callable[..., Awaitable[Person]]:
    async def make(
        email: str | None = None,
        *,
        tags: list[str] = (),  # type: ignore[assignment]
        fields: dict[str, Any] | None = None,
        status: Status = Status.SUBSCRIBED,
        created_at: datetime | None = None,
        in_workspace: Workspace | None = None,
        **location: str | None,
    ) -> Person:
        person = await Person.create(
            workspace=in_workspace or workspace,
            email=(email or f"person{next(_counter)}@example.com").strip().lower(),
            tags=sorted({t.lower() for t in tags}),
            fields=fields or {},
            status=status,
            **location,
        )
        if created_at is not None:
            await Person.filter(id=person.id).update(created_at=created_at.astimezone(UTC))
            person.created_at = created_at.astimezone(UTC)
        return person

    return make


@pytest.fixture
def make_event() -> Callable[..., Awaitable[Event]]:
    async def make(
        person: Person,
        name: str,
        *,
        occurred_at: datetime | None = None,
        value: float | None = None,
        properties: dict[str, Any] | None = None,
    ) -> Event:
        return await Event.create(
            workspace_id=person.workspace_id,  # type: ignore[attr-defined]
            person=person,
            name=name,
            occurred_at=(occurred_at or datetime.now(UTC)).astimezone(UTC),
            value=value,
            properties=properties or {},
        )

    return make


class GraphQLClient:
    """Posts GraphQL operations to the app in-process, as a front-end would."""

    def __init__(self, client: Any, key: str | None) -> None:
        self.client = client
        self.key = key

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = "default"
    ) -> dict[str, Any]:
        key = self.key if key == "default" else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an operation that must succeed without any error."""
        body = await self(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
async def api_key(workspace) -> str:
    from app.tenancy import create_api_key

    return await create_api_key(workspace.id)


@pytest.fixture
async def http_app(db):
    """The real ASGI app on the test database (the `db` fixture opened it)."""
    import httpx

    from app.main import create_app

    app = create_app()
    app.state.arq = None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


@pytest.fixture
def gql(http_app, api_key) -> GraphQLClient:
    return GraphQLClient(http_app, api_key)
