"""Temporary failures are retried with exponential backoff (stamina), up to a deadline.

Only failures where nothing was handed over are retried (4xx replies, no connection, a
connection lost before DATA: app/bounces/replies.py), so a retry can never deliver a
message twice. One still failing at the deadline is returned as it is, FAILED and
TEMPORARY: the caller counts it as a soft bounce. While a message is being retried its
delivery row stays claimed (`sending`), so a worker killed meanwhile leaves it `unknown`
like any message in flight, and it is never sent again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import stamina

from app.bounces.replies import Failure
from app.email.messages import OutgoingMessage
from app.email.transports import Outcome, Result, Transport
from app.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    deadline: float  # seconds from the first attempt; 0 turns retries off
    initial: float  # the first wait; each later one doubles, up to max_wait
    max_wait: float

    @classmethod
    def of(cls, config: Settings) -> RetryPolicy:
        return cls(
            config.smtp_retry_seconds,
            config.smtp_retry_initial_seconds,
            config.smtp_retry_max_wait_seconds,
        )


class _Temporary(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.error)
        self.result = result


def is_temporary(result: Result) -> bool:
    return result.outcome is Outcome.FAILED and result.failure is Failure.TEMPORARY


async def send_with_retries(
    transport: Transport, message: OutgoingMessage, name: str, policy: RetryPolicy
) -> Result:
    """The transport's result, after retrying temporary failures until the deadline."""
    if policy.deadline <= 0:
        return await transport.send(message, name)
    attempts = 0
    try:
        async for attempt in stamina.retry_context(
            on=_Temporary,
            attempts=None,
            timeout=policy.deadline,
            wait_initial=policy.initial,
            wait_max=policy.max_wait,
            wait_jitter=policy.initial,
        ):
            with attempt:
                attempts += 1
                result = await transport.send(message, name)
                if is_temporary(result):
                    raise _Temporary(result)
                return result
    except _Temporary as exc:
        last = exc.result
        note = f" (still failing after {attempts} attempts in {policy.deadline:g} s)"
        return replace(last, error=((last.error or "temporary failure") + note)[:500])
    raise AssertionError("stamina ended without an attempt")  # pragma: no cover
