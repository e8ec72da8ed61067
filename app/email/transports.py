"""Where messages go: an SMTP server, `.eml` files (development), or nowhere (benchmarks).

A transport says how each send ended, and is honest about doubt: a server's refusal is
`FAILED` (nothing was delivered), but a connection lost mid-conversation is `UNKNOWN`
(the server may have queued it), and an unknown message is never sent again. A FAILED
result says whether it was a hard bounce or is worth retrying (app/bounces/replies.py).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import aiosmtplib

from app.bounces.replies import Failure, TrackedSMTP, classify
from app.email.messages import OutgoingMessage
from app.settings import Settings


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: str | None = None
    # for FAILED: a hard bounce (PERMANENT) or worth retrying (TEMPORARY); app/bounces/replies.py
    failure: Failure | None = None
    code: int | None = None


class Transport(Protocol):
    async def send(self, message: OutgoingMessage, name: str) -> Result:
        """Send one message; `name` is unique per delivery (file names, logs)."""
        ...

    async def close(self) -> None: ...


class NullTransport:
    """Discards messages (already serialised by build_message, so benchmarks pay for that)."""

    def __init__(self) -> None:
        self.count = 0

    async def send(self, message: OutgoingMessage, name: str) -> Result:
        self.count += 1
        return Result(Outcome.SENT)

    async def close(self) -> None:
        return None


class FileTransport:
    """One `<name>.eml` per message in a folder: look at what would have been sent."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    async def send(self, message: OutgoingMessage, name: str) -> Result:
        data = message.data
        path = self.folder / f"{name}.eml"
        temporary = path.with_suffix(".tmp")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, path)  # a reader never sees half a message
        except OSError as exc:
            return Result(Outcome.FAILED, f"could not write {path.name}: {exc.strerror}")
        return Result(Outcome.SENT)

    async def close(self) -> None:
        return None


class SmtpTransport:
    """A small pool of reused SMTP connections (`settings.smtp_connections`)."""

    def __init__(self, config: Settings) -> None:
        self.config = config
        self.size = max(1, config.smtp_connections)
        self._idle: asyncio.Queue[TrackedSMTP] = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.size)

    async def _connect(self) -> TrackedSMTP:
        c = self.config
        client = TrackedSMTP(
            hostname=c.smtp_host,
            port=c.smtp_port,
            use_tls=c.smtp_tls,
            start_tls=c.smtp_starttls if not c.smtp_tls else False,
            username=c.smtp_username or None,
            password=c.smtp_password or None,
            timeout=30,
        )
        await client.connect()
        return client

    async def send(self, message: OutgoingMessage, name: str) -> Result:
        async with self._slots:
            try:
                client = self._idle.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    client = await self._connect()
                except (aiosmtplib.SMTPException, OSError) as exc:
                    # nothing was handed over: worth trying again
                    return Result(
                        Outcome.FAILED, f"cannot connect to SMTP server: {exc}", Failure.TEMPORARY
                    )
            try:
                await client.sendmail(
                    message.sender,
                    [message.recipient],
                    message.data,
                    mail_options=["SMTPUTF8"] if message.needs_smtputf8 else None,
                )
            except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
                self._idle.put_nowait(client)  # the server answered: the connection is fine
                failure, code, reply = classify(exc)
                return Result(Outcome.FAILED, reply, failure, code)
            except BaseException as exc:
                client.close()
                if isinstance(exc, Exception) and not client.data_sent:
                    # lost before DATA: nothing was handed over, worth trying again
                    return Result(
                        Outcome.FAILED,
                        f"connection lost before DATA: {exc}"[:500],
                        Failure.TEMPORARY,
                    )
                # cut off mid-conversation (or cancelled): the server may have the message
                if isinstance(exc, Exception):
                    return Result(Outcome.UNKNOWN, f"{type(exc).__name__}: {exc}"[:500])
                raise
            self._idle.put_nowait(client)
            return Result(Outcome.SENT)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


def make_transport(config: Settings) -> Transport:
    """The transport named by `settings.email_transport` (smtp, file or null), its sends
    counted per outcome in the `sieve_email_sends_total` metric."""
    from app.metrics import MeteredTransport

    kind = config.email_transport.lower()
    transport: Transport
    if kind == "smtp":
        transport = SmtpTransport(config)
    elif kind == "file":
        transport = FileTransport(config.email_file_dir)
    elif kind == "null":
        transport = NullTransport()
    else:
        raise ValueError(f"unknown EMAIL_TRANSPORT {config.email_transport!r}: smtp, file or null")
    return MeteredTransport(transport, kind)
