"""The demo's mail: an SMTP relay on a loopback port (aiosmtpd) that Tocsin's SMTP provider
sends its e-mail to, each message put in the demo person's inbox. Mail to anyone else is
refused (550), as a relay refuses a mailbox it does not know."""

from __future__ import annotations

import logging
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tocsin.cluster.demo.inbox import Inbox
from tocsin.cluster.demo.people import owner_of

_ATTEMPTS = 5  # a port chosen free may be taken before it is bound


class _Handler:
    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if owner_of(address) is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail = message_from_bytes(content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        part = mail.get_body(("plain",))
        text = part.get_content() if part is not None else ""
        for address in envelope.rcpt_tos:
            self._inbox.add(address, "email", str(mail.get("Subject", "")), str(text))
        return "250 Message accepted"


class Mailbox:
    """Listening from construction until `stop`."""

    def __init__(self, inbox: Inbox) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        # aiosmtpd logs every connection at INFO: the inbox says what came, the terminal stays calm.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._controller = self._start(_Handler(inbox))

    def _start(self, handler: Any) -> Controller:
        for attempt in range(_ATTEMPTS):
            self.port = _free_port()
            controller = Controller(handler, hostname=self.host, port=self.port, ready_timeout=10,
                                    server_hostname="localhost")
            try:
                controller.start()
            except OSError:
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return controller
        raise AssertionError("unreachable")

    def stop(self) -> None:
        self._controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
