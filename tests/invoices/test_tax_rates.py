"""Tax rates: the shipped table, an operator's override file, and refusal of a bad file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from creditgate.app import create_app
from creditgate.composition import build_runtime
from creditgate.invoices.taxes import DEFAULT_FILE, load_tax_rates, tax_cents
from creditgate.kernel.clock import ManualClock
from creditgate.settings import Settings, SettingsError
from tests.conftest import Account, MakeAccount
from tests.invoices.support import billing_profile, usage


def test_shipped_rates_by_country() -> None:
    rates = load_tax_rates(str(DEFAULT_FILE))
    assert rates.rate_for("DE") == Decimal("0.19")
    assert rates.rate_for("fr") == Decimal("0.20")
    assert rates.rate_for("US") == Decimal(0)
    assert rates.rate_for(None) == Decimal(0)
    assert rates.rate_for("ZZ") == Decimal(0)


def test_tax_rounds_half_even_to_whole_cents() -> None:
    assert tax_cents(250, Decimal("0.19")) == 48  # 47.5 -> 48
    assert tax_cents(150, Decimal("0.19")) == 28  # 28.5 -> 28
    assert tax_cents(0, Decimal("0.25")) == 0


def test_an_override_file_sets_the_rates(tmp_path: Path, db_url: str, clock: ManualClock,
                                         make_account: MakeAccount, runtime: Any) -> None:
    path = tmp_path / "rates.json"
    path.write_text('{"default": "0.05", "rates": {"DE": "0.07"}}')
    custom = build_runtime(Settings(database_url=db_url, tax_rates_file=str(path)),
                           clock)
    german: Account = make_account()
    elsewhere: Account = make_account()
    billing_profile(runtime, german.id, "DE")
    for account in (german, elsewhere):
        usage(runtime, account.id, "1000")
    try:
        with TestClient(create_app(custom)) as client:
            taxes = [client.get(a.url("ai-gateway/billing/invoice-preview"),
                                headers=a.headers).json()["result"]
                     for a in (german, elsewhere)]
    finally:
        custom.db.dispose()
    assert [(t["tax_rate"], t["tax_country"], t["tax"], t["amount_due"]) for t in taxes] == [
        ("0.07", "DE", 70, 1070), ("0.05", None, 50, 1050)]


@pytest.mark.parametrize("content,message", [
    ("not json", "rates.json"),
    ('{"rates": []}', "expected"),
    ('{"rates": {"DE": 0.19}}', "rates.DE: a rate must be a decimal string"),
    ('{"rates": {"DE": "19%"}}', "rates.DE: '19%' is not a decimal number"),
    ('{"rates": {"DE": "1.5"}}', "must be at least 0 and below 1"),
    ('{"default": "-0.1", "rates": {}}', "default: '-0.1' must be at least 0"),
])
def test_a_bad_rates_file_stops_start_up(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rates.json"
    path.write_text(content)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}",
                        tax_rates_file=str(path))
    with pytest.raises(SettingsError) as refused:
        build_runtime(settings)
    assert str(refused.value).startswith("CREDITGATE_TAX_RATES_FILE: ")
    assert str(path) in str(refused.value) and message in str(refused.value)
