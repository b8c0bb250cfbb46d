"""The outbound webhook signature as a receiver checks it: right secret, untouched body,
fresh timestamp."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from tocsin.actors.providers.webhook import sign, verify_signature

SECRET = "whsec-unit"
BODY = b'{"notification_id":1,"incident_id":2,"subject":"s","text":"t","sent_at":"2026-01-01T00:00:00+00:00"}'
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"v1={expected}"
    assert sign(SECRET, str(NOW), BODY.decode()) == sign(SECRET.encode(), NOW, BODY)


def test_a_fresh_untouched_request_verifies() -> None:
    signature = sign(SECRET, NOW, BODY)
    assert verify_signature(SECRET, str(NOW), BODY, signature, now=NOW)
    assert verify_signature(SECRET, NOW, BODY.decode(), signature, now=NOW + 10.5)
    assert verify_signature(SECRET.encode(), NOW, BODY, signature,
                            now=datetime.fromtimestamp(NOW, timezone.utc) + timedelta(minutes=4))


@pytest.mark.parametrize("body", [BODY.replace(b'"t"', b'"T"'), BODY + b" ", b"", BODY[:-1]])
def test_a_tampered_body_fails(body: bytes) -> None:
    assert not verify_signature(SECRET, NOW, body, sign(SECRET, NOW, BODY), now=NOW)


def test_another_secret_fails() -> None:
    assert not verify_signature("whsec-other", NOW, BODY, sign(SECRET, NOW, BODY), now=NOW)


def test_a_moved_timestamp_fails_even_when_fresh() -> None:
    """The timestamp is signed: a replay cannot refresh it."""
    signature = sign(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, NOW + 60, BODY, signature, now=NOW + 60)


@pytest.mark.parametrize(("offset", "fresh"), [(0, True), (300, True), (-300, True), (301, False), (-301, False),
                                               (86_400, False)])
def test_stale_or_future_timestamps_fail(offset: int, fresh: bool) -> None:
    signature = sign(SECRET, NOW, BODY)
    assert verify_signature(SECRET, NOW, BODY, signature, now=NOW + offset) is fresh


def test_tolerance_is_a_parameter() -> None:
    signature = sign(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, NOW, BODY, signature, now=NOW + 31, tolerance_s=30)
    assert verify_signature(SECRET, NOW, BODY, signature, now=NOW + 3600, tolerance_s=7200)


@pytest.mark.parametrize("timestamp", ["", "soon", "1.5e9", "0x10"])
def test_a_malformed_timestamp_fails(timestamp: str) -> None:
    assert not verify_signature(SECRET, timestamp, BODY, sign(SECRET, NOW, BODY), now=NOW)


BARE_DIGEST = sign(SECRET, NOW, BODY).removeprefix("v1=")


@pytest.mark.parametrize("signature", ["", "v1=", "v1=zz", BARE_DIGEST, f"v0={BARE_DIGEST}"])
def test_a_malformed_signature_fails(signature: str) -> None:
    assert not verify_signature(SECRET, NOW, BODY, signature, now=NOW)


def test_any_of_several_signatures_may_match_during_a_rotation() -> None:
    header = f"{sign('whsec-old', NOW, BODY)}, {sign(SECRET, NOW, BODY)}"
    assert verify_signature(SECRET, NOW, BODY, header, now=NOW)
    assert verify_signature("whsec-old", NOW, BODY, header, now=NOW)
    assert not verify_signature("whsec-other", NOW, BODY, header, now=NOW)
