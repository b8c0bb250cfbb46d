"""The words of a notification, per channel: short where it costs (SMS, push), full where
it does not (e-mail, Slack, webhooks). Pure."""

from __future__ import annotations

from dataclasses import dataclass

SMS_LIMIT = 160  # one segment: longer texts cost more and arrive split


@dataclass(frozen=True, slots=True)
class Alert:
    incident_id: int
    service: str
    summary: str
    urgency: str
    reply_code: int | None = None


def subject(alert: Alert) -> str:
    return f"Tocsin #{alert.incident_id} [{alert.service}] {alert.summary}"


def sms(alert: Alert) -> str:
    """Fits one segment: the reply instructions are kept, the summary is cut to fit."""
    tail = ""
    if alert.reply_code is not None:
        code = alert.reply_code
        tail = f" Reply {code}a ack, {code}c close, {code}e escalate"
    head = f"Tocsin #{alert.incident_id} {alert.service}: "
    room = SMS_LIMIT - len(head) - len(tail)
    summary = alert.summary if len(alert.summary) <= room else alert.summary[: max(room - 1, 0)] + "…"
    return head + summary + tail


def voice(alert: Alert) -> str:
    """Read out by the phone call, followed by the keypad menu."""
    return (f"This is Tocsin with a {alert.urgency} urgency alert for {alert.service}. "
            f"Incident {alert.incident_id}: {alert.summary}.")


VOICE_MENU = "Press 4 to acknowledge, 6 to resolve, 5 to escalate, or star to hear this again."


def long_text(alert: Alert, link: str | None = None) -> str:
    lines = [subject(alert), "", f"Service: {alert.service}", f"Urgency: {alert.urgency}", f"Summary: {alert.summary}"]
    if link:
        lines.append(f"Open: {link}")
    return "\n".join(lines)


def bundle(count: int, service: str) -> str:
    """The one message that stands for incidents a throttle held back."""
    noun = "incident" if count == 1 else "incidents"
    return f"Tocsin: {count} more {noun} on {service}"


def verification(code: str) -> str:
    return f"Your Tocsin verification code is {code}. It expires in 15 minutes."
