"""E-mail to alert, end to end: real mail over SMTP to the listener `tocsin up` runs, to the
address of an "email" integration; incidents seen over HTTP."""

from __future__ import annotations

import smtplib
import time
import uuid
from email.message import EmailMessage
from typing import Any

import pytest

from tests.e2e.conftest import incidents_of, refused

SMTP_TIMEOUT_S = 30


@pytest.fixture
def mailbox(api, new_service):
    """A service with an e-mail integration of these options: (service, integration)."""
    def make(**config: Any) -> tuple[Any, dict[str, Any]]:
        service = new_service("mail-source")
        created = api.post(f"/api/v1/services/{service.id}/integrations", json={"type": "email", "config": config})
        assert created.status_code == 201, created.text
        integration = created.json()
        assert integration["url"] == f"{integration['key']}@alerts.tocsin.local"
        return service, integration
    return make


def mail(to: str, subject: str, text: str | None = "db1: /var is 92% full", html: str | None = None,
         sender: str = "Nagios <nagios@monitor.example.com>") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@monitor.example.com>"
    if text is not None:
        message.set_content(text)
    if html is not None:
        (message.add_alternative if text is not None else message.set_content)(html, subtype="html")
    return message


def send(tocsin: Any, message: EmailMessage) -> dict[str, Any]:
    """Delivered as a mail server delivers: the refusals per recipient (empty when all took it)."""
    with smtplib.SMTP("127.0.0.1", tocsin.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
        return smtp.send_message(message)  # type: ignore[no-any-return]


def test_a_mail_opens_an_incident_and_a_resolved_mail_resolves_it(tocsin, api, mailbox, db):
    service, integration = mailbox()
    address = integration["url"]
    assert send(tocsin, mail(address, "Disk full on db1")) == {}
    # 250 means durable: the incident is there the moment the mail is taken.
    [incident] = incidents_of(api, service.id)
    assert (incident["summary"], incident["status"], incident["source"]) == (
        "Disk full on db1", "triggered", "nagios@monitor.example.com")
    details = api.get(f"/api/v1/incidents/{incident['id']}").json()["details"]
    assert details["body"] == "db1: /var is 92% full" and details["subject"] == "Disk full on db1"

    assert send(tocsin, mail(address, "Re: Disk full on db1", text=None, html="<p>Looking <b>now</b></p>")) == {}
    [incident] = incidents_of(api, service.id)
    assert (incident["status"], incident["occurrences"]) == ("triggered", 2)
    bodies = db("fetch", "SELECT payload->>'body' AS body FROM alerts WHERE service_id = $1::uuid"
                " ORDER BY received_at", service.id)
    assert [b["body"] for b in bodies] == ["db1: /var is 92% full", "Looking now"]

    assert send(tocsin, mail(address, "RESOLVED: Disk full on db1")) == {}
    [incident] = incidents_of(api, service.id)
    assert incident["status"] == "resolved"


def test_a_dedup_pattern_ties_differently_worded_mails_together(tocsin, api, mailbox):
    service, integration = mailbox(dedup_key_pattern=r"\[(INC-\d+)\]",
                                   resolve_subject_pattern=r"\b(fixed|cleared)\b")
    assert send(tocsin, mail(integration["url"], "[INC-42] Disk full on db1")) == {}
    assert send(tocsin, mail(integration["url"], "[INC-42] db1 cleared, 40% used")) == {}
    [incident] = incidents_of(api, service.id)
    assert (incident["dedup_key"], incident["status"], incident["summary"]) == (
        "INC-42", "resolved", "[INC-42] Disk full on db1")


def test_unknown_recipients_are_refused_at_rcpt(tocsin, new_service, db):
    pagerduty = new_service()  # its key is not an e-mail integration's
    for address in ("0" * 32 + "@alerts.tocsin.local", f"{pagerduty.key}@alerts.tocsin.local",
                    "someone@example.com"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
            send(tocsin, mail(address, "Disk full on db1"))
        [(code, answer)] = raised.value.recipients.values()
        assert code == 550, answer
    assert db("fetch", "SELECT 1 FROM alerts WHERE service_id = $1::uuid", pagerduty.id) == []


def test_a_revoked_integrations_address_is_refused(tocsin, api, mailbox, db):
    service, integration = mailbox()
    assert send(tocsin, mail(integration["url"], "Disk full on db1")) == {}
    revoked = api.delete(f"/api/v1/services/{service.id}/integrations/{integration['id']}")
    assert revoked.status_code == 200
    taken, deadline = 1, time.monotonic() + 10  # the listener's key cache lives a couple of seconds
    while True:
        try:
            send(tocsin, mail(integration["url"], "Disk full on db1"))
        except smtplib.SMTPRecipientsRefused as exc:
            [(code, answer)] = exc.recipients.values()
            assert code == 550 and b"revoked" in answer
            break
        taken += 1
        assert time.monotonic() < deadline, "the revoked address was still taken"
        time.sleep(0.5)
    assert db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = $1::uuid", service.id) == taken


def test_a_message_over_the_size_limit_is_refused_with_552(tocsin, api, mailbox):
    service, integration = mailbox()
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as raised:
        send(tocsin, mail(integration["url"], "Huge", text="x" * (600 * 1024)))
    assert raised.value.smtp_code == 552
    assert incidents_of(api, service.id) == []


def test_a_bad_pattern_is_refused_naming_the_option(api, new_service):
    service = new_service()
    response = api.post(f"/api/v1/services/{service.id}/integrations",
                        json={"type": "email", "config": {"resolve_subject_pattern": "(unclosed"}})
    refused(response, 422, "config.resolve_subject_pattern", "regular expression")


MAX_MESSAGE_BYTES = 512 * 1024  # TOCSIN_SMTP_MAX_MESSAGE_BYTES's default


def folded(text: str) -> str:
    """`text` as header lines of under 80 characters, folded at its spaces (SMTP takes lines
    of 1000 characters at most)."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + len(word) > 72:
            lines.append(line)
            line = ""
        line = f"{line} {word}" if line else word
    return "\r\n ".join([*lines, line])


def raw_mail(to: str, headers: str, body: str = "db1: /var is 92% full") -> bytes:
    return (f"From: nagios@monitor.example.com\r\nTo: {to}\r\n{headers}\r\n\r\n{body}\r\n").encode()


def test_the_size_limit_is_advertised_and_a_message_declared_bigger_is_refused(tocsin, mailbox):
    _, integration = mailbox()
    with smtplib.SMTP("127.0.0.1", tocsin.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("size") and int(smtp.esmtp_features["size"]) == MAX_MESSAGE_BYTES
        code, answer = smtp.mail("nagios@monitor.example.com", [f"SIZE={MAX_MESSAGE_BYTES + 1}"])
        assert code == 552, answer


def test_a_message_that_cannot_be_read_is_refused_for_good_and_the_next_one_is_taken(tocsin, api, mailbox):
    service, integration = mailbox()
    address = integration["url"]
    with smtplib.SMTP("127.0.0.1", tocsin.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
        # The standard library's address parser trips over this Message-ID.
        with pytest.raises(smtplib.SMTPDataError) as raised:
            smtp.sendmail("nagios@monitor.example.com", [address], raw_mail(address, "Subject: s\r\nMessage-ID: <<<>>>"))
        assert raised.value.smtp_code == 554, raised.value.smtp_error
        assert b"Error" not in raised.value.smtp_error  # aiosmtpd's own 500 quotes the exception
        assert incidents_of(api, service.id) == []
        assert smtp.sendmail("nagios@monitor.example.com", [address],
                             raw_mail(address, "Subject: Disk full on db1")) == {}
    [incident] = incidents_of(api, service.id)
    assert incident["summary"] == "Disk full on db1"


def test_markup_the_html_parser_chokes_on_still_makes_an_alert(tocsin, api, mailbox):
    service, integration = mailbox()
    address = integration["url"]
    html = "Content-Type: text/html; charset=utf-8\r\nSubject: Disk full on db1"
    assert send_raw(tocsin, address, raw_mail(address, html, "<p>db1 <b>full</b></p><![<![ x")) == {}
    [incident] = incidents_of(api, service.id)
    assert api.get(f"/api/v1/incidents/{incident['id']}").json()["details"]["body"] == "db1 full"


def send_raw(tocsin: Any, to: str, raw: bytes) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", tocsin.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
        return smtp.sendmail("nagios@monitor.example.com", [to], raw)  # type: ignore[no-any-return]


def test_subjects_and_bodies_of_any_shape_take_time_in_proportion_to_their_length(tocsin, api, mailbox):
    """Shapes that made parsing quadratic or worse: hundreds of KB of reply prefixes and of
    unfinished encoded words in a subject (header parsing, prefix stripping), unclosed tags in
    an HTML body. Each is answered well within the client's timeout."""
    service, integration = mailbox()
    address = integration["url"]
    subject = "Re: " * 2000 + "=? " * (400 * 1024 // 3)
    assert send_raw(tocsin, address, raw_mail(address, f"Subject: {folded(subject)}")) == {}
    html = "Content-Type: text/html; charset=utf-8\r\nSubject: Unclosed tags"
    assert send_raw(tocsin, address, raw_mail(address, html, folded("<a " * (400 * 1024 // 3)))) == {}
    long_one, unclosed = sorted((i["summary"] for i in incidents_of(api, service.id)), key=len, reverse=True)
    assert long_one.strip() == ("Re: " * 256).strip() and unclosed == "Unclosed tags"
