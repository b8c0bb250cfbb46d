"""The application builder for a Serve config file and for KubeRay's serveConfigV2.

`serve deploy cluster/serve_config.yaml`, `serve run cluster/serve_config.yaml` and a
RayService import `tocsin.cluster.entrypoint:app`. Called on a running cluster, it brings up what
`tocsin up --address` does: the migrations, the shards and the other actors (found again by
name when they already run), then the gateway. Serve calls it again on every change of the
config, and retries it when it fails, which is harmless: every step is idempotent.

Settings come from TOCSIN_* variables in the environment of the cluster's nodes, so that a
config file or a RayService never holds a secret; the config's `args` may override the
other settings (`shards`, `gateway_replicas`, ...).
"""

from __future__ import annotations

import asyncio
import logging
import types
import typing
from collections.abc import Mapping
from typing import Any

import ray
from pydantic import SecretStr
from ray.serve import Application

from tocsin.actors.settings import DEMO_ONLY, Settings
from tocsin.actors.store.migrate import migrate
from tocsin.cluster import accounts, deploy
from tocsin.actors.providers import vapid
from tocsin.cluster.admin_token import admin_token_problem
from tocsin.cluster.raystart import start_ray
from tocsin.serve.app import build_app

log = logging.getLogger(__name__)

# Not secret as such, but a URL with its password and the token that opens the whole API.
_SECRET_URLS_AND_TOKENS = frozenset({"database_url", "admin_token"})


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_secret(arg) for arg in typing.get_args(annotation))
    return False


#: Settings that only the environment may give: never in a config file's `args`.
SECRET_SETTINGS = frozenset(
    name for name, field in Settings.model_fields.items()
    if name in _SECRET_URLS_AND_TOKENS or _is_secret(field.annotation)
)


def cluster_settings(args: Mapping[str, Any]) -> Settings:
    """TOCSIN_* variables, overridden by the config's `args`; refuses what a cluster cannot
    run on (no production Postgres, no admin token or a short one) and secrets written into the config."""
    unknown = sorted(set(args) - (Settings.model_fields.keys() - DEMO_ONLY))  # the demo's are `tocsin demo`'s alone
    if unknown:
        raise ValueError(f"unknown settings in the Serve config's args: {', '.join(unknown)}")
    secrets = sorted(set(args) & SECRET_SETTINGS)
    if secrets:
        names = ", ".join(f"TOCSIN_{name.upper()}" for name in secrets)
        raise ValueError(f"secrets do not belong in the Serve config's args: set {names} in the environment")
    settings = Settings.from_env(**args)
    missing = [f"TOCSIN_{name.upper()}" for name in ("database_url", "admin_token") if not getattr(settings, name)]
    if missing:
        raise ValueError(f"{' and '.join(missing)} must be set on the cluster's nodes: a cluster runs "
                         "against a production Postgres, with an admin token its operators know")
    problem = admin_token_problem(str(settings.admin_token))
    if problem:
        raise ValueError(problem)
    if settings.vapid_private_key is None:
        log.info("web push is off: set TOCSIN_VAPID_PRIVATE_KEY on the cluster's nodes to turn it on")
    else:  # a VapidKeyError (a ValueError) when the key cannot be read or the pair does not match
        vapid.checked_public_key(settings.vapid_private_key.get_secret_value(), settings.vapid_public_key)
    return settings


def app(args: dict[str, Any]) -> Application:
    """Serve's application builder: everything `tocsin up --address` starts, then the gateway."""
    settings = cluster_settings(args)
    database_url = str(settings.database_url)
    applied = asyncio.run(migrate(database_url))
    log.info("database ready (%d migrations applied now)", len(applied))
    # The first admin who can log in, as `tocsin up` makes it; a password that cannot be used
    # fails the deployment, saying why. The replicas need not carry the password.
    accounts.ensure_configured_admin(settings, database_url)
    settings = settings.model_copy(update={"admin_password": None})
    if not ray.is_initialized():  # `serve run tocsin.cluster.entrypoint:app` builds before it connects
        start_ray(settings.ray_address or "auto", settings.namespace)
    deploy.start_actors(settings, database_url, [])
    return build_app(settings, database_url)
