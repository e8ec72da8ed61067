"""The one rule on re-subscribing: nobody suppressed, or not SUBSCRIBED, becomes SUBSCRIBED
unless the request carries the person's consent (`resubscribe: {source, at}`), given
after they were suppressed, and a complaint is lifted only by an admin-scoped key.

`SubscriptionGate` applies it to a batch of people inside the caller's transaction, then
keeps the list in step with what was written: a status other than SUBSCRIBED puts the
address on the list, an accepted consent takes it off and is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.errors import ErrorCode, UserError
from app.people.models import Person, Status
from app.sql import utc
from app.suppression import store
from app.suppression.hashing import EmailHasher, hasher_for
from app.suppression.models import RANK, REASON_OF, STATUS_OF, Entry, Reason

MAX_SOURCE = 200
# a consent dated later than this after "now" is refused as a clock or data error
CONSENT_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Consent:
    """The person's own request to be mailed again: where it came from and when."""

    source: str
    at: datetime


@dataclass(frozen=True)
class Block:
    """Why an address may not be SUBSCRIBED without consent, and since when."""

    reason: Reason
    since: datetime


def read_consent(raw: Any, now: datetime) -> tuple[Consent | None, list[UserError]]:
    """`resubscribe` as sent (a dict or None); errors have paths under `resubscribe`."""
    if raw is None:
        return None, []
    errors: list[UserError] = []
    source, at = raw.get("source"), raw.get("at")
    if not isinstance(source, str) or not source.strip():
        errors.append(
            UserError(
                ("resubscribe", "source"),
                "Say where the consent was given (e.g. 'signup form').",
                ErrorCode.REQUIRED,
            )
        )
    elif len(source) > MAX_SOURCE:
        errors.append(
            UserError(
                ("resubscribe", "source"), f"At most {MAX_SOURCE} characters.", ErrorCode.TOO_LONG
            )
        )
    if not isinstance(at, datetime):
        errors.append(
            UserError(
                ("resubscribe", "at"),
                "When the consent was given, as an ISO-8601 datetime.",
                ErrorCode.REQUIRED,
            )
        )
    elif utc(at) > now + CONSENT_CLOCK_SKEW:
        errors.append(
            UserError(
                ("resubscribe", "at"), "The consent is dated in the future.", ErrorCode.INVALID
            )
        )
    if errors:
        return None, errors
    return Consent(source.strip(), utc(at)), []


def refusal(
    block: Block, consent: Consent | None, *, admin: bool, status_path: tuple[str | int, ...]
) -> UserError | None:
    """Why this SUBSCRIBED may not be applied, or None when it may."""
    when = block.since.strftime("%Y-%m-%d %H:%M UTC")
    if consent is None:
        return UserError(
            status_path,
            f"This address is suppressed ({block.reason.value} since {when}); subscribing it"
            " again needs the person's consent: send resubscribe {source, at}.",
            ErrorCode.SUPPRESSED,
        )
    if block.reason is Reason.COMPLAINED and not admin:
        return UserError(
            ("resubscribe",),
            "This address complained (marked a message as spam); only an admin-scoped key"
            " can lift a complaint.",
            ErrorCode.SUPPRESSED,
        )
    if consent.at < block.since:
        return UserError(
            ("resubscribe", "at"),
            f"This consent predates the suppression ({block.reason.value} since {when}),"
            " so it cannot lift it.",
            ErrorCode.SUPPRESSED,
        )
    return None


class SubscriptionGate:
    """The rule and the list for one batch of addresses, in one transaction."""

    def __init__(
        self,
        conn: BaseDBAsyncClient,
        workspace_id: int,
        hasher: EmailHasher,
        *,
        admin: bool,
        now: datetime,
        source: str,
    ) -> None:
        self.conn = conn
        self.hasher = hasher
        self.workspace_id = workspace_id
        self.admin = admin
        self.now = now
        self.source = source
        self.digests: dict[str, str] = {}
        self.listed: dict[str, store.Listed] = {}
        self.lifted: dict[str, tuple[Consent, Reason]] = {}

    @classmethod
    async def open(
        cls,
        conn: BaseDBAsyncClient,
        workspace_id: int,
        emails: Iterable[str],
        *,
        admin: bool,
        now: datetime,
        source: str = "api",
    ) -> SubscriptionGate:
        hasher = await hasher_for(conn, workspace_id)
        gate = cls(conn, workspace_id, hasher, admin=admin, now=now, source=source)
        gate.digests = gate.hasher.digests(dict.fromkeys(emails))
        listed = await store.lookup(conn, workspace_id, list(gate.digests.values()))
        gate.listed = {e: listed[d] for e, d in gate.digests.items() if d in listed}
        return gate

    def block(self, email: str, person: Person | None) -> Block | None:
        listed = self.listed.get(email)
        if listed is not None:
            return Block(listed.reason, listed.suppressed_at)
        if person is not None and person.status != Status.SUBSCRIBED:
            return Block(REASON_OF[Status(person.status)], person.updated_at)
        return None

    def refuse(
        self,
        email: str,
        person: Person | None,
        consent: Consent | None,
        status_path: tuple[str | int, ...] = ("status",),
    ) -> UserError | None:
        """Check one request to make `email` SUBSCRIBED; remembers an accepted consent."""
        if email in self.lifted:
            return None
        block = self.block(email, person)
        if block is None:
            return None
        problem = refusal(block, consent, admin=self.admin, status_path=status_path)
        if problem is None:
            assert consent is not None
            self.lifted[email] = (consent, block.reason)
        return problem

    def inherited_status(self, email: str) -> Status | None:
        """The status a person created now for `email` starts with (None: SUBSCRIBED)."""
        listed = self.listed.get(email)
        return STATUS_OF[listed.reason] if listed is not None else None

    async def record(self, people: Mapping[str, Person], created: Iterable[str] = ()) -> None:
        """Keep the list in step with the people as written."""
        entries: list[Entry] = []
        lifts: list[str] = []
        for email, person in people.items():
            status = Status(person.status)
            listed = self.listed.get(email)
            if status is Status.SUBSCRIBED:
                if email in self.lifted:
                    lifts.append(email)
                continue
            reason = REASON_OF[status]
            if listed is None or RANK[reason] > RANK[listed.reason]:
                entries.append(Entry(email, reason, self.source, person_id=person.id))
        await store.suppress(self.conn, self.workspace_id, self.hasher, entries, self.now)
        for email in lifts:
            consent, reason = self.lifted[email]
            await store.record_consent(
                self.conn,
                self.workspace_id,
                self.digests[email],
                people[email].id,
                consent.source,
                consent.at,
                reason,
                self.now,
            )
        await store.lift(self.conn, self.workspace_id, [self.digests[e] for e in lifts])
        fresh = {self.digests[e]: people[e].id for e in created if e in self.listed and e in people}
        await store.link_people(self.conn, self.workspace_id, fresh)
