"""Which send a provider's event is about, and whose it is.

Sieve's reference of a send is in every message it builds: in the Message-ID
(`<….b12.d345@domain>` for delivery 345 of broadcast 12, `<….flow-3-40-2@domain>` for
a flow's enrollment 40, visit 2), and, when PROVIDER_METADATA asks for it, in the
metadata a provider echoes back (Postmark `X-PM-Metadata-sieve-ref`, SendGrid unique
args `sieve_ref`). A reference is believed only when the send it names belongs to the
webhook's workspace *and* went to the address the event names; otherwise, and when
there is none, the event is matched to the workspace's person with that address, with no
send (docs/webhooks.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.ids import encode_id
from app.sql import SqlParams, bind_list, dialect_of, fetch_all
from app.suppression.hashing import normalise_email
from app.webhooks.notices import Notice

METADATA_KEY = "sieve-ref"  # Postmark metadata key (X-PM-Metadata-sieve-ref)
UNIQUE_ARG = "sieve_ref"  # SendGrid unique argument
_REF = r"(b\d{1,18}\.d\d{1,18}|flow-\d{1,18}-\d{1,18}-\d{1,9})"
_IN_MESSAGE_ID = re.compile(r"\." + _REF + r"@")
_BARE = re.compile(_REF)


def reference_of(value: Any) -> str | None:
    """The send reference in a Message-ID (`<….b1.d2@host>`) or a bare one (`b1.d2`)."""
    if not isinstance(value, str) or len(value) > 1000:
        return None
    value = value.strip()
    if _BARE.fullmatch(value):
        return value
    found = _IN_MESSAGE_ID.search(value)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Target:
    """The person an event is about, and the send when the reference was believed."""

    person_id: int
    email: str
    table: str | None = None  # "deliveries" or "flow_sends"
    row_id: int | None = None
    origin: dict[str, Any] = field(default_factory=dict)  # the event's properties


def _numbers(reference: str) -> tuple[str, list[int]]:
    if reference.startswith("b"):
        broadcast, delivery = reference[1:].split(".d")
        return "b", [int(broadcast), int(delivery)]
    return "f", [int(n) for n in reference.removeprefix("flow-").split("-")]


async def resolve(
    conn: BaseDBAsyncClient, workspace_id: int, notices: Sequence[Notice]
) -> list[Target | None]:
    """Each notice's target (aligned), None when the workspace has nobody at its address."""
    refs = [(_numbers(n.reference) if n.reference else None) for n in notices]
    deliveries = await _deliveries(conn, workspace_id, [r[1][1] for r in refs if r and r[0] == "b"])
    sends = await _flow_sends(conn, workspace_id, [r[1][1] for r in refs if r and r[0] == "f"])
    people = await _people(conn, workspace_id, [n.email for n in notices])
    targets: list[Target | None] = []
    for notice, ref in zip(notices, refs, strict=True):
        email = normalise_email(notice.email)
        found = _sent_target(ref, email, deliveries, sends)
        if found is None and email in people:
            found = Target(people[email], email)
        targets.append(found)
    return targets


def _sent_target(
    ref: tuple[str, list[int]] | None,
    email: str,
    deliveries: dict[int, dict[str, Any]],
    sends: dict[int, dict[tuple[int, int], dict[str, Any]]],
) -> Target | None:
    """The send a reference names, if it is this workspace's and went to `email`."""
    if ref is None:
        return None
    kind, numbers = ref
    if kind == "b":
        broadcast_id, delivery_id = numbers
        row = deliveries.get(delivery_id)
        if not row or int(row["broadcast_id"]) != broadcast_id or row["email"] != email:
            return None
        origin = {"broadcast_id": encode_id("Broadcast", broadcast_id), "delivery_id": delivery_id}
        return Target(int(row["person_id"]), email, "deliveries", delivery_id, origin)
    flow_id, enrollment_id, seq = numbers
    row = sends.get(enrollment_id, {}).get((flow_id, seq))
    if not row or row["email"] != email:
        return None
    origin = {"flow_id": encode_id("Flow", flow_id), "step": row["step"]}
    return Target(int(row["person_id"]), email, "flow_sends", int(row["id"]), origin)


async def _deliveries(
    conn: BaseDBAsyncClient, workspace_id: int, ids: list[int]
) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    params = SqlParams(dialect_of(conn))
    ws = params.add(workspace_id)
    rows = await fetch_all(
        conn,
        "SELECT d.id, d.broadcast_id, d.person_id, p.email FROM deliveries d"
        " JOIN broadcasts b ON b.id = d.broadcast_id"
        " JOIN people p ON p.id = d.person_id AND p.workspace_id = b.workspace_id"
        f" WHERE b.workspace_id = {ws} AND d.id {bind_list(params, ids, 'bigint')}",
        params.values,
    )
    return {int(r["id"]): r for r in rows}


async def _flow_sends(
    conn: BaseDBAsyncClient, workspace_id: int, enrollments: list[int]
) -> dict[int, dict[tuple[int, int], dict[str, Any]]]:
    """enrollment id -> (flow id, seq) -> the send row with its person's email."""
    if not enrollments:
        return {}
    params = SqlParams(dialect_of(conn))
    ws = params.add(workspace_id)
    rows = await fetch_all(
        conn,
        "SELECT s.id, s.flow_id, s.enrollment_id, s.seq, s.step, s.person_id, p.email"
        " FROM flow_sends s JOIN people p ON p.id = s.person_id AND p.workspace_id = s.workspace_id"
        f" WHERE s.workspace_id = {ws} AND s.enrollment_id {bind_list(params, enrollments, 'bigint')}",
        params.values,
    )
    found: dict[int, dict[tuple[int, int], dict[str, Any]]] = {}
    for r in rows:
        found.setdefault(int(r["enrollment_id"]), {})[(int(r["flow_id"]), int(r["seq"]))] = r
    return found


async def _people(conn: BaseDBAsyncClient, workspace_id: int, emails: list[str]) -> dict[str, int]:
    wanted = sorted({normalise_email(e) for e in emails})
    if not wanted:
        return {}
    params = SqlParams(dialect_of(conn))
    rows = await fetch_all(
        conn,
        f"SELECT id, email FROM people WHERE workspace_id = {params.add(workspace_id)}"
        f" AND email {bind_list(params, wanted, 'text')}",
        params.values,
    )
    return {r["email"]: int(r["id"]) for r in rows}
