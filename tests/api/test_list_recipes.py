"""Lists completed by recipe (app/graphql/lists.py) answer exactly as graphql-core does.

The reference is graphql-core itself: the same schema, query and data executed with
strawberry's own executor. A toy schema covers what the recipe must get right or give
up on (nulls in non-null fields, enums, nested objects, aliases, fragments, directives,
`__typename`, resolvers, arguments, values that do not coerce); hypothesis draws the
data and the selections. The app's own member pages are compared the same way.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.graphql.lists import ListExecutor


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    label: str
    size: int | None


@strawberry.type
class Item:
    id: strawberry.ID
    name: str | None
    count: int
    color: Color | None
    leaf: Leaf | None
    must_leaf: Leaf

    @strawberry.field
    def shout(self) -> str:
        return (self.name or "").upper()

    @strawberry.field
    def times(self, n: int = 2) -> int:
        return self.count * n


@strawberry.type
class Query:
    rows: strawberry.Private[list[Any]]

    @strawberry.field
    def items(self) -> list[Item]:
        return self.rows

    @strawberry.field
    def maybe_items(self) -> list[Item | None] | None:
        return self.rows


SCHEMAS = {
    "recipe": strawberry.Schema(query=Query, execution_context_class=ListExecutor),
    "graphql-core": strawberry.Schema(
        query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
    ),
}

QUERIES = [
    "{ items { id name count } }",
    "{ items { __typename id alias: name color leaf { label size } mustLeaf { label } } }",
    "{ maybeItems { id ...F leaf { ... on Leaf { size } } } } fragment F on Item { count color }",
    "query($s: Boolean!) { items { id name @skip(if: $s) count @include(if: $s) } }",
    "{ items { id shout } }",  # a resolver: graphql-core's path
    "{ items { times(n: 3) } }",  # arguments: graphql-core's path
    "{ a: items { id } b: maybeItems { name mustLeaf { size } } }",
]

# values a field may hold: right, null where null is refused, of a type that does not
# coerce (a str for an Int), an exception instance (graphql-core raises it)
_scalars = st.one_of(
    st.none(), st.text(max_size=3), st.integers(-(2**40), 2**40), st.just(ValueError("x"))
)


@st.composite
def _row(draw: Any) -> Any:
    leaf = st.builds(
        Leaf,
        label=st.one_of(st.text(max_size=3), _scalars),
        size=st.one_of(st.integers(), _scalars),
    )
    return draw(
        st.builds(
            Item,
            id=st.one_of(st.text(min_size=1, max_size=4), _scalars),
            name=st.one_of(st.text(max_size=4), _scalars),
            count=st.one_of(st.integers(-5, 5), _scalars),
            color=st.one_of(st.sampled_from(Color), st.none(), st.just("green")),
            leaf=st.one_of(leaf, st.none()),
            must_leaf=st.one_of(leaf, st.none()),
        )
    )


rows_strategy = st.lists(st.one_of(_row(), st.none()), max_size=6)


def _run(which: str, query: str, rows: list[Any]) -> tuple[Any, list[Any]]:
    result = SCHEMAS[which].execute_sync(
        query, root_value=Query(rows=rows), variable_values={"s": False}
    )
    errors = sorted(
        (e.message, tuple(e.path or ()), tuple((loc.line, loc.column) for loc in e.locations or ()))
        for e in result.errors or []
    )
    return result.data, errors


@pytest.fixture
def recipes_used(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per recipe asked for: whether one was built (None: graphql-core's path)."""
    built: list[bool] = []
    original = ListExecutor._item_recipe

    def spy(self: ListExecutor, item_type: Any, details: Any) -> Any:
        recipe = original(self, item_type, details)
        built.append(recipe is not None)
        return recipe

    monkeypatch.setattr(ListExecutor, "_item_recipe", spy)
    return built


@settings(max_examples=150, deadline=None)
@given(query=st.sampled_from(QUERIES), rows=rows_strategy)
def test_a_recipe_answers_as_graphql_core_does(query: str, rows: list[Any]):
    assert _run("recipe", query, rows) == _run("graphql-core", query, rows)


def test_plain_selections_take_the_recipe_and_the_rest_do_not(recipes_used: list[bool]):
    rows = [
        Item(
            id="1", name="a", count=1, color=Color.RED, leaf=None, must_leaf=Leaf(label="x", size=2)
        )
    ]
    for query in QUERIES[:4]:
        recipes_used.clear()
        _run("recipe", query, rows)
        assert recipes_used and all(recipes_used), query
    for query in QUERIES[4:6]:
        recipes_used.clear()
        _run("recipe", query, rows)
        assert recipes_used == [False], query


def test_an_item_the_recipe_cannot_complete_gets_graphql_cores_error():
    # given: a null where the schema promises a value, in the second of three items
    good = Item(
        id="1", name="a", count=1, color=None, leaf=None, must_leaf=Leaf(label="x", size=None)
    )
    bad = Item(
        id="2", name="b", count=None, color=None, leaf=None, must_leaf=Leaf(label="y", size=1)
    )  # type: ignore[arg-type]
    # when
    data, errors = _run("recipe", "{ maybeItems { id count } }", [good, bad, good])
    # then: that item alone is null, with graphql-core's message and path
    assert data == {"maybeItems": [{"id": "1", "count": 1}, None, {"id": "1", "count": 1}]}
    assert errors == [
        (
            "Cannot return null for non-nullable field Item.count.",
            ("maybeItems", 1, "count"),
            ((1, 19),),
        )
    ]


def test_resolver_middleware_turns_recipes_off(recipes_used: list[bool]):
    # a schema extension with a resolve hook (tracing is one) must see every field
    seen: list[str] = []

    class Watch(strawberry.extensions.SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    schema = strawberry.Schema(
        query=Query, execution_context_class=ListExecutor, extensions=[Watch]
    )
    rows = [
        Item(id="1", name="a", count=1, color=None, leaf=None, must_leaf=Leaf(label="x", size=2))
    ]
    result = schema.execute_sync("{ items { id } }", root_value=Query(rows=rows))
    assert result.data == {"items": [{"id": "1"}]}
    assert seen == ["items", "id"]


PAGE = """query($id: ID!) { segment(id: $id) { members(first: 50) {
  edges { cursor node { __typename id email status country region city tags fields createdAt } }
  e2: edges { node { ... on Person { pk: id timezone updatedAt } } }
  pageInfo { hasNextPage endCursor } } } }"""


async def test_a_member_page_reads_the_same_through_either_executor(gql, monkeypatch, recipes_used):
    from app.graphql.schema import schema

    # given: people with tags, fields and places, and a segment of all of them
    people = [
        {"email": f"p{i}@example.com", "tags": ["VIP"] if i % 2 else [], "fields": {"n": i},
         "country": "FR" if i % 3 else None, "region": "Île-de-France" if i % 3 else None}
        for i in range(30)
    ]  # fmt: skip
    await gql.ok(
        "mutation($p: [PersonInput!]!) { upsertPeople(people: $p) { userErrors { message } } }",
        {"p": people},
    )
    created = await gql.ok(
        "mutation($i: CreateSegmentInput!) { createSegment(input: $i) { segment { id } } }",
        {"i": {"name": "all", "definition": {"match": "ANY", "conditions": [
            {"attribute": {"attribute": "EMAIL", "op": "CONTAINS", "value": "@"}}]}}},
    )  # fmt: skip
    variables = {"id": created["createSegment"]["segment"]["id"]}
    # when
    with_recipes = await gql(PAGE, variables)
    monkeypatch.setattr(schema, "execution_context_class", StrawberryGraphQLCoreExecutionContext)
    without = await gql(PAGE, variables)
    # then: the same body, and the recipe did the second list (the first asks for tags)
    assert "errors" not in with_recipes
    assert len(with_recipes["data"]["segment"]["members"]["edges"]) == 30
    assert with_recipes == without
    assert True in recipes_used and False in recipes_used
