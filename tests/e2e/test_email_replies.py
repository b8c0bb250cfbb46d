"""Acknowledging by e-mail reply, end to end: `tocsin up` (one of its own, sending e-mail
through a fake relay and listening for mail) pages a person by e-mail; the page's Reply-To,
read at the relay, is answered over SMTP to Tocsin's listener, as the person's mail server
would. What the reply does is seen over HTTP; what it may not do is refused with 550 and why."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest

from tests.client import trigger
from tests.conftest import free_port, run_apart, statement_runner
from tests.e2e.conftest import audited_reply
from tests.fakes.smtp_server import ReceivedMail, SmtpServer
from tests.server import Deployment, own_deployment

DOMAIN = "alerts.tocsin.local"


@dataclass(frozen=True)
class MailDeployment:
    tocsin: Deployment
    relay: SmtpServer
    smtp_port: int  # Tocsin's own listener


@pytest.fixture(scope="module")
def deployment(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailDeployment]:
    listener = free_port()
    with SmtpServer() as relay, own_deployment(
            postgres_admin_url, tmp_path_factory.mktemp("tocsin-mail"), f"tocsin-e2e-mail-{uuid.uuid4().hex[:8]}",
            {"TOCSIN_SMTP_HOST": relay.host, "TOCSIN_SMTP_PORT": str(relay.port),
             "TOCSIN_SMTP_FROM": f"tocsin@{DOMAIN}", "TOCSIN_SMTP_LISTEN_PORT": str(listener)}) as tocsin:
        yield MailDeployment(tocsin, relay, listener)


class Responder:
    """A person paged by e-mail at once, on a service of their own."""

    def __init__(self, deployment: MailDeployment) -> None:
        self.deployment = deployment
        self.api = deployment.tocsin.client()
        self.name = f"Dana {uuid.uuid4().hex[:6]}"
        self.address = f"dana.{uuid.uuid4().hex[:8]}@responders.test"
        self.user = self.created("/api/v1/users", {"name": self.name, "email": self.address})
        method = self.created(f"/api/v1/users/{self.user['id']}/contact-methods",
                              {"kind": "email", "address": self.address, "verified": True})
        self.created(f"/api/v1/users/{self.user['id']}/notification-rules",
                     {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
        policy = self.created("/api/v1/escalation-policies", {"name": "mail", "levels": [
            {"delay_minutes": 30, "targets": [{"type": "user", "id": self.user["id"]}]}]})
        service = self.created("/api/v1/services", {"name": "checkout", "escalation_policy_id": policy["id"]})
        self.key = self.created(f"/api/v1/services/{service['id']}/integrations", {"type": "pagerduty"})["key"]
        self.pages = 0

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def paged(self, summary: str) -> tuple[int, ReceivedMail]:
        """A new incident, and the page e-mail it sent this person."""
        response = self.api.post("/v2/enqueue", json=trigger(self.key, summary=summary))
        assert response.status_code == 202, response.text
        self.pages += 1
        page = self.deployment.relay.wait_for(self.address, count=self.pages)[-1]
        assert page.message["X-Tocsin-Incident"]
        return int(page.message["X-Tocsin-Incident"]), page

    def incident(self, incident_id: int) -> dict[str, Any]:
        return self.api.get(f"/api/v1/incidents/{incident_id}").json()  # type: ignore[no-any-return]

    def reply(self, page: ReceivedMail | str, text: str | None = None, html: str | None = None,
              subject: str = "Re: page") -> tuple[int, str]:
        """The reply sent to the page's Reply-To (or to an address given): Tocsin's code and words."""
        to = page if isinstance(page, str) else str(page.message["Reply-To"])
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = f"{self.name} <{self.address}>", to, subject
        if text is not None:
            message.set_content(text)
        if html is not None:
            (message.add_alternative if text is not None else message.set_content)(html, subtype="html")
        return send(self.deployment.smtp_port, message, self.address)


def send(port: int, message: EmailMessage, sender: str) -> tuple[int, str]:
    """One message over SMTP, as a mail server delivers it: the reply to RCPT when it refuses
    the recipient, else the reply to DATA."""
    async def go() -> tuple[int, str]:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30) as smtp:
            await smtp.mail(sender)
            try:
                await smtp.rcpt(str(message["To"]))
            except aiosmtplib.SMTPRecipientRefused as refused:
                return refused.code, refused.message
            try:
                answer = await smtp.data(message.as_bytes())
            except aiosmtplib.SMTPDataError as refused:
                return refused.code, refused.message
            return answer.code, answer.message

    return run_apart(go())  # type: ignore[no-any-return]


def timeline(responder: Responder, incident_id: int) -> list[tuple[str, str]]:
    return [(e["kind"], e["actor"]) for e in responder.incident(incident_id)["timeline"]]


def test_ack_by_reply_acknowledges_as_the_person_once(deployment: MailDeployment) -> None:
    dana = Responder(deployment)
    incident, page = dana.paged("checkout 5xx")
    reply_to = str(page.message["Reply-To"])
    assert reply_to.startswith("reply+") and reply_to.endswith(f"@{DOMAIN}")
    assert "Reply to this e-mail with ack, resolve or escalate" in page.message.get_content()

    quoted = "\n".join(f"> {line}" for line in page.message.get_content().splitlines())
    code, said = dana.reply(page, f"Ack\n\nOn Mon, 3 Jun 2024 at 02:14, Tocsin <{reply_to}> wrote:\n{quoted}\n")
    assert (code, said) == (250, f"2.0.0 Incident {incident} acknowledged.")
    assert dana.incident(incident)["status"] == "acknowledged"
    assert ("acknowledged", f"email:{dana.name}") in timeline(dana, incident)
    entry = audited_reply(dana.api, incident, "email")  # in the audit log too, as Dana
    assert (entry["actor"], entry["action"], entry["after"]["status"]) == (dana.user["id"], "acknowledge",
                                                                           "acknowledged")

    code, said = dana.reply(page, "resolve")
    assert code == 550 and "used already" in said
    assert dana.incident(incident)["status"] == "acknowledged"


def test_a_fresh_pages_reply_resolves_even_in_html_alone(deployment: MailDeployment) -> None:
    dana = Responder(deployment)
    incident, page = dana.paged("payments 5xx")
    html = ('<div dir="ltr">Resolve.</div><div class="gmail_quote">On Mon, Tocsin wrote:'
            '<blockquote>ack</blockquote></div>')
    code, said = dana.reply(page, html=html)
    assert (code, said) == (250, f"2.0.0 Incident {incident} resolved.")
    assert dana.incident(incident)["status"] == "resolved"
    assert ("resolved", f"email:{dana.name}") in timeline(dana, incident)


def test_what_a_reply_cannot_do_is_refused_with_a_reason(deployment: MailDeployment) -> None:
    dana = Responder(deployment)
    incident, page = dana.paged("search slow")

    code, said = dana.reply(page, "thanks, looking into it\n\n-- \nDana")
    assert code == 550 and "write ack, resolve or escalate on its first line" in said
    assert dana.incident(incident)["status"] == "triggered"

    code, said = dana.reply(page, "", subject="ACK")  # no text: the subject is read; the token still works
    assert (code, said) == (250, f"2.0.0 Incident {incident} acknowledged.")

    other, second_page = dana.paged("search down")
    assert dana.api.post(f"/api/v1/incidents/{other}/resolve").status_code == 200
    code, said = dana.reply(second_page, "ack")
    assert code == 550 and "its incident is resolved" in said

    code, said = dana.reply(f"reply+{'a' * 26}@{DOMAIN}", "ack")
    assert code == 550 and "not known to Tocsin" in said
    code, said = dana.reply(f"reply+garbage@{DOMAIN}", "ack")
    assert code == 550 and "not a reply address" in said


def test_an_automatic_reply_is_not_acted_on(deployment: MailDeployment) -> None:
    dana = Responder(deployment)
    incident, page = dana.paged("cart errors")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = dana.address, str(page.message["Reply-To"]), "Out of office"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("ack")
    code, said = send(deployment.smtp_port, message, dana.address)
    assert code == 550 and "Automatic replies" in said
    assert dana.incident(incident)["status"] == "triggered"


def test_a_reply_address_is_stored_only_as_a_hash(deployment: MailDeployment) -> None:
    dana = Responder(deployment)
    _, page = dana.paged("queue backlog")
    token = str(page.message["Reply-To"]).removeprefix("reply+").partition("@")[0]
    stored = statement_runner(deployment.tocsin.database_url)("fetch", "SELECT token_hash FROM email_replies")
    assert hashlib.sha256(token.encode()).hexdigest() in {row["token_hash"] for row in stored}
    assert token not in {row["token_hash"] for row in stored}
