"""`mypy --strict` over the three packages under their installed names (tocsin.actors,
tocsin.serve, tocsin.cluster): `python3 -m tests.typecheck`, exiting as mypy does.

The editable install maps those names onto the repository's folders with an import hook,
which mypy does not follow; so mypy reads them through a tree of links, kept in its cache
folder, with the paths in its report turned back into the repository's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("actors", "serve", "cluster")
LINKS = ROOT / ".mypy_cache" / "links"


def linked_tree() -> Path:
    """LINKS/tocsin/<package> → the repository's <package>; made once, kept across runs so that
    mypy's cache stays valid."""
    namespace = LINKS / "tocsin"
    namespace.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        link = namespace / package
        if not (link.is_symlink() and link.resolve() == ROOT / package):
            link.unlink(missing_ok=True)
            link.symlink_to(ROOT / package, target_is_directory=True)
    return LINKS


def main() -> int:
    os.environ["MYPYPATH"] = str(linked_tree())
    targets = [arg for package in PACKAGES for arg in ("-p", f"tocsin.{package}")]
    report, errors, status = api.run(["--strict", "--config-file", str(ROOT / "pyproject.toml"), *targets])
    for shown in (f"{LINKS}/tocsin/", f"{LINKS.relative_to(ROOT)}/tocsin/"):
        report = report.replace(shown, "")
    sys.stdout.write(report)
    sys.stderr.write(errors)
    return status


if __name__ == "__main__":
    sys.exit(main())
