"""`tocsin config plan | apply | export` against a running Tocsin, as a CI pipeline runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.client import create_service


def _config(tocsin: Any, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tocsin.cluster.cli", "config", *args, "--url", tocsin.base_url],
                          env={**os.environ, "TOCSIN_TOKEN": token}, capture_output=True, text=True, timeout=120)


def _file(tmp_path: Path, document: dict[str, Any], name: str = "tocsin.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return str(path)


def _paging(tag: str) -> dict[str, Any]:
    email = f"ada-{tag}@example.com"
    return {
        "users": [{"name": "Ada", "email": email, "time_zone": "Europe/London", "contact_methods": [
            {"kind": "email", "address": email, "notification_rules": [{"urgency": "high", "delay_minutes": 0}]}]}],
        "teams": [{"name": f"payments-{tag}", "members": [{"user": email, "role": "admin"}]}],
        "schedules": [{"name": f"primary-{tag}", "team": f"payments-{tag}", "time_zone": "Europe/London",
                       "layers": [{"name": "weekly", "rotation": {
                           "participants": [email], "start": "2026-01-05T09:00:00+00:00", "shift_length": 1,
                           "unit": "weeks", "handoff": "09:00"}}]}],
        "escalation_policies": [{"name": f"policy-{tag}", "team": f"payments-{tag}", "levels": [
            {"delay_minutes": 10, "targets": [{"schedule": f"primary-{tag}"}]}]}],
        "services": [{"name": f"checkout-{tag}", "team": f"payments-{tag}", "escalation_policy": f"policy-{tag}",
                      "urgency": "severity", "integrations": [{"name": "prometheus", "type": "alertmanager"}],
                      "heartbeats": [{"name": "backup", "interval_seconds": 3600}],
                      "rules": [{"name": "quiet", "conditions": {"field": "summary", "op": "contains",
                                                                 "value": "test"}, "actions": {"drop": True}}]}],
    }


def _ours(document: dict[str, Any], tag: str) -> dict[str, Any]:
    """The parts of an export this test made (the deployment is shared with other tests)."""
    return {kind: [item for item in items if tag in str(item.get("name", "")) + str(item.get("email", ""))]
            for kind, items in document.items() if isinstance(items, list)}


def test_plan_apply_again_and_export_round_trip(tocsin: Any, admin_token: str, api: httpx.Client,
                                                tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    file = _file(tmp_path, _paging(tag))
    planned = _config(tocsin, admin_token, "plan", "-f", file)
    assert planned.returncode == 0, planned.stderr
    assert f"+ service checkout-{tag}" in planned.stdout
    assert '    + urgency = "severity"' in planned.stdout
    assert "Plan: 5 to create, 0 to change, 0 to delete." in planned.stdout
    assert api.get("/api/v1/services").json()["services"] == [
        s for s in api.get("/api/v1/services").json()["services"] if s["name"] != f"checkout-{tag}"]

    applied = _config(tocsin, admin_token, "apply", "-f", file)
    assert applied.returncode == 0, applied.stderr
    assert "Applied: 5 to create" in applied.stdout
    again = _config(tocsin, admin_token, "apply", "-f", file)
    assert "No changes" in again.stdout and "Applied: 0 to create, 0 to change, 0 to delete." in again.stdout

    schedule = next(s for s in api.get("/api/v1/schedules").json()["schedules"] if s["name"] == f"primary-{tag}")
    on_call = api.get(f"/api/v1/schedules/{schedule['id']}/oncall", params={"at": "2026-01-06T12:00:00Z"}).json()
    assert [person["email"] for person in on_call["users"]] == [f"ada-{tag}@example.com"]

    exported = _config(tocsin, admin_token, "export", "-o", str(tmp_path / "export.yaml"))
    assert exported.returncode == 0, exported.stderr
    ours = _ours(yaml.safe_load((tmp_path / "export.yaml").read_text()), tag)
    assert len(ours["services"][0]["integrations"][0]["key"]) == 32  # written, so that it round-trips
    replanned = _config(tocsin, admin_token, "plan", "-f", _file(tmp_path, ours, "ours.yaml"))
    assert "No changes" in replanned.stdout, replanned.stdout

    changed = _paging(tag)
    changed["services"][0]["urgency"] = "low"
    shown = _config(tocsin, admin_token, "plan", "-f", _file(tmp_path, changed, "changed.yaml"))
    assert f"~ service checkout-{tag}" in shown.stdout
    assert '    ~ urgency: "severity" -> "low"' in shown.stdout


def test_a_file_with_errors_is_refused_whole_with_every_problem(tocsin: Any, admin_token: str, api: httpx.Client,
                                                                tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    document = _paging(tag)
    document["services"][0]["escalation_policy"] = f"db-primary-{tag}"
    document["schedules"][0]["time_zone"] = "Mars/Olympus"
    refused = _config(tocsin, admin_token, "apply", "-f", _file(tmp_path, document))
    assert refused.returncode == 1
    assert f'services[0].escalation_policy: no escalation policy named "db-primary-{tag}"' in refused.stderr
    assert 'schedules[0].time_zone: "Mars/Olympus" is not an IANA time zone' in refused.stderr
    assert not [u for u in api.get("/api/v1/users").json()["users"] if tag in u["email"]]
    shape = api.post("/api/v1/config/plan", json={"document": {"services": [{"name": "x", "urgency": "urgent"}]}})
    assert shape.status_code == 422 and shape.json()["errors"][0].startswith("services[0].urgency:")


def test_a_failed_apply_changes_nothing(tocsin: Any, admin_token: str, api: httpx.Client, tmp_path: Path) -> None:
    taken = create_service(tocsin.base_url, admin_token, f"holder-{uuid.uuid4().hex[:8]}")
    tag = uuid.uuid4().hex[:8]
    document = _paging(tag)
    document["services"][0]["integrations"][0]["key"] = taken.key  # another service's: the insert fails
    failed = _config(tocsin, admin_token, "apply", "-f", _file(tmp_path, document))
    assert failed.returncode == 1 and "Refused (409)" in failed.stderr, failed.stderr
    assert not [u for u in api.get("/api/v1/users").json()["users"] if tag in u["email"]]
    assert not [t for t in api.get("/api/v1/teams").json()["teams"] if tag in t["name"]]
    assert not [s for s in api.get("/api/v1/services").json()["services"] if tag in s["name"]]


def test_prune_plans_deleting_what_the_file_leaves_out(tocsin: Any, admin_token: str, tmp_path: Path) -> None:
    left_out = f"left-out-{uuid.uuid4().hex[:8]}"
    create_service(tocsin.base_url, admin_token, left_out)
    file = _file(tmp_path, _paging(uuid.uuid4().hex[:8]))
    assert f"- service {left_out}" not in _config(tocsin, admin_token, "plan", "-f", file).stdout
    assert f"- service {left_out}" in _config(tocsin, admin_token, "plan", "-f", file, "--prune").stdout


def test_only_admins_plan_apply_and_export(tocsin: Any, anonymous: httpx.Client) -> None:
    assert anonymous.post("/api/v1/config/plan", json={"document": {}}).status_code == 401
    assert anonymous.get("/api/v1/config/export").status_code == 401
