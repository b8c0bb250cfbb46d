"""Slack calling Tocsin: a page's buttons pressed (interactions) and the `/tocsin` slash command.

Every request must carry Slack's signature (X-Slack-Signature, v0: an HMAC-SHA256 of
"v0:<timestamp>:<raw body>" keyed with the app's signing secret, TOCSIN_SLACK_SIGNING_SECRET),
compared in constant time, and a timestamp (X-Slack-Request-Timestamp) within five minutes of
Tocsin's clock: 401 with what is wrong otherwise. Without a signing secret there are no such
routes (404).

Who pressed is a Slack user, acting as the Tocsin user linked to them (`slack_user_id` on the
user, set through PUT /api/v1/users/{user_id}/slack by that user or an admin); an unlinked
Slack user is told, in a message only they see, how to link their account. A button acts
through the shard that owns the incident, as every change does, logged as "slack:<name>".
What it did shows in the message itself, which the Slack channel actor redraws once the change
is committed (actors/slack_messages.py); what it could not do is said to the presser alone.

Replays: Slack gives a request no id of its own, so a captured request is refused once its
timestamp is five minutes old, and within those five minutes the command it carries has an
id derived from the press (user, action, incident and Slack's action_ts): the shard applies
it no second time.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import pydantic
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from slack_sdk.signature import Clock, SignatureVerifier

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.domain import chat_cards, replies
from tocsin.actors.domain.accounts.access import Role
from tocsin.actors.domain.audit import Actor
from tocsin.actors.domain.chat_cards import slack_escaped
from tocsin.actors.domain.events import Command
from tocsin.actors.providers.base import ProviderError
from tocsin.actors.store import chat
from tocsin.serve.api.commands import send_command
from tocsin.serve.auditing import Declared, declare
from tocsin.serve.api.oncall import everyone_on_call
from tocsin.serve.runtime import GatewayRuntime, get_runtime

log = logging.getLogger(__name__)

router = APIRouter(prefix="/integrations/slack", tags=["Slack"])

TOLERANCE_S = 300  # five minutes, as Slack asks
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
# Command ids derived from a button's press (uuid5): the same press always carries the same command.
_PRESSES = uuid.uuid5(uuid.NAMESPACE_URL, "urn:tocsin:slack-presses")
COMMANDS = {
    chat_cards.ACKNOWLEDGE: Command.ACKNOWLEDGE,
    chat_cards.RESOLVE: Command.RESOLVE,
    chat_cards.ESCALATE: Command.ESCALATE,
}
HELP = ("Tocsin answers `/tocsin oncall`: who is on call now, on every schedule. A page's buttons"
        " acknowledge, resolve and escalate its incident.")


class _Clock(Clock):
    """slack_sdk's verifier asks the time of this: Tocsin's own clock."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> float:
        return self._now.timestamp()


def signature_problem(secret: str, body: bytes, timestamp: str | None, signature: str | None,
                      now: datetime) -> str | None:
    """Why this request is not one Slack signed just now; None when it is."""
    if not timestamp or not signature:
        return f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required: only Slack may call this"
    try:
        sent_at = int(timestamp.strip())
    except ValueError:
        return f"{TIMESTAMP_HEADER} is not a time in unix seconds"
    if abs(now.timestamp() - sent_at) > TOLERANCE_S:
        return (f"{TIMESTAMP_HEADER} is more than five minutes from Tocsin's clock: an old request sent again,"
                " or a clock far off")
    if not SignatureVerifier(secret, _Clock(now)).is_valid(body, str(sent_at), signature):
        return f"{SIGNATURE_HEADER} does not match the request: it is not from Slack, or not with this signing secret"
    return None


@dataclass(frozen=True, slots=True)
class Signed:
    """A request Slack signed: its form fields, and the gateway's runtime."""

    form: dict[str, str]
    runtime: GatewayRuntime
    request: Request


async def signed(request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Signed:
    secret = runtime.settings.slack_signing_secret
    if secret is None:
        raise HTTPException(404, "Slack is not configured on this Tocsin: TOCSIN_SLACK_SIGNING_SECRET is not set")
    body = await request.body()  # within the webhooks' limit (serve/route_limits.py)
    problem = signature_problem(secret.get_secret_value(), body, request.headers.get(TIMESTAMP_HEADER),
                                request.headers.get(SIGNATURE_HEADER), runtime.now())
    if problem:
        raise HTTPException(401, problem)
    return Signed(dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)), runtime, request)


# -- what Slack sends, as far as Tocsin reads it ---------------------------------------------

class _Slack(BaseModel):
    model_config = ConfigDict(extra="ignore")  # Slack sends much more than Tocsin reads


class SlackUser(_Slack):
    id: str = Field(min_length=1, max_length=64)


class SlackAction(_Slack):
    action_id: str = Field(max_length=255)
    value: str | None = Field(None, max_length=2000)
    action_ts: str = Field("", max_length=64)


class SlackContainer(_Slack):
    channel_id: str | None = Field(None, max_length=64)
    message_ts: str | None = Field(None, max_length=64)


class SlackChannel(_Slack):
    id: str = Field(max_length=64)


class Interaction(_Slack):
    type: str = Field(max_length=64)
    user: SlackUser
    actions: list[SlackAction] = Field(default_factory=list, max_length=25)
    container: SlackContainer | None = None
    channel: SlackChannel | None = None

    @property
    def channel_id(self) -> str | None:
        if self.channel is not None:
            return self.channel.id
        return self.container.channel_id if self.container is not None else None


def interaction_of(form: dict[str, str]) -> Interaction:
    raw = form.get("payload")
    if not raw:
        raise HTTPException(400, "payload missing: Slack sends the interaction as a form field named payload")
    try:
        return Interaction.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise HTTPException(400, f"payload is not a Slack interaction: {where}: {first['msg']}") from None


# -- the routes ------------------------------------------------------------------------------

@router.post("/interactions", status_code=200)
async def interactions(slack: Signed = Depends(signed)) -> dict[str, Any]:
    """A page's button pressed: acknowledge, resolve or escalate its incident as the Tocsin
    user linked to the Slack user who pressed it. Answered with an empty object; what the
    press did shows in the message, and what it could not do is said to the presser alone."""
    interaction = interaction_of(slack.form)
    if interaction.type != "block_actions":
        raise HTTPException(400, f"Tocsin answers block_actions interactions only, not {interaction.type}")
    presser = interaction.user.id
    pressed = [action for action in interaction.actions if action.action_id in COMMANDS]
    if not pressed:
        return {}  # "Open in Tocsin" and the like: a link, nothing to do
    async with slack.runtime.database.connection() as conn:
        person = await chat.user_of_slack_id(conn, presser)
    if person is None:
        await _tell(slack.runtime, interaction, link_your_account(presser))
        return {}
    if Role(person["role"]) < Role.RESPONDER:
        await _tell(slack.runtime, interaction, f"Tocsin: acting on incidents needs the responder role;"
                                                f" {person['name']} has the {person['role']} role.")
        return {}
    for action in pressed:
        said = await _act(slack, presser, person, action)
        if said is not None:
            await _tell(slack.runtime, interaction, said)
    return {}


@router.post("/commands", status_code=200)
async def commands(slack: Signed = Depends(signed)) -> dict[str, Any]:
    """The `/tocsin` slash command: `oncall` says who is on call now on every schedule;
    anything else, what the command does. Answered to the person who typed it alone."""
    words = slack.form.get("text", "").strip().lower().split()
    if words[:1] != ["oncall"]:
        return _ephemeral(HELP)
    async with slack.runtime.database.connection() as conn:
        person = await chat.user_of_slack_id(conn, slack.form.get("user_id", ""))
    if person is None:
        return _ephemeral(link_your_account(slack.form.get("user_id", "")))
    return _ephemeral(on_call_text(await everyone_on_call(slack.runtime, slack.runtime.now())))


def link_your_account(slack_user_id: str) -> str:
    return (f"Tocsin does not know who you are: link your account first. In Tocsin, open Users, then your"
            f" own, and set your Slack user id to {slack_escaped(slack_user_id)}.")


def on_call_text(schedules: list[dict[str, Any]]) -> str:
    """Who is on call, one line per schedule."""
    if not schedules:
        return "Tocsin has no schedules yet."
    lines = ["On call now:"]
    for schedule in schedules:
        names = ", ".join(slack_escaped(user["name"] or user["id"]) for user in schedule["users"]) or "nobody"
        lines.append(f"• {slack_escaped(schedule['schedule_name'])}: {names}")
    return "\n".join(lines)


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


async def _act(slack: Signed, presser: str, person: dict[str, Any], action: SlackAction) -> str | None:
    """Send the press's command through the incident's shard, as `person` (the Tocsin user
    linked to the presser): what to tell the presser, or None when the message's update says
    it all."""
    command = COMMANDS[action.action_id]
    try:
        incident_id = int(action.value or "")
    except ValueError:
        raise HTTPException(400, f"the {action.action_id} button's value is not an incident id") from None
    press = f"{presser}:{action.action_id}:{incident_id}:{action.action_ts}"
    try:
        _, reply = await send_command(slack.runtime, incident_id, command, f"slack:{person['name']}",
                                      command_id=str(uuid.uuid5(_PRESSES, press)))
    except HTTPException as missing:
        return f"Tocsin: {missing.detail}."
    except BatchFailed:
        return replies.NOT_RECORDED
    declare(slack.request, Declared(Actor(person["id"], person["name"], "slack"), "incident", (str(incident_id),),
                                    command.value))
    if reply.outcome in ("acknowledged", "resolved", "escalated", "duplicate"):
        return None
    return "Tocsin: " + replies.outcome_text(command, incident_id, reply.outcome, reply.status, reply.note)


async def _tell(runtime: GatewayRuntime, interaction: Interaction, text: str) -> None:
    """A message only the presser sees, where they pressed (needs the bot token)."""
    channel = interaction.channel_id
    if runtime.slack is None or channel is None:
        log.warning("slack: cannot answer %s (no bot token, or no channel): %s", interaction.user.id, text)
        return
    try:
        await runtime.slack.post_ephemeral(channel, interaction.user.id, text)
    except ProviderError as exc:
        log.warning("slack: answering %s failed: %s", interaction.user.id, exc)
