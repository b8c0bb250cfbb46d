"""`--check`'s comparison: runs of 15-minute steps where the source and Tocsin disagree, and
the key shapes an imported integration may keep."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tocsin.actors.store.services import is_integration_key, is_routing_key
from tocsin.cluster.importers.check import differences

pytestmark = pytest.mark.unit

T0 = datetime(2027, 3, 13, tzinfo=timezone.utc)
H = timedelta(hours=1)


def test_agreeing_timelines_have_no_difference() -> None:
    line = [(T0, T0 + 5 * H, "ana@x"), (T0 + 5 * H, T0 + 9 * H, "ben@x")]
    assert differences({"s": line}, {"s": list(line)}, T0, T0 + 10 * H) == []


def test_a_disagreement_is_one_run_with_both_answers() -> None:
    source = [(T0, T0 + 10 * H, "ana@x")]
    tocsin = [(T0, T0 + 2 * H, "ana@x"), (T0 + 2 * H, T0 + 3 * H, "ben@x"), (T0 + 3 * H, T0 + 10 * H, "ana@x")]
    [found] = differences({"s": source}, {"s": tocsin}, T0, T0 + 10 * H)
    assert (found.start, found.end, found.source, found.tocsin) == (T0 + 2 * H, T0 + 3 * H, ("ana@x",), ("ben@x",))
    assert "PagerDuty says ana@x, Tocsin says ben@x" in found.describe("PagerDuty")


def test_a_schedule_missing_from_tocsin_is_a_difference() -> None:
    [found] = differences({"gone": []}, {}, T0, T0 + H)
    assert found.tocsin == ("(no such schedule in Tocsin)",)


def test_opsgenie_api_keys_are_integration_keys_but_not_routing_keys() -> None:
    opsgenie = "3f2c1a9e-7b6d-4e5f-9a8b-0c1d2e3f4a5b"
    assert is_integration_key(opsgenie) and not is_routing_key(opsgenie)
    assert is_integration_key("0" * 32)
    assert not is_integration_key(opsgenie.upper()) and not is_integration_key(opsgenie.replace("-", "_"))
