"""`tocsin doctor` run as an operator runs it, against the run's `tocsin up` (its settings and
data dir): a sound deployment passes, and each fault (the database down, Twilio refusing its
credentials, no public URL) fails with its fix. Everything it reaches is on loopback."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.conftest import free_port
from tests.server import TocsinProcess

pytestmark = pytest.mark.timeout(300)

# Warnings a loopback deployment has, and nothing to fix for the tests: its public URL is
# neither https nor public, and no e-mail or push provider is configured.
EXPECTED_WARNINGS = {"public URL", "channel email", "channel push"}


def doctor(tocsin: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`tocsin doctor` with the deployment's settings, these changed ("" unsets one)."""
    settings = {**tocsin.env, "TOCSIN_PUBLIC_URL": tocsin.base_url, **env}
    return subprocess.run(TocsinProcess.command() + ["doctor", "--data-dir", str(tocsin.data_dir), *args],
                          env=settings, capture_output=True, text=True, timeout=180)


def findings(tocsin: Any, **env: str) -> tuple[int, dict[str, dict[str, str]]]:
    ran = doctor(tocsin, "--json", **env)
    report = json.loads(ran.stdout)
    assert report["ok"] is (ran.returncode == 0), ran.stdout
    return ran.returncode, {check["name"]: check for check in report["checks"]}


def test_a_sound_deployment_passes(tocsin: Any) -> None:
    code, checks = findings(tocsin)

    assert code == 0, checks
    for name in ("admin token", "database", "migrations", "clock", "Ray", "shards", "channel actors",
                 "channel sms", "channel voice", "channel slack", "provider twilio", "provider slack",
                 "public URL answers"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "active" in checks["provider twilio"]["found"]  # the account was fetched
    assert "all 2 answer" in checks["shards"]["found"]
    warned = {name for name, check in checks.items() if check["status"] == "warn"}
    assert warned <= EXPECTED_WARNINGS | {"HAProxy ingress"}, warned


def test_lines_for_people(tocsin: Any) -> None:
    ran = doctor(tocsin)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "✓ database: reachable (postgresql://" in ran.stdout
    assert ran.stdout.rstrip().endswith("nothing to fix")


def test_the_database_down_fails_with_its_fix(tocsin: Any) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    ran = doctor(tocsin, TOCSIN_DATABASE_URL=closed)

    assert ran.returncode == 1
    [line] = [line for line in ran.stdout.splitlines() if line.startswith("✗ database:")]
    assert closed in line and "fix: start Postgres, or point TOCSIN_DATABASE_URL at it" in line


def failing(tocsin: Any, name: str, **env: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The check `name` failing with these settings, and all the checks."""
    code, checks = findings(tocsin, **env)
    assert code == 1 and checks[name]["status"] == "fail", checks
    return checks[name], checks


def test_twilio_refusing_its_credentials_fails_with_its_fix(tocsin: Any) -> None:
    twilio, checks = failing(tocsin, "provider twilio", TOCSIN_TWILIO_AUTH_TOKEN="not-the-auth-token")

    assert "HTTP 401" in twilio["found"] and "TOCSIN_TWILIO_AUTH_TOKEN" in twilio["fix"]
    assert "not-the-auth-token" not in json.dumps(checks)
    assert checks["provider slack"]["status"] == "ok"  # the others are still checked


def test_no_public_url_fails_with_its_fix(tocsin: Any) -> None:
    public, _ = failing(tocsin, "public URL", TOCSIN_PUBLIC_URL="")

    assert "not set" in public["found"] and "TOCSIN_PUBLIC_URL" in public["fix"]
