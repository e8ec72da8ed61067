"""Reading an SMTP server's answer for one recipient: permanent, temporary, or neither.

- A 5xx refusal of the recipient (RCPT TO) is PERMANENT: a hard bounce.
- Any 4xx (greylisting, "try later", a full mailbox), failing to connect, and a
  connection lost *before DATA was sent* are TEMPORARY: nothing was handed over, so
  trying again can never deliver twice.
- A 5xx refusal of the sender or of the message (MAIL FROM, DATA) is a failure but not a
  bounce of the address: the person did nothing wrong.
- A connection lost after DATA was sent stays UNKNOWN (the transport's rule): the server
  may have the message, and it is never sent again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import aiosmtplib


class Failure(StrEnum):
    PERMANENT = "permanent"
    TEMPORARY = "temporary"


def classify(exc: aiosmtplib.SMTPException) -> tuple[Failure | None, int | None, str]:
    """(kind, code, the server's reply) of a refusal the server answered with."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        code, reply = refused.code, refused.message
        at_rcpt = True
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        code, reply = exc.code, exc.message
        at_rcpt = isinstance(exc, aiosmtplib.SMTPRecipientRefused)
    else:
        return None, None, str(exc)
    reply = f"{code} {reply}"[:500]
    if 400 <= code < 500:
        return Failure.TEMPORARY, code, reply
    if 500 <= code < 600 and at_rcpt:
        return Failure.PERMANENT, code, reply
    return None, code, reply


class TrackedSMTP(aiosmtplib.SMTP):
    """An SMTP client that knows whether DATA went out: a connection lost before it
    delivered nothing (retry), after it maybe something (never resend)."""

    data_sent = False

    async def mail(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self.data_sent = False  # a new envelope
        return await super().mail(*args, **kwargs)

    async def data(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self.data_sent = True
        return await super().data(*args, **kwargs)
