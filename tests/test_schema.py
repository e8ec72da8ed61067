"""schema.graphql is the exported schema; this fails when the code and the file drift."""

from __future__ import annotations

from pathlib import Path

from app.graphql.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_file_matches_the_code():
    exported = schema.as_str().strip()
    on_disk = SCHEMA_FILE.read_text().strip()
    assert on_disk == exported, (
        "schema.graphql is stale: run `strawberry export-schema app.graphql.schema:schema"
        " --output schema.graphql`"
    )
