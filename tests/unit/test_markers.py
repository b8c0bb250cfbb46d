"""Each folder's tests carry its marker, so a run can select or leave out a kind of test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Collects the tree in a pytest of its own and prints each test's id with its markers.
_LIST_MARKERS = """
import json, sys, pytest

class Listing:
    def pytest_collection_finish(self, session):
        for item in session.items:
            print(json.dumps([item.nodeid, sorted({m.name for m in item.iter_markers()})]))

sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "tests"], plugins=[Listing()]))
"""

KINDS = {"unit", "integration", "e2e", "browser", "cluster", "fuzz"}
EXPECTED = {
    "tests/unit/": {"unit"}, "tests/integration/": {"integration"}, "tests/e2e/": {"e2e"},
    "tests/browser/": {"e2e", "browser"}, "tests/cluster/": {"cluster"}, "tests/fuzz/": {"e2e", "fuzz"},
}


def test_every_test_carries_the_markers_of_its_folder_and_no_other_kind() -> None:
    done = subprocess.run([sys.executable, "-c", _LIST_MARKERS], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    listed = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    seen_folders = set()
    for node_id, markers in listed:
        folder = next(f for f in EXPECTED if node_id.startswith(f))
        seen_folders.add(folder)
        assert KINDS & set(markers) == EXPECTED[folder], (node_id, markers)
    assert seen_folders == set(EXPECTED)
