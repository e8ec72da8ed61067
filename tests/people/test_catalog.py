"""The workspace catalog (tags, field keys with JSON types, event names with property
keys), counted live and bounded, on SQLite and PostgreSQL."""

from __future__ import annotations

CATALOG = """
query($tags: Int!, $fields: Int!, $events: Int!) {
  catalog {
    tags(first: $tags) { tag people }
    fields(first: $fields) { key types people }
    events(first: $events) { name events people properties { key types events } }
  }
}"""
ALL = {"tags": 100, "fields": 100, "events": 50}


async def test_the_catalog_counts_what_the_workspace_holds(
    gql, make_person, make_event, make_workspace
):
    ada = await make_person(
        "ada@example.com", tags=["vip", "beta"], fields={"plan": "pro", "seats": 3}
    )
    grace = await make_person("grace@example.com", tags=["vip"], fields={"plan": 7, "trial": True})
    await make_person("linus@example.com", fields={"note": None})
    await make_event(ada, "purchase", value=5, properties={"sku": "mug", "qty": 2})
    await make_event(ada, "purchase", value=7, properties={"sku": "cup"})
    await make_event(grace, "purchase", properties={"gift": False})
    await make_event(grace, "email_opened")
    other = await make_workspace("other")
    theirs = await make_person(
        "theirs@example.com", tags=["secret"], fields={"hidden": 1}, in_workspace=other
    )
    await make_event(theirs, "secret_event")

    catalog = (await gql.ok(CATALOG, ALL))["catalog"]
    assert catalog["tags"] == [{"tag": "vip", "people": 2}, {"tag": "beta", "people": 1}]
    assert catalog["fields"] == [
        {"key": "plan", "types": ["NUMBER", "STRING"], "people": 2},
        {"key": "note", "types": ["NULL"], "people": 1},
        {"key": "seats", "types": ["NUMBER"], "people": 1},
        {"key": "trial", "types": ["BOOLEAN"], "people": 1},
    ]
    purchase, opened = catalog["events"]
    assert (purchase["name"], purchase["events"], purchase["people"]) == ("purchase", 3, 2)
    assert purchase["properties"] == [
        {"key": "sku", "types": ["STRING"], "events": 2},
        {"key": "gift", "types": ["BOOLEAN"], "events": 1},
        {"key": "qty", "types": ["NUMBER"], "events": 1},
    ]
    assert opened == {"name": "email_opened", "events": 1, "people": 1, "properties": []}
    assert "secret" not in str(catalog) and "hidden" not in str(catalog)


async def test_the_catalog_is_bounded(gql, make_person):
    for i in range(5):
        await make_person(f"p{i}@example.com", tags=[f"t{i}", "common"])
    first_two = (await gql.ok(CATALOG, {**ALL, "tags": 2}))["catalog"]["tags"]
    assert first_two == [{"tag": "common", "people": 5}, {"tag": "t0", "people": 1}]
    for name, value in (("tags", 1001), ("fields", -1), ("events", 201)):
        body = await gql(CATALOG, {**ALL, name: value})
        assert body["errors"][0]["extensions"]["code"] == "INVALID", body
