"""The dashboard's pages and assets as the gateway serves them (no Ray, no database)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tocsin.serve import dashboard

PAGES = ["/ui/login", "/ui/incidents", "/ui/incidents/42", "/ui/oncall", "/ui/shifts", "/ui/services", "/ui/rules",
         "/ui/policies", "/ui/schedules", "/ui/users", "/ui/teams", "/ui/notifications"]


def app_with_dashboard() -> FastAPI:
    app = FastAPI()
    app.include_router(dashboard.router)
    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(app_with_dashboard(), follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_html_with_security_headers(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in page.text  # only modules from /static, which the policy allows
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset


def test_the_current_section_is_marked_in_the_navigation(client: TestClient) -> None:
    page = client.get("/ui/oncall").text
    assert '<a href="/ui/oncall" aria-current="page">On call</a>' in page
    assert page.count('aria-current="page"') == 1
    assert 'aria-current="page">Incidents' in client.get("/ui/incidents/7").text


def test_home_goes_to_the_login_without_a_session_cookie(client: TestClient) -> None:
    assert client.get("/").headers["location"] == "/ui/login"
    client.cookies.set("tocsin_session", "anything")
    try:
        assert client.get("/").headers["location"] == "/ui/incidents"
    finally:
        client.cookies.clear()


def test_unknown_pages_and_assets_are_not_found(client: TestClient) -> None:
    assert client.get("/ui/nothing").status_code == 404
    assert client.get("/ui/incidents/not-a-number").status_code == 422
    assert client.get("/static/nothing.js").status_code == 404
    assert client.get("/static/layout.html").status_code == 404  # pages are served under /ui only
    assert client.get("/static/..%2Fdashboard.py").status_code == 404


def test_assets_have_their_types_and_revalidate(client: TestClient) -> None:
    script = client.get("/static/api.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "no-cache"
    assert client.get("/static/tocsin.css").headers["content-type"].startswith("text/css")
    again = client.get("/static/api.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_every_module_import_resolves_to_an_asset(client: TestClient) -> None:
    for path in dashboard.STATIC_DIR.glob("*.js"):
        for imported in re.findall(r'from "(/static/[^"]+)"', path.read_text()):
            assert client.get(imported).status_code == 200, f"{path.name} imports {imported}"


def test_pages_are_left_out_of_the_openapi_schema() -> None:
    app = FastAPI()
    app.include_router(dashboard.router)
    assert not [p for p in app.openapi()["paths"] if p == "/" or p.startswith(("/ui", "/static"))]


def test_the_static_folder_ships_with_the_package() -> None:
    """A replica on another node runs the installed package, not this checkout."""
    pyproject = (Path(dashboard.__file__).parents[1] / "pyproject.toml").read_text()
    [serve_data] = [line for line in pyproject.splitlines() if line.startswith('"tocsin.serve" = [')]
    assert '"static/*"' in serve_data and '"demo_static/*"' in serve_data


def test_what_the_pages_keep_in_memory_does_not_grow_with_the_addresses_asked_for(client: TestClient) -> None:
    """An incident's page has its id in the URL (and its title): asking for a thousand of them
    keeps no more than asking for one."""
    def kept() -> int:
        caches = [f for f in vars(dashboard).values() if callable(getattr(f, "cache_info", None))]
        return sum(f.cache_info().currsize for f in caches)

    for path in PAGES:
        assert client.get(path).status_code == 200
    before = kept()
    for incident_id in range(10_000, 11_000):
        page = client.get(f"/ui/incidents/{incident_id}")
        assert f"<title>Incident {incident_id} · Tocsin</title>" in page.text
    assert kept() == before


def release_of(worker: str) -> dict[str, Any]:
    [written] = re.findall(r"^const RELEASE = (.*);$", worker, flags=re.MULTILINE)
    return json.loads(written)  # type: ignore[no-any-return]


def test_the_service_worker_is_served_for_the_whole_origin(client: TestClient) -> None:
    worker = client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/"
    assert worker.headers["cache-control"] == "no-cache"  # a new release is seen at the next check
    code = [line for line in worker.text.splitlines() if line and not line.startswith("//")]
    assert code[0] == 'importScripts("/static/sw-push.js");'  # the push handlers, before anything else
    assert client.get("/static/sw-push.js").status_code == 200
    assert client.get("/static/sw.js").status_code == 404  # one worker only, at the root


def test_the_service_worker_keeps_the_offline_pages_and_every_asset(client: TestClient) -> None:
    release = release_of(client.get("/sw.js").text)
    assert {"/ui/incidents", "/ui/oncall", "/ui/shifts"} <= set(release["pages"]) <= set(release["shell"])
    assets = {f"/static/{path.name}" for path in dashboard.STATIC_DIR.iterdir()
              if path.suffix in {".js", ".css", ".svg", ".png", ".webmanifest"} and path.name != "sw.js"}
    assert assets <= set(release["shell"])
    for address in release["shell"]:
        assert client.get(address).status_code == 200, address


def test_a_changed_static_file_makes_a_new_service_worker_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def version() -> str:
        for cached in (dashboard._assets, dashboard._service_worker, dashboard._static_text):
            cached.cache_clear()
        with TestClient(app_with_dashboard()) as client:
            return str(release_of(client.get("/sw.js").text)["version"])

    copy = tmp_path / "static"
    shutil.copytree(dashboard.STATIC_DIR, copy)
    monkeypatch.setattr(dashboard, "STATIC_DIR", copy)
    try:
        before = version()
        assert version() == before
        (copy / "incidents.html").write_text((copy / "incidents.html").read_text() + "<!-- changed -->")
        assert version() != before
    finally:
        monkeypatch.undo()
        version()


def test_the_manifest_describes_an_installable_app(client: TestClient) -> None:
    answer = client.get("/static/manifest.webmanifest")
    assert answer.headers["content-type"].startswith("application/manifest+json")
    manifest = answer.json()
    assert manifest["start_url"] == "/ui/incidents" and manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"] and manifest["background_color"]
    sizes = {(icon["sizes"], icon.get("purpose", "any"), icon["type"]) for icon in manifest["icons"]}
    assert {("192x192", "any", "image/png"), ("512x512", "any", "image/png"),
            ("512x512", "maskable", "image/png"), ("any", "any", "image/svg+xml")} <= sizes
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.headers["content-type"] == icon["type"], icon


@pytest.mark.parametrize("path", ["/ui/incidents", "/ui/login"])
def test_pages_link_the_manifest_and_what_safari_needs(client: TestClient, path: str) -> None:
    page = client.get(path).text
    assert '<link rel="manifest" href="/static/manifest.webmanifest">' in page
    assert '<meta name="apple-mobile-web-app-capable" content="yes">' in page
    assert 'name="apple-mobile-web-app-status-bar-style"' in page
    [touch_icon] = re.findall(r'<link rel="apple-touch-icon" href="([^"]+)">', page)
    assert client.get(touch_icon).headers["content-type"] == "image/png"
