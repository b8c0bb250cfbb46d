"""The single Serve ports a local Ray is given (cluster/raystart.py): free, and below the
kernel's ephemeral range, from which the kernel could hand one out again before Serve binds it."""

from __future__ import annotations

import socket

from tocsin.cluster.raystart import _any_free_port, _ephemeral_low, _port_is_free


def test_a_single_serve_port_is_free_and_below_the_ports_the_kernel_hands_out_by_itself() -> None:
    ports = {_any_free_port() for _ in range(20)}

    assert all(20000 <= port < min(30000, _ephemeral_low()) and _port_is_free(port) for port in ports), ports
    assert len(ports) > 1, "taken at random, so that two Rays starting at once seldom share one"


def test_the_ephemeral_range_is_read_from_the_kernel() -> None:
    with socket.socket() as s:  # a bind to port 0 is given one of the range
        s.bind(("127.0.0.1", 0))
        assert s.getsockname()[1] >= _ephemeral_low()
