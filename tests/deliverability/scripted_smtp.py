"""A real SMTP server (aiosmtpd) whose answer to each recipient the test chooses: a list
of replies for that address's successive RCPT TO attempts (the last one repeats), where
a reply is an SMTP reply line ("250 OK", "451 4.7.1 Greylisted", "550 5.1.1 No such
user") or DROP, which cuts the connection before DATA."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.mailserver import free_port

DROP = "DROP"


class ScriptedHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scripts: dict[str, list[str]] = {}
        self.default = ["250 OK"]  # the script of every address not given its own
        self.attempts: Counter[str] = Counter()
        self.recipients: Counter[str] = Counter()
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # the bytes as received (DKIM is checked on these)

    def answer(self, address: str, *replies: str) -> None:
        self.scripts[address] = list(replies)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            n = self.attempts[address]
            self.attempts[address] += 1
        script = self.scripts.get(address) or self.default
        reply = script[min(n, len(script) - 1)]
        if reply == DROP:
            server.transport.close()
            return "421 4.4.2 Closing connection"
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.raw.append(envelope.original_content)
            self.recipients.update(envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


@pytest.fixture
def scripted_smtp() -> Iterator[tuple[Controller, ScriptedHandler]]:
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()
