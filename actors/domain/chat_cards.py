"""A page as chat apps show it: Slack's Block Kit blocks with buttons, and Microsoft Teams'
Adaptive Card. Pure.

`PageView` is the incident as a message shows it, including who acknowledged or resolved it,
so the same message can be drawn again as the incident changes (Slack's chat.update).

The alert's words are written by whoever sent the alert. Slack reads `&`, `<` and `>` as
markup (`<!channel>` notifies everyone, `<https://…|words>` is a link) and `*`, `_`, `~`
and backquotes as formatting in mrkdwn; Teams' TextBlocks read a subset of Markdown. So the
alert's words are made safe text first (`plaintext`), cut to what each surface takes, and
escaped for it (in Slack, put in plain_text objects, with those three characters escaped as
Slack's formatting reference asks): they show as written, and only Tocsin's own link is a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tocsin.actors.domain.plaintext import body, one_line

# Block Kit: a section's text takes at most 3000 characters, a header's 150, a field 2000, a
# button's label 75.
SLACK_SUMMARY_LIMIT = 2500
SLACK_HEADER_LIMIT = 150
SLACK_NAME_LIMIT = 100
# Slack cuts a message's text at 40,000: the fallback has the summary whole, as other channels do.
SLACK_FALLBACK_LIMIT = 35_000
# Teams refuses a message over 28 KB; an alert's words take a fraction of it.
TEAMS_SUMMARY_LIMIT = 2000
TEAMS_NAME_LIMIT = 100

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_VERSION = "1.4"  # what Teams renders in chats and channels

# The buttons' action ids: what a press asks Tocsin to do (serve/webhooks/slack.py).
ACKNOWLEDGE = "tocsin_acknowledge"
RESOLVE = "tocsin_resolve"
ESCALATE = "tocsin_escalate"
OPEN = "tocsin_open"  # a link button: Slack reports its press too, and it asks nothing

TRIGGERED, ACKNOWLEDGED, RESOLVED = "triggered", "acknowledged", "resolved"


@dataclass(frozen=True, slots=True)
class PageView:
    """An incident as its page shows it. `by` names who brought it to its status (as the
    incident's log names them: "slack:Alice", "api:admin"); `link` is Tocsin's page for it."""

    incident_id: int
    service: str
    summary: str
    urgency: str
    status: str = TRIGGERED
    by: str | None = None
    link: str | None = None


# -- Slack -----------------------------------------------------------------------------------

def slack_escaped(words: str) -> str:
    """Text as Slack shows it as written: `&`, `<` and `>` as their HTML entities, nothing else."""
    return words.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(view: PageView) -> str:
    """The message's fallback text (notifications, screen readers): what happened, escaped,
    and Tocsin's link to the incident, the one piece of markup."""
    lines = [f"Tocsin #{view.incident_id} [{one_line(view.service, SLACK_NAME_LIMIT)}] {_status_line(view)}",
             _cut(body(view.summary), SLACK_FALLBACK_LIMIT)]
    shown = slack_escaped("\n".join(lines))
    return f"{shown}\n<{slack_escaped(view.link)}|Open in Tocsin>" if view.link else shown


def slack_blocks(view: PageView) -> list[dict[str, Any]]:
    """The message: what happened, where and how urgent; who acted on it; and the buttons
    that still make sense (none but the link once it is resolved). Words that are not
    Tocsin's own go in plain_text objects, which Slack formats not at all."""
    title = f"Tocsin #{view.incident_id} · {one_line(view.service, SLACK_NAME_LIMIT)}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(_cut(title, SLACK_HEADER_LIMIT))},
        {"type": "section", "text": _plain(_cut(body(view.summary), SLACK_SUMMARY_LIMIT)),
         "fields": [_plain(f"Urgency: {one_line(view.urgency, 20)}"), _plain(f"Status: {_status_line(view)}")]},
    ]
    buttons = _slack_buttons(view)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"tocsin_incident_{view.incident_id}", "elements": buttons})
    return blocks


def _plain(words: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": slack_escaped(words), "emoji": False}


def _slack_buttons(view: PageView) -> list[dict[str, Any]]:
    value = str(view.incident_id)
    buttons: list[dict[str, Any]] = []
    if view.status == TRIGGERED:
        buttons.append(_button("Acknowledge", ACKNOWLEDGE, value, "primary"))
    if view.status != RESOLVED:
        buttons.append(_button("Resolve", RESOLVE, value))
        buttons.append(_button("Escalate", ESCALATE, value, "danger"))
    if view.link:
        buttons.append({"type": "button", "action_id": OPEN, "text": _plain("Open in Tocsin"), "url": view.link})
    return buttons


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "value": value, "text": _plain(label)}
    if style:
        button["style"] = style
    return button


def _status_line(view: PageView) -> str:
    if view.status == TRIGGERED or not view.by:
        return view.status
    return f"{view.status} by {one_line(view.by, SLACK_NAME_LIMIT)}"


# -- Microsoft Teams -------------------------------------------------------------------------

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!~>|<])")


def teams_escaped(words: str) -> str:
    """Text a TextBlock shows as written: Markdown's punctuation escaped with a backslash."""
    return _MARKDOWN.sub(r"\\\1", words)


def teams_message(view: PageView) -> dict[str, Any]:
    """What a Teams workflow webhook takes: a message with one Adaptive Card attached, with
    the incident's summary, urgency and service, and an action opening it in Tocsin."""
    service = teams_escaped(one_line(view.service, TEAMS_NAME_LIMIT))
    card: dict[str, Any] = {
        "$schema": ADAPTIVE_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_VERSION,
        "body": [
            {"type": "TextBlock", "text": f"Tocsin \\#{view.incident_id}: {service}", "weight": "Bolder",
             "size": "Medium", "wrap": True,
             "color": "Attention" if view.urgency == "high" else "Default"},
            {"type": "TextBlock", "text": teams_escaped(_cut(body(view.summary), TEAMS_SUMMARY_LIMIT)), "wrap": True},
            {"type": "FactSet", "facts": [
                {"title": "Service", "value": service},
                {"title": "Urgency", "value": teams_escaped(one_line(view.urgency, 20))},
                {"title": "Status", "value": teams_escaped(view.status)},
            ]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in Tocsin", "url": view.link}] if view.link else [],
    }
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}]}


def _cut(words: str, limit: int) -> str:
    return words if len(words) <= limit else words[:limit - 1] + "…"
