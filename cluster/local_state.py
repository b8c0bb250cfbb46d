"""What `tocsin up` leaves in the data dir: its admin token, its VAPID key for Web Push, and
where it runs (for status); `tocsin demo` its admin's password too."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tocsin.actors.providers import vapid
from tocsin.actors.settings import Settings

_TOKEN_FILE = "admin-token"
_VAPID_FILE = "vapid-private-key"
_RUN_FILE = "running.json"


def admin_token(settings: Settings) -> tuple[str, bool]:
    """The admin token, and whether it was generated just now (to print it once)."""
    known = known_admin_token(settings)
    if known is not None:
        return known, False
    token = secrets.token_urlsafe(32)
    _write_secret(token_file(settings), token)
    return token, True


def with_vapid_keys(settings: Settings) -> Settings:
    """The settings with a VAPID key pair: the one configured (TOCSIN_VAPID_*), else the one
    generated into the data dir on first start. VapidKeyError when the configured key cannot
    be read, or the public key given is not its pair."""
    secret = settings.vapid_private_key
    if secret is None:
        path = settings.data_dir / _VAPID_FILE
        if not path.exists():
            _write_secret(path, vapid.generate())
        secret = SecretStr(path.read_text().strip())
    public = vapid.checked_public_key(secret.get_secret_value(), settings.vapid_public_key)
    return settings.model_copy(update={"vapid_private_key": secret, "vapid_public_key": public})


def kept_secret(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The secret kept at `path`, made (and kept, readable by this user only) when there is
    none; and whether it was made just now."""
    if path.exists():
        return path.read_text().strip(), False
    secret = make()
    _write_secret(path, secret)
    return secret, True


def known_vapid_keys(settings: Settings) -> Settings:
    """The settings with the VAPID key pair `tocsin up` would use, when there is one already
    (configured, or generated here before); otherwise as they are: nothing is generated."""
    if settings.vapid_private_key is None and not (settings.data_dir / _VAPID_FILE).exists():
        return settings
    return with_vapid_keys(settings)


def _write_secret(path: Path, value: str) -> None:
    """Written once, readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")


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
