"""Every CREDITGATE_* setting, typed, parsed and checked once at start-up.

A field is one environment variable: `topup_max_cents` is `CREDITGATE_TOPUP_MAX_CENTS`. Its
kind (settings/kinds.py) parses the text and says what it accepts; a bad value stops the start
with a message naming the variable (`SettingsError`). README's configuration table is
generated from these declarations (scripts/gen_settings_docs.py) and tested against them.

The settings are the lowest layer: they import nothing of creditgate, so every domain's
settings live here, grouped by the domain that reads them.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, TypeVar

from creditgate.settings import kinds
from creditgate.settings.kinds import Kind

T = TypeVar("T")
PREFIX = "CREDITGATE_"
# CREDITGATE_* variables that other programs read, not the server: the test suite's and the
# gateway plugin's. They are not reported as unknown.
READ_ELSEWHERE = frozenset({
    "CREDITGATE_TEST_POSTGRES_URL", "CREDITGATE_FUZZ_EXAMPLES", "CREDITGATE_API_URL",
    "CREDITGATE_API_TOKEN", "CREDITGATE_ACCOUNT_ID", "CREDITGATE_FAIL_MODE",
})


class SettingsError(ValueError):
    """A setting's value cannot be used; the message names the variable and what it accepts."""


def setting(default: T, kind: Kind[T], doc: str, *, shown: str | None = None) -> T:
    """A field of `Settings`: its default, its kind, and its README line (`shown`: the default
    as the README writes it, when the value itself would mislead)."""
    metadata = {"kind": kind, "doc": doc, "shown": shown}
    result: T = field(default=default, metadata=metadata)
    return result


@dataclass(frozen=True)
class Declared:
    """One setting as the README lists it."""

    variable: str
    default: str
    accepts: str
    doc: str


@dataclass(frozen=True)
class Settings:
    # --- server and storage (kernel) ---
    database_url: str = setting(
        "sqlite:///./creditgate.db", kinds.database_url(),
        "SQLAlchemy URL of the database; PostgreSQL: `postgresql+psycopg://user@host/db`")
    database_read_url: str = setting(
        "", kinds.replica_url(),
        "SQLAlchemy URL of a streaming replica of the PostgreSQL database: usage history, "
        "reports, transactions and invoices read there, money decisions never; unset: all "
        "reads on the primary; unreachable or lagging: reads fall back to the primary "
        "(docs/scaling.md, \"Read replicas\")")
    database_read_max_lag_seconds: float = setting(
        30.0, kinds.seconds(Decimal(0), Decimal(86_400)),
        "a read replica further behind than this many seconds is not read: its reads go to "
        "the primary until it catches up (checked at most once a second per process)")
    sqlite_synchronous: str = setting(
        "FULL", kinds.choice("OFF", "NORMAL", "FULL", "EXTRA", upper=True),
        "SQLite durability: `FULL` survives power loss, `NORMAL` survives process crashes only "
        "(docs/operations.md)")
    host: str = setting("127.0.0.1", kinds.text(), "address `serve` listens on")
    port: int = setting(8787, kinds.integer(1, 65535), "port `serve` listens on")
    max_body_bytes: int = setting(8 * 1024 * 1024, kinds.integer(1024, 1 << 30),
                                  "larger request bodies get 413 (code 1008)")
    worker_poll_seconds: float = setting(0.5, kinds.seconds(Decimal(0), Decimal(3600)),
                                         "how often an idle worker looks for jobs")
    public_base_url: str = setting(
        "", kinds.http_url(empty_allowed=True),
        "base of the links creditgate hands out (invoice PDFs)", shown="`http://HOST:PORT`")
    secret_key: str = setting(
        "", kinds.text(secret=True),
        "signs links (invoice PDFs). Unset or empty: a random key generated on the first start "
        "and kept in the database (table `server_secrets`), shared by every process on it; a "
        "warning says so. The old development value `dev-insecure-secret-change-me` stops "
        "`serve` and `worker` unless `CREDITGATE_ENV=development` (docs/operations.md)",
        shown="generated")
    env: str = setting(
        "production", kinds.choice("production", "development"),
        "`development` allows the development secret key and silences the warning about a "
        "generated one")
    # --- observability (kernel/logs.py, observability/) ---
    log_format: str = setting(
        "text", kinds.choice("text", "json"),
        "server logs: `text` lines or `json`, one object per line (docs/operations.md)")
    log_level: str = setting(
        "info", kinds.choice("debug", "info", "warning", "error"),
        "the least severe log lines written; `info` includes an access line per request")
    metrics_token: str = setting(
        "", kinds.text(secret=True),
        "when set, `GET /metrics` requires `Authorization: Bearer <token>`", shown="none")
    # --- worker ---
    worker_heartbeat_max_age_seconds: int = setting(
        60, kinds.integer(10, 86400),
        "`/readyz` answers 503 when no worker's heartbeat (written every 5 s) is younger than "
        "this many seconds")
    jobs_retention_days: int = setting(
        30, kinds.days_or_never(1, 36_500),
        "finished (`done`) outbox jobs older than this many days are deleted by the worker "
        "(failed jobs are kept for an operator)")
    retention_every_seconds: int = setting(
        3600, kinds.integer(60, 7 * 86400),
        "how often the worker prunes rows past their retention age, in seconds")
    retention_batch_rows: int = setting(
        5000, kinds.integer(100, 100_000),
        "rows deleted per transaction when pruning (short transactions, no long locks)")
    # --- accounts ---
    auth_cache_ms: int = setting(
        1000, kinds.integer(0, 3_600_000),
        "how long a verified credential is trusted without a database read, in milliseconds "
        "(a revoked token stops working within this time; `0` turns it off)")
    # --- limits ---
    authorization_ttl_seconds: int = setting(
        600, kinds.integer(1, 86400),
        "default lifetime of a hold, in seconds (a request's `ttl` may set 1 to 86400)")
    limits_group_commit: bool = setting(
        True, kinds.switch(),
        "decide concurrent authorizations of a process in one transaction (`off`: one each)",
        shown="`on`")
    block_past_due: bool = setting(
        True, kinds.switch(),
        "refuse new authorizations (402, code 2009) of an account whose usage statement went "
        "uncollectible, until it is paid (docs/payments.md, \"Collection\")", shown="`on`")
    authorizations_retention_days: int = setting(
        30, kinds.days_or_never(1, 36_500),
        "finished holds (captured, voided, expired) are deleted this many days after they "
        "finished")
    # --- usage ---
    usage_events_retention_days: int = setting(
        90, kinds.days_or_never(36, 36_500),
        "raw usage events are deleted this many days after they were received, once their "
        "billing month is closed; at least 36, so an event old enough to be deleted is also "
        "too old (35 days) to be accepted again (the rollups keep history, statements and "
        "reports)")
    # --- invoices ---
    tax_rates_file: str = setting(
        "", kinds.readable_file(empty_allowed=True),
        "JSON file of the tax rate per billing country (docs/invoices.md)",
        shown="packaged `invoices/tax_rates.json`")
    invoice_pdf_link_ttl_seconds: int = setting(
        7 * 24 * 3600, kinds.integer(60, 366 * 24 * 3600),
        "how long an invoice PDF link works, in seconds")
    invoice_close_every_seconds: int = setting(
        60, kinds.integer(1, 86400), "how often the worker looks for months to close, in seconds")
    invoice_close_batch: int = setting(
        50, kinds.integer(1, 10_000), "accounts closed per transaction when a month closes")
    seller_name: str = setting("creditgate", kinds.text(), "seller on invoice PDFs")
    seller_address: str = setting(
        "", kinds.text(), "seller's address on invoice PDFs, lines separated by `|`",
        shown="none")
    seller_email: str = setting("", kinds.text(), "seller's email on invoice PDFs", shown="none")
    seller_tax_id: str = setting("", kinds.text(), "seller's tax id on invoice PDFs",
                                 shown="none")
    # --- dashboard ---
    dashboard_session_seconds: int = setting(
        12 * 3600, kinds.integer(300, 30 * 24 * 3600),
        "how long a dashboard or operator console sign-in lasts, in seconds")
    dashboard_link_seconds: int = setting(
        900, kinds.integer(60, 7 * 24 * 3600),
        "how long a one-time sign-in link of `creditgate dashboard link` works, in seconds")
    stripe_publishable_key: str = setting(
        "", kinds.text(),
        "Stripe publishable key (`pk_…`): with the `stripe` processor the dashboard's top-up "
        "page then confirms cards with Stripe's Payment Element", shown="none")
    # --- reporting ---
    focus_provider_name: str = setting("creditgate", kinds.text(),
                                       "`ProviderName` in FOCUS data")
    focus_invoice_issuer_name: str = setting("", kinds.text(),
                                             "`InvoiceIssuerName` in FOCUS data",
                                             shown="the provider name")
    # --- payments ---
    payment_processor: str = setting(
        "sandbox", kinds.choice("sandbox", "stripe"),
        "`sandbox` (offline test cards) or `stripe` (needs `CREDITGATE_STRIPE_API_KEY`)")
    stripe_api_key: str = setting("", kinds.text(secret=True), "Stripe secret key (`sk_…`)",
                                  shown="none")
    stripe_webhook_secret: str = setting(
        "", kinds.text(secret=True),
        "Stripe webhook signing secret (`whsec_…`); without it `/webhooks/stripe` refuses "
        "every event", shown="none")
    stripe_api_base: str = setting(
        "", kinds.http_url(empty_allowed=True),
        "another Stripe-compatible API (the tests use localstripe)", shown="Stripe's")
    topup_max_cents: int = setting(
        100_000, kinds.integer(1000, 100_000_000),
        "largest top-up, auto top-up amount and auto top-up threshold, in cents (the minimum "
        "top-up is 1000)")
    auto_topup_daily_max: int = setting(
        5, kinds.integer(0, 1000), "auto top-ups per account per UTC day, against runaways")
    topup_credit_expiry_days: int = setting(
        0, kinds.integer(0, 36_600),
        "the credit of a top-up (manual or auto) expires this many days after it is credited "
        "(docs/ledger.md); `0`: never", shown="`0` (never)")
    topup_duplicate_window_seconds: int = setting(
        60, kinds.integer(0, 86400),
        "a top-up without an idempotency key repeating a pending one (same amount) within this "
        "many seconds answers the first (`0`: off)")
    collection_retry_days: tuple[int, ...] = setting(
        (1, 3, 7), kinds.day_offsets(1, 60, most=10),
        "when a usage statement's charge fails, retry it this many days after the previous "
        "attempt, in order; after the last failure the statement is `uncollectible` and the "
        "account past due", shown="`1,3,7`")

    webhook_inbox_retention_days: int = setting(
        30, kinds.days_or_never(7, 36_500),
        "processed processor webhook events (the inbox) are deleted this many days after they "
        "were handled; at least 7, longer than Stripe retries an event (3 days)")
    # --- notifications ---
    low_balance_threshold_cents: int = setting(
        500, kinds.integer(0, 100_000_000),
        "`balance.low` is sent when an account's balance goes below this many cents, unless "
        "the account set its own (`PUT …/billing/alerts`); `0`: off")
    webhooks_allow_private: bool = setting(
        False, kinds.switch(),
        "allow webhook URLs on loopback, private and link-local addresses (development and "
        "tests only: otherwise they are refused, against request forgery)")
    webhooks_timeout_seconds: int = setting(
        10, kinds.integer(1, 60), "how long a webhook receiver or SMTP server may take, in "
        "seconds")
    webhooks_disable_after_days: int = setting(
        3, kinds.integer(1, 60),
        "a webhook endpoint whose deliveries have all failed for this many days is disabled "
        "(a delivery is retried for about 3.6 days)")
    smtp_host: str = setting("", kinds.text(), "SMTP server for event emails; unset: no email",
                             shown="none")
    smtp_port: int = setting(587, kinds.integer(1, 65535), "SMTP port")
    smtp_tls: str = setting("starttls", kinds.choice("starttls", "ssl", "none"),
                            "`starttls`, `ssl` (implicit TLS, port 465) or `none` (loopback)")
    smtp_user: str = setting("", kinds.text(), "SMTP user name; unset: no login", shown="none")
    smtp_password: str = setting("", kinds.text(secret=True), "SMTP password", shown="none")
    smtp_sender: str = setting("creditgate@localhost", kinds.text(),
                               "`From` address of event emails")

    def __post_init__(self) -> None:
        if self.database_read_url and not self.database_url.startswith("postgresql"):
            raise SettingsError("CREDITGATE_DATABASE_READ_URL needs a PostgreSQL "
                                "CREDITGATE_DATABASE_URL (a replica of it)")
        if self.payment_processor == "stripe" and not self.stripe_api_key:
            raise SettingsError("CREDITGATE_PAYMENT_PROCESSOR=stripe needs "
                                "CREDITGATE_STRIPE_API_KEY (the Stripe secret key, sk_…)")

    @property
    def base_url(self) -> str:
        """Where links point: CREDITGATE_PUBLIC_BASE_URL, else this server's own address
        (`serve --host/--port` set CREDITGATE_HOST/PORT for its API processes). A wildcard
        address (every interface) names no host a client can reach, so links then name the
        loopback; set CREDITGATE_PUBLIC_BASE_URL on such a server."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse every setting from the environment; all bad values are named at once."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            variable = PREFIX + f.name.upper()
            if variable not in environ:
                continue
            kind: Kind[Any] = f.metadata["kind"]
            raw = environ[variable]
            try:
                values[f.name] = kind.parse(raw)
            except ValueError as exc:
                shown = variable if kind.secret else f"{variable}={raw!r}"
                problems.append(f"{shown} is not accepted: it takes {exc}")
        if problems:
            raise SettingsError("; ".join(problems))
        return cls(**values)


def declared() -> Iterator[Declared]:
    """Every setting, in declaration order, as README's configuration table shows it."""
    for f in fields(Settings):
        shown = f.metadata["shown"] or f"`{f.default}`"
        if isinstance(f.default, bool) and f.metadata["shown"] is None:
            shown = "`on`" if f.default else "`off`"
        yield Declared(PREFIX + f.name.upper(), shown, f.metadata["kind"].accepts,
                       f.metadata["doc"])


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """CREDITGATE_* variables that no setting reads, each with the likely intended one."""
    environ = os.environ if environ is None else environ
    known = [d.variable for d in declared()]
    notes = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in known or name in READ_ELSEWHERE:
            continue
        # Compared without the prefix, which every name shares.
        close = difflib.get_close_matches(name.removeprefix(PREFIX),
                                          [k.removeprefix(PREFIX) for k in known], n=1,
                                          cutoff=0.8)
        notes.append(f"{name} (did you mean {PREFIX}{close[0]}?)" if close else name)
    return notes
