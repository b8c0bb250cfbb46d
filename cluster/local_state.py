"""What `tocsin up` leaves in the data dir: its admin token, and where it runs (for status)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from tocsin.actors.settings import Settings

_TOKEN_FILE = "admin-token"
_RUN_FILE = "running.json"


def admin_token(settings: Settings) -> tuple[str, bool]:
    """The admin token, and whether it was generated just now (to print it once)."""
    known = known_admin_token(settings)
    if known is not None:
        return known, False
    path = token_file(settings)
    token = secrets.token_urlsafe(32)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token, True


def known_admin_token(settings: Settings) -> str | None:
    """The admin token when it is configured or was generated here before; None otherwise."""
    if settings.admin_token:
        return settings.admin_token
    path = token_file(settings)
    return path.read_text().strip() if path.exists() else None


def token_file(settings: Settings) -> Path:
    """Where a generated admin token is kept."""
    return settings.data_dir / _TOKEN_FILE


def write_running(data_dir: Path, info: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / _RUN_FILE).write_text(json.dumps(info, indent=2))


def read_running(data_dir: Path) -> dict[str, Any] | None:
    path = data_dir / _RUN_FILE
    return json.loads(path.read_text()) if path.exists() else None


def clear_running(data_dir: Path) -> None:
    (data_dir / _RUN_FILE).unlink(missing_ok=True)
