"""Reading an import file: UTF-8 CSV (a BOM is fine), comma-separated, RFC 4180 quotes.

The file is read as a stream, a buffered block at a time, never whole. `scan` reads it
once before anything is written, so a file that is not CSV, not UTF-8 or over the row
limit is refused whole instead of half-imported; `records` then reads it again, row by row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.errors import ErrorCode

ENCODING = "utf-8-sig"
HEARTBEAT_ROWS = 50_000


class SourceError(Exception):
    """The file as a whole cannot be imported; nothing was written."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@contextmanager
def _reader(path: Path) -> Iterator[Iterator[list[str]]]:
    with open(path, encoding=ENCODING, newline="", errors="strict") as handle:
        yield csv.reader(handle, strict=True)


def _row_problem(row: int, exc: Exception) -> SourceError:
    if isinstance(exc, UnicodeDecodeError):
        return SourceError(ErrorCode.INVALID, f"The file is not UTF-8 text (near row {row}):"
                           " save it as CSV UTF-8.")  # fmt: skip
    return SourceError(ErrorCode.INVALID, f"Row {row} is not valid CSV: {exc}.")


def read_header(path: Path) -> list[str]:
    """The first row; SourceError when there is none or it cannot be read."""
    try:
        with _reader(path) as rows:
            header = next(rows, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _row_problem(1, exc) from None
    if not header:
        raise SourceError(ErrorCode.REQUIRED, "The file is empty: its first row names the columns.")
    return header


def scan(path: Path, max_rows: int, beat: Callable[[int], None] | None = None) -> int:
    """How many data rows the file holds; SourceError past `max_rows` or at a bad row."""
    count = 0
    try:
        with _reader(path) as rows:
            next(rows, None)
            for record in rows:
                if not record:
                    continue
                count += 1
                if count > max_rows:
                    raise SourceError(ErrorCode.TOO_LARGE, f"The file has more than {max_rows}"
                                      " rows; split it, nothing was imported.")  # fmt: skip
                if beat is not None and count % HEARTBEAT_ROWS == 0:
                    beat(count)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _row_problem(count + 2, exc) from None
    return count


def records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of every data row; the header is row 1, blank lines are skipped."""
    with _reader(path) as rows:
        next(rows, None)
        for number, record in enumerate(rows, start=2):
            if record:
                yield number, record
