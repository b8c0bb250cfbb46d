"""CPU time by process over a run of the benchmark's Tocsin stack, summed by role: the gateway
replica, the shards, the Postgres backends of the stack's database, the other Tocsin actors, the
ingress (HAProxy or Serve's proxy, and Serve's controller) and Ray's own processes.

The stack's processes are found as descendants of this one (the benchmark starts Ray, which
starts every actor), so another Ray or Postgres client on the machine counts for nothing;
Postgres backends, by the database they are connected to. A process that starts during the
run counts from zero; one that ends during it is lost (none does, in a steady run).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psutil

ROLES = ("gateway replica", "shards", "Postgres backends", "other Tocsin actors", "ingress", "Ray itself")
ALERT_PATH = ROLES[:3]  # the roles an alert's own work runs in
_INGRESS = ("ray::ProxyActor", "ray::HAProxyManager", "ray::ServeController", "haproxy")
_RAY = ("ray::DashboardAgent", "ray::RuntimeEnvAgent", "ray::IDLE")


def role_of(command: str) -> str:
    """The role of a descendant process, by the first word of its command line (Ray names
    each actor's process "ray::<class>")."""
    if command.startswith("ray::ServeReplica:"):
        return "gateway replica"
    if command.startswith("ray::ServiceShard"):
        return "shards"
    if command.startswith(_INGRESS) or os.path.basename(command.split(" ", 1)[0]) == "haproxy":
        return "ingress"
    if command.startswith("ray::") and not command.startswith(_RAY):
        return "other Tocsin actors"
    return "Ray itself"


@dataclass
class ProcessCpu:
    """Samples CPU seconds (user + system) by process: `start()` before the run, `stop()`
    after it, then `seconds()` by role."""

    backends: Callable[[], Iterable[int]]  # the pids of the stack database's Postgres backends
    _before: dict[int, float] = field(default_factory=dict)
    _after: dict[int, float] = field(default_factory=dict)
    _roles: dict[int, str] = field(default_factory=dict)

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> None:
        self._after = self._sample()

    def seconds(self) -> dict[str, float]:
        """CPU seconds spent in each role between `start` and `stop`."""
        spent = dict.fromkeys(ROLES, 0.0)
        for pid, after in self._after.items():
            spent[self._roles[pid]] += max(0.0, after - self._before.get(pid, 0.0))
        return spent

    def _sample(self) -> dict[int, float]:
        found: dict[int, float] = {}
        processes = [(p, None) for p in psutil.Process().children(recursive=True)]
        processes += [(p, "Postgres backends") for p in _existing(self.backends())]
        for process, role in processes:
            try:
                times = process.cpu_times()
                self._roles.setdefault(process.pid, role or role_of(" ".join(process.cmdline())))
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            found[process.pid] = times.user + times.system
        return found


def _existing(pids: Iterable[int]) -> list[psutil.Process]:
    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return processes


def per_alert(seconds: dict[str, float], alerts: int) -> dict[str, float]:
    """Microseconds of CPU per alert, by role, and their sum over the alert path."""
    each = {role: spent * 1e6 / max(alerts, 1) for role, spent in seconds.items()}
    return {**each, "alert path": sum(each[role] for role in ALERT_PATH)}
