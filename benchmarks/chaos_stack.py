"""What the chaos benchmark runs and breaks: `tocsin up` as a user runs it (its own Ray, on
a Postgres of the benchmark's own that may be restarted), people paged by SMS through a
fake Twilio with Amazon SNS (moto's server) behind it, and services on every shard.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tocsin.actors.ownership import shard_index
from benchmarks.harness import query
from benchmarks.recorded_storm import Target
from tests.cluster.cluster_process import environment_for_another_ray
from tests.cluster.private_postgres import PrivatePostgres
from tests.conftest import free_port, fresh_database
from tests.fakes.moto_server import MotoServer
from tests.fakes.twilio_server import FakeTwilio
from tests.server import TocsinProcess

THROTTLE_OFF = 1_000_000  # texts per person per window: more than any run sends
PROVIDERS_SMS = "twilio,sns"


@dataclass(frozen=True)
class Tuning:
    shards: int
    people: int  # each paged by SMS for every new incident
    twilio_rate: float  # texts/s Tocsin may send through each provider
    twilio_latency_s: float  # how long the fake Twilio takes to answer, as the real one does


@dataclass(frozen=True)
class Text:
    provider: str
    to: str
    body: str
    sid: str | None = None  # Twilio's message sid
    at: float | None = None  # when Twilio took it (epoch seconds); moto does not say


@dataclass
class Stack:
    tocsin: TocsinProcess
    token: str
    database_url: str
    postgres: PrivatePostgres
    twilio: FakeTwilio
    aws: MotoServer
    shards: int
    phones: list[str]  # the paged people's numbers
    targets: list[Target]

    def query(self, sql: str, *args: Any) -> list[Any]:
        return query(self.database_url, sql, *args)

    def texts(self) -> list[Text]:
        """Every text either provider took."""
        twilio = [Text("twilio", sms.to, sms.body, sms.sid, sms.received_at) for sms in list(self.twilio.messages)]
        return twilio + [Text("sns", to, body) for to, body in self.aws.sms_messages()]

    def actor_pids(self) -> dict[str, int]:
        """The pid of each shard ("tocsin-shard-N") and channel actor ("sms", ...), as
        `tocsin status` shows them."""
        shown = subprocess.run([*TocsinProcess.command(), "status", "--data-dir", str(self.tocsin.data_dir)],
                               env=self.tocsin.env, capture_output=True, text=True, timeout=180, check=False).stdout
        pids: dict[str, int] = {}
        for line in shown.splitlines():
            cells = [cell.strip() for cell in line.split("│")[1:]]
            if len(cells) > 2 and cells[2].isdigit():
                pids[cells[0]] = int(cells[2])
        return pids


@contextmanager
def chaos_stack(tuning: Tuning) -> Iterator[Stack]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
    home = Path(tempfile.mkdtemp(prefix="tocsin-chaos-"))
    token = secrets.token_hex(24)
    with PrivatePostgres() as postgres, fresh_database(postgres.url) as database_url, FakeTwilio() as twilio, \
            MotoServer() as aws:
        twilio.hang(tuning.twilio_latency_s)
        tocsin = TocsinProcess(
            port=free_port(), data_dir=home / "tocsin", inherit_env=False,
            env=environment_for_another_ray({
                "TOCSIN_DATABASE_URL": database_url, "TOCSIN_ADMIN_TOKEN": token, **twilio.env(),
                **{f"TOCSIN_{name.upper()}": value for name, value in aws.credentials.items()},
                "TOCSIN_SNS_ENDPOINT_URL": aws.url, "TOCSIN_PROVIDERS_SMS": PROVIDERS_SMS,
                "TOCSIN_RATE_TWILIO_PER_S": str(tuning.twilio_rate), "TOCSIN_RATE_SNS_PER_S": str(tuning.twilio_rate),
                "TOCSIN_THROTTLE_MESSAGES": str(THROTTLE_OFF),
                # The fakes listen on loopback.
                "TOCSIN_ALLOW_PRIVATE_DESTINATIONS": "127.0.0.0/8,::1/128",
            }),
            extra_args=("--shards", str(tuning.shards)),
        ).start()
        try:
            with httpx.Client(base_url=tocsin.base_url, headers={"Authorization": f"Bearer {token}"},
                              timeout=60) as api:
                phones, policy_id = paged_people(api, tuning.people)
                targets = services(api, tuning.shards, policy_id)
            yield Stack(tocsin, token, database_url, postgres, twilio, aws, tuning.shards, phones, targets)
        finally:
            tocsin.stop()
    shutil.rmtree(home, ignore_errors=True)


def created(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    if response.status_code != 201:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
    return response.json()  # type: ignore[no-any-return]


def paged_people(api: httpx.Client, count: int) -> tuple[list[str], str]:
    """`count` people, each with a verified phone texted at once for high urgency; their
    numbers, and a policy whose only level pages them all (and escalates after an hour)."""
    phones, targets = [], []
    for n in range(count):
        phone = f"+1415555{n:04d}"
        user = created(api, "/api/v1/users", {"name": f"On call {n}", "email": f"on-call.{n}@example.com"})
        method = created(api, f"/api/v1/users/{user['id']}/contact-methods",
                         {"kind": "sms", "address": phone, "verified": True})
        created(api, f"/api/v1/users/{user['id']}/notification-rules",
                {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
        phones.append(phone)
        targets.append({"type": "user", "id": user["id"]})
    policy = created(api, "/api/v1/escalation-policies",
                     {"name": "everyone", "levels": [{"delay_minutes": 60, "targets": targets}]})
    return phones, str(policy["id"])


def services(api: httpx.Client, shards: int, policy_id: str) -> list[Target]:
    """A paging service (the policy) and a quiet one (no policy) on every shard at least
    (service ids are random), each with an Alertmanager integration; paging and quiet in turn."""
    paging: list[Target] = []
    quiet: list[Target] = []
    while {t.shard for t in paging} != set(range(shards)) or {t.shard for t in quiet} != set(range(shards)):
        pages = len({t.shard for t in paging}) < shards
        body: dict[str, Any] = {"name": f"{'paging' if pages else 'quiet'}-{len(paging) + len(quiet)}",
                                "urgency": "high"}
        if pages:
            body["escalation_policy_id"] = policy_id
        service = created(api, "/api/v1/services", body)
        integration = created(api, f"/api/v1/services/{service['id']}/integrations", {"type": "alertmanager"})
        (paging if pages else quiet).append(
            Target(service["id"], integration["key"], shard_index(service["id"], shards), pages))
    turns = max(len(paging), len(quiet))
    return [t for n in range(turns) for t in (paging[n:n + 1] + quiet[n:n + 1])]
