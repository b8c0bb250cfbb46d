"""Each provider's own settings: the fields of `Settings` it reads, typed, and nothing more.

They are built from `Settings` here and nowhere else (`<Provider>Settings.of`), so a provider
module never holds the whole Settings, and what a provider depends on reads off its
dataclass. Each slice says whether it configures its provider (`configured`); the provider
module's `from_settings` makes none when it does not. Secrets stay `SecretStr`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from tocsin.actors.domain.destinations import Network
from tocsin.actors.settings import Settings


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    account_sid: str | None
    auth_token: SecretStr | None
    from_number: str | None
    api_url: str | None  # a Twilio-compatible endpoint instead of api.twilio.com
    timeout_s: float
    reachable_url: str  # where Twilio reaches Tocsin's webhooks

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.from_number)

    @classmethod
    def of(cls, settings: Settings) -> TwilioSettings:
        return cls(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from_number,
                   settings.twilio_api_url, settings.provider_timeout_s, settings.reachable_url)


@dataclass(frozen=True, slots=True)
class AwsAccess:
    """What the AWS providers share: the region and, when given, the keys (without them,
    boto3's own chain supplies the credentials)."""

    region: str
    access_key_id: str | None
    secret_access_key: SecretStr | None

    @property
    def has_keys(self) -> bool:
        return bool(self.access_key_id and self.secret_access_key)

    @classmethod
    def of(cls, settings: Settings) -> AwsAccess:
        return cls(settings.aws_region, settings.aws_access_key_id, settings.aws_secret_access_key)


@dataclass(frozen=True, slots=True)
class SnsSettings:
    aws: AwsAccess
    endpoint_url: str | None
    timeout_s: float

    @property
    def configured(self) -> bool:
        """Credentials in the settings, or an endpoint of our own (a local stand-in)."""
        return self.aws.has_keys or bool(self.endpoint_url)

    @classmethod
    def of(cls, settings: Settings) -> SnsSettings:
        return cls(AwsAccess.of(settings), settings.sns_endpoint_url, settings.provider_timeout_s)


@dataclass(frozen=True, slots=True)
class SesSettings:
    aws: AwsAccess
    endpoint_url: str | None
    sender: str | None
    timeout_s: float

    @property
    def configured(self) -> bool:
        return bool(self.sender)

    @classmethod
    def of(cls, settings: Settings) -> SesSettings:
        return cls(AwsAccess.of(settings), settings.ses_endpoint_url, settings.ses_from, settings.provider_timeout_s)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str | None
    port: int
    sender: str | None
    username: str | None
    password: SecretStr | None
    timeout_s: float

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)

    @classmethod
    def of(cls, settings: Settings) -> SmtpSettings:
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_username,
                   settings.smtp_password, settings.provider_timeout_s)


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """Always configured: incoming-webhook addresses need no settings."""

    bot_token: SecretStr | None
    api_url: str
    timeout_s: float
    allowed_destinations: tuple[Network, ...]  # private networks requests may go to

    @classmethod
    def of(cls, settings: Settings) -> SlackSettings:
        return cls(settings.slack_bot_token, settings.slack_api_url, settings.provider_timeout_s,
                   settings.allowed_destinations)


@dataclass(frozen=True, slots=True)
class TeamsSettings:
    """Always configured: a Teams workflow's webhook URL is all a message needs."""

    timeout_s: float
    allowed_destinations: tuple[Network, ...]  # private networks requests may go to

    @classmethod
    def of(cls, settings: Settings) -> TeamsSettings:
        return cls(settings.provider_timeout_s, settings.allowed_destinations)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """Always configured: unsigned when no signing secret is set."""

    signing_secret: SecretStr | None
    timeout_s: float
    allowed_destinations: tuple[Network, ...]  # private networks requests may go to

    @classmethod
    def of(cls, settings: Settings) -> WebhookSettings:
        return cls(settings.webhook_signing_secret, settings.provider_timeout_s, settings.allowed_destinations)


def _vapid_subject(settings: Settings) -> str:
    """Push services take a mailto: or https: URL: the admin's address, Tocsin's own https URL,
    else an address at the e-mail domain."""
    if settings.admin_email:
        return f"mailto:{settings.admin_email}"
    if settings.reachable_url.startswith("https://"):
        return settings.reachable_url
    return f"mailto:tocsin@{settings.email_domain}"


@dataclass(frozen=True, slots=True)
class WebPushSettings:
    """Configured when a VAPID private key is set (`tocsin up` generates one)."""

    vapid_private_key: SecretStr | None
    vapid_subject: str  # a mailto: or https: URL push services may contact
    reachable_url: str  # where the notification's actions reach Tocsin
    timeout_s: float
    allowed_destinations: tuple[Network, ...]  # private networks requests may go to

    @property
    def configured(self) -> bool:
        return self.vapid_private_key is not None

    @classmethod
    def of(cls, settings: Settings) -> WebPushSettings:
        subject = settings.vapid_subject or _vapid_subject(settings)
        return cls(settings.vapid_private_key, subject, settings.reachable_url, settings.provider_timeout_s,
                   settings.allowed_destinations)
