"""`tocsin import pagerduty|opsgenie [--check]`: the arguments, and what each way of running does.

Without --check: read the account, write the document (YAML) and the report of what could not be
mapped beside it, and print the report. With --check: compare who the source and Tocsin say is
on call over the window, print each difference, and exit 1 when there is one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

from tocsin.actors.domain.config.document import Document
from tocsin.cluster.config_cli import DEFAULT_URL
from tocsin.cluster.importers import check
from tocsin.cluster.importers.common import Report, write

console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)


@dataclass(frozen=True)
class Source:
    """One tool an account can come from."""

    title: str
    key_variable: str
    default_url: str
    package: str
    client: Callable[[str, str], Any]
    read: Callable[[Any, datetime], tuple[Document, Report]]
    timelines: Callable[[Any, datetime, datetime], dict[str, check.Timeline]]


def _sources() -> dict[str, Source]:
    from tocsin.cluster.importers import opsgenie, pagerduty

    return {
        "pagerduty": Source("PagerDuty", "PAGERDUTY_API_KEY", pagerduty.DEFAULT_URL, "pagerduty", pagerduty.client,
                            lambda api, now: pagerduty.to_document(pagerduty.read_account(api, now), now),
                            pagerduty.final_schedules),
        "opsgenie": Source("Opsgenie", "OPSGENIE_API_KEY", opsgenie.DEFAULT_URL, "opsgenie-sdk", opsgenie.client,
                           lambda api, now: opsgenie.to_document(opsgenie.read_account(api), now),
                           opsgenie.timelines),
    }


def add_to(commands: Any) -> None:
    """`import` and its sources, on the CLI's subcommands; they need no local settings."""
    command = commands.add_parser("import", help="read a PagerDuty or Opsgenie account as a configuration file")
    sources = command.add_subparsers(required=True, metavar="SOURCE")
    for name in ("pagerduty", "opsgenie"):
        title = "PagerDuty" if name == "pagerduty" else "Opsgenie"
        sub = sources.add_parser(name, help=f"read a {title} account through its API")
        sub.add_argument("--api-key", help=f"a read-only API key (default: ${name.upper()}_API_KEY)")
        sub.add_argument("--api-url", help=f"another endpoint of {title}'s API (an EU account, a proxy)")
        sub.add_argument("--out", type=Path, default=Path(f"{name}.yaml"),
                         help=f"where the YAML goes (default {name}.yaml); the report goes beside it")
        sub.add_argument("--check", action="store_true",
                         help="compare who is on call in the source and in Tocsin for each schedule; exit 1 on a"
                              " difference")
        sub.add_argument("--from", dest="since", type=datetime.fromisoformat,
                         help="start of the checked 14 days, ISO 8601 with an offset (default now)")
        sub.add_argument("--url", default=os.environ.get("TOCSIN_URL", DEFAULT_URL),
                         help=f"with --check: Tocsin's address (default: TOCSIN_URL, else {DEFAULT_URL});"
                              " the token is TOCSIN_TOKEN's")
        sub.set_defaults(remote=lambda args, name=name: run(name, args))


def run(name: str, args: argparse.Namespace) -> int:
    source = _sources()[name]
    api_key = args.api_key or os.environ.get(source.key_variable)
    if not api_key:
        console.print(f"[bold red]No API key[/bold red]: give --api-key or set {source.key_variable}")
        return 2
    try:
        api = source.client(api_key, args.api_url or source.default_url)
    except ImportError:
        console.print(f"[bold red]{source.title}'s client is not installed[/bold red]: `tocsin import {name}` reads"
                      f" through it; pip install 'tocsin[import]' (or {source.package})")
        return 2
    now = datetime.now(timezone.utc)
    if args.check:
        return _check(source, api, (args.since or now).astimezone(timezone.utc), args.url)
    document, report = source.read(api, now)
    report_file = write(document, report, args.out, source.title)
    console.print(f"Wrote {args.out}: {len(document.users)} users, {len(document.schedules)} schedules,"
                  f" {len(document.escalation_policies)} escalation policies, {len(document.services)} services.")
    console.print(f"{len(report)} item(s) could not be mapped exactly (also in {report_file}):")
    for item in report:
        console.print(f"  - {item}", soft_wrap=True)
    console.print(f"Review it, then: tocsin config plan -f {args.out} && tocsin config apply -f {args.out}")
    return 0


def _check(source: Source, api: Any, since: datetime, url: str) -> int:
    token = os.environ.get("TOCSIN_TOKEN", "")
    if not token:
        console.print("[bold red]No token[/bold red]: set TOCSIN_TOKEN to a token of the Tocsin checked")
        return 2
    until = since + check.WINDOW
    theirs = source.timelines(api, since, until)
    try:
        ours = check.tocsin_timelines(url, token, since, until)
    except (check.CheckFailed, OSError) as exc:
        console.print(f"[bold red]Could not ask Tocsin[/bold red] at {url}: {exc}", soft_wrap=True)
        return 2
    found = check.differences(theirs, ours, since, until)
    console.print(f"Compared {len(theirs)} schedules every 15 minutes from {since.isoformat()} to {until.isoformat()}.")
    for difference in found:
        console.print(f"  {difference.describe(source.title)}", soft_wrap=True)
    console.print(f"{len(found)} difference(s)." if found else "No differences: Tocsin agrees with the source.")
    return 1 if found else 0
