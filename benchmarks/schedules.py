"""Schedule timelines against the number of overrides: the sorted sweep against the former
algorithm, which asked every override at every instant where a shift starts or ends.

    python3 benchmarks/schedules.py [--overrides 100,1000,3000,10000] [--old-up-to 3000]

Pure computation, no database: one schedule in Europe/Berlin with a weekly layer and an
hourly layer restricted to weekday business hours, and N overrides in a 93-day window (the
longest `/shifts` computes), in two shapes: "scattered", 1 to 48 hours each at random
(seeded), and "in order", made in the order they start, 10 minutes each with gaps between
them (as a rota of cover added week after week). Each figure is the median of 3 runs of
`final_shifts` over that window. The former algorithm is run only up to `--old-up-to`
overrides, since it grows with their square.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from bisect import bisect_right
from collections.abc import Callable
from datetime import datetime, time as wall, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.domain.schedule import (  # noqa: E402
    OVERRIDE, Layer, Override, Restriction, Rotation, Schedule, Shift, Unit, final_shifts, layer_shifts, merge_adjacent,
)
from benchmarks.harness import record  # noqa: E402

console = Console()
START = datetime(2026, 3, 2, tzinfo=timezone.utc)
WINDOW = timedelta(days=93)
PEOPLE = tuple(f"user-{i}" for i in range(8))


def schedule_with(overrides: int, shape: str, rng: random.Random) -> Schedule:
    weekly = Layer(Rotation(PEOPLE[:4], START - timedelta(days=30), 1, Unit.WEEKS, wall(9)))
    hourly = Layer(Rotation(PEOPLE[4:], START, 4, Unit.HOURS), Restriction.weekdays(wall(9), wall(17)), priority=1)
    made = []
    step = WINDOW / max(overrides, 1)
    for n in range(overrides):
        if shape == "scattered":
            begin = START + timedelta(minutes=rng.randrange(int(WINDOW.total_seconds() // 60)))
            length = timedelta(hours=rng.randint(1, 48))
        else:
            begin, length = START + n * step, min(timedelta(minutes=10), step / 2)
        made.append(Override(rng.choice(PEOPLE), begin, begin + length))
    return Schedule(ZoneInfo("Europe/Berlin"), (weekly, hourly), tuple(made))


def former_final_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The algorithm before the sweep: every override a track of its own, and at each cut
    the first track holding someone wins."""
    tracks = [[Shift(o.user_id, max(o.start, start), min(o.end, end), OVERRIDE)]
              for o in reversed(schedule.overrides) if o.start < end and o.end > start]
    ranked = sorted(enumerate(schedule.layers), key=lambda pair: (pair[1].priority, pair[0]), reverse=True)
    tracks += [layer_shifts(layer, schedule.tz, start, end, source=index) for index, layer in ranked]
    cuts = sorted({at for track in tracks for shift in track for at in (shift.start, shift.end)})
    pieces = []
    for begin, finish in zip(cuts, cuts[1:]):
        for track in tracks:
            i = bisect_right(track, begin, key=lambda shift: shift.start) - 1
            if i >= 0 and track[i].end > begin:
                pieces.append(Shift(track[i].user_id, begin, finish, track[i].source))
                break
    return merge_adjacent(pieces)


def median_ms(compute: Callable[[], list[Shift]]) -> tuple[float, list[Shift]]:
    times, result = [], []
    for _ in range(3):
        began = time.perf_counter()
        result = compute()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--overrides", default="100,1000,3000,10000")
    parser.add_argument("--old-up-to", type=int, default=3000)
    args = parser.parse_args()
    counts = [int(n) for n in args.overrides.split(",")]
    rows = []
    for shape in ("scattered", "in order"):
        for count in counts:
            schedule = schedule_with(count, shape, random.Random(count))
            sweep_ms, timeline = median_ms(lambda: final_shifts(schedule, START, START + WINDOW))
            if count <= args.old_up_to:
                old_ms, old = median_ms(lambda: former_final_shifts(schedule, START, START + WINDOW))
                same = [(s.user_id, s.start, s.end, s.source) for s in old] == [
                    (s.user_id, s.start, s.end, s.source) for s in timeline]
                old_cell = f"{old_ms:,.1f}"
                ratio = f"{old_ms / sweep_ms:,.1f}×" + ("" if same else " (TIMELINES DIFFER)")
            else:
                old_cell, ratio = "not run", "—"
            rows.append((shape, f"{count:,}", f"{len(timeline):,}", f"{sweep_ms:,.1f}", old_cell, ratio))
            console.print(f"{shape}, {count:,} overrides: sweep {sweep_ms:,.1f} ms, former {old_cell} ms")

    table = Table(title="final_shifts over 93 days")
    header = ("override shape", "overrides", "shifts in the timeline", "sweep (ms)", "former (ms)", "former / sweep")
    for name in header:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    markdown = "\n".join([
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "One schedule (a weekly layer, an hourly layer on weekdays 09:00-17:00) over 93 days; overrides"
        " \"scattered\" (1 to 48 hours at random) or \"in order\" (made in the order they start, 10 minutes each,"
        " gaps between); median of 3 runs each, in one process. \"former\" is the algorithm before the"
        f" sweep, run up to {args.old_up_to:,} overrides; where it ran, both gave the same timeline unless"
        " the last column says otherwise.",
    ])
    record("Schedules (benchmarks/schedules.py)", "python3 benchmarks/schedules.py", markdown)


if __name__ == "__main__":
    main()
