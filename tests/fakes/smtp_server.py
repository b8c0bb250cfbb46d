"""An SMTP relay faked by aiosmtpd on a loopback port, recording every message it takes.

    with SmtpServer() as relay:                                     # plain, no AUTH
    with SmtpServer(starttls=True, username="u", password="p") as relay:
        settings = Settings(smtp_host=relay.host, smtp_port=relay.port, smtp_from=..., ...)
        SmtpProvider(SmtpSettings.of(settings), relay.host, sender, tls_context=relay.client_tls_context())
        relay.messages  ->  [ ReceivedMail(mail_from, rcpt_tos, message, tls, login), ... ]
        relay.refuse("550 5.1.1 No such user")   # answer RCPT with this until refuse(None)
    with SmtpServer(only_domain="responders.test") as relay:      # others deferred, 451

`starttls=True` offers STARTTLS with a self-signed certificate for 127.0.0.1 and localhost,
made on start with the `cryptography` package (`tls_supported()` says whether it is
installed); `client_tls_context()` trusts exactly that certificate. With a username, AUTH
is offered (over TLS only when TLS is on) and wrong credentials are refused with 535.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.conftest import free_port
from tests.fakes.self_signed import self_signed

READY_TIMEOUT_S = 5.0
START_ATTEMPTS = 5


def tls_supported() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool  # the message came over a connection upgraded with STARTTLS
    login: str | None  # who logged in, when someone did


class SmtpServer:
    def __init__(self, *, starttls: bool = False, username: str | None = None, password: str | None = None,
                 only_domain: str | None = None) -> None:
        """`only_domain`: the relay takes mail to this domain only, and defers the rest (451), so
        that a sender keeps such mail queued as if no relay were there."""
        if starttls and not tls_supported():
            raise RuntimeError("STARTTLS needs the cryptography package to make a certificate")
        self.host = "127.0.0.1"
        self.port = 0
        self.messages: list[ReceivedMail] = []
        self._starttls = starttls
        self._credentials = (username, password) if username is not None else None
        self._refusal: str | None = None
        self.only_domain = only_domain
        self._lock = threading.Condition()
        self._certs: tempfile.TemporaryDirectory[str] | None = None
        self._cert_pem = b""
        self._controller: Controller | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> SmtpServer:
        tls_context = self._server_tls_context() if self._starttls else None
        for attempt in range(START_ATTEMPTS):
            self.port = free_port()
            controller = Controller(
                _Handler(self),
                hostname=self.host,
                port=self.port,
                ready_timeout=READY_TIMEOUT_S,
                server_hostname="localhost",
                tls_context=tls_context,
                authenticator=self._authenticate if self._credentials else None,
                auth_require_tls=self._starttls,
            )
            try:
                controller.start()
            except OSError:  # the port was taken between choosing and binding it
                if attempt == START_ATTEMPTS - 1:
                    raise
                continue
            self._controller = controller
            break
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._certs is not None:
            self._certs.cleanup()
            self._certs = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- behaviour -----------------------------------------------------------------------

    def refuse(self, reply: str | None) -> None:
        """Answer every RCPT with `reply` (for example "451 4.3.0 Try again later"); None accepts again."""
        self._refusal = reply

    def client_tls_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate and nothing else."""
        if not self._cert_pem:
            raise RuntimeError("this server does not offer STARTTLS")
        return ssl.create_default_context(cadata=self._cert_pem.decode())

    def wait_for(self, to: str, count: int = 1, timeout_s: float = 20.0) -> list[ReceivedMail]:
        """The first `count` messages to `to`, waiting up to `timeout_s` for them."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while len(found := [m for m in self.messages if to in m.rcpt_tos]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {count} message(s) to {to} within {timeout_s}s; got {len(found)}")
                self._lock.wait(left)
            return found[:count]

    # -- inside the server's thread ------------------------------------------------------

    def _record(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.messages.append(mail)
            self._lock.notify_all()

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self._credentials is not None:
            username, password = self._credentials
            if auth_data.login.decode() == username and auth_data.password.decode() == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def _server_tls_context(self) -> ssl.SSLContext:
        self._certs = tempfile.TemporaryDirectory(prefix="tocsin-smtp-")
        cert_file, key_file, self._cert_pem = self_signed(Path(self._certs.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        refusal = self._server._refusal
        if refusal is not None:
            return refusal
        only = self._server.only_domain
        if only is not None and address.rpartition("@")[2].lower() != only:
            return f"451 4.4.0 Only mail to {only} is taken here; try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = (envelope.original_content or b"").replace(b"\r\n", b"\n")  # as Python writes mail, not the wire
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self._server._record(ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            message=message_from_bytes(raw, policy=policy.default),
            tls=session.ssl is not None,
            login=login,
        ))
        return "250 Message accepted for delivery"
