"""A fake PagerDuty REST API v2 on loopback, serving an account (tests/fakes/pagerduty_account.py)
in PagerDuty's published shapes, for the official client (`pagerduty.RestApiV2Client`).

    with FakePagerDuty(account) as pd:
        pd.url                                     # the client's base_url (https://127.0.0.1:<port>)
        pd.ca_file                                 # its certificate: SSL_CERT_FILE for the client
        pd.token                                   # the API key it answers to
        pd.add_override("PS00001", "PU00003", start, end)   # the account changed after an import

- `Authorization: Token token=<key>` or 401; unknown paths 404 with PagerDuty's error body.
- Classic pagination on the index endpoints: `limit` (at most `page_max`), `offset`, and
  `more` / `total` in the answer, so a client that does not paginate sees only the first page.
- `include[]=contact_methods,notification_rules` on /users and `include[]=integrations` on
  /services expand the references into whole objects (integration keys appear only then).
- GET /schedules/{id} with `since`, `until` and `time_zone` renders the layers and the final
  schedule (tests/fakes/pagerduty_render.py), times written with the zone's offset.
- /schedules/{id}/overrides and /maintenance_windows filter by `since`/`until` and `filter`.
"""

from __future__ import annotations

import copy
import ssl
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests.fakes import pagerduty_render as render
from tests.fakes.loopback_http import LoopbackHttpServer, QuietJsonHandler
from tests.fakes.self_signed import self_signed

TOKEN = "u+fakePagerDutyKey_0123"


class FakePagerDuty:
    def __init__(self, account: dict[str, Any], token: str = TOKEN, page_max: int = 10) -> None:
        self.account = copy.deepcopy(account)
        self.token = token
        self.page_max = page_max
        self.requests: list[str] = []
        self.url = ""
        self.ca_file = ""
        self._certs: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()
        self._server: LoopbackHttpServer | None = None

    def __enter__(self) -> FakePagerDuty:
        # PagerDuty's client insists on https://: the fake speaks TLS with a certificate of its own.
        self._certs = tempfile.TemporaryDirectory(prefix="fake-pagerduty-")
        cert_file, key_file, _ = self_signed(Path(self._certs.name))
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert_file, key_file)
        self._server = LoopbackHttpServer(_handler_for(self), "fake-pagerduty", tls)
        self.url, self.ca_file = self._server.url, str(cert_file)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._certs is not None:
            self._certs.cleanup()
            self._certs = None

    # -- what a test does to the account -----------------------------------------------------

    def add_override(self, schedule_id: str, user_id: str, start: datetime, end: datetime) -> None:
        with self._lock:
            kept = self.account["overrides"].setdefault(schedule_id, [])
            kept.append({"id": f"PO9{len(kept):04d}", "start": start.isoformat(), "end": end.isoformat(),
                         "user": {"id": user_id, "type": "user_reference"}})

    def final_schedule(self, schedule_id: str, since: datetime, until: datetime) -> list[tuple[datetime, datetime, str]]:
        with self._lock:
            return render.final_schedule(self._schedule(schedule_id), self._overrides(schedule_id), since, until)

    # -- answering -------------------------------------------------------------------------------

    def _schedule(self, schedule_id: str) -> dict[str, Any]:
        [found] = [s for s in self.account["schedules"] if s["id"] == schedule_id]
        return found  # type: ignore[no-any-return]

    def _overrides(self, schedule_id: str) -> list[dict[str, Any]]:
        return list(self.account["overrides"].get(schedule_id, []))

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        with self._lock:
            parts = [p for p in path.split("/") if p]
            includes = set(query.get("include[]", []))
            if parts == ["users"]:
                return self._page("users", [_user(u, includes) for u in self.account["users"]], query)
            if parts == ["schedules"]:
                return self._page("schedules", [_summary(s) for s in self.account["schedules"]], query)
            if len(parts) == 2 and parts[0] == "schedules":
                return self._rendered(parts[1], query)
            if len(parts) == 3 and parts[0] == "schedules" and parts[2] == "overrides":
                return self._override_list(parts[1], query)
            if parts == ["escalation_policies"]:
                return self._page("escalation_policies", self.account["escalation_policies"], query)
            if parts == ["services"]:
                return self._page("services", [_service(s, includes) for s in self.account["services"]], query)
            if parts == ["maintenance_windows"]:
                return self._page("maintenance_windows", self._windows(query), query)
            return 404, {"error": {"message": "Not Found", "code": 2100}}

    def _page(self, wrapper: str, items: list[dict[str, Any]], query: dict[str, list[str]]) -> tuple[int, Any]:
        limit = min(int(query.get("limit", ["25"])[0]), self.page_max)
        offset = int(query.get("offset", ["0"])[0])
        body: dict[str, Any] = {wrapper: items[offset:offset + limit], "limit": limit, "offset": offset,
                                "more": offset + limit < len(items)}
        if query.get("total", ["false"])[0] == "true":
            body["total"] = len(items)
        return 200, body

    def _rendered(self, schedule_id: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            schedule = copy.deepcopy(self._schedule(schedule_id))
        except ValueError:
            return 404, {"error": {"message": "Not Found", "code": 2100}}
        tz = ZoneInfo(query.get("time_zone", [schedule["time_zone"]])[0])
        since = render.parse(query["since"][0]) if "since" in query else datetime.now(timezone.utc)
        until = render.parse(query["until"][0]) if "until" in query else since + timedelta(days=7)
        entries = render.final_schedule(schedule, self._overrides(schedule_id), since, until)
        schedule["final_schedule"] = {"name": "Final Schedule", "rendered_schedule_entries": [
            {"start": start.astimezone(tz).isoformat(), "end": end.astimezone(tz).isoformat(),
             "user": {"id": user, "type": "user_reference"}} for start, end, user in entries]}
        schedule["overrides_subschedule"] = {"name": "Overrides", "rendered_schedule_entries": []}
        schedule.update(type="schedule", summary=schedule["name"])
        return 200, {"schedule": schedule}

    def _override_list(self, schedule_id: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if "since" not in query or "until" not in query:
            return 400, {"error": {"message": "Invalid Input Provided", "code": 2001,
                                   "errors": ["Since and until are required."]}}
        since, until = render.parse(query["since"][0]), render.parse(query["until"][0])
        kept = [o for o in self._overrides(schedule_id)
                if render.parse(o["start"]) < until and render.parse(o["end"]) > since]
        return 200, {"overrides": kept}

    def _windows(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        now = datetime.now(timezone.utc)
        which = query.get("filter", ["all"])[0]
        windows = self.account["maintenance_windows"]
        if which == "future":
            return [w for w in windows if render.parse(w["start_time"]) > now]
        if which == "ongoing":
            return [w for w in windows if render.parse(w["start_time"]) <= now < render.parse(w["end_time"])]
        if which == "past":
            return [w for w in windows if render.parse(w["end_time"]) <= now]
        return list(windows)


def _user(user: dict[str, Any], includes: set[str]) -> dict[str, Any]:
    out = dict(user)
    for part in ("contact_methods", "notification_rules"):
        if part not in includes:
            out[part] = [{"id": item["id"], "type": f"{item['type']}_reference"} for item in user[part]]
    return out


def _summary(schedule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schedule.items() if k != "schedule_layers"} | {"type": "schedule",
                                                                            "summary": schedule["name"]}


def _service(service: dict[str, Any], includes: set[str]) -> dict[str, Any]:
    out = dict(service)
    if "integrations" not in includes:
        out["integrations"] = [{"id": i["id"], "type": f"{i['type']}_reference", "summary": i["name"]}
                               for i in service["integrations"]]
    return out


def _handler_for(fake: FakePagerDuty) -> type[QuietJsonHandler]:
    class Handler(QuietJsonHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            fake.requests.append(self.path)
            if self.headers.get("Authorization") != f"Token token={fake.token}":
                self.send_json(401, {"error": {"message": "Unauthorized", "code": 2006}})
                return
            self.send_json(*fake.answer(url.path, parse_qs(url.query)))

    return Handler
