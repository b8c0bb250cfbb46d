"""The test's side of tests/cluster/driver.py: a multi-node Ray cluster on this machine,
run by a process of its own, and what is placed where on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from tocsin.cluster.raystart import HAPROXY_VARIABLES, LOCAL_RAY_VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def environment_for_another_ray(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what a Ray started from it put there (its Serve
    ports, HAProxy mode): a process that starts or joins another Ray must not inherit it."""
    dropped = {*LOCAL_RAY_VARIABLES, *HAPROXY_VARIABLES, "RAY_ADDRESS"}
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, **(extra or {})}


@dataclass(frozen=True)
class Actor:
    name: str
    node_id: str
    pid: int
    state: str
    restarts: int


@dataclass(frozen=True)
class Placement:
    head: str
    workers: list[str]  # alive worker nodes
    actors: list[Actor]  # not dead

    @classmethod
    def of(cls, answer: dict[str, Any]) -> Placement:
        alive = [n for n in answer["nodes"] if n["alive"]]
        [head] = [n["node_id"] for n in alive if n["head"]]
        actors = [Actor(a["name"], a["node_id"], a["pid"], a["state"], a["restarts"]) for a in answer["actors"]]
        return cls(head, [n["node_id"] for n in alive if not n["head"]], actors)

    def actor(self, name: str) -> Actor:
        [found] = [a for a in self.actors if a.name == name]
        return found

    def shards_on(self, node_id: str) -> set[int]:
        prefix = "tocsin-shard-"
        return {int(a.name[len(prefix):]) for a in self.actors if a.name.startswith(prefix) and a.node_id == node_id}

    def serve_nodes(self) -> set[str]:
        """Nodes running a part of Ray Serve (controller, proxy, replica)."""
        return {a.node_id for a in self.actors if a.name.startswith("SERVE_")}


class RayClusterProcess:
    """Starts the driver, asks it things, and stops it (and with it every node) by its pid."""

    def __init__(self, log_path: Path, *args: str) -> None:
        self._log_path = log_path
        self._args = args
        self._process: subprocess.Popen[str] | None = None
        self.address = ""

    def start(self, timeout_s: float = 120) -> RayClusterProcess:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster.driver", *self._args], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(self._log_path, "ab"),
            env=environment_for_another_ray(),
        )
        self.address = self._read(timeout_s)["address"]
        return self

    def placement(self) -> Placement:
        return Placement.of(self._ask("placement"))

    def remove_node(self, node_id: str) -> float:
        """Kill every process of a worker node at once; when (epoch seconds)."""
        return float(self._ask("remove_node", node_id=node_id)["removed_at"])

    def add_node(self) -> str:
        return str(self._ask("add_node")["node_id"])

    def kill_pid(self, pid: int) -> float:
        """SIGKILL one process of the cluster (an actor's); when (epoch seconds)."""
        return float(self._ask("kill_pid", pid=pid)["killed_at"])

    def stop(self, timeout_s: float = 60) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps({"op": "shutdown"}) + "\n")
            process.stdin.close()
            process.wait(timeout_s)
        except (OSError, subprocess.TimeoutExpired):
            process.terminate()  # the driver stops its nodes on SIGTERM too
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    def _ask(self, op: str, **fields: Any) -> dict[str, Any]:
        if self._process is None or self._process.stdin is None:
            raise RuntimeError("the cluster is not running")
        self._process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self._process.stdin.flush()
        answer = self._read(120)
        if "error" in answer:
            raise RuntimeError(f"cluster driver, {op}: {answer['error']}")
        return answer

    def _read(self, timeout_s: float) -> dict[str, Any]:
        import select

        assert self._process is not None and self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout_s)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the cluster driver did not answer within {timeout_s:.0f} s:\n{self.log()[-4000:]}")
        return json.loads(line)  # type: ignore[no-any-return]

    def __enter__(self) -> RayClusterProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
