"""The dashboard's pages and assets as the gateway serves them (no Ray, no database)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tocsin.serve import dashboard

PAGES = ["/ui/login", "/ui/incidents", "/ui/incidents/42", "/ui/oncall", "/ui/services", "/ui/rules", "/ui/policies",
         "/ui/schedules", "/ui/users", "/ui/notifications"]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(dashboard.router)
    with TestClient(app, follow_redirects=False) as client:
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
    assert '"tocsin.serve" = ["static/*"]' in pyproject


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
