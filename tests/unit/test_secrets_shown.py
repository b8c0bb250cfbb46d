"""Whose secrets a caller sees, and what the others see of an address that is a credential."""

from __future__ import annotations

import pytest

from tocsin.actors.domain.accounts.access import Caller, Role
from tocsin.cluster.admin_token import admin_token_problem
from tocsin.actors.domain.masking import masked
from tocsin.serve.api.contacts import shown_to

DANA = "5d9ab0b4-5f0e-4d8e-9a4c-3f1f0e2b7c11"
OTHER = "0c3f9a52-1b7e-4c55-8e0d-6a3b1d2c9f00"


@pytest.mark.parametrize(("caller", "sees"), [
    (Caller(DANA, "Dana", Role.VIEWER, "session"), True),  # their own, whatever their role
    (Caller(OTHER, "Olu", Role.RESPONDER, "token"), False),
    (Caller(OTHER, "Olu", Role.VIEWER, "session"), False),
    (Caller(OTHER, "Ola", Role.ADMIN, "session"), True),
    (Caller(None, "admin", Role.ADMIN, "admin-token"), True),
])
def test_the_owner_and_admins_see_a_persons_secrets(caller: Caller, sees: bool) -> None:
    assert caller.may_see_secrets_of(DANA) is sees
    method = {"user_id": DANA, "kind": "webhook", "address": "https://hooks.example.com/t/s3cret"}
    assert (shown_to(caller, method)["address"] == method["address"]) is sees


@pytest.mark.parametrize(("kind", "address", "shown"), [
    ("webhook", "https://user:pw@Hooks.Example.com:8443/t/s3cret?key=k", "https://hooks.example.com/…"),
    ("slack", "https://hooks.slack.com/services/T0/B0/s3cret", "https://hooks.slack.com/…"),
    ("webhook", "http://[::1/broken", "…"),
    ("push", "arn:aws:sns:us-east-1:1:endpoint/GCM/app/0a1b2c3d", "…2c3d"),
    ("push", "short-token", "…"),  # too short to show a part of it
])
def test_a_masked_address_keeps_no_credential(kind: str, address: str, shown: str) -> None:
    assert masked(kind, address) == shown


@pytest.mark.parametrize("kind", ["sms", "voice", "email"])
def test_phone_numbers_and_email_addresses_are_shown_to_colleagues(kind: str) -> None:
    colleague = Caller(OTHER, "Olu", Role.RESPONDER, "session")
    method = {"user_id": DANA, "kind": kind, "address": "+14155550123"}
    assert shown_to(colleague, method) == method


def test_an_admin_token_needs_32_characters_and_the_message_says_so() -> None:
    assert admin_token_problem("x" * 32) is None
    problem = admin_token_problem("x" * 31, "the admin token in /data/admin-token")
    assert problem and problem.startswith("the admin token in /data/admin-token has 31 characters")
    assert "at least 32" in problem and "x" * 31 not in problem
