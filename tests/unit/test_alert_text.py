"""Alert text as senders write it (line breaks, CR LF and a header after them, NUL and other
control characters, 10 KB, right-to-left overrides, emoji), made into the words of each
channel: subjects and lines stay one line, nothing a message cannot carry gets through, and
what Tocsin says after the alert's words still reads as written."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.twiml.voice_response import VoiceResponse

from tocsin.actors.domain import messages
from tocsin.actors.domain.plaintext import body, closed, one_line
from tocsin.actors.providers.base import Outgoing

RLO, PDF, PDI = "\u202e", "\u202c", "\u2069"
ODD_SUMMARIES = {
    "newlines": "Disk full\non db-1\n\nsee runbook",
    "crlf header": "Disk full\r\nBcc: victim@example.com\r\nX-Injected: yes",
    "nul and escapes": "Disk\x00full \x1b[31mred\x1b[0m \x07\x7f\x85\u2028end",
    "10 KB": "disk full " * 1024,
    "right to left": f"{RLO}הדיסק מלא القرص ممتلئ",
    "emoji": "🔥 Disk full 👩‍💻 🇳🇱",
    "lone surrogate": "bad \ud800 text",
    "markup": "</Say><Dial>+15550000</Dial> & <!channel>",
}
# What no line may hold: line breaks as Python, mail and XML count them, and control characters.
NOT_IN_A_LINE = set("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
UNSHOWABLE = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} | {"\ufffe", "\uffff"}


def alert(summary: str, code: int | None = 3) -> messages.Alert:
    return messages.Alert(incident_id=42, service="checkout", summary=summary, urgency="high", reply_code=code)


def assert_one_safe_line(line: str) -> None:
    assert not set(line) & (NOT_IN_A_LINE | UNSHOWABLE), repr(line)
    line.encode("utf-8")  # no lone surrogate


@pytest.mark.parametrize("summary", ODD_SUMMARIES.values(), ids=ODD_SUMMARIES.keys())
def test_a_subject_is_one_safe_bounded_line(summary: str) -> None:
    subject = messages.subject(alert(summary))

    assert_one_safe_line(subject)
    assert subject.startswith("Tocsin #42 [checkout] ")
    assert len(subject) <= messages.SUBJECT_LIMIT + 1  # and a closing mark at most


@pytest.mark.parametrize("summary", ODD_SUMMARIES.values(), ids=ODD_SUMMARIES.keys())
def test_an_sms_keeps_one_segment_and_its_reply_instructions_read_as_written(summary: str) -> None:
    text = messages.sms(alert(summary))

    assert_one_safe_line(text)
    assert len(text) <= messages.SMS_LIMIT + 1
    # Nothing the summary left open turns the instructions after it around.
    assert closed(text.removesuffix(" Reply 3a ack, 3c close, 3e escalate")) + " Reply" in text


@pytest.mark.parametrize("summary", ODD_SUMMARIES.values(), ids=ODD_SUMMARIES.keys())
def test_a_voice_script_makes_twiml_that_parses(summary: str) -> None:
    script = messages.voice(alert(summary, code=None))
    document = VoiceResponse()
    document.say(script)

    [said] = ET.fromstring(str(document)).iter("Say")  # what Twilio reads: well-formed XML

    assert said.text == script
    assert_one_safe_line(script)
    assert len(script) < messages.VOICE_SUMMARY_LIMIT + 200


@pytest.mark.parametrize("summary", ODD_SUMMARIES.values(), ids=ODD_SUMMARIES.keys())
def test_the_long_text_keeps_the_summary_lines_and_drops_only_what_cannot_be_shown(summary: str) -> None:
    text = messages.long_text(alert(summary), link="https://tocsin.example/incidents/42")
    first, *rest = text.split("\n")

    assert first == messages.subject(alert(summary))
    assert not set(text) & (UNSHOWABLE - {"\n"}), repr(text)
    text.encode("utf-8")
    assert rest[-1] == "Open: https://tocsin.example/incidents/42"


def test_what_cannot_be_shown_becomes_a_replacement_character_and_words_stay() -> None:
    assert one_line("Disk\x00full\r\nBcc: victim@example.com", 100) == "Disk\ufffdfull Bcc: victim@example.com"
    assert body("Disk\x00full\r\nBcc: x\rY\u2028z\t1") == "Disk\ufffdfull\nBcc: x\nY\nz\t1"
    assert one_line("🔥 Disk full 👩‍💻", 100) == "🔥 Disk full 👩‍💻"
    assert one_line("x" * 50, 10) == "x" * 9 + "…"


def test_bidirectional_overrides_are_closed_where_the_alert_text_ends() -> None:
    assert closed("plain") == "plain"
    assert closed(f"{RLO}abc") == f"{RLO}abc{PDF}"
    assert closed(f"{RLO}a{PDF}b") == f"{RLO}a{PDF}b"
    assert closed(f"\u2067{RLO}abc") == f"\u2067{RLO}abc{PDF}{PDI}"
    assert closed(f"\u2067{RLO}a{PDI}b") == f"\u2067{RLO}a{PDI}b"  # the isolate's end closes what is in it
    assert closed(f"{PDF}{PDI}a") == f"{PDF}{PDI}a"  # closing nothing opens nothing


def test_an_outgoing_message_carries_one_safe_subject_line_whoever_composed_it() -> None:
    message = Outgoing(1, "email", "a@example.com", "Alert\r\nBcc: victim@example.com", "line 1\r\nline\x002")

    assert message.subject == "Alert Bcc: victim@example.com"
    assert message.text == "line 1\nline\ufffd2"


ODD_CHARACTERS = st.sampled_from(list("\r\n\t\x00\x1b\x85\u2028\ud800\ufffe\u202a\u202c\u202e\u2066\u2069 "))


@settings(max_examples=300, deadline=None)
@given(st.text(st.one_of(st.characters(), ODD_CHARACTERS)), st.integers(min_value=1, max_value=300))
def test_any_text_makes_one_safe_line_and_a_safe_body(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert_one_safe_line(line)
    assert len(line) <= 2 * limit  # each closing mark stands for an opening one kept

    kept = body(text)
    assert not set(kept) & (UNSHOWABLE - {"\n", "\t"})
    kept.encode("utf-8")
    assert body(kept) == kept
