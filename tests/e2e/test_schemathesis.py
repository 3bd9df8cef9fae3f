"""Schemathesis against the live server's `/client/v4/openapi.json`.

A real `creditgate serve` on loopback, a real token and account id: every documented
operation is called with generated parameters and bodies (valid and invalid ones), and each
answer must be one the schema documents (its status, its body's shape) and never a 5xx.

Bounded and repeatable: a fixed number of examples per operation, derandomized (the same
cases on every run), no example database.

Left out, because a token cannot exercise them: the signed invoice-PDF link (its `sig` is an
HMAC of the id and expiry, which no generated value matches) and the Stripe webhook (its
Stripe-Signature is an HMAC of the body with the endpoint's secret). tests/invoices and
tests/payments/test_webhooks.py drive both with real signatures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES = 12
UNREACHABLE_BY_TOKEN = ("get_signed_invoice_pdf", "post_stripe_webhook")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(Path(tmp_path_factory.mktemp("schemathesis")))
    # Credit, so authorizations and captures reach their successes too.
    running.cli("credits", "grant", "--account", running.account_id, "--amount", "100000")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def api_schema(live: Server) -> Any:
    root = live.base_url.removesuffix("/client/v4")
    schema = schemathesis.openapi.from_url(f"{live.base_url}/openapi.json")
    schema.config.update(base_url=root)
    return schema.exclude(operation_id=list(UNREACHABLE_BY_TOKEN))


def _check_operation(operation: Any, mode: GenerationMode, live: Server,
                     statuses: set[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def run(case: Any) -> None:
        if "account_id" in case.path_parameters:
            case.path_parameters["account_id"] = live.account_id
        response = case.call_and_validate(headers=live.headers(), checks=CHECKS, timeout=30)
        statuses.add(response.status_code)

    run()


def test_every_answer_is_documented(api_schema: Any, live: Server) -> None:
    # One operation after the other in one test: schemathesis's pytest plugin
    # (`from_fixture(...).parametrize()`) does not run under pytest 9.
    failures: dict[str, str] = {}
    statuses: set[int] = set()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _check_operation(operation, mode, live, statuses)
            except Exception as exc:
                failures[f"{operation.label} ({mode.value})"] = str(exc)
    assert len(operations) == 60  # the 62 documented, less the two above
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
    # Not vacuous: successes, refusals of bad input, of unknown objects and of conflicts.
    assert {200, 201, 400, 402, 404, 409} <= statuses, statuses
