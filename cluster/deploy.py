"""Bringing up and taking down what runs on Ray: the shards, then the Serve app."""

from __future__ import annotations

import logging
from typing import Any

import ray
from ray import serve
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from tocsin.actors.bus import BusAddress, EventBusActorRemote, bus_actor_options
from tocsin.actors.domain.channels import CHANNELS
from tocsin.actors.settings import Settings
from tocsin.actors.shard import ServiceShardActor, shard_options

log = logging.getLogger(__name__)

APP_NAME = "tocsin"


def start_actors(settings: Settings, database_url: str, started: list[Any]) -> None:
    """Every detached actor Tocsin runs: `start_core`'s, then `start_delivery`'s. Each group
    joins `started` as soon as it runs, so that a caller stopping on a failure finds what
    was already up. Named and created with get_if_exists, an actor that already runs is
    found again, not duplicated: calling this on a cluster where Tocsin runs changes nothing."""
    start_core(settings, database_url, started)
    start_delivery(settings, database_url, started)


def start_core(settings: Settings, database_url: str, started: list[Any]) -> None:
    """The event bus (unless it is Redis), the shards, the heartbeat monitor and the shift
    notice monitor, in that order (see start_actors for `started`)."""
    started += start_bus(settings)
    started += start_shards(settings, database_url)
    started += start_heartbeats(settings, database_url)
    started += start_shift_notices(settings, database_url)


def start_delivery(settings: Settings, database_url: str, started: list[Any]) -> dict[str, list[str]]:
    """The channel actors and the e-mail listener (see start_actors for `started`); the
    providers of each channel, in failover order (none: the channel does not run)."""
    providers = channel_providers(settings)
    started += start_channels(settings, database_url, providers)
    started += start_email_listener(settings, database_url)
    return providers


def bus_kind(settings: Settings) -> str:
    return "Redis Streams" if settings.redis_url is not None else "in-cluster actor"


def start_bus(settings: Settings) -> list[Any]:
    """The in-cluster event bus, unless the bus is Redis Streams (TOCSIN_REDIS_URL)."""
    log.info("event bus: %s", bus_kind(settings))
    if settings.redis_url is not None:
        return []
    handle = EventBusActorRemote.options(**bus_actor_options(settings.namespace)).remote(settings.bus_capacity)
    ray.get(handle.stats.remote(), timeout=120)
    return [handle]


def start_shards(settings: Settings, database_url: str) -> list[Any]:
    bus = BusAddress.for_settings(settings)
    nodes = alive_nodes()
    handles = [
        ServiceShardActor.options(**{**shard_options(i, settings.namespace), **on_node_in_turn(nodes, i)}).remote(
            i, database_url, shard_count=settings.shards, bus=bus
        )
        for i in range(settings.shards)
    ]
    ray.get([h.stats.remote() for h in handles], timeout=120)
    log.info("%d service shards running", len(handles))
    return handles


def alive_nodes() -> list[str]:
    """The ids of the cluster's live nodes, in a fixed order."""
    return sorted(node["NodeID"] for node in ray.nodes() if node["Alive"])


def on_node_in_turn(nodes: list[str], index: int) -> dict[str, Any]:
    """Shard `index` on the nodes in turn, so that losing a node loses few shards. Ray's
    SPREAD is best effort: it was seen to put all four shards on the head of a three-node
    cluster. Soft, so a shard whose node is gone restarts on another."""
    if len(nodes) < 2:
        return {}
    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(nodes[index % len(nodes)], soft=True)}


def channel_providers(settings: Settings) -> dict[str, list[str]]:
    """Each channel's configured providers, in failover order (none for some, perhaps)."""
    from tocsin.actors.providers import configured

    return {channel: configured(settings, settings.providers_for(channel)) for channel in CHANNELS}


def start_channels(
    settings: Settings, database_url: str, providers: dict[str, list[str]] | None = None
) -> list[Any]:
    """A ChannelActor for each channel that has a configured provider (`providers`, when
    already known); the others are reported as such by the channels API, and their
    notifications wait, visible, until a provider is configured."""
    from tocsin.actors.channel import ChannelActorRemote, channel_options

    providers = channel_providers(settings) if providers is None else providers
    handles = []
    for channel in CHANNELS:
        names = providers[channel]
        if not names:
            log.info("channel %s: no provider configured", channel)
            continue
        handles.append(ChannelActorRemote.options(**channel_options(channel, settings.namespace)).remote(
            channel, settings, database_url))
        log.info("channel %s: %s", channel, " then ".join(names))
    ray.get([h.stats.remote() for h in handles], timeout=120)
    return handles


def start_email_listener(settings: Settings, database_url: str) -> list[Any]:
    """The SMTP listener for e-mail to alert, when a port is set (none is: it is off)."""
    if settings.smtp_listen_port is None:
        return []
    from tocsin.serve.ingest.email_listener import EmailListenerRemote, listener_options

    node_id = ray.get_runtime_context().get_node_id()
    handle = EmailListenerRemote.options(**listener_options(settings.namespace, node_id)).remote(
        settings, database_url)
    try:
        stats = ray.get(handle.stats.remote(), timeout=120)
    except Exception:
        ray.kill(handle, no_restart=True)  # detached: it would outlive us, bound to nothing
        raise
    log.info("e-mail to *@%s: SMTP on %s:%s", stats["domain"], stats["host"], stats["port"])
    return [handle]


def start_heartbeats(settings: Settings, database_url: str) -> list[Any]:
    """The heartbeat monitor, which raises missed heartbeat deadlines through the shards."""
    from tocsin.actors.heartbeats import HeartbeatMonitorRemote, monitor_options

    handle = HeartbeatMonitorRemote.options(**monitor_options(settings.namespace)).remote(settings, database_url)
    ray.get(handle.stats.remote(), timeout=120)
    log.info("heartbeat monitor running")
    return [handle]


def start_shift_notices(settings: Settings, database_url: str) -> list[Any]:
    """The shift notice monitor, which tells people of their handoffs and runs reachability checks."""
    from tocsin.actors.shift_notices import ShiftNoticeMonitorRemote, monitor_options

    handle = ShiftNoticeMonitorRemote.options(**monitor_options(settings.namespace)).remote(settings, database_url)
    ray.get(handle.stats.remote(), timeout=120)
    log.info("shift notice monitor running")
    return [handle]


def start_serve(settings: Settings, database_url: str) -> None:
    from tocsin.serve.app import build_app  # the app imports FastAPI and routers: only when serving

    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(build_app(settings, database_url), name=APP_NAME, route_prefix="/", blocking=False)


def stop_all(settings: Settings, actors: list[Any]) -> None:
    """The Serve app, then the actors (the event bus, shards, channel actors, the e-mail
    listener, the heartbeat and shift notice monitors)."""
    try:
        serve.delete(APP_NAME)
    except Exception as exc:  # noqa: BLE001 - stopping goes on whatever is already gone
        log.warning("could not delete the Serve app: %r", exc)
    for handle in actors:
        try:
            ray.kill(handle, no_restart=True)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not stop an actor: %r", exc)
