"""Plain person records (the pages' fast path) show exactly what the ORM models show."""

from __future__ import annotations

from datetime import UTC, datetime

from app.graphql.people.types import Person as PersonType
from app.people.models import Person
from app.people.records import person_records


async def test_records_show_what_the_models_show(db, make_person, make_workspace):
    someone = await make_person(
        tags=["vip", "été"],
        fields={"plan": "pro", "n": 2.5, "ok": True},
        country="FR",
        region="Île",
        city="Paris",
        timezone="Europe/Paris",
        created_at=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    )
    bare = await make_person()
    elsewhere = await make_person(in_workspace=await make_workspace())
    ids = [bare.id, someone.id, elsewhere.id, 10**9, someone.id]
    records = await person_records(someone.workspace_id, ids)  # type: ignore[attr-defined]
    assert [r.id if r else None for r in records] == [bare.id, someone.id, None, None, someone.id]
    for record in (records[0], records[1]):
        assert record is not None
        model = await Person.get(id=record.id)
        fast, slow = PersonType.from_model(record), PersonType.from_model(model)
        assert (fast.tags(), fast.fields()) == (slow.tags(), slow.fields())
        assert (fast.tags(), fast.fields()) == (model.tags, model.fields)
        plain = {k: v for k, v in vars(fast).items() if not k.startswith("raw_")}
        assert plain == {k: v for k, v in vars(slow).items() if not k.startswith("raw_")}
