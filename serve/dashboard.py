"""The dashboard: HTML pages under /ui, their assets under /static, and / pointing at them;
an installable app through its manifest (/static/manifest.webmanifest) and its service
worker (/sw.js, scope "/"), which keeps the pages and the incident list's last answers for
opening offline.

A page is a shell without data, so it needs no login: its module reads the REST API with the
session cookie and sends the browser to /ui/login on a 401. Pages and assets are read from
serve/static/ (shipped as package data) once per replica and kept in memory, keyed only by
names this module holds: nothing from a URL becomes a cache key, so what is kept stays the
size of the folder however many addresses are asked for. None of these routes is part of
the OpenAPI schema.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tocsin.actors.domain.accounts.sessions import SESSION_COOKIE
from tocsin.serve.params import Int64Id

STATIC_DIR = Path(__file__).parent / "static"

# Scripts and styles come from this origin only: no inline script can run, even if some
# text the API returns were ever rendered as markup.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

# (path under /ui, title) in the order of the navigation bar; each has its page file.
NAVIGATION = (
    ("incidents", "Incidents"),
    ("oncall", "On call"),
    ("shifts", "My shifts"),
    ("services", "Services"),
    ("rules", "Rules"),
    ("policies", "Escalation policies"),
    ("schedules", "Schedules"),
    ("users", "Users"),
    ("teams", "Teams"),
    ("notifications", "Notifications"),
    ("reports", "Reports"),
    ("audit", "Audit"),
)
_TITLES = dict(NAVIGATION)

_ASSET_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}

# The service worker's source: served at /sw.js (never under /static) so that its scope is the
# whole origin, with this release written in where the marker stands.
SERVICE_WORKER = "sw.js"
_RELEASE_MARKER = "__RELEASE__"
# The pages a responder opens at night, kept by the service worker to open offline.
OFFLINE_PAGES = ("/ui/incidents", "/ui/oncall", "/ui/shifts")

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@router.get("/")
async def home(request: Request) -> Response:
    """The incidents to someone with a session cookie (checked by the page itself), else the login."""
    target = "/ui/incidents" if request.cookies.get(SESSION_COOKIE) else "/ui/login"
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


@router.get("/ui")
async def ui_home() -> Response:
    return RedirectResponse("/ui/incidents", status_code=303, headers=SECURITY_HEADERS)


@router.get("/ui/login")
async def login_page() -> Response:
    return page_response(_static_text("login"))


@router.get("/ui/incidents/{incident_id}")
async def incident_page(incident_id: Int64Id) -> Response:
    return page_response(render_page("incident", section="incidents", title=f"Incident {incident_id}"))


@router.get("/ui/{section}")
async def section_page(section: str) -> Response:
    if section not in _TITLES:
        raise HTTPException(404, f"no dashboard page {section}")
    return page_response(render_page(section, section=section, title=_TITLES[section]))


@router.get("/static/{name}")
async def static_asset(name: str, request: Request) -> Response:
    """An asset by its file name; the folder is flat, so no path can climb out of it."""
    asset = _assets().get(name)
    if asset is None:
        raise HTTPException(404, f"no asset {name}")
    # no-cache: the browser revalidates each time and gets a 304 while the file is unchanged,
    # so a new release is picked up without renaming files.
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/sw.js")
async def service_worker() -> Response:
    """The service worker, scoped to "/" (its own folder); revalidated on each check, so a new
    release is installed as soon as a page is opened."""
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "Service-Worker-Allowed": "/"}
    return Response(_service_worker(), media_type="text/javascript", headers=headers)


def render_page(page: str, *, section: str, title: str) -> str:
    """The page file `page`.html inside the shared layout, with `section` marked in the navigation.
    Rendered per request (a few microseconds): the title may hold a number from the URL."""
    return render(_static_text(page), section=section, title=title, module=f"/static/{page}.js")


def render(content: str, *, section: str, title: str, module: str) -> str:
    """`content` inside the shared layout, run by the script at `module`."""
    layout = Template(_static_text("layout"))
    return layout.substitute(title=title, nav=_navigation(section), content=content, module=module)


def standalone_page(page: str, status: int = 200, **fields: str) -> Response:
    """The page file `page`.html on its own, outside the layout (for pages seen before anyone
    can log in), with `fields` written, escaped, where it names them ($name). Not kept by
    any cache: such a page's address may carry a secret."""
    text = Template(_static_text(page)).substitute({name: html.escape(value) for name, value in fields.items()})
    return HTMLResponse(text, status_code=status, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


def _navigation(current: str) -> str:
    links = []
    for path, label in NAVIGATION:
        marker = ' aria-current="page"' if path == current else ""
        links.append(f'<li><a href="/ui/{path}"{marker}>{label}</a></li>')
    return "\n        ".join(links)


@lru_cache(maxsize=None)  # keyed by the page names in this module, never by a URL
def _static_text(page: str) -> str:
    return (STATIC_DIR / f"{page}.html").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _assets() -> dict[str, Asset]:
    assets = {}
    for path in STATIC_DIR.iterdir():
        media_type = _ASSET_TYPES.get(path.suffix)
        if media_type and path.is_file() and path.name != SERVICE_WORKER:
            body = path.read_bytes()
            assets[path.name] = Asset(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    return assets


@lru_cache(maxsize=1)
def _service_worker() -> bytes:
    """sw.js with RELEASE written in: a version hashed from every file of the static folder
    (so any change makes a new worker, whose caches replace the old) and what it keeps."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    release = {
        "version": digest.hexdigest()[:16],
        "pages": list(OFFLINE_PAGES),
        "shell": [*OFFLINE_PAGES, *(f"/static/{name}" for name in sorted(_assets()))],
    }
    source = (STATIC_DIR / SERVICE_WORKER).read_text(encoding="utf-8")
    if source.count(_RELEASE_MARKER) != 1:
        raise RuntimeError(f"{SERVICE_WORKER} must hold {_RELEASE_MARKER} exactly once")
    return source.replace(_RELEASE_MARKER, json.dumps(release)).encode()


def page_response(page: str) -> Response:
    """A dashboard page, with the headers every page has."""
    return HTMLResponse(page, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})
