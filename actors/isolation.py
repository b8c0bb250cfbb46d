"""One bad input harms no other: when the database refuses a group commit for the data of
some input, find the inputs at fault by splitting the group, and commit the rest.

A refusal of data is one of a row's values or constraints (SQLSTATE classes 22, 23 and 54,
and asyncpg's own encoding errors, which it raises as class 22): a value Postgres cannot
hold, a row that breaks a constraint (an alert whose service was deleted meanwhile), an
index row past its size. Splitting does not help with anything else (the database away, a
serialisation failure), which stays the whole group's failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import ServiceInput
from tocsin.actors.domain.incident import Outcome
from tocsin.actors.domain.storable import unstorable

Due = dict[str, set[int]]
Apply = Callable[[list[ServiceInput], Due], Awaitable[dict[str, Reply]]]
Refused = Callable[[ServiceInput, asyncpg.PostgresError, Reply], None]

# The primary keys that hold event and command ids: a clash on one means an input was stored before.
INPUT_KEYS = ("alerts_pkey", "applied_commands_pkey")

_REFUSES_DATA = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, asyncpg.ProgramLimitExceededError)
# Not an input's fault: a stored input id (the shard checks the ids then), and a second open
# incident for a dedup key, which means memory behind the rows (the failed commit dropped
# those services, so the next one reloads them).
_NOT_THE_INPUT = (*INPUT_KEYS, "incidents_open_dedup")


def refuses_data(exc: BaseException) -> bool:
    """Whether the database refused the data of some row, rather than failing to commit."""
    if not isinstance(exc, _REFUSES_DATA):
        return False
    return getattr(exc, "constraint_name", None) not in _NOT_THE_INPUT


async def apply_isolating(apply: Apply, inputs: list[ServiceInput], due: Due, refused: Refused) -> dict[str, Reply]:
    """`apply(inputs, due)`; when the database refuses its data, the inputs split in two and
    each half applied the same way in turn (the deadlines with the second), down to the
    inputs at fault: each is answered `invalid`, naming its fields, is reported to
    `refused`, and applies nothing. Order is kept: every other input is applied after those
    before it, as if the refused ones had never been sent (a resolve after a refused
    trigger of its dedup key finds nothing to resolve, as its source, told the trigger was
    refused, expects). Costs about two commits per halving, only when a refusal happens.
    Raises what `apply` raises for anything else, and a refusal of the deadlines alone;
    halves committed before that stay committed, and the caller answers the whole group as
    not durable, as when a commit's answer is lost (a source's retry adds an occurrence)."""
    try:
        return await apply(inputs, due)
    except _REFUSES_DATA as exc:
        if not inputs or not refuses_data(exc):
            raise
        if len(inputs) == 1 and not due:
            reply = refusal(inputs[0], exc)
            refused(inputs[0], exc, reply)
            return {inputs[0].input_id: reply}
    middle = (len(inputs) + 1) // 2  # one input with deadlines: the input, then the deadlines
    replies = await apply_isolating(apply, inputs[:middle], {}, refused)
    return replies | await apply_isolating(apply, inputs[middle:], due, refused)


def refusal(item: ServiceInput, exc: asyncpg.PostgresError) -> Reply:
    """The answer for an input the database refused: where it holds what, when that is text
    the database cannot store, else what kind of refusal it was."""
    fields, reason = unstorable(item)
    if not fields:
        reason = _reason(exc)
    return Reply(Outcome.INVALID.value, note=reason, fields=tuple(fields))


def _reason(exc: asyncpg.PostgresError) -> str:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return "the database refused it: it breaks a rule of the stored data (was its service deleted?)"
    if isinstance(exc, asyncpg.ProgramLimitExceededError):
        return "the database refused it: a value is too large or too deeply nested"
    return "the database refused it: a value it cannot store"
