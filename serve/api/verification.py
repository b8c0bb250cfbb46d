"""Verifying a contact method: a code sent to it, typed back. Until then it is not paged."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from tocsin.actors.domain import messages
from tocsin.actors.domain.accounts import verification as codes
from tocsin.actors.domain.accounts.lockout import Limit
from tocsin.actors.store import users
from tocsin.actors.store import verification as store
from tocsin.serve.api.auth import own_to_change
from tocsin.serve.api.contacts import method_name
from tocsin.serve.api.models import ContactMethodOut, VerificationOut, VerifyIn
from tocsin.actors.settings import Settings
from tocsin.serve.errors import found
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/users/{user_id}/contact-methods/{method_id}", tags=["Users"],
                   dependencies=[Depends(own_to_change)])

_ASK_AGAIN = "request a new code"


@router.post("/verification", status_code=202, response_model=VerificationOut)
async def send_code(
    user_id: uuid.UUID, method_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Send a new code to the contact method, verified or not; it replaces any earlier one.
    At most one code a minute per contact method, and per window at most
    `verification_sends_per_user` codes for the user and `verification_sends_per_destination`
    to the address (whoever's contact method has it): past any, 429 with Retry-After."""
    now = runtime.now()
    code = codes.new_code()
    limits, window = _limits(runtime.settings)
    async with runtime.database.connection() as conn, conn.transaction():
        method = found(await store.lock(conn, str(user_id), str(method_id)), method_name(user_id, method_id))
        wait = codes.resend_wait(method["verification_sent_at"], now)
        if wait > 0:
            raise _too_soon(method["verification_sent_at"], wait)
        destination = codes.destination_key(method["address"])
        await store.hold_counts(conn, str(user_id), destination)
        by_user, to_destination = await store.sends_since(conn, str(user_id), destination, now - window)
        limited = codes.send_wait(limits, by_user, to_destination, now)
        if limited is not None:
            raise _too_many_sends(*limited, limits)
        expires_at = now + codes.CODE_TTL
        await store.send_code(conn, method, codes.hash_code(code), messages.verification(code), now, expires_at)
        await store.record(conn, "sent", str(user_id), destination, now, prune_before=now - window)
    return {"contact_method_id": str(method_id), "expires_at": expires_at, "resend_after": now + codes.RESEND_AFTER}


@router.post("/verify", response_model=ContactMethodOut)
async def verify(
    user_id: uuid.UUID, method_id: uuid.UUID, body: VerifyIn, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Mark the contact method verified when `code` is the last one sent to it and still
    good. A wrong code counts: after five the code is void; and after
    `verification_wrong_codes_per_user` wrong codes on any of the user's contact methods in a
    window, no code is checked (429 with Retry-After, the right one too) until the window
    has room."""
    now = runtime.now()
    limits, window = _limits(runtime.settings)
    async with runtime.database.connection() as conn:
        async with conn.transaction():
            method = found(await store.lock(conn, str(user_id), str(method_id)), method_name(user_id, method_id))
            await store.hold_counts(conn, str(user_id))
            held = codes.guess_wait(limits, await store.wrong_codes_since(conn, str(user_id), now - window), now)
            if held is not None:
                raise _too_many_guesses(held, limits)
            pending = codes.Pending(method["verification_code_hash"], method["verification_expires_at"],
                                    method["verification_failures"])
            verdict = codes.check(pending, body.code, now)
            if verdict is codes.Verdict.MATCH:
                row = await users.update_contact_method(conn, str(user_id), str(method_id), {"verified": True},
                                                        forget_code=True)
                return found(row, method_name(user_id, method_id))
            failures = pending.failures
            if verdict is codes.Verdict.WRONG:
                failures = await store.count_failure(conn, str(method_id))
                await store.record(conn, "wrong_code", str(user_id), None, now, prune_before=now - window)
    # The failure is counted (committed) before the refusal.
    runtime.database.keep_on_refusal()
    raise HTTPException(400, _refusal(verdict, failures, pending.expires_at))


def _limits(settings: Settings) -> tuple[codes.Limits, timedelta]:
    window = timedelta(minutes=settings.verification_window_minutes)
    return codes.Limits(
        sends_per_user=Limit(settings.verification_sends_per_user, window),
        sends_per_destination=Limit(settings.verification_sends_per_destination, window),
        wrong_codes_per_user=Limit(settings.verification_wrong_codes_per_user, window),
    ), window


def _too_many_sends(wait: timedelta, what: str, limits: codes.Limits) -> HTTPException:
    limit, whom = ((limits.sends_per_user, "for this user") if what == "user"
                   else (limits.sends_per_destination, "to this address"))
    return _held_back(f"{limit.count} verification codes were sent {whom} in the last {_span(limit)}", wait)


def _too_many_guesses(wait: timedelta, limits: codes.Limits) -> HTTPException:
    limit = limits.wrong_codes_per_user
    return _held_back(f"{limit.count} wrong codes were typed for this user's contact methods in the last"
                      f" {_span(limit)}; no code is checked until then", wait)


def _held_back(why: str, wait: timedelta) -> HTTPException:
    seconds = max(math.ceil(wait.total_seconds()), 1)
    return HTTPException(429, f"{why}: try again in {seconds} s", headers={"Retry-After": str(seconds)})


def _span(limit: Limit) -> str:
    minutes = limit.per.total_seconds() / 60
    return f"{minutes:g} minutes"


def _too_soon(sent_at: datetime, wait: float) -> HTTPException:
    seconds = max(math.ceil(wait), 1)
    return HTTPException(
        429,
        f"a code was sent to this contact method at {sent_at.isoformat()}; another can be sent"
        f" in {seconds} s, at {(sent_at + codes.RESEND_AFTER).isoformat()}",
        headers={"Retry-After": str(seconds)},
    )


def _refusal(verdict: codes.Verdict, failures: int, expires_at: datetime | None) -> str:
    if verdict is codes.Verdict.WRONG:
        left = codes.MAX_FAILURES - failures
        if left > 0:
            return f"the code does not match; {left} more {'try' if left == 1 else 'tries'} before it is void"
        return f"the code does not match, and after {codes.MAX_FAILURES} wrong tries it is void: {_ASK_AGAIN}"
    if verdict is codes.Verdict.VOID:
        return f"the code is void after {codes.MAX_FAILURES} wrong tries: {_ASK_AGAIN}"
    if verdict is codes.Verdict.EXPIRED and expires_at is not None:
        return f"the code expired at {expires_at.isoformat()}: {_ASK_AGAIN}"
    return "no code was sent to this contact method: request one first"
