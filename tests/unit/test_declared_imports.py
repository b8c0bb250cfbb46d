"""What the tests and benchmarks import is declared in pyproject.toml, so `pip install -e '.[test]'`
on a fresh machine brings it (a package that happens to be installed here does not count)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = {"tocsin", "tests", "benchmarks"}


# Parsed in an interpreter of its own: CPython 3.11 can refuse `ast.parse` with "SystemError: AST
# constructor recursion depth mismatch" in a process where earlier work left its recursion count
# off (python/cpython#106905), as the whole unit suite's process once did.
_IMPORTS_OF = """
import ast, json, sys
from pathlib import Path
names = set()
for path in Path(sys.argv[1]).rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
print(json.dumps(sorted(names)))
"""


def _top_level_imports(folder: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _IMPORTS_OF, str(folder)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout))


def _declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return {_normal(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]) for requirement in requirements}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _undeclared(folder: str, *extras: str) -> dict[str, list[str]]:
    distributions = packages_distributions()
    declared = _declared(*extras) | {"ray"}  # ray[serve] is declared with its extra
    missing: dict[str, list[str]] = {}
    for name in sorted(_top_level_imports(ROOT / folder) - OWN - set(sys.stdlib_module_names)):
        providers = [_normal(d) for d in distributions.get(name, [])]
        if not any(p in declared for p in providers):
            missing[name] = providers
    return missing


def test_every_package_the_tests_import_is_a_declared_dependency() -> None:
    assert _undeclared("tests", "test") == {}


def test_every_package_the_benchmarks_import_is_a_declared_dependency() -> None:
    assert _undeclared("benchmarks", "test", "bench") == {}
