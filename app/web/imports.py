"""`POST /imports/people`: a CSV upload that starts an import job; its error report.

The body is `multipart/form-data` with a `file` part (the CSV) and optional `mapping`
(JSON, app/imports/mapping.py) and `mode` (`CREATE_OR_UPDATE`, the default, or
`CREATE_ONLY`) parts, in any order. It is parsed as it arrives (python-multipart's
streaming parser): the file goes straight to a spool file on disk, a block at a time,
so an upload of any size within IMPORT_MAX_BYTES costs a few kilobytes of memory. The
answer is 202 with the job; `importJob(id)` reports its progress, and
`GET /imports/{id}/errors.csv` streams the rows it refused.

Authenticated like /graphql (`Authorization: Bearer <key>`); uploading needs the write
scope. Refusals are JSON `{"errors": [{"code", "message", "path"}]}` and change nothing.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from app import settings as app_settings
from app.errors import ErrorCode, UserError, UserInputError
from app.ids import decode_id, encode_id
from app.imports import jobs
from app.imports.jobs import ImportJob, ImportMode
from app.imports.service import prepare, start_in_background
from app.keys.scopes import Scope
from app.tenancy import Principal, authenticate

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

IMPORT_PATH = "/imports/people"
MAX_FORM_PART = 65_536  # mapping and mode; the file has IMPORT_MAX_BYTES
MULTIPART_OVERHEAD = 1_000_000  # the body limit for IMPORT_PATH is the file's plus this
REPORT_COLUMNS = ("row", "column", "code", "message")


class UploadRefused(Exception):
    def __init__(self, status: int, code: ErrorCode, message: str, path: str = "") -> None:
        self.status, self.code, self.message, self.path = status, code, message, path
        super().__init__(message)


def _errors(status: int, errors: list[UserError]) -> JSONResponse:
    body = [{"code": e.code.value, "message": e.message, "path": e.dotted_path} for e in errors]
    return JSONResponse({"errors": body}, status_code=status)


def _refusal(status: int, code: ErrorCode, message: str, path: str = "") -> JSONResponse:
    return _errors(status, [UserError((path,) if path else (), message, code)])


async def _principal(request: Request) -> Principal | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return await authenticate(key.strip()) if scheme.lower() == "bearer" else None


class _Form:
    """The parts of one upload: the file streamed to `spool`, small parts kept."""

    def __init__(self, spool: Any, max_file: int) -> None:
        self.spool = spool
        self.max_file = max_file
        self.file_bytes = 0
        self.filename = ""
        self.has_file = False
        self.values: dict[str, bytearray] = {}
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._part: str | None = None

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._add_name(d[s:e]),
            "on_header_value": lambda d, s, e: self._add_value(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
        }

    def _begin(self) -> None:
        self._headers, self._part = {}, None

    def _add_name(self, data: bytes) -> None:
        self._header_name += data

    def _add_value(self, data: bytes) -> None:
        self._header_value += data

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        if name == "file":
            if self.has_file:
                raise UploadRefused(400, ErrorCode.TOO_MANY, "Send one file.", "file")
            self.has_file = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")[:200]
        elif name not in ("mapping", "mode"):
            raise UploadRefused(
                400,
                ErrorCode.INVALID,
                f"Unknown part {name[:40]!r}: send file, mapping and mode.",
                name[:40],
            )
        self._part = name
        self.values.setdefault(name, bytearray())

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "file":
            self.file_bytes += end - start
            if self.file_bytes > self.max_file:
                raise UploadRefused(
                    413,
                    ErrorCode.TOO_LARGE,
                    f"The file is larger than {self.max_file} bytes (IMPORT_MAX_BYTES).",
                    "file",
                )
            self.spool.write(data[start:end])
        elif self._part is not None:
            part = self.values[self._part]
            part += data[start:end]
            if len(part) > MAX_FORM_PART:
                raise UploadRefused(
                    400,
                    ErrorCode.TOO_LARGE,
                    f"{self._part} is longer than {MAX_FORM_PART} bytes.",
                    self._part,
                )


async def _receive_form(request: Request, spool: Any) -> _Form:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused(415, ErrorCode.INVALID, "Send multipart/form-data with a file part.")
    form = _Form(spool, app_settings.settings.import_max_bytes)
    parser = MultipartParser(boundary, form.callbacks())
    async for chunk in request.stream():
        parser.write(chunk)
    parser.finalize()
    if not form.has_file:
        raise UploadRefused(400, ErrorCode.REQUIRED, "Send the CSV as the part named file.", "file")
    return form


def _options(form: _Form) -> tuple[dict[str, Any] | None, ImportMode]:
    mapping: dict[str, Any] | None = None
    raw = form.values.get("mapping")
    if raw is not None and raw.strip():
        try:
            mapping = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise UploadRefused(400, ErrorCode.INVALID, "mapping is not JSON.", "mapping") from None
    mode_text = (form.values.get("mode") or bytearray(b"CREATE_OR_UPDATE")).decode("latin-1")
    try:
        mode = ImportMode(mode_text.strip().upper())
    except ValueError:
        raise UploadRefused(
            400, ErrorCode.INVALID, "mode is CREATE_OR_UPDATE or CREATE_ONLY.", "mode"
        ) from None
    return mapping, mode


def job_json(job: ImportJob) -> dict[str, Any]:
    """The job as the upload answers it (the GraphQL ImportJob has every field)."""
    ident = encode_id("Import", job.id)
    return {
        "id": ident,
        "status": job.status.value,
        "mode": job.mode.value,
        "filename": job.filename,
        "bytesTotal": job.bytes_total,
        "errorsUrl": f"/imports/{ident}/errors.csv",
    }


async def upload_people(request: Request) -> Response:
    principal = await _principal(request)
    if principal is None:
        return _refusal(
            401, ErrorCode.UNAUTHENTICATED, "Send a valid API key as 'Authorization: Bearer <key>'."
        )
    if not principal.scope.allows(Scope.WRITE):
        return _refusal(403, ErrorCode.FORBIDDEN, "Importing needs a key with the write scope.")
    folder = app_settings.settings.import_spool_dir or None
    if folder:
        os.makedirs(folder, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="sieve-import-", suffix=".csv", dir=folder)
    path, keep = Path(name), False
    try:
        with os.fdopen(handle, "wb") as spool:
            form = await _receive_form(request, spool)
        mapping, mode = _options(form)
        job = await prepare(
            principal.workspace_id,
            path,
            mapping=mapping,
            mode=mode,
            filename=form.filename,
            source="api",
        )
        start_in_background(job, path)
        keep = True
        ident = job_json(job)["id"]
        return JSONResponse(
            {"job": job_json(job)}, status_code=202, headers={"Location": f"/imports/{ident}"}
        )
    except UploadRefused as exc:
        return _refusal(exc.status, exc.code, exc.message, exc.path)
    except UserInputError as exc:
        status = (
            429 if any(e.code is ErrorCode.TOO_MANY and not e.path for e in exc.errors) else 400
        )
        return _errors(status, list(exc.errors))
    finally:
        if not keep:
            path.unlink(missing_ok=True)


async def _report(job_id: int) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_COLUMNS)
    count = 0
    async for error in jobs.all_errors(job_id):
        writer.writerow((error.row, error.column, error.code.value, error.message))
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def import_errors(request: Request) -> Response:
    """The refused rows of an import as CSV: row, column, code, message (row order)."""
    principal = await _principal(request)
    if principal is None:
        return _refusal(
            401, ErrorCode.UNAUTHENTICATED, "Send a valid API key as 'Authorization: Bearer <key>'."
        )
    job_id = decode_id("Import", request.path_params["job_id"])
    job = await jobs.get_job(principal.workspace_id, job_id) if job_id is not None else None
    if job is None:
        return _refusal(404, ErrorCode.NOT_FOUND, "No such import.")
    name = f"{encode_id('Import', job.id)}-errors.csv"
    return StreamingResponse(
        _report(job.id),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Total-Count": str(job.error_count),
        },
    )
