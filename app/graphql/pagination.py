"""Relay-style connections with keyset cursors over ascending row ids."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

import strawberry

from app.errors import ErrorCode
from app.graphql.errors import ClientError
from app.settings import settings

# Row ids are 64-bit on both databases; a larger "id" in a cursor was never issued
# (and overflowed SQLite's INTEGER, an "Unexpected error.").
MAX_ROW_ID = 2**63 - 1
T = TypeVar("T")
R = TypeVar("R")


# Every connection's paging arguments
First = Annotated[
    int | None, strawberry.argument(description="Page size, 0 to the server's MAX_PAGE.")
]
After = Annotated[
    str | None,
    strawberry.argument(description="The previous page's `pageInfo.endCursor`; omit it first."),
]


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Is there a page after this one?")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null when the page is empty."
    )


@strawberry.type(description="One item of a page, with the cursor that points just after it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque; `after` this cursor starts behind it.")
    node: T = strawberry.field(description="The item.")


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"k:{row_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """The last id seen, or None for the first page; a bad cursor is the client's error."""
    if cursor is None:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "k" and value.isascii() and value.isdigit() and int(value) <= MAX_ROW_ID:
            return int(value)
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError
        pass
    raise ClientError(
        "The `after` cursor is not one this API returned.", ErrorCode.INVALID, "after"
    )


def page_size(first: int | None) -> int:
    size = 100 if first is None else first
    if not 0 <= size <= settings.max_page:
        raise ClientError(
            f"`first` must be between 0 and {settings.max_page}.", ErrorCode.INVALID, "first"
        )
    return size


def edges_of(
    rows: Sequence[R], size: int, convert: Callable[[R], T], row_id: Callable[[R], int]
) -> tuple[list[Edge[T]], PageInfo]:
    """`rows` holds up to size + 1 rows: the extra one only says there is a next page."""
    page = list(rows[:size])
    edges = [Edge(cursor=encode_cursor(row_id(r)), node=convert(r)) for r in page]
    return edges, PageInfo(
        has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
    )
