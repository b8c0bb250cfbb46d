"""`tocsin up`'s progress on the terminal: one line per step (database, migrations, Ray, …),
each with its time and what it found, and a spinner while a step runs at a terminal.

A step that fails says so on its line, with why and where its log is, and raises StepFailed
(the traceback of an unexpected error goes to the log, not the terminal).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner

from tocsin.cluster.output import LogFiles, LogKind

logger = logging.getLogger(__name__)

_NAME_WIDTH = 10


class StepFailed(Exception):
    """A step could not be done; its line on the terminal says why."""


class Step:
    """What a running step found, shown on its line when it ends."""

    def __init__(self) -> None:
        self.detail = ""


class Steps:
    def __init__(self, console: Console, logs: LogFiles | None, *, spinner: bool = True) -> None:
        """`logs`: where the steps' output goes (None: on the terminal); `spinner`: animate
        while a step runs (at a terminal, when nothing else writes there)."""
        self.console = console
        self.logs = logs
        self.spinner = spinner and console.is_terminal

    @contextmanager
    def step(self, name: str, running: str, log: LogKind = "tocsin") -> Iterator[Step]:
        """A step called `name`, described by `running` while it runs, whose output goes to
        the `log` log file. A StepFailed raised in it carries the message to show; any other
        error is shown by its type and message."""
        details_in = self.logs.path(log) if self.logs is not None else None
        step, started = Step(), time.monotonic()
        try:
            with self._spinning(f"{name}: {running}"):
                yield step
        except StepFailed as exc:
            logger.error("%s failed: %s", name, exc, exc_info=exc)  # the cause: in the log, not on the terminal
            self._failed(name, time.monotonic() - started, str(exc), details_in)
            raise
        except Exception as exc:
            logger.exception("%s failed", name)
            self._failed(name, time.monotonic() - started, f"failed: {exc!r}", details_in)
            raise StepFailed(f"{name} failed") from exc
        self._line("[green]✓[/green]", name, time.monotonic() - started, step.detail)

    def _failed(self, name: str, seconds: float, why: str, details_in: Path | None) -> None:
        self._line("[red]✗[/red]", name, seconds, why)
        if details_in is not None:
            self.console.print(f"    details in {details_in}", soft_wrap=True, highlight=False)
        self.console.file.flush()

    @contextmanager
    def _spinning(self, text: str) -> Iterator[None]:
        if not self.spinner:
            yield
            return
        # Nothing else may write to the terminal meanwhile: stdout and stderr are left alone.
        with Live(Spinner("dots", text=escape(text)), console=self.console, transient=True,
                  redirect_stdout=False, redirect_stderr=False, refresh_per_second=10):
            yield

    def _line(self, mark: str, name: str, seconds: float, detail: str) -> None:
        self.console.print(f"  {mark} {name:<{_NAME_WIDTH}} [dim]{seconds:5.1f} s[/dim]  {escape(detail)}",
                           soft_wrap=True, highlight=False)
        self.console.file.flush()  # seen at once also when the output is a file or a pipe
