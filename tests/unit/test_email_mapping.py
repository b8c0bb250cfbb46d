"""E-mail to alert, without a server: subjects normalised, the resolve rule, dedup patterns,
HTML bodies, and the alert a message makes."""

from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from tocsin.actors.domain.events import Action
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.ingest.mail import (
    HEADER_MAX,
    EmailConfig,
    alert_of,
    body_text,
    dedup_key_of,
    is_resolve,
    parse_message,
    plain_subject,
    strip_html,
    without_replies,
)

DEFAULTS = EmailConfig()
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def message(subject: str = "Disk full on db1", text: str | None = "92% used", html: str | None = None,
            sender: str = "Nagios <nagios@monitor.example.com>") -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "k@alerts.tocsin.local", subject
    if text is not None:
        mail.set_content(text)
    if html is not None:
        (mail.add_alternative if text is not None else mail.set_content)(html, subtype="html")
    return mail


def integration(**config: Any) -> IntegrationKey:
    return IntegrationKey("integration-1", "service-1", "email", False, config)


@pytest.mark.parametrize(("subject", "plain"), [
    ("Re: disk full", "disk full"), ("RE: Fwd: FW: disk full", "disk full"), ("Re[2]: disk full", "disk full"),
    ("AW: WG: disk full", "disk full"), ("  fwd :  disk full ", "disk full"), ("Regarding disk full", "Regarding disk full"),
])
def test_reply_and_forward_prefixes_are_removed(subject, plain):
    assert without_replies(subject) == plain


@pytest.mark.parametrize("subject", [
    "RESOLVED: disk full on db1", "[RESOLVED] disk full on db1", "Resolved - disk full on db1",
    "OK: disk full on db1", "ok disk full on db1", "Recovered: disk full on db1", "Re: RESOLVED: disk full on db1",
    "[ Recovered ] disk full on db1",
])
def test_resolve_words_resolve_the_plain_subjects_incident(subject):
    assert is_resolve(subject, DEFAULTS)
    assert plain_subject(subject, DEFAULTS) == "disk full on db1"
    assert dedup_key_of(subject, DEFAULTS) == dedup_key_of("disk full on db1", DEFAULTS)


@pytest.mark.parametrize("subject", [
    "disk full on db1", "Okta login failures", "Not resolved: disk full", "Unresolved disk full",
    "recovery failed on db1", "", "Re: disk full on db1",
])
def test_other_subjects_trigger(subject):
    assert not is_resolve(subject, DEFAULTS)


def test_the_dedup_key_ignores_case_spacing_and_replies_but_not_content():
    key = dedup_key_of("Disk full on db1", DEFAULTS)
    assert dedup_key_of("Re: disk   FULL on db1", DEFAULTS) == key
    assert dedup_key_of("Disk full on db2", DEFAULTS) != key


def test_a_resolve_pattern_of_the_integrations_own():
    config = EmailConfig(resolve_subject_pattern=r"\s*is (back to )?normal$")
    assert is_resolve("db1 is back to normal", config) and not is_resolve("RESOLVED: db1", config)
    assert plain_subject("db1 is back to normal", config) == "db1"
    assert dedup_key_of("db1 is normal", config) == dedup_key_of("db1", config)


def test_a_dedup_pattern_takes_its_first_group():
    config = EmailConfig(dedup_key_pattern=r"\[(INC-\d+)\]")
    assert dedup_key_of("[INC-42] disk full", config) == "INC-42"
    assert dedup_key_of("RESOLVED: [inc-42] disk is fine now", config) == "inc-42"
    # Not found in the subject: the subject's hash, as without a pattern.
    assert dedup_key_of("disk full", config) == dedup_key_of("disk full", DEFAULTS)


@pytest.mark.parametrize(("options", "says"), [
    ({"resolve_subject_pattern": "(unclosed"}, "not a valid regular expression"),
    ({"resolve_subject_pattern": "x*"}, "matches an empty subject"),
    ({"dedup_key_pattern": "[bad"}, "not a valid regular expression"),
    ({"dedup_key_pattern": r"INC-\d+"}, "needs a group"),
])
def test_bad_patterns_are_refused_naming_the_option(options, says):
    with pytest.raises(ValidationError) as raised:
        EmailConfig.model_validate(options)
    [error] = raised.value.errors()
    assert error["loc"] == (next(iter(options)),) and says in error["msg"]


def test_html_is_stripped_to_what_a_reader_sees():
    html = ("<html><head><title>t</title><style>p {color: red}</style></head><body>"
            "<h1>Disk&nbsp;full</h1><p>db1 is at <b>92&#37;</b> &amp; rising</p><script>alert(1)</script>"
            "<table><tr><td>host</td><td>db1</td></tr></table>line<br>break</body></html>")
    assert strip_html(html) == "Disk full\ndb1 is at 92% & rising\nhost db1\nline\nbreak"


def test_the_text_part_is_preferred_and_html_alone_is_stripped():
    assert body_text(message(text="plain words", html="<p>html words</p>")) == "plain words"
    assert body_text(message(text=None, html="<p>html <i>words</i></p>")) == "html words"
    assert body_text(message(text=None)) == ""


def test_a_message_becomes_an_alert():
    event = alert_of(message(), integration(), NOW)
    assert (event.service_id, event.integration_id, event.action) == ("service-1", "integration-1", Action.TRIGGER)
    assert (event.summary, event.source, event.received_at) == ("Disk full on db1", "nagios@monitor.example.com", NOW)
    details = orjson.loads(event.payload)
    assert details["body"] == "92% used" and details["subject"] == "Disk full on db1"
    resolved = alert_of(message("RESOLVED: Disk full on db1"), integration(), NOW)
    assert resolved.action is Action.RESOLVE and resolved.dedup_key == event.dedup_key


def test_the_integrations_patterns_apply_and_a_long_subject_is_cut():
    event = alert_of(message("[INC-7] " + "x" * 2000), integration(dedup_key_pattern=r"\[(INC-\d+)\]"), NOW)
    assert event.dedup_key == "INC-7" and len(event.summary or "") == 1024


def test_without_a_from_header_the_envelope_sender_is_the_source():
    mail = message()
    del mail["From"]
    assert alert_of(mail, integration(), NOW, "bounce@example.com").source == "bounce@example.com"
    assert alert_of(message(subject=""), integration(), NOW).summary == "(no subject)"


def test_a_part_in_an_unknown_charset_keeps_its_text():
    raw = (b"From: a@example.com\r\nSubject: s\r\nContent-Type: text/plain; charset=x-made-up\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\ndisk full \xe2\x80\x94 db1\r\n")
    parsed = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert body_text(parsed) == "disk full \u2014 db1"


# Each of these shapes, at these sizes, took from seconds to hours before: prefixes stripped
# one copy at a time, the standard header parser (quadratic in a header's length), and
# html.parser on unclosed tags.
@pytest.mark.parametrize("shape", ["<a ", "</", "<a", "<![", "<!--", "<script>", "<", "&"])
def test_html_of_any_shape_is_read_in_one_pass(shape):
    html = "<p>db1 <b>full</b></p>" + shape * (500_000 // len(shape))
    assert strip_html(html).startswith("db1 full")


def test_hundreds_of_reply_prefixes_are_stripped_in_one_pass():
    assert without_replies("Re: " * 100_000 + "Disk full") == "Disk full"
    assert without_replies("FW:RE: AW [3]:" * 30_000 + " Disk full") == "Disk full"
    assert plain_subject("Re: " * 100_000 + "RESOLVED: Disk full", DEFAULTS) == "Disk full"


def test_a_header_is_read_from_its_first_characters_only():
    raw = b"From: a@example.com\r\nSubject: " + b"\r\n ".join([b"=? Re: =? =?utf-8?q?a?="] * 20_000) + b"\r\n\r\nbody\r\n"
    subject = str(parse_message(raw)["subject"])
    assert subject.startswith("=? Re: =? a =? Re:") and len(subject) <= HEADER_MAX


def test_a_pattern_that_backtracks_without_end_counts_as_not_found():
    """`(a+)+$` on a run of a's that ends otherwise backtracks through every way of splitting
    it: 2^60 steps. It gets a time limit, then the subject's hash is the key."""
    config = EmailConfig(dedup_key_pattern=r"(a+)+$", resolve_subject_pattern=r"(x+x+)+y")
    subject = "a" * 60 + "!" + " " + "x" * 60
    assert dedup_key_of(subject, config) == dedup_key_of(subject, EmailConfig())
    assert not is_resolve(subject, config)
