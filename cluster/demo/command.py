"""`tocsin demo`: Tocsin as `tocsin up` starts it, on a data dir of its own, with a demo
organisation, providers of its own on loopback that put every message on the demo phone, and
alerts coming in until it stops.

Nothing in the demo reaches the outside world: its settings come from its options alone (no
TOCSIN_* variable is read: a production database or a real Twilio account set in the
environment stays out of it); it serves on 127.0.0.1; its texts, calls, e-mails and pushes go
to its own providers; and the channels that would reach an address someone types (Slack,
webhooks, Teams, Web Push) do not run.

The demo admin's password is random, made on the first start and kept in the data dir
(readable by its user only): anyone else on the machine can reach 127.0.0.1, so a fixed one
would let them in. It is printed at every start, as the demo is there to be logged in to.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from tocsin.actors.settings import Settings, default_data_dir
from tocsin.cluster import local_state
from tocsin.cluster.demo.generator import Generator
from tocsin.cluster.demo.inbox import Inbox
from tocsin.cluster.demo.loopback import LoopbackServer
from tocsin.cluster.demo.mailbox import Mailbox
from tocsin.cluster.demo.org import DemoApi, seed
from tocsin.cluster.demo.people import DOMAIN, PEOPLE, SENDER
from tocsin.cluster.demo.phone import Phone
from tocsin.cluster.demo.sns_api import PushService
from tocsin.cluster.demo.twilio_api import TwilioAccount
from tocsin.cluster.steps import Steps

ADMIN_EMAIL = f"admin@{DOMAIN}"
_PASSWORD_FILE = "demo-admin-password"
DEFAULT_RATE = 2.0  # alerts a minute


def data_dir_default() -> Path:
    """Beside `tocsin up`'s, never the same."""
    return default_data_dir().with_name("tocsin-demo")


@dataclass
class Demo:
    """The demo's providers and phone (running from construction until `stop`), then, once
    Tocsin is up, its organisation and alerts."""

    data_dir: Path
    port: int
    rate: float | None  # alerts a minute; None: no alerts
    inbox: Inbox = field(default_factory=Inbox)
    _servers: list[LoopbackServer] = field(default_factory=list)
    _generator: Generator | None = None

    def __post_init__(self) -> None:
        self.twilio = TwilioAccount(self.inbox)
        self.mailbox = Mailbox(self.inbox)
        self.phone = Phone(self.inbox, self.twilio, f"http://127.0.0.1:{self.port}")
        self._servers = [LoopbackServer("twilio", self.twilio.handle), LoopbackServer("sns", PushService(self.inbox).handle),
                         LoopbackServer("phone", self.phone.handle)]
        self.password, _ = local_state.kept_secret(self.data_dir / _PASSWORD_FILE, lambda: secrets.token_urlsafe(12))

    def settings(self, shards: int) -> Settings:
        twilio, sns, phone = (server.url for server in self._servers)
        url = f"http://127.0.0.1:{self.port}"
        return Settings.model_validate(dict(
            port=self.port, data_dir=self.data_dir, namespace="tocsin-demo", shards=shards,
            public_url=url,  # the demo phone calls Tocsin back where it serves
            admin_email=ADMIN_EMAIL, admin_password=self.password, email_domain=DOMAIN,
            twilio_account_sid=self.twilio.sid, twilio_auth_token=self.twilio.auth_token,
            twilio_from_number=self.twilio.number, twilio_api_url=twilio,
            aws_access_key_id="demo", aws_secret_access_key="demo", sns_endpoint_url=sns,
            smtp_host=self.mailbox.host, smtp_port=self.mailbox.port, smtp_from=SENDER,
            providers_sms="twilio", providers_voice="twilio", providers_push="sns", providers_email="smtp",
            providers_slack="", providers_webhook="", providers_teams="", providers_webpush="",
            rate_twilio_per_s=5.0,  # four people's phones, not a long code's real limit
            demo_phone_url=phone, demo_phone_secret=self.phone.secret,
        ))

    def start(self, settings: Settings, admin_token: str, steps: Steps) -> list[tuple[str, str]]:
        """The organisation and the alerts, once Tocsin serves; the lines to show for them."""
        with steps.step("demo org", "making the demo organisation") as step:
            api = DemoApi(settings.base_url, admin_token)
            try:
                sources = seed(api)
            finally:
                api.close()
            step.detail = f"{len(PEOPLE)} people, {len(sources)} services, 2 schedules, 1 escalation policy"
        shown = [("demo admin", f"{ADMIN_EMAIL}  password {self.password}"),
                 ("demo phone", f"{settings.base_url}/ui/demo-phone")]
        if self.rate is None:
            return [*shown, ("alerts", "none (--no-generator): send your own to the services' integrations")]
        with steps.step("alerts", "starting the alert generator") as step:
            self._generator = Generator(sources, self.rate).start()
            step.detail = f"about {self.rate:g} a minute, Alertmanager-style, to {len(sources)} services"
        return [*shown, ("alerts", f"about {self.rate:g} a minute, now and then a storm; Ctrl-C stops them too")]

    def stop_alerts(self) -> None:
        if self._generator is not None:
            self._generator.stop()
            self._generator = None

    def stop(self) -> None:
        self.stop_alerts()
        for server in self._servers:
            server.stop()
        self.mailbox.stop()
