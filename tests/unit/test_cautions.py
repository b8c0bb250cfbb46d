"""What `tocsin up` asks the person to change: settings fine on one's own machine that fail,
or are unsafe, once providers and other people rely on them."""

from __future__ import annotations

from tocsin.actors.settings import Settings
from tocsin.cluster.cautions import cautions

LOCAL_ONLY = {"webhook": ["webhook"], "sms": []}
WITH_TWILIO = {"sms": ["twilio", "sns"], "voice": ["twilio"]}


def test_a_local_start_needs_nothing() -> None:
    assert cautions(Settings(), LOCAL_ONLY) == []


def test_twilio_without_a_public_url_cannot_call_back() -> None:
    [caution] = cautions(Settings(), WITH_TWILIO)
    assert caution.startswith("twilio cannot call back http://127.0.0.1:8000") and "TOCSIN_PUBLIC_URL" in caution
    assert cautions(Settings(public_url="https://tocsin.example.com"), WITH_TWILIO) == []


def test_serving_beyond_this_machine_over_plain_http_is_flagged() -> None:
    [caution] = cautions(Settings(host="0.0.0.0"), LOCAL_ONLY)
    assert "plain HTTP" in caution and "TOCSIN_PUBLIC_URL=https://" in caution
    assert cautions(Settings(host="0.0.0.0", public_url="https://tocsin.example.com"), LOCAL_ONLY) == []
