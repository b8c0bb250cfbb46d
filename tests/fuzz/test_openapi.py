"""Every operation of the OpenAPI document, fuzzed with Schemathesis as the admin: no answer
is a server error but the documented 503, and every answer is one the document describes."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

schema = schemathesis.pytest.from_fixture("openapi_schema").exclude(path="/api/v1/stream")

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="package")
def openapi_schema(fuzz_tocsin: Any) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_tocsin.base_url}/openapi.json")


@schemathesis.check
def no_server_error_but_a_documented_503(ctx: Any, response: Any, case: Any) -> None:
    """5xx is a bug, except 503 (with Retry-After) where the operation documents it."""
    status = response.status_code
    if status < 500:
        return
    documented = str(status) in case.operation.definition.raw.get("responses", {})
    if status != 503 or not documented or "retry-after" not in {h.lower() for h in response.headers}:
        raise AssertionError(f"{case.operation.label} answered {status}: {response.text[:500]}")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
def test_every_operation_answers_as_documented(case: Any, fuzz_admin_token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {fuzz_admin_token}"}, timeout=30)
    case.validate_response(response, checks=[no_server_error_but_a_documented_503, status_code_conformance,
                                             content_type_conformance, response_schema_conformance])
