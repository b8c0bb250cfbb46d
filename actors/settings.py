"""Settings: one typed object, read from the environment only when asked (`from_env`).

It lives in the lowest layer that reads it: the actors, the Serve gateway and the cluster
tooling above them all take the same model. The environment is read by the cluster's side
(the CLI and the Serve entrypoint), never at import time. Providers do not see it whole:
each gets the slice of its own that `actors/providers/settings.py` builds from it. The
admin-token check is the cluster's (cluster/admin_token.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, Field, SecretStr, field_validator

from tocsin.actors.domain import destinations
from tocsin.actors.domain.accounts import single_sign_on
from tocsin.actors.domain.accounts.access import Visibility

# Set by `tocsin demo` alone; `from_env` reads no variable for them.
DEMO_ONLY = frozenset({"demo_phone_url", "demo_phone_secret"})

# Messages per second for a provider that has no rate setting of its own.
DEFAULT_RATE_PER_S = 10.0


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("tocsin", appauthor=False))


class Settings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    ray_address: str | None = None  # None: start a local Ray; "auto" or an address: attach
    namespace: str = "tocsin"
    shards: int = Field(4, ge=1, le=1024)
    database_url: str | None = None  # None: embedded Postgres under data_dir
    admin_token: str | None = None  # None: generated on first start, kept in data_dir
    gateway_replicas: int = Field(1, ge=1)
    gateway_cpus: float = Field(0.25, ge=0)
    # Gateway micro-batching per shard: flush at this many events or after this delay,
    # with at most this many calls in flight.
    batch_max_events: int = Field(500, ge=1)
    # Measured (benchmarks/ingest.py): no delay and one call in flight gave the most
    # events/s; the batch is whatever arrived while the previous call was out.
    batch_max_delay_ms: float = Field(0.0, ge=0)
    batch_max_in_flight: int = Field(1, ge=1)
    # Calls in flight per shard of alerts that may open incidents (keys a gateway has not sent
    # before; see actors/shard_router.py): in a storm at most a few dozen alerts each, which
    # the shard commits beside its occurrences. Measured (benchmarks/storm.py): with one,
    # an opening waited for the call before it to return, 72 ms at the median.
    batch_openings_in_flight: int = Field(4, ge=1)
    # How long an event may wait for its shard before the gateway answers 503.
    shard_timeout_s: float = Field(10.0, gt=0)
    # Per routing key, per gateway replica; generous so that storms are taken, not refused.
    rate_limit_per_s: float = Field(2000.0, gt=0)
    rate_limit_burst: int = Field(10_000, ge=1)
    # Request bodies are refused (413) past these sizes, before anything reads them: the
    # ingestion routes as PagerDuty does (also the e-mail listener's largest message), the
    # rest of the API, logging in, and providers' webhooks.
    max_body_bytes: int = Field(512 * 1024, ge=1024)
    max_api_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_login_body_bytes: int = Field(64 * 1024, ge=1024)
    max_webhook_body_bytes: int = Field(64 * 1024, ge=1024)
    key_cache_ttl_s: float = Field(2.0, ge=0)
    # Per client address and gateway replica: how many unknown routing keys it may try (the
    # lookups they cost); past it, 429 with Retry-After for any key not already known.
    unknown_keys_per_s: float = Field(1.0, gt=0)
    unknown_keys_burst: int = Field(20, ge=1)
    # Raw alerts (and Opsgenie request outcomes) are pruned after this many days; 0 keeps
    # them. Incidents and their log are kept.
    alert_retention_days: int = Field(30, ge=0)
    # Audit log entries are pruned after this many days. The table itself refuses to give up
    # an entry younger than 30 days (migration 027), hence the floor.
    audit_retention_days: int = Field(400, ge=30)
    # E-mail to alert: the SMTP listener (off unless a port is set) and the domain of the
    # integrations' addresses (<key>@<domain>).
    smtp_listen_port: int | None = Field(None, ge=1, le=65535)
    email_domain: str = "alerts.tocsin.local"
    # The largest message it takes (advertised with SMTP SIZE); bigger ones are refused, 552.
    smtp_max_message_bytes: int = Field(512 * 1024, ge=1024)
    # The live event bus: Redis Streams at this URL, or the in-cluster bus actor when unset;
    # either keeps about this many of the newest events for dashboards to resume from.
    redis_url: SecretStr | None = None
    bus_capacity: int = Field(10_000, ge=100)
    # Live streams (SSE) one caller may hold open at once, per gateway replica; past it, 429.
    streams_per_caller: int = Field(10, ge=1)
    # Who sees an incident: everyone ("all"), or, but for global admins, only the members of
    # the team owning its service ("team"): in lists, reads, the live stream and actions.
    incident_visibility: Visibility = Visibility.ALL
    # Overrides a schedule may hold near any instant (those not ended, and for an override
    # in the past those around it): past it, creating one answers 409.
    max_overrides_per_schedule: int = Field(1000, ge=1)

    # -- delivery ---------------------------------------------------------------------
    # Where providers reach Tocsin (Twilio's webhooks, links in messages); base_url if unset.
    public_url: str | None = None
    # Secrets are SecretStr: printed and logged as '**********'.
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_url: str | None = None  # a Twilio-compatible endpoint instead of api.twilio.com
    aws_region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    sns_endpoint_url: str | None = None
    ses_endpoint_url: str | None = None
    ses_from: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    slack_bot_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api"
    # Slack signs the requests it sends Tocsin (buttons pressed, slash commands) with this
    # secret of the Slack app; without it, those requests are refused.
    slack_signing_secret: SecretStr | None = None
    webhook_signing_secret: SecretStr | None = None
    # Web Push: the VAPID key pair that signs each push (RFC 8292) and that browsers subscribe
    # with. The private key as base64url (the raw 32-byte scalar, as web-push tools print it)
    # or PEM; the public key, when given, must be its pair. `tocsin up` generates a pair into
    # the data dir on first start when none is set. The subject is the contact push services
    # are given: a mailto: or https: URL; by default the admin's e-mail address, else an https
    # reachable_url, else tocsin@<email_domain>.
    vapid_private_key: SecretStr | None = None
    vapid_public_key: str | None = None
    vapid_subject: str | None = None
    # Webhook, Slack and Teams requests go to public addresses only; these networks (comma-separated
    # CIDRs, such as 10.20.0.0/16,fd00::/8) are allowed too. Empty: none.
    allow_private_destinations: str = ""
    # Failover order per channel: configured providers are tried in this order.
    providers_sms: str = "twilio,sns"
    providers_voice: str = "twilio"
    providers_push: str = "sns"
    providers_email: str = "ses,smtp"
    providers_slack: str = "slack"
    providers_webhook: str = "webhook"
    providers_webpush: str = "webpush"
    providers_teams: str = "teams"
    # Messages per second per provider, from their published limits: Twilio one SMS segment
    # per second per long code; SNS 20 SMS/s by default; SES 14/s out of the sandbox; Slack
    # about one message per second per channel.
    rate_twilio_per_s: float = Field(1.0, gt=0)
    rate_sns_per_s: float = Field(20.0, gt=0)
    rate_ses_per_s: float = Field(14.0, gt=0)
    rate_smtp_per_s: float = Field(10.0, gt=0)
    rate_slack_per_s: float = Field(1.0, gt=0)
    rate_webhook_per_s: float = Field(50.0, gt=0)
    # Browsers' push services (FCM, Mozilla, Apple) take far more than this from one sender.
    rate_webpush_per_s: float = Field(100.0, gt=0)
    # Teams workflow webhooks: a few posts a second per workflow, as Power Automate allows.
    rate_teams_per_s: float = Field(4.0, gt=0)
    provider_timeout_s: float = Field(10.0, gt=0)
    # Per person and contact method: at most this many messages per window; past it,
    # further incidents are bundled into one message when the window allows.
    throttle_messages: int = Field(5, ge=1)
    throttle_window_s: float = Field(300.0, gt=0)

    # -- accounts ---------------------------------------------------------------------
    # A login session ends this long after login, or after this long without a request.
    session_hours: float = Field(12.0, gt=0)
    session_idle_minutes: float = Field(120.0, gt=0)
    # Secure cookies go over HTTPS only; browsers count http://localhost and 127.0.0.1 as secure.
    cookie_secure: bool = True
    # Failed logins allowed per window, per account and per client address; past them, 429.
    login_failures_per_account: int = Field(5, ge=1)
    login_failures_per_address: int = Field(20, ge=1)
    login_window_minutes: float = Field(15.0, gt=0)
    # Load balancers in front of Serve's ingress that append the client's address to
    # X-Forwarded-For (0: none). Serve's own ingress is counted already (serve/forwarded.py).
    trusted_proxy_hops: int = Field(0, ge=0)
    # Contact methods a user may have, and verification codes: sent per user and per
    # destination (a number or URL, on anyone's contact method), and wrong codes typed per
    # user across all their methods, each at most this many per window; past one, 429.
    contact_methods_per_user: int = Field(20, ge=1)
    verification_sends_per_user: int = Field(10, ge=1)
    verification_sends_per_destination: int = Field(5, ge=1)
    verification_wrong_codes_per_user: int = Field(10, ge=1)
    verification_window_minutes: float = Field(60.0, gt=0)
    # `tocsin up` makes sure this user exists, as an admin who can log in with this password.
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    # "on": everyone with a password may log in with it; "break-glass": only users flagged
    # break_glass may (the way in when the identity provider is down), everyone else signs in
    # with single sign-on.
    local_passwords: Literal["on", "break-glass"] = "on"

    # -- single sign-on (OpenID Connect) ------------------------------------------------
    # On when the discovery URL and the client id are set. The provider is told to send people
    # back to <reachable_url>/api/v1/sso/callback: register that redirect URI with it.
    oidc_discovery_url: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile groups"
    oidc_groups_claim: str = "groups"
    # "create": a user is created at their first sign-in; "existing": only users already in
    # Tocsin (matched by e-mail address at their first sign-in) may sign in.
    oidc_provisioning: Literal["create", "existing"] = "create"
    # Groups to roles and team roles, as JSON (actors/domain/accounts/single_sign_on.py); the
    # groups at each sign-in replace what earlier ones granted.
    oidc_group_map: str = ""
    # The global role of a user none of whose groups grants one.
    oidc_default_role: Literal["viewer", "responder", "admin"] = "viewer"
    # How long a sign-in may take at the provider, from the button to the way back.
    oidc_login_minutes: float = Field(10.0, gt=0)
    oidc_timeout_s: float = Field(10.0, gt=0)

    # -- the demo ---------------------------------------------------------------------
    # Where `tocsin demo`'s phone answers on loopback (what its four people received, and their
    # replies), and the secret it asks of the gateway. Only `tocsin demo` sets them: no
    # variable does (DEMO_ONLY), so /ui/demo-phone does not exist in any other deployment.
    demo_phone_url: str | None = None
    demo_phone_secret: SecretStr | None = None

    @field_validator("allow_private_destinations")
    @classmethod
    def _networks(cls, value: str) -> str:
        destinations.parse_networks(value)  # refuses to start on an entry that is not a network
        return value

    @field_validator("oidc_group_map")
    @classmethod
    def _group_map(cls, value: str) -> str:
        single_sign_on.parse_group_map(value)  # refuses to start on a map it cannot read
        return value

    @property
    def group_map(self) -> single_sign_on.GroupMap:
        return single_sign_on.parse_group_map(self.oidc_group_map)

    @property
    def sso_enabled(self) -> bool:
        return bool(self.oidc_discovery_url and self.oidc_client_id)

    @property
    def allowed_destinations(self) -> tuple[destinations.Network, ...]:
        return destinations.parse_networks(self.allow_private_destinations)

    def providers_for(self, channel: str) -> list[str]:
        """The providers named for `channel`, in failover order; KeyError for no such channel."""
        order = {
            "sms": self.providers_sms,
            "voice": self.providers_voice,
            "push": self.providers_push,
            "email": self.providers_email,
            "slack": self.providers_slack,
            "webhook": self.providers_webhook,
            "webpush": self.providers_webpush,
            "teams": self.providers_teams,
        }[channel]
        return [name.strip() for name in order.split(",") if name.strip()]

    def rate_for(self, provider: str) -> float:
        """Messages per second through `provider` (DEFAULT_RATE_PER_S for one with no setting)."""
        rates = {
            "twilio": self.rate_twilio_per_s,
            "sns": self.rate_sns_per_s,
            "ses": self.rate_ses_per_s,
            "smtp": self.rate_smtp_per_s,
            "slack": self.rate_slack_per_s,
            "webhook": self.rate_webhook_per_s,
            "webpush": self.rate_webpush_per_s,
            "teams": self.rate_teams_per_s,
        }
        return rates.get(provider, DEFAULT_RATE_PER_S)

    @property
    def reachable_url(self) -> str:
        return (self.public_url or self.base_url).rstrip("/")

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from TOCSIN_* variables, then the CLI's explicit overrides."""
        env: dict[str, Any] = {}
        for name in cls.model_fields.keys() - DEMO_ONLY:
            value = os.environ.get(f"TOCSIN_{name.upper()}")
            if value:
                env[name] = value
        env.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**env)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
