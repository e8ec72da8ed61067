"""Send to who missed it: an audience drawn, at send time, from an earlier broadcast.

`basedOn: {broadcastId, audience}` on createBroadcast picks, from the earlier broadcast's
delivery rows and the events recorded against it (app/tracking, app/bounces):

- NOT_OPENED: delivered (`sent`), and no `email_opened` or `email_clicked` of it (a click
  proves an open whose images were blocked; machine opens count as opens, so a person
  whose Apple Mail prefetched the pixel is not mailed again: docs/broadcasts.md);
- NOT_CLICKED: delivered, and no `email_clicked` of it;
- NOT_DELIVERED: refused (`failed`), `skipped`, never attempted (`pending`), or bounced
  after the server had accepted it; never `unknown` (maybe delivered: never twice);
- NOT_ATTEMPTED: a FAILED or CANCELLED broadcast's `pending` rows, the people it never
  tried; when it stopped before making any (cancelled while scheduled, or a template
  that failed for the first recipient), its own audience, evaluated now. This is how a
  failed or cancelled broadcast is resumed: as a new broadcast, so the first one's
  report stays what it was.

The earlier broadcast must be finished (SENT, CANCELLED or FAILED): rows still pending
in a running send would otherwise be mailed twice. The new broadcast's own rules apply
on top: minus its excluded segments, minus everyone not SUBSCRIBED, evaluated when it is
sent, never stored as a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from app.broadcasts.event_sql import BOUNCED, CLICKED, OPENED, event_property
from app.broadcasts.models import Broadcast
from app.errors import ErrorCode, UserError
from app.ids import encode_id
from app.segments.ast import Group
from app.segments.compiler import CompileContext, compile_id_set
from app.segments.evaluate import with_workspace_data
from app.sql import SqlParams, connection, dialect_of, fetch_all, fetch_one

FINISHED = frozenset({"SENT", "CANCELLED", "FAILED"})
RESUMABLE = frozenset({"CANCELLED", "FAILED"})
MAX_CHAIN = 20  # broadcasts based on broadcasts based on ...: how far back a resume looks


class BasedOnAudience(StrEnum):
    NOT_OPENED = "NOT_OPENED"
    NOT_CLICKED = "NOT_CLICKED"
    NOT_DELIVERED = "NOT_DELIVERED"
    NOT_ATTEMPTED = "NOT_ATTEMPTED"


@dataclass(frozen=True)
class BasedOn:
    """The earlier broadcast's people that the new one is for (as an id set in SQL)."""

    broadcast_id: int
    workspace_id: int
    audience: BasedOnAudience
    started_at: datetime | None

    def _events(self, params: SqlParams, names: tuple[str, ...]) -> str:
        """Persons with one of these events of the earlier broadcast."""
        listed = ", ".join(params.add(n) for n in names)
        bid = event_property(params.dialect, "broadcast_id")
        return (
            f"SELECT e.person_id FROM events e WHERE e.workspace_id = {params.add(self.workspace_id)}"
            f" AND e.name IN ({listed}) AND e.occurred_at >= {params.add(self.started_at)}"
            f" AND {bid} = {params.add(encode_id('Broadcast', self.broadcast_id))}"
        )

    def person_ids(self, params: SqlParams) -> str:
        """`SELECT person_id ...`: who of the earlier broadcast this audience means."""
        rows = (
            f"SELECT d.person_id FROM deliveries d WHERE d.workspace_id = {params.add(self.workspace_id)}"
            f" AND d.broadcast_id = {params.add(self.broadcast_id)}"
        )
        match self.audience:
            case BasedOnAudience.NOT_ATTEMPTED:
                return f"{rows} AND d.status = 'pending'"
            case BasedOnAudience.NOT_DELIVERED:
                bounced = self._events(params, (BOUNCED,))
                return (
                    f"{rows} AND (d.status IN ('failed', 'skipped', 'pending')"
                    f" OR (d.status = 'sent' AND d.person_id IN ({bounced})))"
                )
            case BasedOnAudience.NOT_OPENED:
                seen = self._events(params, (OPENED, CLICKED))
            case BasedOnAudience.NOT_CLICKED:
                seen = self._events(params, (CLICKED,))
        return f"{rows} AND d.status = 'sent' AND d.person_id NOT IN ({seen})"


def restrict(members: str, based_on: BasedOn, params: SqlParams, workspace: str) -> str:
    """An id set of `members` that are also in `based_on`'s people (any column name)."""
    return (
        f"SELECT x.id FROM people x WHERE x.workspace_id = {workspace}"
        f" AND x.id IN ({members}) AND x.id IN ({based_on.person_ids(params)})"
    )


class _Scope(Protocol):
    """What an Audience knows: whose, at what moment, with which segment definitions."""

    @property
    def workspace_id(self) -> int: ...
    @property
    def now(self) -> datetime: ...
    @property
    def definitions(self) -> dict[int, Group]: ...


async def _context(scope: _Scope, root: Group) -> CompileContext:
    ctx = CompileContext(dialect_of(connection()), scope.workspace_id, scope.now, scope.definitions)
    return await with_workspace_data(ctx, root)  # rfm conditions compile against the edges


async def restricted_count(scope: _Scope, root: Group, based_on: BasedOn) -> int:
    """How many of the audience definition's members are also `based_on`'s people."""
    ctx = await _context(scope, root)
    params = SqlParams(ctx.dialect)
    members = compile_id_set(root, ctx, params)
    ws = params.add(ctx.workspace_id)
    row = await fetch_one(
        connection(),
        f"SELECT count(*) AS n FROM ({restrict(members, based_on, params, ws)}) r",
        params.values,
    )
    return int(row["n"]) if row else 0


async def restricted_page(
    scope: _Scope, root: Group, based_on: BasedOn, after_id: int | None, limit: int
) -> list[int]:
    """A keyset page (ids in order) of the same set."""
    ctx = await _context(scope, root)
    params = SqlParams(ctx.dialect)
    members = compile_id_set(root, ctx, params)
    ws = params.add(ctx.workspace_id)
    after = "" if after_id is None else f" AND r.id > {params.add(after_id)}"
    rows = await fetch_all(
        connection(),
        f"SELECT r.id FROM ({restrict(members, based_on, params, ws)}) r WHERE 1 = 1{after}"
        f" ORDER BY r.id LIMIT {params.add(limit)}",
        params.values,
    )
    return [int(r["id"]) for r in rows]


def chooses_audience(data: Mapping[str, Any], current: Broadcast | None) -> bool:
    """Whether `basedOn` (given now, or saved on the draft) takes the place of segments."""
    return data.get("basedOn") is not None or (
        current is not None and current.based_on_id is not None
    )


async def validated(
    workspace_id: int, data: Mapping[str, Any], current: Broadcast | None, errors: list[UserError]
) -> dict[str, Any]:
    """`basedOn` of createBroadcast's input as model values; problems added to `errors`
    (paths under the input). The GraphQL layer decodes `broadcastId` (None: not one)."""
    based = current is not None and current.based_on_id is not None
    raw = data.get("basedOn")
    if (raw is not None or based) and data.get("includeSegmentIds"):
        errors.append(
            UserError(
                ("includeSegmentIds",),
                "A broadcast based on an earlier one"
                " takes its audience from it: leave includeSegmentIds out.",
                ErrorCode.INVALID,
            )
        )
    if raw is None:
        return {}
    path = ("basedOn",)
    bid = raw.get("broadcastId")
    earlier = (
        None if bid is None else await Broadcast.get_or_none(id=bid, workspace_id=workspace_id)
    )
    if earlier is None:
        errors.append(UserError((*path, "broadcastId"), "No such broadcast.", ErrorCode.NOT_FOUND))
        return {}
    kind = BasedOnAudience(raw["audience"])
    problem = _problem(earlier, kind)
    if problem is not None:
        errors.append(UserError((*path, problem[0]), problem[1], problem[2]))
        return {}
    return {"based_on_id": earlier.id, "based_on_audience": kind.value}


def _problem(earlier: Broadcast, kind: BasedOnAudience) -> tuple[str, str, ErrorCode] | None:
    status, state = earlier.status.value, ErrorCode.INVALID_STATE
    if status not in FINISHED:
        return (
            "broadcastId",
            f"The broadcast is {status}: only a finished one (SENT, CANCELLED"
            " or FAILED) can be the basis of another.",
            state,
        )
    if kind is BasedOnAudience.NOT_ATTEMPTED and status not in RESUMABLE:
        return (
            "audience",
            f"The broadcast is {status}: only a FAILED or CANCELLED one has people"
            " it never attempted.",
            state,
        )
    if kind is BasedOnAudience.NOT_OPENED and not (earlier.track_opens or earlier.track_clicks):
        return (
            "audience",
            "The broadcast tracked neither opens nor clicks: everyone it reached"
            " would count as not having opened it.",
            ErrorCode.INVALID,
        )
    if kind is BasedOnAudience.NOT_CLICKED and not earlier.track_clicks:
        return (
            "audience",
            "The broadcast did not track clicks: everyone it reached would count"
            " as not having clicked.",
            ErrorCode.INVALID,
        )
    return None
