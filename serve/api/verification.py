"""Verifying a contact method: a code sent to it, typed back. Until then it is not paged."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from actors.domain import messages
from actors.domain import verification as codes
from actors.store import users
from actors.store import verification as store
from serve.api.auth import own_to_change
from serve.api.contacts import method_name
from serve.api.models import ContactMethodOut, VerificationOut, VerifyIn
from serve.errors import found
from serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/users/{user_id}/contact-methods/{method_id}", tags=["Users"],
                   dependencies=[Depends(own_to_change)])

_ASK_AGAIN = "request a new code"


@router.post("/verification", status_code=202, response_model=VerificationOut)
async def send_code(
    user_id: uuid.UUID, method_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Send a new code to the contact method, verified or not; it replaces any earlier one.
    At most one code a minute per contact method: sooner is 429 with Retry-After."""
    now = runtime.now()
    code = codes.new_code()
    async with (await runtime.pool()).acquire() as conn, conn.transaction():
        method = found(await store.lock(conn, str(user_id), str(method_id)), method_name(user_id, method_id))
        wait = codes.resend_wait(method["verification_sent_at"], now)
        if wait > 0:
            raise _too_soon(method["verification_sent_at"], wait)
        expires_at = now + codes.CODE_TTL
        await store.send_code(conn, method, codes.hash_code(code), messages.verification(code), now, expires_at)
    return {"contact_method_id": str(method_id), "expires_at": expires_at, "resend_after": now + codes.RESEND_AFTER}


@router.post("/verify", response_model=ContactMethodOut)
async def verify(
    user_id: uuid.UUID, method_id: uuid.UUID, body: VerifyIn, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Mark the contact method verified when `code` is the last one sent to it and still
    good. A wrong code counts: after five the code is void."""
    now = runtime.now()
    async with (await runtime.pool()).acquire() as conn:
        async with conn.transaction():
            method = found(await store.lock(conn, str(user_id), str(method_id)), method_name(user_id, method_id))
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
    # The failure is counted (committed) before the refusal.
    raise HTTPException(400, _refusal(verdict, failures, pending.expires_at))


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
