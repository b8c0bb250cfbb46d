"""Bodies of the incident actions that take arguments, and the outbox as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class EscalateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    escalation_level: int | None = Field(
        None, ge=1, le=100, description="The level to page, from 1; the next level when left out"
    )


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(ge=1, le=7 * 24 * 60, description="How long to stay acknowledged before paging again")


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID | None = None
    escalation_policy_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ReassignIn:
        if (self.user_id is None) == (self.escalation_policy_id is None):
            raise ValueError("give exactly one of user_id and escalation_policy_id")
        return self


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000, description="What to add to the incident's timeline")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("a note needs some text")
        return text


class NotificationOut(BaseModel):
    id: int
    page: int = Field(description="Which page of the incident wrote it, from 1")
    level: int = Field(description="The escalation level paged, from 1")
    pass_: int = Field(alias="pass", description="0 on the first walk of the policy, then each repeat")
    user_id: str
    user_name: str | None
    contact_method_id: str
    channel: str
    delay_minutes: int
    send_at: datetime
    status: str = Field(description="pending, sending, sent, cancelled or dead")
    attempts: int
    sent_at: datetime | None
    last_error: str | None
    created_at: datetime

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class NotificationList(BaseModel):
    notifications: list[NotificationOut]
