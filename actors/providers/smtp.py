"""E-mail through an SMTP relay: one connection per message, upgraded with STARTTLS
whenever the server offers it, logged in when a username is configured.

SMTP's codes are read the SMTP way: 4yz replies are transient (try again), 5yz replies are
permanent (the relay will not take this message, however often it is offered).

The envelope names the sender and the one recipient itself, so no header decides where the
message goes; headers are written under the SMTP policy, which refuses a line break in a
value (alert text reaches them as one line, see `Outgoing`)."""

from __future__ import annotations

import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from tocsin.actors.providers.base import Outgoing, ProviderError, Receipt, TimedOut
from tocsin.actors.providers.detail import detail
from tocsin.actors.providers.emailaddress import check_address
from tocsin.actors.providers.settings import SmtpSettings


class SmtpProvider:
    name = "smtp"
    channels = frozenset({"email"})

    def __init__(self, config: SmtpSettings, host: str, sender: str, *,
                 tls_context: ssl.SSLContext | None = None) -> None:
        """`tls_context` replaces the system's trust store for STARTTLS (a private relay's CA)."""
        self._host = host
        self._port = config.port
        self._sender = sender
        self._username = config.username
        self._password = config.password
        self._timeout = config.timeout_s
        self._tls_context = tls_context

    def compose(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage(policy=policy.SMTP)
        mail["From"] = self._sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to alerts
        if message.incident_id is not None:
            mail["X-Tocsin-Incident"] = str(message.incident_id)
        if message.reply_to is not None:
            mail["Reply-To"] = message.reply_to
        mail.set_content(message.text)
        return mail

    async def send(self, message: Outgoing) -> Receipt:
        check_address(self.name, message.address)
        mail = self.compose(message)
        password = self._password.get_secret_value() if self._password else ""
        try:
            await aiosmtplib.send(
                mail,
                sender=self._sender,
                recipients=[message.address],
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=password if self._username else None,
                start_tls=None,  # upgrade when the server offers STARTTLS
                tls_context=self._tls_context,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPException as exc:
            raise smtp_error(exc) from None
        except (OSError, TimeoutError) as exc:
            raise ProviderError(f"smtp: {type(exc).__name__} talking to the relay", retryable=True) from None
        return Receipt(provider_message_id=mail["Message-ID"])

    async def check(self) -> str:
        """Connect, greet (EHLO), upgrade when STARTTLS is offered, log in when a username is
        configured, and QUIT: everything `send` does before it names a sender."""
        password = self._password.get_secret_value() if self._password else ""
        relay = aiosmtplib.SMTP(hostname=self._host, port=self._port, start_tls=None, tls_context=self._tls_context,
                                timeout=self._timeout)
        try:
            await relay.connect()
            if relay.is_ehlo_or_helo_needed:  # connect greets only when it looked for STARTTLS
                await relay.ehlo()
            tls = relay.get_transport_info("sslcontext") is not None
            if self._username:
                await relay.login(self._username, password)
            await relay.quit()
        except aiosmtplib.SMTPException as exc:
            raise smtp_error(exc) from None
        except (OSError, TimeoutError) as exc:
            raise ProviderError(f"smtp: {type(exc).__name__} talking to the relay", retryable=True) from None
        finally:
            relay.close()
        how = ("STARTTLS" if tls else "no TLS") + (f", logged in as {self._username}" if self._username else "")
        return f"{self._host}:{self._port} answered EHLO ({how})"

    async def close(self) -> None:
        """Nothing is held open between messages."""


def smtp_error(exc: aiosmtplib.SMTPException) -> ProviderError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        transient = all(400 <= code < 500 for code in codes)
        return ProviderError(f"smtp: recipient refused ({', '.join(map(str, codes))})", retryable=transient)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return ProviderError(f"smtp: login refused ({exc.code})", retryable=False)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        said = detail(exc.message)
        return ProviderError(f"smtp: {exc.code} {said}".rstrip(), retryable=400 <= exc.code < 500)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return TimedOut("smtp: no answer in time")
    if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected)):
        return ProviderError(f"smtp: {type(exc).__name__}", retryable=True)
    # Anything else is the relay lacking what we need (AUTH, STARTTLS): not a passing fault.
    return ProviderError(f"smtp: {detail(str(exc))}", retryable=False)


def from_settings(config: SmtpSettings) -> SmtpProvider | None:
    if not (config.host and config.sender):
        return None
    return SmtpProvider(config, config.host, config.sender)
