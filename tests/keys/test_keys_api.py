"""Key scopes and the admin-scoped key mutations, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)

from app import tenancy
from app.graphql.permissions import IsAuthenticated
from app.graphql.schema import schema
from app.keys.scopes import Scope
from app.keys.service import create_key, revoke_key
from app.people.models import ApiKey, Person
from app.sql import now_utc
from tests.factories import GraphQLClient

PEOPLE = "query { people(first: 5) { totalCount } }"
UPSERT = 'mutation { upsertPeople(people: [{email: "x@example.com"}]) { userErrors { code } } }'
API_KEYS = """query($revoked: Boolean) { apiKeys(includeRevoked: $revoked) {
  totalCount edges { node { id name scope prefix createdAt lastUsedAt revokedAt } } } }"""
CREATE = """mutation($name: String!, $scope: ApiKeyScope) {
  createApiKey(input: {name: $name, scope: $scope}) {
    apiKey { id name scope revokedAt } secret userErrors { path message code } } }"""
REVOKE = """mutation($id: ID!) { revokeApiKey(id: $id) {
  apiKey { id revokedAt } secret userErrors { path message code } } }"""
ROTATE = """mutation($id: ID!) { rotateApiKey(id: $id) {
  apiKey { id name scope } secret userErrors { path message code } } }"""


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def key_of(workspace_id: int, scope: Scope, name: str = "test") -> str:
    return (await create_key(workspace_id, name=name, scope=scope)).secret


# --- a read-only key and every mutation ------------------------------------------------


def _sample(kind: GraphQLInputType, seen: frozenset[str] = frozenset()) -> Any:
    """A value of the type that passes GraphQL validation, so the permission check runs."""
    if isinstance(kind, GraphQLNonNull):
        return _sample(kind.of_type, seen)
    if isinstance(kind, GraphQLList):
        return [_sample(kind.of_type, seen)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        inner = seen | {kind.name}
        required = {n: f for n, f in kind.fields.items() if isinstance(f.type, GraphQLNonNull)}
        if required:
            return {n: _sample(f.type, inner) for n, f in required.items()}
        # a one-of input (or one with only optional members): one member, not a recursive one
        name, field = next(
            (n, f) for n, f in kind.fields.items() if getattr(f.type, "name", "") not in inner
        )
        return {name: _sample(field.type, inner)}
    assert isinstance(kind, GraphQLScalarType)
    return {"Int": 1, "Float": 1.0, "Boolean": True, "JSON": {}}.get(kind.name, "x_1")


def every_mutation() -> list[tuple[str, str, dict[str, Any]]]:
    """(field, document, variables) for every mutation of the schema, required args only."""
    mutation = schema._schema.mutation_type
    assert mutation is not None
    out = []
    for name, field in mutation.fields.items():
        required = {a: arg for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
        params = ", ".join(f"${a}: {arg.type}" for a, arg in required.items())
        call = ", ".join(f"{a}: ${a}" for a in required)
        head = f"mutation M({params})" if params else "mutation M"
        document = f"{head} {{ {name}{f'({call})' if call else ''} {{ __typename }} }}"
        out.append((name, document, {a: _sample(arg.type) for a, arg in required.items()}))
    return out


def test_every_mutation_field_is_guarded_by_a_scope_checking_permission():
    mutation = schema.get_type_by_name("Mutation")
    assert mutation is not None
    unguarded = [
        f.name
        for f in mutation.fields  # type: ignore[union-attr]
        if not any(issubclass(p, IsAuthenticated) for p in f.permission_classes)
    ]
    assert unguarded == []


async def test_a_read_only_key_is_refused_every_mutation_and_nothing_changes(
    http_app, workspace, make_person
):
    await make_person("ada@example.com", tags=["vip"])
    read = GraphQLClient(http_app, await key_of(workspace.id, Scope.READ))
    assert (await read.ok(PEOPLE))["people"]["totalCount"] == 1  # queries are allowed
    mutations = every_mutation()
    assert len(mutations) >= 20
    for name, document, variables in mutations:
        body = await read(document, variables)
        assert codes(body) == ["FORBIDDEN"], (name, body)
        assert body["data"] is None, name
        assert "scope is read" in body["errors"][0]["message"]
    assert await Person.filter(workspace_id=workspace.id).count() == 1
    assert await ApiKey.filter(workspace_id=workspace.id).count() == 1


async def test_a_write_key_mutates_but_cannot_manage_keys(http_app, workspace):
    write = GraphQLClient(http_app, await key_of(workspace.id, Scope.WRITE))
    assert (await write.ok(UPSERT))["upsertPeople"]["userErrors"] == []
    for document, variables in ((API_KEYS, {}), (CREATE, {"name": "x"}), (REVOKE, {"id": "key_1"})):
        body = await write(document, variables)
        assert codes(body) == ["FORBIDDEN"] and body["data"] is None
    assert await ApiKey.filter(workspace_id=workspace.id).count() == 1


# --- admin mutations -------------------------------------------------------------------


async def test_an_admin_key_creates_lists_rotates_and_revokes_keys(http_app, workspace):
    admin = GraphQLClient(http_app, await key_of(workspace.id, Scope.ADMIN, "ops"))
    created = (await admin.ok(CREATE, {"name": "CRM sync", "scope": "READ"}))["createApiKey"]
    assert created["userErrors"] == [] and created["secret"].startswith("sk_")
    assert created["apiKey"]["name"] == "CRM sync" and created["apiKey"]["scope"] == "READ"
    crm = GraphQLClient(http_app, created["secret"])
    assert (await crm.ok(PEOPLE))["people"]["totalCount"] == 0
    assert codes(await crm(UPSERT)) == ["FORBIDDEN"]

    listed = (await admin.ok(API_KEYS))["apiKeys"]
    assert listed["totalCount"] == 2
    assert [e["node"]["name"] for e in listed["edges"]] == ["ops", "CRM sync"]
    assert listed["edges"][1]["node"]["prefix"] == created["secret"][:10]
    assert "secret" not in str(listed) and created["secret"] not in str(listed)

    # rotate: a new secret, same name and scope; the old secret stops at once here
    rotated = (await admin.ok(ROTATE, {"id": created["apiKey"]["id"]}))["rotateApiKey"]
    assert rotated["userErrors"] == []
    assert (rotated["apiKey"]["name"], rotated["apiKey"]["scope"]) == ("CRM sync", "READ")
    assert rotated["apiKey"]["id"] != created["apiKey"]["id"]
    assert codes(await crm(PEOPLE)) == ["UNAUTHENTICATED"]
    new_crm = GraphQLClient(http_app, rotated["secret"])
    assert (await new_crm.ok(PEOPLE))["people"]["totalCount"] == 0

    again = (await admin.ok(ROTATE, {"id": created["apiKey"]["id"]}))["rotateApiKey"]
    assert again["secret"] is None and again["userErrors"][0]["code"] == "INVALID_STATE"

    revoked = (await admin.ok(REVOKE, {"id": rotated["apiKey"]["id"]}))["revokeApiKey"]
    assert revoked["userErrors"] == [] and revoked["apiKey"]["revokedAt"] is not None
    assert codes(await new_crm(PEOPLE)) == ["UNAUTHENTICATED"]
    active = (await admin.ok(API_KEYS, {"revoked": False}))["apiKeys"]
    assert [e["node"]["name"] for e in active["edges"]] == ["ops"]


async def test_admin_key_mutations_report_bad_input_and_stay_in_their_workspace(
    http_app, workspace, make_workspace
):
    admin = GraphQLClient(http_app, await key_of(workspace.id, Scope.ADMIN))
    other = await make_workspace("other")
    theirs = await create_key(other.id, name="theirs", scope=Scope.ADMIN)
    for document in (REVOKE, ROTATE):
        for key_id in (f"key_{theirs.key.id}", "key_999999", "per_1"):
            payload = next(iter((await admin.ok(document, {"id": key_id})).values()))
            assert payload["apiKey"] is None and payload["secret"] is None
            assert payload["userErrors"][0]["path"] == ["id"]
            assert payload["userErrors"][0]["code"] in {"NOT_FOUND", "INVALID"}
    long_name = (await admin.ok(CREATE, {"name": "n" * 101}))["createApiKey"]
    assert long_name["userErrors"] == [
        {"path": ["name"], "message": "A key name is at most 100 characters.", "code": "TOO_LONG"}
    ]
    assert (await ApiKey.get(id=theirs.key.id)).revoked_at is None
    listed = (await admin.ok(API_KEYS))["apiKeys"]
    assert listed["totalCount"] == 1  # not the other workspace's key
    assert (await GraphQLClient(http_app, theirs.secret).ok(PEOPLE))["people"]["totalCount"] == 0


# --- the key cache and last use --------------------------------------------------------


async def test_revoking_in_this_process_refuses_the_key_at_once(http_app, workspace):
    issued = await create_key(workspace.id, name="soon gone", scope=Scope.WRITE)
    client = GraphQLClient(http_app, issued.secret)
    assert (await client.ok(PEOPLE))["people"]["totalCount"] == 0  # now cached
    await revoke_key(issued.key.id)
    assert codes(await client(PEOPLE)) == ["UNAUTHENTICATED"]


async def test_last_used_is_recorded_at_most_once_a_minute(http_app, workspace, monkeypatch):
    issued = await create_key(workspace.id, name="busy", scope=Scope.READ)
    client = GraphQLClient(http_app, issued.secret)
    assert (await ApiKey.get(id=issued.key.id)).last_used_at is None
    monkeypatch.setattr(tenancy, "KEY_CACHE_SECONDS", 0.0)  # every request reads the key row
    await client.ok(PEOPLE)
    first = (await ApiKey.get(id=issued.key.id)).last_used_at
    assert first is not None and abs((now_utc() - first).total_seconds()) < 60
    for _ in range(3):
        await client.ok(PEOPLE)
    assert (await ApiKey.get(id=issued.key.id)).last_used_at == first  # no write per request
    earlier = now_utc() - timedelta(minutes=2)
    await ApiKey.filter(id=issued.key.id).update(last_used_at=earlier)
    await client.ok(PEOPLE)
    assert (await ApiKey.get(id=issued.key.id)).last_used_at > earlier + timedelta(minutes=1)


@pytest.mark.parametrize("scope", list(Scope))
def test_scopes_are_ordered(scope):
    assert scope.allows(Scope.READ)
    assert scope.allows(Scope.ADMIN) == (scope is Scope.ADMIN)
    assert scope.allows(Scope.WRITE) == (scope is not Scope.READ)


async def test_a_workspace_is_found_by_id_or_name_and_an_ambiguous_name_is_refused(
    make_workspace,
):
    from app.errors import UserInputError
    from app.tenancy import resolve_workspace

    first = await make_workspace("bars")
    assert (await resolve_workspace("bars")).id == first.id
    assert (await resolve_workspace(str(first.id))).id == first.id
    assert (await resolve_workspace(f"wsp_{first.id}")).id == first.id
    second = await make_workspace("bars")  # two names alike, as made before names were unique
    with pytest.raises(
        UserInputError, match=f"2 workspaces are named 'bars' \\(ids {first.id}, {second.id}\\)"
    ):
        await resolve_workspace("bars")


async def test_of_two_concurrent_rotations_one_wins(workspace):
    import asyncio

    from app.errors import UserInputError
    from app.keys.service import rotate_key

    issued = await create_key(workspace.id, name="raced", scope=Scope.WRITE)
    outcomes = await asyncio.gather(
        rotate_key(issued.key.id), rotate_key(issued.key.id), return_exceptions=True
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], UserInputError) and lost[0].errors[0].code == "INVALID_STATE"
    active = await ApiKey.filter(workspace_id=workspace.id, revoked_at__isnull=True)
    assert [k.id for k in active] == [won[0].key.id]  # no second live copy of the key
