"""The demo phone: what the demo's four people received (texts, calls, e-mails, pushes), and
their answers sent back as Twilio sends them. The dashboard's /ui/demo-phone reads and drives
it through the gateway (serve/demo_phone.py), over loopback, with the secret the demo gave both.

A reply to a text and a key pressed on a call go to Tocsin's own Twilio webhooks, signed with
the demo account's auth token exactly as Twilio signs (X-Twilio-Signature, twilio's
RequestValidator): the path a real phone's answer takes. What Tocsin answers (TwiML) is what
the person then reads or hears.

    GET  /inbox                      each person with what they received, newest first
    POST /texts/{id}/reply           {"body": "3a"}: the person texts Tocsin back
    POST /calls/{id}/keys            {"digits": "4"}: the person presses a key (picking up first)
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urljoin

import httpx
from twilio.request_validator import RequestValidator

from tocsin.cluster.demo.inbox import Inbox, Item
from tocsin.cluster.demo.loopback import Answer, Request
from tocsin.cluster.demo.people import PEOPLE
from tocsin.cluster.demo.twilio_api import TwilioAccount

SECRET_HEADER = "x-demo-phone-secret"
_TEXT_REPLY = re.compile(r"/texts/(?P<id>\d{1,12})/reply")
_KEYS = re.compile(r"/calls/(?P<id>\d{1,12})/keys")
_DIGITS = re.compile(r"[0-9*#]{1,8}")
_MAX_REPLY = 1600  # Twilio's longest text


class Phone:
    def __init__(self, inbox: Inbox, twilio: TwilioAccount, tocsin_url: str) -> None:
        self.secret = secrets.token_urlsafe(32)
        self._inbox = inbox
        self._twilio = twilio
        self._tocsin_url = tocsin_url.rstrip("/")
        self._validator = RequestValidator(twilio.auth_token)

    def handle(self, request: Request) -> Answer:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), self.secret.encode()):
            return _json(403, {"message": "the demo phone answers the demo's gateway only"})
        if request.method == "GET" and request.path == "/inbox":
            return _json(200, {"people": self._inbox.shown()})
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _json(400, {"message": "the body is not JSON"})
        if not isinstance(body, dict):
            return _json(400, {"message": "the body is a JSON object"})
        reply, keys = _TEXT_REPLY.fullmatch(request.path), _KEYS.fullmatch(request.path)
        if request.method == "POST" and reply is not None:
            return self._reply(int(reply["id"]), body.get("body"))
        if request.method == "POST" and keys is not None:
            return self._press(int(keys["id"]), body.get("digits"))
        return _json(404, {"message": f"the demo phone has no {request.method} {request.path}"})

    def _reply(self, item_id: int, text: Any) -> Answer:
        if not isinstance(text, str) or not text.strip() or len(text) > _MAX_REPLY:
            return _json(400, {"message": f"body: the reply, 1 to {_MAX_REPLY} characters"})
        found = self._inbox.find(item_id, "text")
        if found is None:
            return _json(404, {"message": f"no text {item_id} on the demo phone"})
        name, _ = found
        number = _phone_of(name)
        sid = "SM" + secrets.token_hex(16)
        self._inbox.add(number, "reply", f"You texted {self._twilio.number}", text)
        response = self._signed_post(f"{self._tocsin_url}/webhooks/twilio/sms", {
            "MessageSid": sid, "SmsSid": sid, "AccountSid": self._twilio.sid, "From": number,
            "To": self._twilio.number, "Body": text, "NumMedia": "0",
        })
        if response.status_code != 200:
            return _json(502, {"message": f"Tocsin answered the text with HTTP {response.status_code}"})
        answers = [message.text or "" for message in ET.fromstring(response.text).iter("Message")]
        for answer in answers:  # Twilio texts the person what Tocsin answered
            self._inbox.add(number, "text", f"Text from {self._twilio.number}", answer)
        return _json(200, {"answers": answers})

    def _press(self, item_id: int, digits: Any) -> Answer:
        if not isinstance(digits, str) or not _DIGITS.fullmatch(digits):
            return _json(400, {"message": "digits: one to eight of 0-9, * and #"})
        found = self._inbox.find(item_id, "call")
        if found is None:
            return _json(404, {"message": f"no call {item_id} on the demo phone"})
        name, call = found
        if not call.keypad_url:  # picked up now: Twilio fetches the words first
            said = self._follow(name, call, call.voice_url, {})
            if said is None:
                return _json(502, {"message": "Tocsin did not give the call's words"})
            if not call.keypad_url:
                return _json(409, {"message": "the call has ended", "said": said})
        said = self._follow(name, call, call.keypad_url, {"Digits": digits})
        if said is None:
            return _json(502, {"message": "Tocsin did not take the key press"})
        return _json(200, {"said": said})

    def _follow(self, name: str, call: Item, url: str, extra: dict[str, str]) -> list[str] | None:
        """Post to one of the call's webhooks as Twilio does; the words heard, None on a refusal."""
        response = self._signed_post(url, {"CallSid": call.sid, "AccountSid": self._twilio.sid,
                                           "From": self._twilio.number, "To": _phone_of(name),
                                           "Direction": "outbound-api", "CallStatus": "in-progress", **extra})
        if response.status_code != 200:
            return None
        root = ET.fromstring(response.text)
        words = [say.text or "" for say in root.iter("Say")]
        gather = root.find(".//Gather")
        self._inbox.hear(call, words, urljoin(url, gather.get("action") or url) if gather is not None else "")
        return words

    def _signed_post(self, url: str, params: dict[str, str]) -> httpx.Response:
        signature = str(self._validator.compute_signature(url, params))
        return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)


def _phone_of(name: str) -> str:
    return next(person.phone for person in PEOPLE if person.name == name)


def _json(status: int, body: dict[str, Any]) -> Answer:
    return Answer(status, json.dumps(body).encode())
