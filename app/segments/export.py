"""A segment's members with their fields and tags, as CSV or JSON Lines, streamed.

Constant memory: member ids come from the compiler's keyset stream, people are read one
batch at a time, and each batch is encoded and handed on before the next is read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from typing import Any

from app.people.models import Person
from app.people.service import person_record
from app.segments import evaluate
from app.segments.service import Evaluation

CSV_COLUMNS = ["id", "email", "status", "tags", "fields", "country", "region", "city",
               "timezone", "created_at", "updated_at"]  # fmt: skip


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


def _csv_chunk(records: list[dict[str, Any]], header: bool) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    if header:
        writer.writeheader()
    for record in records:
        # tags as `a;b`, fields as a JSON object: every row has the same columns
        writer.writerow({**record, "tags": ";".join(record["tags"]),
                         "fields": json.dumps(record["fields"], ensure_ascii=False)})  # fmt: skip
    return out.getvalue().encode()


def _jsonl_chunk(records: list[dict[str, Any]], header: bool) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


async def export_members(
    evaluation: Evaluation,
    fmt: ExportFormat,
    *,
    batch: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """Encoded chunks of the export; `progress(n)` is told how many rows have gone out."""
    encode = _csv_chunk if fmt is ExportFormat.CSV else _jsonl_chunk
    sent = 0
    if fmt is ExportFormat.CSV:
        yield encode([], True)
    async for ids in evaluate.stream_member_ids(
        evaluation.root,
        workspace_id=evaluation.workspace_id,
        now=evaluation.now,
        segments=evaluation.definitions,
        batch=batch,
    ):
        people = await Person.filter(workspace_id=evaluation.workspace_id, id__in=ids).order_by(
            "id"
        )
        yield encode([person_record(p) for p in people], False)
        sent += len(people)
        if progress is not None:
            progress(sent)
