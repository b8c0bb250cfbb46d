"""Request and response bodies of the REST API."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tocsin.actors.domain.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from tocsin.actors.domain.channels import SLACK_USER_ID, SLACK_WEB_API_ADDRESS, Channel
from tocsin.actors.domain.events import Severity, Status
from tocsin.serve.ingest.formats import IntegrationType

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def changes_of(patch: BaseModel, nullable: Collection[str] = ()) -> dict[str, Any]:
    """The fields a PATCH body set. null clears a field that may be empty and leaves any other as it is."""
    fields = patch.model_dump(mode="json", exclude_unset=True)
    return {name: value for name, value in fields.items() if value is not None or name in nullable}


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Paris") from None
    return value


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_time_zone)]
Name = Annotated[str, Field(min_length=1, max_length=255)]
Description = Annotated[str, Field(max_length=4096)]
ServiceUrgency = Literal["high", "low", "severity"]
AutoResolve = Annotated[int, Field(ge=1, le=60 * 24 * 30, description="resolve after this many minutes without a new occurrence")]
Cap = Annotated[int, Field(ge=1, le=100_000, description="past this many unacknowledged incidents, new alerts join one overflow incident")]


TeamId = Annotated[uuid.UUID | None, Field(description="The team that owns it; null: no team (global admins"
                                                          " manage it). Left out of a change: the team stays")]


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    team_id: TeamId = None
    description: Description = ""
    escalation_policy_id: uuid.UUID | None = None
    urgency: ServiceUrgency = Field(
        "high", description="high, low, or severity: high for critical and error alerts, low for warning and info"
    )
    auto_resolve_minutes: AutoResolve | None = None
    max_unacknowledged: Cap | None = None


class ServicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    team_id: TeamId = None
    description: Description | None = None
    escalation_policy_id: uuid.UUID | None = Field(None, description="null detaches the escalation policy")
    urgency: ServiceUrgency | None = None
    auto_resolve_minutes: AutoResolve | None = Field(None, description="null turns auto-resolve off")
    max_unacknowledged: Cap | None = Field(None, description="null lifts the cap")


class ServiceOut(BaseModel):
    id: str
    name: str
    team_id: str | None
    description: str
    escalation_policy_id: str | None
    urgency: ServiceUrgency
    auto_resolve_minutes: int | None
    max_unacknowledged: int | None
    created_at: datetime
    updated_at: datetime


class ServiceList(BaseModel):
    services: list[ServiceOut]


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: IntegrationType
    name: str = Field("", max_length=255)
    config: dict[str, Any] = Field(default_factory=dict, description="options of the integration's type")


class IntegrationOut(BaseModel):
    id: str
    service_id: str
    type: str
    name: str
    key: str
    config: dict[str, Any]
    created_at: datetime
    revoked_at: datetime | None
    url: str = Field(description="Where a source of this type sends its events (for e-mail, the address)")


class IntegrationList(BaseModel):
    integrations: list[IntegrationOut]


class IncidentOut(BaseModel):
    id: int
    service_id: str
    dedup_key: str
    status: Status
    summary: str
    severity: Severity
    source: str | None
    occurrences: int
    created_at: datetime
    updated_at: datetime
    last_occurrence_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    urgency: Literal["high", "low"]
    escalation_policy_id: str | None
    assigned_user_id: str | None = Field(description="Set when reassigned to one person")
    escalation_level: int | None = Field(description="The level paged last, from 1; null when nobody was paged")
    next_escalation_at: datetime | None = Field(description="When the next level is paged unless acknowledged")
    snoozed_until: datetime | None
    auto_resolve_at: datetime | None = Field(description="When it resolves itself unless a new occurrence comes")
    suppressed: bool = Field(description="Recorded and shown, paging nobody: routing rules suppressed its alert;"
                                         " lifted when an alert no rule suppresses joins it while triggered")
    paused_until: datetime | None = Field(description="Routing rules paused its paging: the first page goes then,"
                                                      " if it is still triggered")
    priority: str | None = Field(description="Set by routing rules")
    tags: list[str] = Field(description="Added by routing rules, in the order they came")


class IncidentList(BaseModel):
    incidents: list[IncidentOut]
    next_cursor: str | None


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    message: str
    rules: list[str] = Field(default_factory=list, description="Ids of the routing rules that matched the alert")
    rule_effect: str | None = Field(None, description='What those rules did to it, e.g. "suppressed", "paused 5 min"')
    alerts: int = Field(1, description='How many alerts it stands for: more than one for a run of occurrences'
                        ' (kind "occurrences"), whose raw alerts each keep their own row')


class IncidentDetail(IncidentOut):
    details: Any
    timeline: list[TimelineEntry]


Role = Literal["viewer", "responder", "admin"]
BREAK_GLASS = ("may log in with a password when passwords are kept for break-glass accounts only"
               " (TOCSIN_LOCAL_PASSWORDS=break-glass), for when single sign-on is down; their role is theirs"
               " to keep, not set by groups at sign-in")
Password = Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    email: Email
    time_zone: TimeZone = "UTC"
    role: Role = "responder"
    password: Password | None = Field(None, description="lets the user log in; never shown again")
    break_glass: bool = Field(False, description=BREAK_GLASS)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    email: Email | None = None
    time_zone: TimeZone | None = None
    role: Role | None = None
    break_glass: bool | None = Field(None, description=BREAK_GLASS)


class UserOut(BaseModel):
    id: str
    name: str
    email: str
    time_zone: str
    role: Role
    calendar_url: str | None = Field(description="The user's on-call shifts as an iCalendar feed; the URL is the"
                                                 " secret, shown only to the user and to admins (null for others)")
    slack_user_id: str | None = Field(None, description="The Slack user who acts as this user from Slack (buttons,"
                                                        " /tocsin); set with PUT /api/v1/users/{user_id}/slack")
    break_glass: bool = Field(False, description=BREAK_GLASS)
    single_sign_on: bool = Field(False, description="whether the user has signed in through the identity provider"
                                                    " (their groups there set their role at each sign-in)")
    created_at: datetime
    updated_at: datetime


class UserList(BaseModel):
    users: list[UserOut]


class SlackLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slack_user_id: str = Field(pattern=f"^{SLACK_USER_ID.pattern}$", max_length=32,
                               description="The Slack user's id (U0123ABCD; in Slack: profile, ⋮, Copy member ID)")


class SlackLinkOut(BaseModel):
    user_id: str
    slack_user_id: str | None


ContactKind = Channel


def address_problem(kind: str, address: str) -> str | None:
    """Why `address` cannot reach anyone over `kind`; None when it can."""
    if kind in ("sms", "voice") and not _E164.fullmatch(address):
        return f"{kind} needs a phone number in E.164 form such as +14155550123, not {address!r}"
    if kind == "email" and not _EMAIL.fullmatch(address):
        return f"{address!r} is not an e-mail address"
    if kind == "slack" and not (_is_web_url(address) or SLACK_WEB_API_ADDRESS.fullmatch(address)):
        return (f"slack needs an incoming-webhook URL, or a channel or user id such as C0123ABCD (posted with"
                f" the bot token), not {address!r}")
    if kind in ("webhook", "teams") and not _is_web_url(address):
        return f"{kind} needs an http or https URL, not {address!r}"
    if kind == "push" and not address.strip():
        return "push needs a device token or endpoint ARN"
    if kind == "webpush":
        return ("a webpush contact method is made by a browser subscribing (POST /api/v1/push/subscriptions,"
                " or the dashboard's button), not given an address")
    return None


def _is_web_url(address: str) -> bool:
    try:
        url = urlsplit(address)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.hostname)


class ContactMethodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ContactKind
    address: str = Field(min_length=1, max_length=2048)
    label: str = Field("", max_length=255)
    verified: bool = False

    @field_validator("address")
    @classmethod
    def _reaches(cls, address: str, info: ValidationInfo) -> str:
        problem = address_problem(info.data["kind"], address) if "kind" in info.data else None
        if problem:
            raise ValueError(problem)
        return address


class ContactMethodPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str | None = Field(None, min_length=1, max_length=2048,
                                description="Checked against the method's kind; a new address is unverified")
    label: str | None = Field(None, max_length=255)
    verified: bool | None = None


class ContactMethodOut(BaseModel):
    id: str
    user_id: str
    kind: ContactKind
    address: str = Field(description="In full to the method's owner and admins; for anyone else a slack, webhook"
                                     " or push address, which is itself a credential, is masked")
    label: str
    verified: bool
    created_at: datetime


class ContactMethodList(BaseModel):
    contact_methods: list[ContactMethodOut]


class VerificationOut(BaseModel):
    contact_method_id: str
    expires_at: datetime = Field(description="The code sent to the contact method works until then")
    resend_after: datetime = Field(description="No other code is sent to the contact method before then")


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[0-9]{6}$", description="The six digits sent to the contact method")


Urgency = Literal["high", "low"]


class NotificationRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_method_id: uuid.UUID = Field(description="One of this user's contact methods")
    urgency: Urgency
    delay_minutes: int = Field(ge=0, le=1440, description="Minutes after the user is paged")


class NotificationRuleOut(BaseModel):
    id: str
    user_id: str
    contact_method_id: str
    urgency: Urgency
    delay_minutes: int
    created_at: datetime


class NotificationRuleList(BaseModel):
    notification_rules: list[NotificationRuleOut]


class PolicyTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["user", "schedule"]
    id: uuid.UUID


class PolicyLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_minutes: int = Field(ge=1, le=1440, description="Minutes to wait for an acknowledgement, then the next level")
    targets: list[PolicyTarget] = Field(min_length=1, max_length=50)


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    team_id: TeamId = None
    description: Description = ""
    repeat: int = Field(0, ge=0, le=9, description="How many more times to walk all the levels")
    levels: list[PolicyLevel] = Field(min_length=1, max_length=50)


class PolicyOut(BaseModel):
    id: str
    name: str
    team_id: str | None
    description: str
    repeat: int
    levels: list[PolicyLevel]
    version: int
    created_at: datetime
    updated_at: datetime


class PolicyList(BaseModel):
    escalation_policies: list[PolicyOut]


# -- Web Push -----------------------------------------------------------------------------------

_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


def _push_key(text: str, length: int, what: str) -> str:
    if not _B64URL.fullmatch(text):
        raise ValueError(f"{what} is base64url")
    raw = _b64url_decode(text)
    if len(raw) != length:
        raise ValueError(f"{what} has {length} bytes, not {len(raw)}")
    return text


def _b64url_decode(text: str) -> bytes:
    bare = text.rstrip("=")
    return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))


def _p256dh(text: str) -> str:
    _push_key(text, 65, "p256dh (the browser's P-256 public key, uncompressed)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url_decode(text))
    except ValueError:
        raise ValueError("p256dh is not a point on P-256") from None
    return text


class PushKeysIn(BaseModel):
    p256dh: Annotated[str, Field(max_length=128), AfterValidator(_p256dh)]
    auth: Annotated[str, Field(max_length=64), AfterValidator(lambda t: _push_key(t, 16, "auth (the auth secret)"))]


def _push_endpoint(endpoint: str) -> str:
    """A push service's URL: https, or http to loopback (a push service on this machine)."""
    try:
        url = urlsplit(endpoint)
    except ValueError:
        raise ValueError("endpoint is not a URL") from None
    loopback = url.hostname in ("localhost", "127.0.0.1", "::1")
    if not url.hostname or not (url.scheme == "https" or (url.scheme == "http" and loopback)):
        raise ValueError("endpoint is a push service's https URL")
    return endpoint


class PushSubscriptionIn(BaseModel):
    """A browser's PushSubscription, as its toJSON() gives it, and a label for the method."""

    model_config = ConfigDict(extra="forbid")
    endpoint: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_push_endpoint)]
    expirationTime: int | None = Field(None, description="Ignored: a subscription that ended is removed when"
                                                         " its push service says so")
    keys: PushKeysIn
    label: str = Field("", max_length=255, description="How the dashboard names this browser")


class PushUnsubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(min_length=1, max_length=2048)


class PushKeyOut(BaseModel):
    public_key: str = Field(description="The VAPID public key (uncompressed P-256 point, base64url)")


class PushActionOut(BaseModel):
    incident_id: int
    action: Literal["acknowledge", "resolve"]
    outcome: str
    status: str | None
    message: str = Field(description="What the action did, in one sentence")
