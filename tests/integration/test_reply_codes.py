"""The reply codes texts carry: a person keeps the code an incident was given, and new
incidents take the next numbers, in the order their texts go out; the codes of a whole
claim are given out at once."""

from __future__ import annotations

import re

import asyncpg
import pytest

from tocsin.actors.channel import ChannelActor
from tocsin.actors.providers.base import Outgoing, Receipt
from tocsin.actors.settings import Settings
from tocsin.actors.store import replies
from tests.conftest import statement_runner
from tests.integration.outbox_rows import Desk

NUMBER = "+15550002222"


class Phone:
    """An SMS provider that keeps what it is given."""

    name = "phone"
    channels = frozenset({"sms"})

    def __init__(self) -> None:
        self.received: list[Outgoing] = []

    async def send(self, message: Outgoing) -> Receipt:
        self.received.append(message)
        return Receipt(f"SM{message.notification_id}")

    async def close(self) -> None:
        """Holds no connection: nothing to release."""


def code_in(message: Outgoing) -> int:
    found = re.search(r"Reply (\d+)a ack", message.text)
    assert found, message.text
    return int(found.group(1))


async def claim_all(database: str, phone: Phone) -> int:
    actor = ChannelActor("sms", Settings(throttle_messages=100), database, providers=[phone], background=False)
    try:
        return await actor.run_once()
    finally:
        await actor.close()


async def test_one_claim_gives_new_incidents_the_next_codes_and_keeps_the_ones_given_before(
    own_database: str
) -> None:
    desk = Desk(statement_runner(own_database), "sms", NUMBER)
    earlier = desk.incident("disk full")
    desk.page(earlier)
    phone = Phone()
    await claim_all(own_database, phone)
    [first] = phone.received

    incidents = [desk.incident(f"checkout 5xx #{n}") for n in range(3)]
    pages = {desk.page(incident): incident for incident in incidents}
    pages |= {desk.page(incident, page=2): incident for incident in (earlier, incidents[0])}  # paged again
    claimed = await claim_all(own_database, phone)

    assert claimed == 5
    by_incident: dict[int, set[int]] = {}
    for message in phone.received[1:]:
        by_incident.setdefault(pages[message.notification_id], set()).add(code_in(message))
    assert code_in(first) == 1
    assert by_incident == {earlier: {1}, incidents[0]: {2}, incidents[1]: {3}, incidents[2]: {4}}


async def test_a_contact_method_deleted_before_its_code_is_given_gets_none(own_database: str) -> None:
    desk = Desk(statement_runner(own_database), "sms", NUMBER)
    incident = desk.incident()
    other = Desk(statement_runner(own_database), "sms", "+15550003333")
    other.db("execute", "DELETE FROM contact_methods WHERE id = $1", other.method)

    conn = await asyncpg.connect(own_database)
    try:
        codes = await replies.reply_codes_for(conn, [(desk.method, incident), (other.method, incident)])
        with pytest.raises(LookupError):
            await replies.reply_code_for(conn, other.method, incident)
    finally:
        await conn.close()

    assert codes == {(desk.method, incident): 1, (other.method, incident): None}
