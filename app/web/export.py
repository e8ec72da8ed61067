"""`GET /export/segments/{id}?format=csv|jsonl`: a segment's members, streamed.

Authenticated like the GraphQL API. `X-Total-Count` gives the size at the start of the
export, so a client can show progress as rows arrive.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from app.ids import decode_id, encode_id
from app.segments.export import ExportFormat, export_members
from app.segments.service import evaluation_of, get_segment
from app.tenancy import workspace_for_key

MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSONL: "application/x-ndjson",
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def export_segment(request: Request) -> Response:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    workspace_id = await workspace_for_key(key.strip()) if scheme.lower() == "bearer" else None
    if workspace_id is None:
        return _error(
            401, "UNAUTHENTICATED", "Send a valid API key as 'Authorization: Bearer <key>'."
        )
    try:
        fmt = ExportFormat(request.query_params.get("format", "csv"))
    except ValueError:
        return _error(400, "INVALID", "format must be csv or jsonl.")
    segment_id = decode_id("Segment", request.path_params["segment_id"])
    segment = await get_segment(workspace_id, segment_id) if segment_id is not None else None
    if segment is None:
        return _error(404, "NOT_FOUND", "No such segment.")
    evaluation = await evaluation_of(workspace_id, segment)
    total = await evaluation.count()
    filename = f"{encode_id('Segment', segment.id)}.{fmt.value}"
    return StreamingResponse(
        export_members(evaluation, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "X-Total-Count": str(total),
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
