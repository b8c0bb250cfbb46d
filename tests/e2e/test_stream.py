"""The live stream over HTTP, on the in-cluster bus (the run's `tocsin`) and on Redis Streams
(a second `tocsin up` with TOCSIN_REDIS_URL): what a dashboard sees, and what it sees again
after its connection drops."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tocsin.actors.bus import BUS_ACTOR_NAME
from tocsin.actors.bus_types import parse_id
from tests.client import Service, create_service, create_user, trigger
from tests.conftest import E2E_NAMESPACE, IN_CI
from tests.e2e.accounts import logged_in, make_user, personal_token
from tests.e2e.sse_client import EventStream, Message, open_stream
from tests.server import Deployment, own_deployment

REDIS_URL = "redis://127.0.0.1:6379/11"


def redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def tocsin_on_redis(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """`tocsin up` with the bus on Redis Streams: its own Ray (Serve is one per Ray) and its
    own database (its shards would otherwise fire the deadlines of the run's services too)."""
    if not redis_answers():
        if IN_CI:
            pytest.fail("CI needs Redis on 127.0.0.1:6379; .ci/run starts it")
        pytest.skip("no Redis on 127.0.0.1:6379")
    namespace = f"tocsin-e2e-redis-{uuid.uuid4().hex[:8]}"
    with own_deployment(postgres_admin_url, tmp_path_factory.mktemp("tocsin-redis"), namespace,
                        {"TOCSIN_REDIS_URL": REDIS_URL}) as deployment:
        try:
            assert deployment.process is not None and "event bus: Redis Streams" in deployment.process.log()
            yield deployment
        finally:
            redis.Redis.from_url(REDIS_URL).delete(f"{namespace}:events")


@pytest.fixture(scope="module", params=["in-cluster bus", "redis streams"])
def deployment(request: pytest.FixtureRequest) -> Deployment:
    if request.param == "in-cluster bus":
        return Deployment(request.getfixturevalue("tocsin").base_url, request.getfixturevalue("admin_token"))
    return request.getfixturevalue("tocsin_on_redis")  # type: ignore[no-any-return]


def send_alerts(client: httpx.Client, service: Service, *numbers: int) -> None:
    for n in numbers:
        response = client.post("/v2/enqueue", json=trigger(service.key, f"alert-{n}", summary=f"alert {n}"))
        assert response.status_code == 202, response.text


def summaries(messages: list[Message], service: Service | None = None) -> list[str]:
    """The summaries of the incident events, of one service when given."""
    return [m.json()["incident"]["summary"] for m in messages
            if m.event == "incident" and (service is None or m.json()["incident"]["service_id"] == service.id)]


def is_summary(text: str) -> Any:
    return lambda m: m.event == "incident" and m.json()["incident"]["summary"] == text


def ids_increase(messages: list[Message]) -> bool:
    ids = [tuple(map(int, (m.id or "").split("-"))) for m in messages]
    return ids == sorted(ids) and len(set(ids)) == len(ids)


def test_resuming_after_a_dropped_connection_loses_and_repeats_nothing(deployment: Deployment) -> None:
    service = create_service(deployment.base_url, deployment.token, "stream-resume")
    with deployment.client() as client:
        with open_stream(client, params={"service_id": service.id}) as stream:
            send_alerts(client, service, 0, 1, 2, 3, 4)
            before_drop = stream.messages(2)
            last_seen = stream.last_event_id
        send_alerts(client, service, 5, 6, 7)  # while nobody listens
        with open_stream(client, last_event_id=last_seen, params={"service_id": service.id}) as resumed:
            send_alerts(client, service, 8)
            after = resumed.until(is_summary("alert 8"))

        assert summaries(before_drop) == ["alert 0", "alert 1"]
        # Exactly what followed, once each, in order: nothing repeated, nothing missing.
        assert summaries(after) == [f"alert {n}" for n in range(2, 9)]
        assert {m.event for m in after} == {"incident"} and ids_increase(before_drop + after)
        first = before_drop[0].json()
        assert [(e["kind"], e["actor"]) for e in first["entries"]] == [("triggered", "db1"), ("unpaged", "tocsin")]

        listed = client.get("/api/v1/incidents", params={"service_id": service.id, "limit": "100"}).json()
        by_summary = {i["summary"]: i for i in listed["incidents"]}
        for message in before_drop + after:  # the incident as the list shows it
            incident = message.json()["incident"]
            assert incident == by_summary[incident["summary"]]


def test_resuming_from_the_query_parameter_without_a_filter(deployment: Deployment) -> None:
    service = create_service(deployment.base_url, deployment.token, "stream-query")
    with deployment.client() as client:
        with open_stream(client) as stream:
            send_alerts(client, service, 0, 1)
            seen = stream.until(is_summary("alert 0"))
            last_seen = stream.last_event_id
        send_alerts(client, service, 2)
        assert last_seen is not None
        with open_stream(client, params={"last_event_id": last_seen}) as resumed:
            after = resumed.until(is_summary("alert 2"))

    assert summaries(seen, service) == ["alert 0"]
    assert summaries(after, service) == ["alert 1", "alert 2"]


@pytest.mark.parametrize("unknown_id", ["99999999999999-0", "not-an-id"])
def test_an_id_the_bus_never_gave_gets_a_reset_then_what_comes_next(deployment: Deployment, unknown_id: str) -> None:
    service = create_service(deployment.base_url, deployment.token, "stream-reset")
    with deployment.client() as client, \
            open_stream(client, last_event_id=unknown_id, params={"service_id": service.id}) as stream:
        [reset] = stream.messages(1)
        assert reset.event == "reset" and reset.id and reset.id != unknown_id
        send_alerts(client, service, 0)
        assert summaries(stream.until(is_summary("alert 0"))) == ["alert 0"]


def test_an_idle_stream_stays_open_with_keep_alives(deployment: Deployment) -> None:
    service = create_service(deployment.base_url, deployment.token, "stream-idle")
    with deployment.client() as client, open_stream(client, params={"service_id": service.id}) as stream:
        stream.keep_alive(timeout_s=20)  # the stream says so after 15 s of silence
        send_alerts(client, service, 0)
        assert summaries(stream.until(is_summary("alert 0"))) == ["alert 0"]


def test_a_note_is_on_the_timeline_and_on_the_stream(tocsin: Any, admin_token: str) -> None:
    deployment = Deployment(tocsin.base_url, admin_token)
    service = create_service(tocsin.base_url, admin_token, "stream-notes")
    with deployment.client() as client, open_stream(client, params={"service_id": service.id}) as stream:
        send_alerts(client, service, 0)
        [opened] = stream.messages(1)
        incident_id = opened.json()["incident"]["id"]

        added = client.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "rebooting db1"})
        assert added.status_code == 201, added.text
        assert {k: added.json()[k] for k in ("kind", "actor", "message")} == {
            "kind": "note", "actor": "admin", "message": "rebooting db1"}

        [noted] = stream.messages(1)
        assert noted.json()["incident"]["id"] == incident_id
        assert [(e["kind"], e["actor"], e["message"]) for e in noted.json()["entries"]] == [
            ("note", "admin", "rebooting db1")]
        timeline = client.get(f"/api/v1/incidents/{incident_id}").json()["timeline"]
        assert timeline[-1]["kind"] == "note" and timeline[-1]["message"] == "rebooting db1"

        for body in ({"text": ""}, {"text": "   "}, {"text": "x" * 2001}, {}):
            assert client.post(f"/api/v1/incidents/{incident_id}/notes", json=body).status_code == 422
        assert client.post("/api/v1/incidents/999999999/notes", json={"text": "hi"}).status_code == 404
        assert client.post(f"/api/v1/incidents/{incident_id}/resolve").status_code == 200
        late = client.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "done"})
        assert late.status_code == 409 and "resolved" in late.json()["message"]


def test_the_stream_needs_credentials_and_a_viewer_may_follow_but_not_add_notes(
    tocsin: Any, admin_token: str, anonymous: httpx.Client
) -> None:
    assert anonymous.get("/api/v1/stream").status_code == 401
    password = "viewer-password-" + uuid.uuid4().hex[:8]
    viewer = create_user(tocsin.base_url, admin_token, "Vera Viewer", role="viewer", password=password)
    login = anonymous.post("/api/v1/session", json={"email": viewer["email"], "password": password})
    assert login.status_code == 200, login.text
    cookie = {"Cookie": f"tocsin_session={login.cookies['tocsin_session']}"}
    service = create_service(tocsin.base_url, admin_token, "stream-viewer")
    send_alerts(anonymous, service, 0)
    incident_id = httpx.get(f"{tocsin.base_url}/api/v1/incidents", params={"service_id": service.id},
                            headers={"Authorization": f"Bearer {admin_token}"}).json()["incidents"][0]["id"]

    with httpx.Client(base_url=tocsin.base_url, timeout=30) as browser:
        with open_stream(browser, headers=cookie, params={"service_id": service.id}) as stream:
            assert isinstance(stream, EventStream)
        refused = browser.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "hi"},
                               headers={**cookie, "X-CSRF-Token": login.json()["csrf_token"]})
        assert refused.status_code == 403, refused.text


def test_after_the_bus_actor_restarts_an_old_id_gets_a_reset_and_new_ids_come_later(
    tocsin: Any, admin_token: str
) -> None:
    import ray

    deployment = Deployment(tocsin.base_url, admin_token)
    service = create_service(tocsin.base_url, admin_token, "stream-bus-restart")
    with deployment.client() as client:
        with open_stream(client, params={"service_id": service.id}) as stream:
            send_alerts(client, service, 0)
            [before] = stream.messages(1)
        bus = ray.get_actor(BUS_ACTOR_NAME, namespace=E2E_NAMESPACE)
        ray.kill(bus, no_restart=False)  # as a crash would: Ray restarts it, empty
        deadline = time.monotonic() + 60
        while True:
            try:
                ray.get(bus.stats.remote(), timeout=5)
                break
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                assert time.monotonic() < deadline, "the bus actor did not come back"
                time.sleep(0.5)

        with open_stream(client, last_event_id=before.id, params={"service_id": service.id}) as resumed:
            [reset] = resumed.messages(1)
            assert reset.event == "reset"
            send_alerts(client, service, 1)
            after = resumed.until(is_summary("alert 1"))
    assert summaries(after) == ["alert 1"]
    assert parse_id(after[-1].id or "") > parse_id(before.id or "")  # type: ignore[operator]


STREAMS_PER_CALLER = 10  # TOCSIN_STREAMS_PER_CALLER's default


def stream_answer(client: httpx.Client, **headers: str) -> httpx.Response:
    """The status and headers a new stream gets (its body is left unread and the stream closed)."""
    with client.stream("GET", "/api/v1/stream", headers=headers) as response:
        if response.status_code != 200:
            response.read()
        return response


def test_one_caller_holds_a_bounded_number_of_streams_and_gets_each_back_when_it_closes(
    tocsin: Any, admin_token: str, api: httpx.Client
) -> None:
    with httpx.Client(base_url=tocsin.base_url, timeout=30) as plain, contextlib.ExitStack() as held:
        admin = {"Authorization": f"Bearer {admin_token}"}
        user = make_user(api, "viewer")
        login = logged_in(tocsin.base_url, user)
        token = {"Authorization": f"Bearer {personal_token(tocsin.base_url, login)}"}
        streams = [held.enter_context(open_stream(plain, headers=token)) for _ in range(STREAMS_PER_CALLER)]

        over = stream_answer(plain, **token)
        assert over.status_code == 429, over.status_code
        assert f"{STREAMS_PER_CALLER} live streams" in over.json()["message"]
        # The same person through a session is the same caller; someone else is not.
        assert stream_answer(plain, **login.headers(csrf=False)).status_code == 429
        assert stream_answer(plain, **admin).status_code == 200

        streams[0].response.close()  # the client goes away: its place comes back
        deadline = time.monotonic() + 60
        while (again := stream_answer(plain, **token)).status_code == 429:
            assert time.monotonic() < deadline, "the closed stream's place never came back"
            time.sleep(0.5)
        assert again.status_code == 200
