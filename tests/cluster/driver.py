"""A multi-node Ray cluster on this machine (ray.cluster_utils.Cluster: a head and worker
nodes), in a process of its own, driven over stdin and stdout with one JSON object a line.

Why a process of its own: a test run already shares one Ray, and a process can be the
driver of one Ray only. This process starts the cluster's nodes, which `tocsin up
--address` then attaches to, and never connects to either Ray itself: it reads the
cluster's tables through the GCS and kills nodes' processes, as a failing machine would.

    python3 -m tests.cluster.driver [--workers 2] [--head-cpus 1] [--worker-cpus 0] [--ray-health-checks]
    -> {"address": "<host>:<port>", "nodes": [...]}                        once up
    <- {"op": "placement"}               -> {"nodes": [...], "actors": [...]}
    <- {"op": "remove_node", "node_id"}  -> {"removed_at": <epoch s>}      every process SIGKILLed
    <- {"op": "add_node"}                -> {"node_id": "…"}
    <- {"op": "kill_pid", "pid"}         -> {"killed_at": <epoch s>}       one actor's process
    <- {"op": "shutdown"} (or end of input) stops every node and exits
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any, TextIO

import psutil

from tocsin.cluster.raystart import NODE_HEALTH_CHECKS

# A node is declared dead as the deployment files have it (cluster.raystart), some 1.5 s
# here; a node that joins is checked from 0.5 s on. Ray's defaults (5 checks 3 s apart,
# `--ray-health-checks`) took 12 s on this machine.
HEALTH_CHECK = {"health_check_initial_delay_ms": 500, **NODE_HEALTH_CHECKS}


def clean_environment() -> None:
    """Forget what another Ray started from this process tree put in the environment (its
    Serve ports, its address), then choose this cluster's own: every node reads them."""
    from tocsin.cluster.raystart import HAPROXY_VARIABLES, LOCAL_RAY_VARIABLES, prepare_local_ray

    for name in (*LOCAL_RAY_VARIABLES, *HAPROXY_VARIABLES, "RAY_ADDRESS"):
        os.environ.pop(name, None)
    prepare_local_ray()


class LocalCluster:
    def __init__(self, workers: int, head_cpus: float, worker_cpus: float, fast_health_checks: bool) -> None:
        from ray.cluster_utils import Cluster

        self._worker_cpus = worker_cpus
        head: dict[str, Any] = {"num_cpus": head_cpus, "include_dashboard": False}
        if fast_health_checks:
            head["_system_config"] = HEALTH_CHECK
        self.cluster = Cluster(initialize_head=True, head_node_args=head)
        for _ in range(workers):
            self.add_node()

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add_node(self) -> str:
        return str(self.cluster.add_node(num_cpus=self._worker_cpus).node_id)

    def remove_node(self, node_id: str) -> float:
        """The node dies as a machine does: all of its processes at once, with no goodbye
        to the GCS (Cluster.remove_node alone stops the raylet first, and the actors'
        processes carry on until they notice)."""
        [node] = [n for n in self.cluster.worker_nodes if n.node_id == node_id]
        processes = _process_tree(node)
        removed_at = time.time()
        for process in processes:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass  # already gone
        self.cluster.remove_node(node, allow_graceful=False)  # the Cluster's own bookkeeping
        return removed_at

    def nodes(self) -> list[dict[str, Any]]:
        head: Any = self.cluster.head_node
        table = self.cluster.global_state.node_table()  # type: ignore[no-untyped-call]
        return [{"node_id": n["NodeID"], "head": n["NodeID"] == head.node_id, "alive": n["Alive"]} for n in table]

    def actors(self) -> list[dict[str, Any]]:
        table = self.cluster.global_state.actor_table(None)
        return [{"name": a["Name"], "class": a["ActorClassName"], "node_id": a["Address"]["NodeID"],
                 "state": a["State"], "pid": a["Pid"], "restarts": a["NumRestarts"]}
                for a in table.values() if a["State"] != "DEAD"]

    def shutdown(self) -> None:
        self.cluster.shutdown()  # type: ignore[no-untyped-call]


def _process_tree(node: Any) -> list[psutil.Process]:
    """The node's own processes (raylet and its agents) and their children: the workers."""
    found: list[psutil.Process] = []
    for infos in node.all_processes.values():
        for info in infos:
            try:
                root = psutil.Process(info.process.pid)
                found += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
    return found


def answers_channel() -> TextIO:
    """Answers go out on the original stdout; everything else this process and the nodes
    it starts write (they inherit file descriptor 1) goes to stderr, the driver's log."""
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return channel


def serve(local: LocalCluster, out: TextIO) -> None:
    def answer(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "placement":
                answer({"nodes": local.nodes(), "actors": local.actors()})
            elif op == "remove_node":
                answer({"removed_at": local.remove_node(request["node_id"])})
            elif op == "add_node":
                answer({"node_id": local.add_node()})
            elif op == "kill_pid":
                killed_at = time.time()
                os.kill(int(request["pid"]), signal.SIGKILL)
                answer({"killed_at": killed_at})
            elif op == "shutdown":
                return
            else:
                answer({"error": f"unknown op {op!r}"})
        except Exception as exc:  # noqa: BLE001 - the test reads the error and fails there
            answer({"error": repr(exc)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--head-cpus", type=float, default=1)
    parser.add_argument("--worker-cpus", type=float, default=0)
    parser.add_argument("--ray-health-checks", action="store_true",
                        help="Ray's default health checks (a dead node is noticed after some 15 s)")
    args = parser.parse_args()
    # SIGTERM from the test stops the nodes too (the default would leave them running).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    out = answers_channel()
    clean_environment()
    local = LocalCluster(args.workers, args.head_cpus, args.worker_cpus, not args.ray_health_checks)
    try:
        out.write(json.dumps({"address": local.address, "nodes": local.nodes()}) + "\n")
        out.flush()
        serve(local, out)
    finally:
        local.shutdown()


if __name__ == "__main__":
    main()
