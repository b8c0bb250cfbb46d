"""Where `tocsin up`'s output goes: by default the terminal keeps only Tocsin's own lines (its
steps, its warnings), and Postgres's, Ray's and everything else written go to log files in
the data dir; with --verbose, all of it stays on the terminal.

Each case runs in a process of its own, as `tocsin up` does: the routing takes the process's
standard output and error descriptors, which a test process must keep."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from tocsin.cluster.output import LogFiles
from tocsin.cluster.steps import StepFailed, Steps

# What a starting `tocsin up` meets, written every way output is written.
PROCESS = r"""
import logging, os, subprocess, sys, warnings
from pathlib import Path
from rich.console import Console
from tocsin.cluster import output

console = Console(width=200)
logging.basicConfig(level=logging.INFO)
if sys.argv[1] == "verbose":
    output.to_terminal(console)
else:
    output.to_files(Path(sys.argv[2]), console)
console.print("a step line")
print("Started a local Ray instance.", flush=True)            # Python's own standard output
os.write(2, b"a line written straight to descriptor 2\n")     # as Ray's C++ core writes
subprocess.run(["sh", "-c", "echo a child process speaking"])  # as Ray's own processes do
logging.getLogger("pgserver").info("The files belonging to this database system will be owned by")
logging.getLogger("tocsin.cluster.deploy").info("4 service shards running")
logging.getLogger("tocsin.cluster.raystart").warning("set TOCSIN_PUBLIC_URL, please")
warnings.warn("a library's deprecation")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("tocsin.cluster.steps").exception("Ray failed")
"""
RAW = ("Started a local Ray instance.", "a line written straight to descriptor 2", "a child process speaking",
       "The files belonging to this database system", "4 service shards running", "a library's deprecation",
       "ZeroDivisionError")


def run(mode: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROCESS, mode, str(data_dir)], capture_output=True, text=True,
                          timeout=60)


def test_by_default_the_terminal_shows_only_tocsins_lines_and_the_rest_goes_to_log_files(tmp_path: Path) -> None:
    result = run("calm", tmp_path)
    terminal = result.stdout + result.stderr
    assert result.returncode == 0, terminal
    assert terminal.splitlines() == ["a step line", "! set TOCSIN_PUBLIC_URL, please"]

    logs = {path.name: path.read_text() for path in (tmp_path / "logs").iterdir()}
    assert set(logs) == {"tocsin.log", "postgres.log", "ray.log"}
    assert "The files belonging to this database system" in logs["postgres.log"]
    for raw in ("Started a local Ray instance.", "written straight to descriptor 2", "a child process speaking"):
        assert raw in logs["ray.log"]
    for line in ("4 service shards running", "set TOCSIN_PUBLIC_URL", "a library's deprecation", "ZeroDivisionError"):
        assert line in logs["tocsin.log"]  # the traceback of a failure: here, not on the terminal


def test_verbose_keeps_everything_on_the_terminal(tmp_path: Path) -> None:
    result = run("verbose", tmp_path)
    terminal = result.stdout + result.stderr
    assert result.returncode == 0, terminal
    assert all(raw in terminal for raw in RAW), terminal
    assert not (tmp_path / "logs").exists()


def test_a_failing_step_says_what_failed_and_where_its_log_is(tmp_path: Path) -> None:
    console = Console(file=(tmp_path / "terminal").open("w"), width=200)
    steps = Steps(console, LogFiles(tmp_path / "logs"))
    with steps.step("database", "starting", log="postgres") as step:
        step.detail = "embedded Postgres"
    with pytest.raises(StepFailed), steps.step("Ray", "starting a local Ray", log="ray"):
        raise RuntimeError("the GCS did not start")
    console.file.close()
    lines = (tmp_path / "terminal").read_text().splitlines()
    assert lines[0].startswith("  ✓ database") and lines[0].endswith("embedded Postgres")
    assert lines[1].startswith("  ✗ Ray") and "RuntimeError('the GCS did not start')" in lines[1]
    assert lines[2] == f"    details in {tmp_path / 'logs' / 'ray.log'}"
