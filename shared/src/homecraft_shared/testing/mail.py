"""A real SMTP server for tests (aiosmtpd on a free loopback port) that keeps what it receives.

    with smtp_server() as (mailbox, port):
        ...  # point the service's SMTP port at ``port``
        messages = await mailbox.wait_for(2)

Every service that sends mail through ``homecraft_shared.outgoing_mail`` tests it against this.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from homecraft_shared.testing.infra import free_port


@dataclass
class Mailbox:
    """What the SMTP server received, in arrival order."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    async def wait_for(self, count: int, within: float = 15.0) -> list[Message]:
        """At least ``count`` messages, waiting up to ``within`` seconds for them (fails the test otherwise)."""
        deadline = time.monotonic() + within
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} messages arrived, expected {count}"
            await asyncio.sleep(0.05)
        return self.messages

    def to(self, address: str) -> list[Message]:
        """The messages whose To header names ``address`` (with or without a display name)."""
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A started SMTP server on a free port: (its mailbox, its port); stopped when the block ends."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
