"""Bringing up and taking down what runs on Ray: the shards, then the Serve app."""

from __future__ import annotations

import logging
from typing import Any

import ray
from ray import serve

from actors.shard import ServiceShardActor, shard_options
from cluster.settings import Settings

log = logging.getLogger(__name__)

APP_NAME = "tocsin"


def start_shards(settings: Settings, database_url: str) -> list[Any]:
    handles = [
        ServiceShardActor.options(**shard_options(i, settings.namespace)).remote(
            i, database_url, shard_count=settings.shards
        )
        for i in range(settings.shards)
    ]
    ray.get([h.stats.remote() for h in handles], timeout=120)
    log.info("%d service shards running", len(handles))
    return handles


def start_serve(settings: Settings, database_url: str) -> None:
    from serve.app import build_app  # the app imports FastAPI and routers: only when serving

    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(build_app(settings, database_url), name=APP_NAME, route_prefix="/", blocking=False)


def stop_all(settings: Settings, shards: list[Any]) -> None:
    try:
        serve.delete(APP_NAME)
    except Exception as exc:  # noqa: BLE001 - stopping goes on whatever is already gone
        log.warning("could not delete the Serve app: %r", exc)
    for handle in shards:
        try:
            ray.kill(handle, no_restart=True)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not stop a shard: %r", exc)
