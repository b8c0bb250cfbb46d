"""Tocsin installs as one import package, `tocsin`: the repository's folders actors/, serve/
and cluster/ are `tocsin.actors`, `tocsin.serve` and `tocsin.cluster`, and nothing named
`actors`, `serve` or `cluster` lands in site-packages."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tocsin.cluster import haproxy_ingress
from tocsin.serve import forwarded

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("actors", "serve", "cluster")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """`python -c code` outside the repository, as any other program on this machine would
    run it: the checkout's folders are not on its path."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd="/tmp", env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_folder_imports_as_part_of_tocsin_and_not_under_its_own_name(folder: str) -> None:
    bare = run_python(f"import {folder}")
    assert bare.returncode != 0
    assert f"No module named '{folder}'" in bare.stderr

    named = run_python(f"import tocsin.{folder}; print(tocsin.{folder}.__file__)")
    assert named.returncode == 0, named.stderr
    assert Path(named.stdout.strip()).parent.name == folder


def test_the_installed_packages_are_every_folder_of_the_three() -> None:
    """pyproject.toml lists the packages by name (setuptools' finder cannot add the prefix):
    a folder left out of the list would be missing from the wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(("tocsin", *init.parent.relative_to(ROOT).parts))
        for folder in FOLDERS for init in (ROOT / folder).rglob("__init__.py")
    }
    assert listed == found


def test_the_gateway_names_the_ingress_launcher_as_the_cluster_installs_it() -> None:
    """serve/forwarded.py spells the launcher's names again (the launcher imports nothing of Tocsin)."""
    assert forwarded.LAUNCHER_NAME == haproxy_ingress.LAUNCHER_NAME
    assert forwarded.RAY_BINARY_VARIABLE == haproxy_ingress.RAY_BINARY_VARIABLE
