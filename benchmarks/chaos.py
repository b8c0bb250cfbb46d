"""Chaos: an Alertmanager-format storm while, in turn, Tocsin loses a part of itself.

One `tocsin up` (its own Ray, 4 shards) on a Postgres of the benchmark's own; people paged
by SMS through a fake Twilio, with Amazon SNS (moto's server) as the failover provider. In
each phase a client that records every answer storms services on every shard
(benchmarks/recorded_storm.py), new alerts opening incidents that page everyone and repeats
adding occurrences; mid-storm, one fault:

- none (the baseline);
- Postgres restarted, `pg_ctl restart -m fast`;
- a shard's process killed (SIGKILL, its pid from `tocsin status`);
- the SMS channel actor's process killed while texts are in flight at Twilio;
- Twilio answering 503 for `--outage` seconds.

The storm goes on, then stops; refused requests are sent again until accepted, and the
pages of the phase's incidents are awaited. Then, per phase: alerts sent, answered 200
(durable), 503 with Retry-After, anything else; every alert answered 200 looked for in the
`alerts` table (lost: answered 200 and not stored); texts received per incident and person
(pages, and pages received twice); seconds until serving again. Figures go to the screen
and benchmarks/RESULTS.md.

    python3 benchmarks/chaos.py [--quick] [--seconds 20] [--outage 30]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.chaos_faults import (  # noqa: E402
    ChannelKill,
    Fault,
    Phase,
    PostgresRestart,
    ShardKill,
    TwilioOutage,
)
from benchmarks.chaos_stack import PROVIDERS_SMS, Stack, Tuning, chaos_stack  # noqa: E402
from benchmarks.chaos_tally import (  # noqa: E402
    Result,
    count_answers,
    count_pages,
    phase_incidents,
    serving_again,
)
from benchmarks.harness import record  # noqa: E402
from benchmarks.ingest import with_progress  # noqa: E402
from benchmarks.recorded_storm import MAX_RETRY_WAIT_S, SETTLE_S, Storm  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 200)  # the table, whole, in a log file too
SECTION = "Chaos (benchmarks/chaos.py)"
PAGES_WAIT_S = 180.0  # after the storm, for the phase's pages to be sent or dead
DUPLICATE_GRACE_S = 3.0  # then this long, for a text sent twice to arrive
MAX_REPEATS_SHOWN = 5  # per phase, under the table


# -- one phase ----------------------------------------------------------------------------

def run_phase(stack: Stack, phase: Phase, args: argparse.Namespace) -> Result:
    phase.prepare(stack)
    storm = Storm(stack.tocsin.base_url, phase.name, stack.targets, connections=args.connections,
                  batch=args.batch, fleet=args.fleet, new_per_s=args.new_per_s)
    seconds = phase.storm_s(args)

    async def storm_with_fault() -> Fault | None:
        async def fault() -> Fault | None:
            await asyncio.sleep(args.fault_at)
            return await asyncio.to_thread(phase.inject, stack)

        _, injected = await asyncio.gather(storm.run(seconds), fault())
        return injected

    fault = with_progress(f"{phase.title}: storm", seconds, lambda: asyncio.run(storm_with_fault()))
    result = Result(phase, fault, storm)
    incident_ids = phase_incidents(stack, storm, result)
    result.pages_expected = len(incident_ids) * len(stack.phones)
    wait_for_pages(stack, phase, incident_ids, result.pages_expected)
    count_answers(stack, storm, result)
    count_pages(stack, incident_ids, result)
    result.serving_again_s = serving_again(stack, result)
    result.aftermath = phase.aftermath(stack)
    console.print(f"{phase.title}: {summary(result)}")
    return result


def wait_for_pages(stack: Stack, phase: Phase, incident_ids: list[int], expected: int) -> None:
    """Until every notification of the phase's incidents is sent or dead (or PAGES_WAIT_S)."""
    def settled() -> float:
        rows = stack.query("SELECT count(*) FILTER (WHERE status IN ('sent', 'dead', 'cancelled')) FROM notifications"
                           " WHERE incident_id = ANY($1::bigint[])", incident_ids)
        return float(rows[0][0]) / max(expected, 1)

    deadline = time.monotonic() + PAGES_WAIT_S

    def wait() -> None:
        while settled() < 1.0 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(DUPLICATE_GRACE_S)

    with_progress(f"{phase.title}: {expected:,} pages", 0, wait, settled)


# -- the report ---------------------------------------------------------------------------

def summary(r: Result) -> str:
    return (f"{r.sent:,} sent, {r.durable:,} × 200, {r.unavailable:,} × 503, other {dict(r.other)}, "
            f"{r.stored:,} stored, {r.lost} lost, pages {r.pages}/{r.pages_expected}, twice {r.twice}, "
            f"serving again {serving(r)}")


def serving(r: Result) -> str:
    """Seconds until serving again: "—" with no fault, "never" if not within the phase."""
    if r.fault is None:
        return "—"
    return "never" if r.serving_again_s is None else f"{r.serving_again_s:.1f}"


def detail(r: Result) -> str:
    parts = [part for part in (r.fault.note if r.fault else "", r.aftermath) if part]
    parts.append(f"{r.incidents:,} incidents opened (expected {r.expected_incidents:,})")
    parts.append("notifications " + ", ".join(f"{n:,} {status}" for status, n in sorted(r.notifications.items())))
    parts.append(f"texts via SNS: {r.via_sns:,}")
    if r.unrecorded:
        parts.append(f"texts Twilio took that no attempt records: {r.unrecorded:,}")
    if r.refused_but_stored:
        parts.append(f"alerts refused and stored all the same: {r.refused_but_stored:,}")
    if r.stored_twice:
        parts.append(f"alert copies stored twice: {r.stored_twice:,}")
    if r.storm.unsettled:
        parts.append(f"requests never accepted within {SETTLE_S:.0f} s: {len(r.storm.unsettled)}")
    return "; ".join(parts)


COLUMNS = ("fault", "alerts sent", "200 (durable)", "503 (Retry-After)", "other answers", "stored", "lost",
           "pages sent", "pages sent twice", "serving again (s)", "what happened")


def row(r: Result) -> tuple[str, ...]:
    other = ", ".join(f"{n:,} × {status}" for status, n in r.other.items()) or "0"
    return (r.phase.title, f"{r.sent:,}", f"{r.durable:,}", f"{r.unavailable:,}", other, f"{r.stored:,}",
            f"{r.lost:,}", f"{r.pages:,} of {r.pages_expected:,}", f"{r.twice:,}",
            serving(r), detail(r))


def report(results: list[Result], args: argparse.Namespace, stack: Stack) -> str:
    """The table (printed, its last column as notes under it) and the section's markdown."""
    table = Table(*COLUMNS[:-1], title="Chaos")
    for result in results:
        table.add_row(*row(result)[:-1])
    console.print(table)
    for result in results:
        console.print(f"[bold]{result.phase.title}[/bold]: {detail(result)}")
    lines = [f"| {' | '.join(COLUMNS)} |", "|" + "---|" * len(COLUMNS)]
    lines += [f"| {' | '.join(row(r))} |" for r in results]
    repeats = [f"- {r.phase.title}: {line}" for r in results for line in r.repeats[:MAX_REPEATS_SHOWN]]
    if repeats:
        lines += ["", "Pages sent twice, with what Tocsin recorded of them (seconds after the fault):", *repeats]
        console.print("\n".join(repeats))
    return "\n".join(lines) + "\n" + method(args, stack)


def method(args: argparse.Namespace, stack: Stack) -> str:
    """The note under the table: what was done and what each column counts."""
    paging = sum(1 for t in stack.targets if t.paging)
    text = f"""
Method. `tocsin up` (its own Ray, {args.shards} shards, 1 gateway replica) on an embedded Postgres
of the benchmark's own, all on this machine. {args.people} people, each paged by SMS at once for
every new incident (one escalation level, escalating only after an hour; texts through Twilio then
SNS, {args.rate:g}/s each, no throttle); Twilio is a fake that takes {args.twilio_latency * 1000:.0f} ms
to answer, SNS is moto's server. Each phase, {args.connections} connections send Alertmanager webhook
notifications as fast as answered for {args.seconds:g} s (the Twilio outage's phase until
{args.fault_at:g} s after the outage's end) to {paging} paging and {len(stack.targets) - paging} quiet
services, at least one of each on every shard, in turn: a paging service's notification carries the
alerts released to it so far (the newest {args.batch} at most), {args.new_per_s:g} new alerts/s in
all, each opening an incident that pages everyone; a quiet service's carries {args.batch} of its
{args.fleet} standing alerts, repeats. The fault comes {args.fault_at:g} s into the storm. A request
answered anything but 200 is sent again after its Retry-After (at most {MAX_RETRY_WAIT_S:g} s) as a new
request, during the storm and after it until accepted; then the phase waits until every
notification of its incidents is sent or dead, and {DUPLICATE_GRACE_S:g} s more.

Counted per alert (each copy in each request, resent copies included): answered 200 (durable), 503
with Retry-After, or other (any other status, or no answer). Each copy carries its own name in an
annotation; stored counts the copies answered 200 found by that name in the `alerts` table, lost
those answered 200 and not found. Pages sent counts the distinct (incident, person) pairs texted by
either provider, of the incidents the phase's new alerts opened, against incidents × people; pages
sent twice counts the pairs texted more than once, by the same provider or both (a try a provider
refused texted nobody and is not a page; each incident pages each person once here). Serving again:
for the Postgres restart and the shard kill, from the fault to the first answer 200, from an
affected service (all of them; the killed shard's), to a request sent after the last request
refused after the fault; for the channel actor and Twilio, from the fault to the first text a
provider took ({PROVIDERS_SMS.replace(',', ' then ')})."""
    return "\n" + "\n\n".join(" ".join(paragraph.split()) for paragraph in text.strip().split("\n\n"))


# -- the run ------------------------------------------------------------------------------

QUICK = {"seconds": 8.0, "fault_at": 3.0, "outage": 6.0, "connections": 4, "batch": 20, "fleet": 40,
         "new_per_s": 1.0, "people": 2}


def arguments() -> tuple[argparse.Namespace, Callable[[], str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: " + ", ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in QUICK.items()))
    parser.add_argument("--seconds", type=float, default=20.0, help="storm per phase")
    parser.add_argument("--fault-at", type=float, default=7.0, help="seconds into the storm")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds Twilio answers 503")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50, help="alerts per notification to a quiet service")
    parser.add_argument("--fleet", type=int, default=200, help="standing alerts per quiet service")
    parser.add_argument("--new-per-s", type=float, default=2.0, help="new alerts (incidents) per second")
    parser.add_argument("--people", type=int, default=3, help="texted for every new incident")
    parser.add_argument("--rate", type=float, default=20.0, help="texts/s through each SMS provider")
    parser.add_argument("--twilio-latency", type=float, default=0.2, help="seconds the fake Twilio takes to answer")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--keep-log", type=Path, help="copy `tocsin up`'s log here at the end")
    args = parser.parse_args()
    if args.quick:
        vars(args).update(QUICK)

    def command() -> str:
        if args.quick:
            return "python3 benchmarks/chaos.py --quick"
        return "python3 benchmarks/chaos.py" + "".join(
            f" --{k.replace('_', '-')} {v:g}" for k, v in vars(args).items()
            if k not in ("quick", "keep_log") and v != parser.get_default(k))

    return args, command


def main() -> None:
    args, command = arguments()
    phases = [Phase(), PostgresRestart(), ShardKill(), ChannelKill(), TwilioOutage(args.outage)]
    tuning = Tuning(args.shards, args.people, args.rate, args.twilio_latency)
    with chaos_stack(tuning) as stack:
        try:
            results = [run_phase(stack, phase, args) for phase in phases]
        finally:
            if args.keep_log:
                shutil.copyfile(stack.tocsin.log_path, args.keep_log)
        record(SECTION, command(), report(results, args, stack))
    console.print("written to benchmarks/RESULTS.md")
    if not all(r.sound for r in results):
        sys.exit("chaos lost, repeated or refused something, or did not serve again: see the table")


if __name__ == "__main__":
    main()
