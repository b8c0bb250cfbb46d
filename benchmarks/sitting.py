"""A benchmark before and after a change, in one sitting: `benchmarks/storm.py` (or `ingest.py`)
run in turn on two versions of Tocsin, on this machine, one right after the other, and the
figures of every run side by side in benchmarks/RESULTS.md.

A machine shared with others runs the same code a third faster or slower from one hour to the
next, so a figure is only compared with one measured beside it. The runs alternate in the order
before, after, after, before, before, after, ... (each round reversing the one before), so that
a machine speeding up or slowing down through the sitting favours neither version.

Both versions run under this checkout's benchmark scripts; only the `tocsin` package differs.
The before version is taken from git (`git archive`) into a temporary directory; the after
version is this checkout as it stands, uncommitted changes included, unless `--after` names a
commit. Each run puts its version's package first on PYTHONPATH, where Python finds it before the
installed one, and Ray's workers, which inherit the environment, find it there too.

    python3 benchmarks/sitting.py --before a6557fb [--after COMMIT] [--rounds 2] [--benchmark ingest]
                                  [-- the benchmark's options]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import record  # noqa: E402
from benchmarks.ingest import TARGET_RATIO as SINGLE_TARGET_RATIO  # noqa: E402
from benchmarks.storm import TARGET_CPU_US, TARGET_P99_MS, TARGET_RATIO, console  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("actors", "serve", "cluster")  # the folders that make the `tocsin` package (pyproject.toml)


@dataclass(frozen=True)
class Version:
    label: str  # as the table names it
    tree: Path  # holds actors/, serve/ and cluster/

    def package_path(self, root: Path) -> Path:
        """`root`, made to hold a `tocsin` package of this version's folders."""
        package = root / "tocsin"
        package.mkdir(parents=True)
        # A regular package: Python takes it from PYTHONPATH before it asks the installed
        # project's finder for the `tocsin` namespace.
        (package / "__init__.py").write_text("")
        for name in PACKAGES:
            (package / name).symlink_to(self.tree / name, target_is_directory=True)
        return root


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def from_git(commit: str, under: Path) -> Version:
    """`commit`'s package, extracted into `under`."""
    sha = git("rev-parse", "--short", f"{commit}^{{commit}}")
    tree = under / f"tree-{sha}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", sha, *PACKAGES], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return Version(sha, tree)


def this_checkout() -> Version:
    sha = git("rev-parse", "--short", "HEAD")
    changed = git("status", "--porcelain", "--", *PACKAGES)
    return Version(f"{sha} with uncommitted changes" if changed else sha, REPO)


def order(rounds: int) -> list[str]:
    """before, after, then after, before, ...: each round the reverse of the one before."""
    turns: list[str] = []
    for n in range(rounds):
        turns += ["before", "after"] if n % 2 == 0 else ["after", "before"]
    return turns


def run(script: str, version: Version, package_path: Path, options: list[str], under: Path, n: int) -> dict[str, Any]:
    """One run of benchmarks/`script` on `version`; its figures."""
    figures = under / f"run-{n}.json"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(package_path), os.environ.get("PYTHONPATH")]))}
    console.rule(f"run {n + 1}: {version.label}")
    # A run that lost or repeated something exits non-zero after writing its figures, which
    # the table shows; a run that wrote none ends the sitting.
    ended = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--figures", str(figures), *options],
                           cwd=REPO, env=env, check=False)
    if not figures.exists():
        sys.exit(f"run {n + 1} ({version.label}) ended with {ended.returncode} and wrote no figures: see above")
    return json.loads(figures.read_text())  # type: ignore[no-any-return]


# -- the table ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    what: str
    read: Callable[[dict[str, Any]], str]  # one run's value, as the table shows it
    meets: Callable[[dict[str, Any]], bool] | None = None  # the target, where there is one
    target: str = ""


def _cpu(run: dict[str, Any]) -> str:
    cpu = run["cpu"]
    return f"{cpu['alert path']:.1f} ({cpu['gateway replica']:.1f} + {cpu['shards']:.1f} + {cpu['Postgres backends']:.1f})"


def _page(name: str) -> Callable[[dict[str, Any]], str]:
    def read(run: dict[str, Any]) -> str:
        s = run["storms"][name]
        return f"{s['p50']:.0f} / {s['p99']:.0f} ({s['queued_p99']:.0f})"
    return read


def _page_meets(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda run: bool(run["storms"][name]["p99"] < TARGET_P99_MS[name])


STORM = (
    Figure("Tocsin against Alertmanager, side by side (alerts/s)",
           lambda r: f"{r['ratio']:.3f}× ({r['tocsin_alerts_per_s']:,.0f} / {r['alertmanager_alerts_per_s']:,.0f})",
           lambda r: bool(r["ratio"] >= TARGET_RATIO), f"≥ {TARGET_RATIO}×"),
    Figure("CPU per durable alert, µs (gateway + shards + Postgres)", _cpu,
           lambda r: bool(r["cpu"]["alert path"] <= TARGET_CPU_US), f"≤ {TARGET_CPU_US:.0f} µs"),
    Figure("storm with paging: alerts/s", lambda r: f"{r['storms']['storm']['alerts_per_s']:,.0f}"),
    Figure("storm with paging: first page p50 / p99 ms (until its batch: p99)", _page("storm"),
           _page_meets("storm"), f"p99 < {TARGET_P99_MS['storm']:.0f} ms"),
    Figure("paced storm: first page p50 / p99 ms (until its batch: p99)", _page("paced storm"),
           _page_meets("paced storm"), f"p99 < {TARGET_P99_MS['paced storm']:.0f} ms"),
    Figure("nothing lost or repeated", lambda r: "yes" if r["correct"] else "NO", lambda r: bool(r["correct"]),
           "every run"),
)

INGEST = (
    Figure("single events: Tocsin against the no-op endpoint (req/s)",
           lambda r: f"{r['single']['ratio']:.2f}× ({r['single']['tocsin_per_s']:,.0f} / {r['single']['noop_per_s']:,.0f})",
           lambda r: bool(r["single"]["ratio"] >= SINGLE_TARGET_RATIO), f"≥ {SINGLE_TARGET_RATIO}×"),
    Figure("PagerDuty storm: alerts/s (p50 / p99 ms per request)",
           lambda r: f"{r['storm']['alerts_per_s']:,.0f} ({r['storm']['p50_ms']:.0f} / {r['storm']['p99_ms']:.0f})"),
    Figure("PagerDuty storm exact: every incident, every occurrence, nothing lost",
           lambda r: "yes" if r["exact"] else "NO", lambda r: bool(r["exact"]), "every run"),
)


@dataclass(frozen=True)
class Benchmark:
    script: str
    section: str  # of RESULTS.md
    figures: tuple[Figure, ...]
    medians: tuple[tuple[str, Callable[[dict[str, Any]], float], str], ...]  # (what, read, format)


BENCHMARKS = {
    "storm": Benchmark("storm.py", "Storm, before and after (benchmarks/sitting.py)", STORM, (
        ("Tocsin against Alertmanager", lambda r: float(r["ratio"]), "{:.3f}×"),
        ("CPU per durable alert", lambda r: float(r["cpu"]["alert path"]), "{:.1f} µs"),
    )),
    "ingest": Benchmark("ingest.py", "Ingestion, before and after (benchmarks/sitting.py)", INGEST, (
        ("the PagerDuty storm", lambda r: float(r["storm"]["alerts_per_s"]), "{:,.0f} alerts/s"),
        ("single events against the no-op", lambda r: float(r["single"]["ratio"]), "{:.2f}×"),
    )),
}


def table(benchmark: Benchmark, runs: list[tuple[str, dict[str, Any]]], versions: dict[str, Version]) -> str:
    """One column per run, in the order run; the last column counts the after runs meeting
    each target."""
    shown = [f for f in benchmark.figures if all(_has(f, run) for _, run in runs)]
    after = [run for turn, run in runs if turn == "after"]
    head = ["figure", *(f"{n + 1}: {turn}" for n, (turn, _) in enumerate(runs)), "after: target met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for figure in shown:
        met = f"{sum(figure.meets(r) for r in after)} of {len(after)} ({figure.target})" if figure.meets else ""
        lines.append("| " + " | ".join([figure.what, *(figure.read(run) for _, run in runs), met]) + " |")
    medians = "; ".join(
        f"{what} " + " and ".join(
            f"{form.format(statistics.median(read(r) for t, r in runs if t == turn))} {turn}" for turn in versions)
        for what, read, form in benchmark.medians)
    return "\n".join([
        f"Before: {versions['before'].label}; after: {versions['after'].label}.", "", *lines, "",
        f"Medians over the runs of each: {medians}.", "",
        f"Each column is one run of benchmarks/{benchmark.script} (its own section says how each figure is "
        "measured), the versions taking turns on this machine; only the `tocsin` package differs between them.",
    ])


def _has(figure: Figure, run: dict[str, Any]) -> bool:
    try:
        figure.read(run)
    except KeyError:  # a storm not run (--paced-alerts 0)
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="a commit: the version before the change")
    parser.add_argument("--after", default=None, help="a commit (default: this checkout as it stands)")
    parser.add_argument("--rounds", type=int, default=2, help="each round runs both versions once")
    parser.add_argument("--benchmark", choices=sorted(BENCHMARKS), default="storm")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="after --: the benchmark's own options")
    args = parser.parse_args()
    benchmark = BENCHMARKS[args.benchmark]
    options = [a for a in args.options if a != "--"]
    with tempfile.TemporaryDirectory(prefix="tocsin-sitting-") as scratch:
        under = Path(scratch)
        versions = {"before": from_git(args.before, under),
                    "after": from_git(args.after, under) if args.after else this_checkout()}
        paths = {turn: version.package_path(under / f"path-{turn}") for turn, version in versions.items()}
        runs = [(turn, run(benchmark.script, versions[turn], paths[turn], options, under, n))
                for n, turn in enumerate(order(args.rounds))]
    command = " ".join(["python3 benchmarks/sitting.py", f"--before {args.before}",
                        *([f"--after {args.after}"] if args.after else []),
                        *([f"--rounds {args.rounds}"] if args.rounds != 2 else []),
                        *([f"--benchmark {args.benchmark}"] if args.benchmark != "storm" else []),
                        *(["--", *options] if options else [])])
    markdown = table(benchmark, runs, versions)
    console.print(markdown)
    record(benchmark.section, command, markdown)
    console.print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
