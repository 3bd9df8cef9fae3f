"""Typed settings: every CREDITGATE_* variable parsed once, a bad one named with what it takes."""

from __future__ import annotations

import importlib.util
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from creditgate.kernel.runtime import Runtime
from creditgate.kernel.services import ServiceKey, ServiceMissing, Services
from creditgate.settings import Settings, SettingsError, declared, kinds, unknown_variables

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_settings_docs.py"


def test_no_environment_gives_the_declared_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings().base_url == "http://127.0.0.1:8787"


@pytest.mark.parametrize(("host", "port", "base"), [
    ("10.0.0.5", "9000", "http://10.0.0.5:9000"),
    ("0.0.0.0", "9000", "http://127.0.0.1:9000"),  # every interface: no host to name
    ("::", "9001", "http://[::1]:9001"),
    ("fd00::7", "9002", "http://[fd00::7]:9002"),
])
def test_links_point_where_serve_listens(host: str, port: str, base: str) -> None:
    """`serve --host/--port` set CREDITGATE_HOST/PORT for its API processes; links follow."""
    settings = Settings.from_env({"CREDITGATE_HOST": host, "CREDITGATE_PORT": port})
    assert settings.base_url == base
    assert Settings.from_env({"CREDITGATE_HOST": host, "CREDITGATE_PORT": port,
                              "CREDITGATE_PUBLIC_BASE_URL": "https://b.example"}
                             ).base_url == "https://b.example"


def test_every_default_is_a_value_its_own_kind_accepts() -> None:
    for f in fields(Settings):
        kind: kinds.Kind[Any] = f.metadata["kind"]
        text = ("on" if f.default else "off") if isinstance(f.default, bool) else str(f.default)
        if isinstance(f.default, tuple):  # a list setting: written comma-separated
            text = ",".join(str(item) for item in f.default)
        assert kind.parse(text) == f.default, f.name


def test_a_retry_schedule_is_days_comma_separated() -> None:
    assert Settings.from_env({"CREDITGATE_COLLECTION_RETRY_DAYS": " 2, 5 "}
                             ).collection_retry_days == (2, 5)
    for bad in ("", "0", "1,,3", "1;3", "61", "1.5", ",".join(["1"] * 11)):
        with pytest.raises(SettingsError, match="CREDITGATE_COLLECTION_RETRY_DAYS"):
            Settings.from_env({"CREDITGATE_COLLECTION_RETRY_DAYS": bad})


def test_values_are_parsed_into_their_types() -> None:
    settings = Settings.from_env({
        "CREDITGATE_PORT": " 9000 ", "CREDITGATE_LIMITS_GROUP_COMMIT": "OFF",
        "CREDITGATE_SQLITE_SYNCHRONOUS": "normal", "CREDITGATE_ENV": "Development",
        "CREDITGATE_WORKER_POLL_SECONDS": "0.25", "CREDITGATE_TOPUP_MAX_CENTS": "250000",
        "CREDITGATE_PUBLIC_BASE_URL": "https://billing.example/", "OTHER": "x"})
    assert (settings.port, settings.limits_group_commit, settings.sqlite_synchronous,
            settings.env, settings.worker_poll_seconds, settings.topup_max_cents) == (
        9000, False, "NORMAL", "development", 0.25, 250_000)
    assert settings.base_url == "https://billing.example"


@pytest.mark.parametrize(("variable", "value", "accepts"), [
    ("CREDITGATE_PORT", "abc", "a whole number from 1 to 65,535"),
    ("CREDITGATE_PORT", "70000", "a whole number from 1 to 65,535"),
    ("CREDITGATE_PORT", "1_000", "a whole number from 1 to 65,535"),
    ("CREDITGATE_PORT", "\u0661\u0662", "a whole number from 1 to 65,535"),
    ("CREDITGATE_TOPUP_MAX_CENTS", "12.5", "a whole number from 1,000 to 100,000,000"),
    ("CREDITGATE_TOPUP_MAX_CENTS", "999", "a whole number from 1,000 to 100,000,000"),
    ("CREDITGATE_WORKER_POLL_SECONDS", "nan", "a number of seconds above 0 and at most 3600"),
    ("CREDITGATE_WORKER_POLL_SECONDS", "0", "a number of seconds above 0 and at most 3600"),
    ("CREDITGATE_LIMITS_GROUP_COMMIT", "maybe", "on or off (also true/false, yes/no, 1/0)"),
    ("CREDITGATE_PAYMENT_PROCESSOR", "paypal", "one of sandbox, stripe"),
    ("CREDITGATE_ENV", "prod", "one of production, development"),
    ("CREDITGATE_PUBLIC_BASE_URL", "billing.example", "an http:// or https:// URL (or empty)"),
    ("CREDITGATE_TAX_RATES_FILE", "/no/such/rates.json", "the path of a readable file"),
    ("CREDITGATE_SELLER_NAME", "ACME\nInc", "any text without control characters"),
])
def test_a_bad_value_is_named_with_what_it_accepts(variable: str, value: str,
                                                   accepts: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value).startswith(f"{variable}={value!r} is not accepted: it takes "
                                         f"{accepts}")


def test_every_bad_value_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"CREDITGATE_PORT": "x", "CREDITGATE_AUTH_CACHE_MS": "-1"})
    assert str(refused.value) == (
        "CREDITGATE_PORT='x' is not accepted: it takes a whole number from 1 to 65,535; "
        "CREDITGATE_AUTH_CACHE_MS='-1' is not accepted: it takes a whole number from 0 to "
        "3,600,000")


@pytest.mark.parametrize(("variable", "value"), [
    ("CREDITGATE_DATABASE_URL", "mysql://root:hunter2@db/billing"),
    ("CREDITGATE_STRIPE_API_KEY", "sk_live_hunter2\x00"),
    ("CREDITGATE_SECRET_KEY", "hunter2\n"),
    ("CREDITGATE_DATABASE_READ_URL", "sqlite:///hunter2.db"),
])
def test_a_secret_is_never_echoed(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value).startswith(f"{variable} is not accepted: it takes ")
    assert "hunter2" not in str(refused.value)


def test_stripe_needs_its_key() -> None:
    with pytest.raises(SettingsError, match="CREDITGATE_PAYMENT_PROCESSOR=stripe needs "
                                            "CREDITGATE_STRIPE_API_KEY"):
        Settings.from_env({"CREDITGATE_PAYMENT_PROCESSOR": "Stripe"})
    settings = Settings.from_env({"CREDITGATE_PAYMENT_PROCESSOR": "stripe",
                                  "CREDITGATE_STRIPE_API_KEY": "sk_test_1"})
    assert (settings.payment_processor, settings.stripe_api_key) == ("stripe", "sk_test_1")


def test_a_variable_no_setting_reads_is_pointed_out() -> None:
    environ = {"CREDITGATE_TOPUP_MAX_CENT": "5", "CREDITGATE_PORT": "1",
               "CREDITGATE_TEST_POSTGRES_URL": "postgresql://x", "CREDITGATE_ZZZ": "1",
               "PATH": "/bin"}
    assert unknown_variables(environ) == [
        "CREDITGATE_TOPUP_MAX_CENT (did you mean CREDITGATE_TOPUP_MAX_CENTS?)",
        "CREDITGATE_ZZZ"]


def test_readme_configuration_table_is_the_declaration() -> None:
    spec = importlib.util.spec_from_file_location("gen_settings_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = module.README.read_text()
    assert readme == module.render(readme), "run scripts/gen_settings_docs.py"
    for d in declared():
        assert f"| `{d.variable}` |" in readme


def test_a_service_is_typed_by_its_key_and_a_missing_one_is_named() -> None:
    services = Services()
    key = ServiceKey[list[int]]("numbers")
    with pytest.raises(ServiceMissing, match="service 'numbers' is not provided"):
        services[key]
    assert services.get(key, [0]) == [0] and key not in services
    services.provide(key, [1, 2])
    assert services[key] == [1, 2] and key in services


def test_the_runtime_is_built_with_every_domain_service(runtime: Runtime) -> None:
    from creditgate.accounts.auth import CREDENTIAL_CACHE
    from creditgate.invoices.buyers import BILLING_PROFILES
    from creditgate.invoices.taxes import TAX_RATES
    from creditgate.ledger.routes import PAYMENT_SUMMARY
    from creditgate.limits.committer import COMMITTER
    from creditgate.payments.processor import PAYMENT_PROCESSOR
    from creditgate.usage.pricing import CATALOG
    from creditgate.usage.service import USAGE_LISTENERS

    keys: list[ServiceKey[Any]] = [CREDENTIAL_CACHE, BILLING_PROFILES, TAX_RATES,
                                   PAYMENT_SUMMARY, COMMITTER, PAYMENT_PROCESSOR, CATALOG,
                                   USAGE_LISTENERS]
    assert [key.name for key in keys if key not in runtime.services] == []


def test_a_read_replica_is_of_a_postgresql_primary() -> None:
    primary = "postgresql+psycopg://app@db1/billing"
    replica = "postgresql+psycopg://app@db2/billing"
    with pytest.raises(SettingsError, match="CREDITGATE_DATABASE_READ_URL needs a PostgreSQL "
                                            "CREDITGATE_DATABASE_URL"):
        Settings.from_env({"CREDITGATE_DATABASE_READ_URL": replica})
    settings = Settings.from_env({"CREDITGATE_DATABASE_URL": primary,
                                  "CREDITGATE_DATABASE_READ_URL": f" {replica} "})
    assert (settings.database_url, settings.database_read_url) == (primary, replica)
    assert Settings.from_env({"CREDITGATE_DATABASE_READ_URL": ""}).database_read_url == ""
