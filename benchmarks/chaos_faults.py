"""The faults of the chaos benchmark, each injected mid-storm into the stack of
benchmarks/chaos_stack.py as an operator or a crash would: Postgres restarted, a shard's
or the SMS channel actor's process killed, Twilio failing.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from dataclasses import dataclass

from tocsin.actors.ownership import shard_name
from benchmarks.chaos_stack import Stack

IN_FLIGHT_WAIT_S = 10.0  # the channel actor is killed once texts are in flight, or after this


@dataclass
class Fault:
    """What was done, when (epoch seconds), and to what: the services whose ingestion it
    touches, or none when it touches paging only."""

    at: float
    affected: set[str]
    note: str


class Phase:
    """A phase of the storm and the fault injected in it, here none: the baseline.
    `prepare` runs before the storm (slow look-ups), `inject` mid-storm, `aftermath` after."""

    name = "none"
    title = "none (baseline)"

    def prepare(self, stack: Stack) -> None:
        """Nothing to look up."""

    def inject(self, stack: Stack) -> Fault | None:
        return None

    def aftermath(self, stack: Stack) -> str:
        """What became of what the fault hit, once the phase is over."""
        return ""

    def storm_s(self, args: argparse.Namespace) -> float:
        return float(args.seconds)


class PostgresRestart(Phase):
    name, title = "postgres", "Postgres restarted (pg_ctl restart -m fast)"

    def inject(self, stack: Stack) -> Fault:
        at = time.time()
        stack.postgres.bounce("fast")
        return Fault(at, {t.service_id for t in stack.targets},
                     f"pg_ctl restart -m fast returned after {time.time() - at:.1f} s, taking connections")


class ShardKill(Phase):
    """The shard of the first paging service: its pages are in the phase too."""

    name, title = "shard", "a shard killed (SIGKILL)"

    def prepare(self, stack: Stack) -> None:
        self.shard = next(t.shard for t in stack.targets if t.paging)
        self.pid = stack.actor_pids()[shard_name(self.shard)]

    def inject(self, stack: Stack) -> Fault:
        at = time.time()
        os.kill(self.pid, signal.SIGKILL)
        owned = {t.service_id for t in stack.targets if t.shard == self.shard}
        return Fault(at, owned, f"shard {self.shard} (pid {self.pid}) killed; {len(owned)} of its services stormed")

    def aftermath(self, stack: Stack) -> str:
        return f"the shard runs again as pid {stack.actor_pids().get(shard_name(self.shard))}"


class ChannelKill(Phase):
    name, title = "channel", "the SMS channel actor killed (SIGKILL)"

    def prepare(self, stack: Stack) -> None:
        self.pid = stack.actor_pids()["sms"]

    def inject(self, stack: Stack) -> Fault:
        deadline = time.monotonic() + IN_FLIGHT_WAIT_S
        while stack.twilio.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        in_flight, at = stack.twilio.in_flight, time.time()
        os.kill(self.pid, signal.SIGKILL)
        return Fault(at, set(), f"pid {self.pid} killed; texts in flight at Twilio then: {in_flight}")

    def aftermath(self, stack: Stack) -> str:
        return f"the actor runs again as pid {stack.actor_pids().get('sms')}"


class TwilioOutage(Phase):
    name = "twilio"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.title = f"Twilio answering 503 for {seconds:.0f} s"

    def inject(self, stack: Stack) -> Fault:
        stack.twilio.fail(503, 20503, "Service Unavailable", for_s=self.seconds)
        return Fault(time.time(), set(), f"every Twilio API request answered 503 for {self.seconds:.0f} s")

    def storm_s(self, args: argparse.Namespace) -> float:
        """Long enough that the outage ends mid-storm."""
        return max(float(args.seconds), 2 * float(args.fault_at) + self.seconds)
