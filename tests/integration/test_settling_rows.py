"""Settling a group of claimed rows in one transaction: each row's tries in
the order they were made, each row settled once, rows no longer "sending" left alone."""

from __future__ import annotations

from datetime import datetime, timezone

import asyncpg

from tocsin.actors.store import outbox
from tocsin.actors.store.outbox import Attempt, AttemptOutcome, Settled, Settlement
from tests.conftest import statement_runner
from tests.integration.outbox_rows import Desk

AT = datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc)


def sent(notification_id: int, *tries: tuple[str, AttemptOutcome], message_id: str = "m-1") -> Settlement:
    attempts = [Attempt(notification_id, provider, AT, outcome, message_id if outcome is AttemptOutcome.SENT else None,
                        None if outcome is AttemptOutcome.SENT else "503 from the provider", 12.5)
                for provider, outcome in tries]
    return Settlement(notification_id, Settled.SENT, AT, attempts, provider=tries[-1][0], provider_message_id=message_id)


async def settle(database_url: str, settlements: list[Settlement]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await outbox.settle(conn, settlements)
    finally:
        await conn.close()


async def test_a_group_records_each_rows_tries_in_order_and_settles_each_row_once(database_url: str) -> None:
    desk = Desk(statement_runner(database_url), "sms", "+15550100")
    failed_over, plain, twice = (desk.page(status="sending") for _ in range(3))
    already_sent = desk.page(status="sent")

    await settle(database_url, [
        sent(failed_over, ("twilio", AttemptOutcome.FAILED), ("sns", AttemptOutcome.SENT), message_id="sns-1"),
        sent(plain, ("twilio", AttemptOutcome.SENT), message_id="tw-1"),
        sent(twice, ("twilio", AttemptOutcome.SENT), message_id="tw-first"),
        sent(twice, ("sns", AttemptOutcome.SENT), message_id="sns-second"),
        sent(already_sent, ("twilio", AttemptOutcome.SENT), message_id="tw-late"),
    ])

    assert desk.attempts(failed_over) == [("twilio", "failed"), ("sns", "sent")]
    assert (desk.row(failed_over)["provider"], desk.row(failed_over)["provider_message_id"]) == ("sns", "sns-1")
    assert desk.row(plain)["status"] == "sent" and desk.row(plain)["sent_at"] == AT
    # Settled twice in one group: both tries are kept, and the first settlement is the row's.
    assert desk.attempts(twice) == [("twilio", "sent"), ("sns", "sent")]
    assert desk.row(twice)["provider_message_id"] == "tw-first"
    # A row no longer "sending" (settled by an earlier commit whose answer was lost) is left alone.
    assert desk.attempts(already_sent) == []
    assert desk.row(already_sent)["provider_message_id"] is None


async def test_written_again_a_group_records_nothing_twice(database_url: str) -> None:
    desk = Desk(statement_runner(database_url), "sms", "+15550101")
    rows = [desk.page(status="sending") for _ in range(3)]
    group = [sent(row, ("twilio", AttemptOutcome.SENT), message_id=f"tw-{n}") for n, row in enumerate(rows)]

    await settle(database_url, group)
    await settle(database_url, group)

    assert [desk.attempts(row) for row in rows] == [[("twilio", "sent")]] * 3
    assert [desk.row(row)["provider_message_id"] for row in rows] == ["tw-0", "tw-1", "tw-2"]
