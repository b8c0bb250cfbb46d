"""`tocsin config schema | plan | apply | export`: configuration as code against a running Tocsin.

plan, apply and export talk to Tocsin's API (`--url`, else TOCSIN_URL, else the local one) with
the token in TOCSIN_TOKEN, so that a CI pipeline can run them. `-f` takes a YAML file or a
directory of them (*.yaml, *.yml, in name order), whose top-level lists are joined.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

EXIT_REFUSED = 1
DEFAULT_URL = "http://127.0.0.1:8000"


def add_commands(commands: Any) -> None:
    """The `config` command and its subcommands, on the CLI's subparsers."""
    config = commands.add_parser("config", help="configuration as code: plan, apply and export a YAML file")
    actions = config.add_subparsers(required=True, metavar="ACTION")
    schema = actions.add_parser("schema", help="print the JSON Schema of the configuration file")
    schema.set_defaults(remote=_schema)
    for name, text in (("plan", "show what applying the file would create, change and delete"),
                       ("apply", "apply the file in one transaction (all or nothing)")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("-f", "--file", type=Path, required=True, help="a YAML file, or a directory of them")
        sub.add_argument("--prune", action="store_true", help="delete the objects the file leaves out")
        sub.set_defaults(remote=_plan if name == "plan" else _apply)
    export = actions.add_parser("export", help="write the deployment's configuration as YAML")
    export.add_argument("-o", "--output", type=Path, help="write to this file instead of standard output")
    export.set_defaults(remote=_export)
    for sub in (actions.choices[name] for name in ("plan", "apply", "export")):
        sub.add_argument("--url", default=os.environ.get("TOCSIN_URL", DEFAULT_URL),
                         help=f"Tocsin's address (default: TOCSIN_URL, else {DEFAULT_URL})")


def load(path: Path) -> dict[str, Any]:
    """The document in a file, or the documents of a directory's YAML files joined."""
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
    merged: dict[str, Any] = {}
    for file in files:
        data = yaml.safe_load(file.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{file}: a configuration file is a mapping (teams:, users:, services: …)")
        for key, value in data.items():
            if isinstance(value, list) and isinstance(merged.get(key), list):
                merged[key] = merged[key] + value
            elif key in merged and key != "version":
                raise ValueError(f"{file}: {key} is given by another file too")
            else:
                merged[key] = value
    plain: dict[str, Any] = json.loads(json.dumps(merged, default=_text))  # YAML's timestamps as ISO 8601
    return plain


def _text(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON form")


def render(answer: dict[str, Any]) -> str:
    """A plan as terraform shows one: + create, ~ change (old -> new), - delete, then a summary."""
    lines = []
    signs = {"create": "+", "update": "~", "delete": "-"}
    for change in answer["changes"]:
        lines.append(f"{signs[change['action']]} {change['kind'].replace('_', ' ')} {change['name']}".rstrip())
        for field in change["fields"]:
            old, new = field["old"], field["new"]
            if old is None:
                lines.append(f"    + {field['path']} = {_shown(new)}")
            elif new is None:
                lines.append(f"    - {field['path']} (was {_shown(old)})")
            else:
                lines.append(f"    ~ {field['path']}: {_shown(old)} -> {_shown(new)}")
    if not answer["changes"]:
        lines.append("No changes: the deployment matches the file.")
    lines.append(f"Plan: {answer['create']} to create, {answer['update']} to change, {answer['delete']} to delete.")
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _client(url: str) -> Any:
    import httpx

    token = os.environ.get("TOCSIN_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=120)


def _send(args: argparse.Namespace, action: str) -> dict[str, Any] | None:
    try:
        document = load(args.file)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"Cannot read {args.file}: {exc}", file=sys.stderr)
        return None
    with _client(args.url) as client:
        response = client.post(f"/api/v1/config/{action}", json={"document": document, "prune": args.prune})
    return _answer(response)


def _answer(response: Any) -> dict[str, Any] | None:
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code == 200:
        answer: dict[str, Any] = body
        return answer
    problems = body.get("errors") or [body.get("message") or response.text]
    print(f"Refused ({response.status_code}):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return None


def _plan(args: argparse.Namespace) -> int:
    answer = _send(args, "plan")
    if answer is None:
        return EXIT_REFUSED
    print(render(answer))
    return 0


def _apply(args: argparse.Namespace) -> int:
    answer = _send(args, "apply")
    if answer is None:
        return EXIT_REFUSED
    print(render(answer).replace("Plan:", "Applied:", 1))
    return 0


def _export(args: argparse.Namespace) -> int:
    with _client(args.url) as client:
        answer = _answer(client.get("/api/v1/config/export"))
    if answer is None:
        return EXIT_REFUSED
    text = "# Keys are secrets: keep this file as you keep credentials.\n" + yaml.safe_dump(
        answer["document"], sort_keys=False, allow_unicode=True)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return 0


def _schema(args: argparse.Namespace) -> int:
    from tocsin.serve.api.config import document_schema

    print(json.dumps(document_schema(), indent=2))
    return 0
