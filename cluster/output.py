"""Where `tocsin up`'s output goes.

The terminal shows Tocsin's own lines: its steps, what it needs from the person (Tocsin's
warnings), and errors. Everything else goes to log files in the data dir's logs/ folder:

- tocsin.log: the log lines of this process (Tocsin's, and Python warnings), with tracebacks;
- postgres.log: the embedded Postgres's (pgserver's) lines, initdb's output among them;
- ray.log: whatever is written straight to standard output or error from then on: Ray's
  banners and its workers' output, Serve's logs, and the output of any process started
  (Ray's own processes inherit it).

The last is done on the file descriptors themselves (1 and 2), so that output from C++ or
from child processes, which no logging setting reaches, is kept out of the terminal too;
the console writes to a copy of the terminal's descriptor taken before. `--verbose` leaves
all of it on the terminal instead.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from rich.console import Console
from rich.markup import escape

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The loggers whose warnings are meant for the person at the terminal: Tocsin's own.
_OURS = "tocsin"


LogKind = Literal["tocsin", "postgres", "ray"]
KINDS: tuple[LogKind, ...] = ("tocsin", "postgres", "ray")


@dataclass(frozen=True)
class LogFiles:
    folder: Path

    def path(self, kind: LogKind) -> Path:
        return self.folder / f"{kind}.log"

    def all(self) -> tuple[Path, ...]:
        return tuple(self.path(kind) for kind in KINDS)


def to_terminal(console: Console) -> None:
    """--verbose: every log line on the terminal, as it comes."""
    logging.basicConfig(level=logging.INFO, format=_FORMAT, force=True)
    logging.captureWarnings(True)


def to_files(data_dir: Path, console: Console) -> LogFiles:
    """Send all but the console's lines and Tocsin's warnings to log files under `data_dir`
    (appended to, across starts); the console keeps the terminal."""
    files = LogFiles(data_dir / "logs")
    files.folder.mkdir(parents=True, exist_ok=True)
    console.file = _keep_terminal()
    _point_descriptors_at(files.path("ray"))

    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.setLevel(logging.INFO)
    root.addHandler(_file_handler(files.path("tocsin")))
    postgres = logging.getLogger("pgserver")
    postgres.addHandler(_file_handler(files.path("postgres")))
    postgres.propagate = False
    logging.getLogger(_OURS).addHandler(ConsoleWarnings(console))
    logging.captureWarnings(True)  # Python warnings (libraries' deprecations and such) into tocsin.log
    return files


def _keep_terminal() -> IO[str]:
    """A stream on a copy of standard output's descriptor, which stays the terminal."""
    sys.stdout.flush()
    return os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8", errors="replace")


def _point_descriptors_at(path: Path) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _file_handler(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    return handler


class ConsoleWarnings(logging.Handler):
    """Tocsin's warnings and errors, shown plainly on the terminal (their tracebacks stay in
    tocsin.log): each is something the person should act on."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:  # a failure: its step says what failed, the log file has the rest
            return
        colour = "red" if record.levelno >= logging.ERROR else "yellow"
        self.console.print(f"[{colour}]![/{colour}] {escape(record.getMessage())}", soft_wrap=True, highlight=False)
