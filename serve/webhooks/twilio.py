"""Twilio calling Tocsin back: texts from people, calls' words and key presses, and delivery
reports.

Every request must carry a valid X-Twilio-Signature over Tocsin's reachable URL and the form
parameters (403 otherwise); with Twilio not configured there are no webhooks (404). Answers
are TwiML. An action from a phone goes through the shard that owns the incident, like every
other change, logged under the person's name ("sms:Alice", "voice:Alice").

A signature has no date, so a captured request stays valid: each text (its MessageSid) and
each key press that acts (its CallSid and key) is acted on once. The same request sent again,
by Twilio retrying or by anyone replaying it, is answered 200 with nothing done and nothing
texted back: what Twilio expects of a retry it need not repeat. A request that could not be
recorded is forgotten, so its retry acts; and the command it carries has an id derived from
the request's, so even then the shard applies it no second time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.domain import replies
from tocsin.actors.domain.audit import Actor
from tocsin.actors.domain.events import Command, IncidentCommand
from tocsin.actors.domain.messages import VOICE_MENU, Alert, voice
from tocsin.actors.providers.settings import TwilioSettings
from tocsin.actors.store import replies as store
from tocsin.serve.auditing import Declared, declare
from tocsin.serve.params import Int64Id
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/webhooks/twilio", tags=["Twilio webhooks"])

_XML = "application/xml"
_STATUS_MAX = 32
# Command ids derived from Twilio's ids (uuid5): the same request always carries the same command.
_COMMANDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:tocsin:twilio-requests")


@dataclass(frozen=True, slots=True)
class Signed:
    """A request that Twilio signed: its form parameters, and the gateway's runtime."""

    params: ImmutableMultiDict[str, str]
    runtime: GatewayRuntime
    request: Request

    def get(self, name: str) -> str:
        return self.params.get(name, "")

    def request_id(self, *names: str) -> str:
        """What identifies this request: the values of `names`, all of which Twilio sends
        (400 when one is missing)."""
        values = [self.get(name) for name in names]
        missing = [name for name, value in zip(names, values) if not value]
        if missing:
            raise HTTPException(400, f"{', '.join(missing)} missing: Twilio sends it with every such request")
        return ":".join(values)


async def signed(request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Signed:
    twilio = TwilioSettings.of(runtime.settings)
    if not twilio.configured or twilio.auth_token is None:
        raise HTTPException(404, "Twilio is not configured on this Tocsin")
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        raise HTTPException(403, "X-Twilio-Signature is missing: only Twilio may call this webhook")
    body = await request.body()  # within the webhooks' limit (serve/body_limit.py)
    form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    params = ImmutableMultiDict(form) if request.method == "POST" else ImmutableMultiDict[str, str]()
    query = f"?{request.url.query}" if request.url.query else ""
    url = twilio.reachable_url + request.url.path + query
    if not RequestValidator(twilio.auth_token.get_secret_value()).validate(url, params, signature):
        raise HTTPException(403, f"X-Twilio-Signature does not match a request to {url}: it is not from"
                                 " Twilio, or Twilio calls another URL than TOCSIN_PUBLIC_URL says")
    return Signed(params, runtime, request)


def _twiml(document: MessagingResponse | VoiceResponse) -> Response:
    return Response(str(document), media_type=_XML)


def _text(message: str) -> Response:
    document = MessagingResponse()
    document.message(message)
    return _twiml(document)


async def _first_time(runtime: GatewayRuntime, request_id: str) -> bool:
    async with runtime.database.connection() as conn:
        return await store.claim_request(conn, request_id, runtime.now())


async def _act(twilio: Signed, request_id: str, target: store.Target, command: Command, channel: str) -> str:
    """Submit the command of the (claimed) request through the incident's shard, as the person
    who replied on `channel` (sms, voice); what it did, in one sentence. When it could not be
    recorded, the request is released for a retry."""
    runtime = twilio.runtime
    submitted = IncidentCommand(
        command_id=str(uuid.uuid5(_COMMANDS, request_id)), service_id=target.service_id,
        incident_id=target.incident_id, action=command, actor=f"{channel}:{target.person}", received_at=runtime.now(),
    )
    try:
        reply = await runtime.shards.submit(submitted)
    except BatchFailed:
        async with runtime.database.connection() as conn:
            await store.release_request(conn, request_id)
        return replies.NOT_RECORDED
    declare(twilio.request, Declared(Actor(target.user_id, target.person, channel), "incident",
                                     (str(target.incident_id),), command.value))
    return replies.outcome_text(command, target.incident_id, reply.outcome, reply.status, reply.note)


@router.post("/sms", response_class=Response, responses={200: {"content": {_XML: {}}}})
async def sms(twilio: Signed = Depends(signed)) -> Response:
    """A text to Tocsin's number: "<code>a|c|e" acts on an incident; STOP and START switch
    this number's texts off and on; anything else is answered with how to reply. A text
    already handled (its MessageSid) is answered with nothing."""
    sender, request_id = twilio.get("From"), "sms:" + twilio.request_id("MessageSid")
    reply = replies.parse_text(twilio.get("Body"))
    async with twilio.runtime.database.connection() as conn:
        async with conn.transaction():  # switched, and remembered as done, together
            if not await store.claim_request(conn, request_id, twilio.runtime.now()):
                return _twiml(MessagingResponse())
            if reply.intent in (replies.Intent.STOP, replies.Intent.START):
                await store.set_enabled(conn, sender, "sms", reply.intent == replies.Intent.START)
                return _text(replies.STARTED if reply.intent == replies.Intent.START else replies.STOPPED)
        if reply.intent == replies.Intent.UNKNOWN or reply.code is None or reply.command is None:
            return _text(replies.HOW_TO_REPLY)
        target = await store.target_of_code(conn, sender, "sms", reply.code)
    if target is None:
        return _text(replies.unknown_code(reply.code))
    said = await _act(twilio, request_id, target, reply.command, "sms")
    return _text("Tocsin: " + said)


def _menu(document: VoiceResponse, notification: int, *before: str) -> VoiceResponse:
    """Say `before`, then the menu while listening for one key."""
    for words in before:
        document.say(words)
    gather = Gather(num_digits=1, action=f"{router.prefix}/voice/keypad?notification={notification}", method="POST")
    gather.say(VOICE_MENU)
    document.append(gather)
    document.say("No key was pressed. Goodbye.")
    return document


def _goodbye(words: str) -> Response:
    document = VoiceResponse()
    document.say(words)
    document.hangup()
    return _twiml(document)


async def _subject(twilio: Signed, notification: int) -> store.CallSubject | None:
    async with twilio.runtime.database.connection() as conn:
        return await store.call_subject(conn, notification)


def _summary(subject: store.CallSubject) -> str:
    return voice(Alert(subject.incident_id, subject.service, subject.summary, subject.urgency))


_GONE = "This alert is no longer available. Goodbye."
_DONE_ALREADY = "This key press was handled already. Goodbye."


# Twilio fetches the script with the method the call was made with: GET or POST. One route
# per method, so each has an operation id of its own in the OpenAPI document.
@router.get("/voice", response_class=Response, responses={200: {"content": {_XML: {}}}},
            operation_id="twilio_voice_script_get")
@router.post("/voice", response_class=Response, responses={200: {"content": {_XML: {}}}},
             operation_id="twilio_voice_script_post")
async def call(notification: Annotated[Int64Id, Query(description="the notification this call is for")],
               twilio: Signed = Depends(signed)) -> Response:
    """The call's words: the alert, then the keypad menu."""
    subject = await _subject(twilio, notification)
    if subject is None:
        return _goodbye(_GONE)
    return _twiml(_menu(VoiceResponse(), notification, _summary(subject)))


@router.post("/voice/keypad", response_class=Response, responses={200: {"content": {_XML: {}}}})
async def keypad(notification: Annotated[Int64Id, Query(description="the notification this call is for")],
                 twilio: Signed = Depends(signed)) -> Response:
    """4 acknowledges, 6 resolves, 5 escalates, * repeats the alert; anything else, the menu.
    A key that acts does so once per call: pressed again (the same CallSid and Digits), it
    is answered with a goodbye."""
    subject = await _subject(twilio, notification)
    if subject is None:
        return _goodbye(_GONE)
    digits = twilio.get("Digits")
    if digits == replies.REPEAT_KEY:
        return _twiml(_menu(VoiceResponse(), notification, _summary(subject)))
    command = replies.KEYS.get(digits)
    if command is None:
        return _twiml(_menu(VoiceResponse(), notification))
    request_id = "voice:" + twilio.request_id("CallSid", "Digits")
    if not await _first_time(twilio.runtime, request_id):
        return _goodbye(_DONE_ALREADY)
    target = store.Target(subject.incident_id, subject.service_id, subject.person, subject.user_id)
    said = await _act(twilio, request_id, target, command, "voice")
    if said == replies.NOT_RECORDED:
        return _twiml(_menu(VoiceResponse(), notification, said))
    return _goodbye(f"{said} Goodbye.")


@router.post("/status", status_code=204)
async def status(twilio: Signed = Depends(signed)) -> Response:
    """A delivery report for a text or a call; reports on messages Tocsin did not send are ignored."""
    sid = twilio.get("MessageSid") or twilio.get("CallSid")
    state = (twilio.get("MessageStatus") or twilio.get("CallStatus"))[:_STATUS_MAX]
    if sid and state:
        async with twilio.runtime.database.connection() as conn:
            await store.record_delivery(conn, sid, state)
    return Response(status_code=204)
