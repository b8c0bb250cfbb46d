"""The words of a notification, per channel: short where it costs (SMS, push), full where
it does not (e-mail, Slack, webhooks). Pure.

The alert's words are written by whoever sent the alert: wherever they stand in a line
(a subject, an SMS, a voice script) they are made one safe line first (`plaintext`)."""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.actors.domain.plaintext import body, one_line

SMS_LIMIT = 160  # one segment: longer texts cost more and arrive split
SUBJECT_LIMIT = 200  # mail clients show far less; a header stays short enough to fold
NAME_LIMIT = 100  # a service's name, where it stands in a line
VOICE_SUMMARY_LIMIT = 500  # about half a minute read out


@dataclass(frozen=True, slots=True)
class Alert:
    incident_id: int
    service: str
    summary: str
    urgency: str
    reply_code: int | None = None


def subject(alert: Alert) -> str:
    """One line, at most SUBJECT_LIMIT characters."""
    return one_line(f"Tocsin #{alert.incident_id} [{_name(alert.service)}] {one_line(alert.summary, SUBJECT_LIMIT)}",
                    SUBJECT_LIMIT)


def sms(alert: Alert) -> str:
    """Fits one segment: the reply instructions are kept, the summary is cut to fit."""
    tail = ""
    if alert.reply_code is not None:
        code = alert.reply_code
        tail = f" Reply {code}a ack, {code}c close, {code}e escalate"
    head = f"Tocsin #{alert.incident_id} {_name(alert.service)}: "
    room = SMS_LIMIT - len(head) - len(tail)
    return head + one_line(alert.summary, room) + tail


def voice(alert: Alert) -> str:
    """Read out by the phone call, followed by the keypad menu."""
    return (f"This is Tocsin with a {alert.urgency} urgency alert for {_name(alert.service)}. "
            f"Incident {alert.incident_id}: {one_line(alert.summary, VOICE_SUMMARY_LIMIT)}.")


VOICE_MENU = "Press 4 to acknowledge, 6 to resolve, 5 to escalate, or star to hear this again."


def long_text(alert: Alert, link: str | None = None) -> str:
    lines = [subject(alert), "", f"Service: {_name(alert.service)}", f"Urgency: {alert.urgency}",
             f"Summary: {body(alert.summary)}"]
    if link:
        lines.append(f"Open: {link}")
    return "\n".join(lines)


def bundle(count: int, service: str) -> str:
    """The one message that stands for incidents a throttle held back."""
    noun = "incident" if count == 1 else "incidents"
    return f"Tocsin: {count} more {noun} on {_name(service)}"


def verification(code: str) -> str:
    return f"Your Tocsin verification code is {code}. It expires in 15 minutes."


def _name(name: str) -> str:
    return one_line(name, NAME_LIMIT)
