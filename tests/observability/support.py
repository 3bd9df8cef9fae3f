"""Reading the process's Prometheus samples (the tests run in one process, no multi-process
directory) and a scrape of /metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from creditgate.kernel.metrics import flush

AUTHORIZATIONS = "/client/v4/accounts/{account_id}/ai-gateway/billing/authorizations"


def sample(name: str, **labels: str) -> float:
    """The current value of one sample of this process (0 when never recorded), with what
    the event loop counted so far."""
    flush()
    return REGISTRY.get_sample_value(name, labels) or 0.0


def samples(names_and_labels: list[tuple[str, dict[str, str]]]) -> list[float]:
    return [sample(name, **labels) for name, labels in names_and_labels]


def scraped(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples of a /metrics answer, by (name, labels)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> Any:
    return scraped(text).get((name, frozenset(labels.items())))
