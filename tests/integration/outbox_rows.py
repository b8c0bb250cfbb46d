"""Outbox rows written straight into the database, for tests of the senders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any


class Desk:
    """One person with one contact method, open incidents, and pages to send them, written
    straight into the outbox as the shard writes them."""

    def __init__(self, db: Callable[..., Any], channel: str, address: str) -> None:
        self.db = db
        self.channel = channel
        self.user, self.method, self.service = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        db("execute", "INSERT INTO users (id, name, email, calendar_token) VALUES ($1, 'Dana', $2, 'feed')",
           self.user, f"dana.{self.user[:8]}@example.com")
        db("execute", "INSERT INTO contact_methods (id, user_id, kind, address, verified)"
                      " VALUES ($1, $2, $3, $4, true)", self.method, self.user, channel, address)
        db("execute", "INSERT INTO services (id, name) VALUES ($1, 'checkout-api')", self.service)

    def incident(self, summary: str = "checkout 5xx") -> int:
        incident_id: int = self.db("fetchval", """
            INSERT INTO incidents (id, service_id, dedup_key, status, summary, severity, occurrences, created_at,
                                   updated_at, last_occurrence_at)
            VALUES (nextval('incident_ids'), $1, $2, 'triggered', $3, 'critical', 1, now(), now(), now())
            RETURNING id""", self.service, str(uuid.uuid4()), summary)
        return incident_id

    def page(self, incident_id: int | None = None, **columns: Any) -> int:
        incident_id = incident_id or self.incident()
        values = {"status": "pending", "send_at": datetime.now(timezone.utc) - timedelta(seconds=1), **columns}
        notification_id: int = self.db("fetchval", """
            INSERT INTO notifications (incident_id, service_id, page, level, pass, user_id, contact_method_id,
                channel, delay_minutes, urgency, message, send_at, status, claimed_until, rank, created_at, updated_at)
            VALUES ($1, $2, $10, 0, 0, $3, $4, $5, 0, 'high', 'checkout 5xx', $6, $7, $8, $9, now(), now())
            RETURNING id""", incident_id, self.service, self.user, self.method, self.channel, values["send_at"],
            values["status"], values.get("claimed_until"), values.get("rank", 1), values.get("page", 1))
        return notification_id

    def row(self, notification_id: int) -> dict[str, Any]:
        return dict(self.db("fetchrow", "SELECT * FROM notifications WHERE id = $1", notification_id))

    def attempts(self, notification_id: int) -> list[tuple[str, str]]:
        rows = self.db("fetch", "SELECT provider, outcome FROM notification_attempts WHERE notification_id = $1"
                                " ORDER BY id", notification_id)
        return [(r["provider"], r["outcome"]) for r in rows]
