"""Which tables would live where if accounts were spread over several PostgreSQL primaries or
Citus nodes (docs/scaling.md): the classification the sharding tests check."""

from __future__ import annotations

from sqlalchemy import Table, UniqueConstraint

from creditgate.tables import metadata

# Rows per LLM call or per batch of calls: these must be keyed by account first.
GROWS_WITH_USAGE = frozenset({
    "usage_events", "usage_rollups", "usage_daily", "usage_minutes", "usage_spend_hours",
    "usage_spend_days", "authorizations", "ledger_entries",
})
# One row per account (its state beside the account row).
ONE_PER_ACCOUNT = frozenset({"account_limits", "balance_alerts", "billing_profiles",
                             "payment_accounts"})
# Rows per payment, month or notification of an account: they grow with time, not per call.
GROWS_WITH_ACCOUNT_ACTIVITY = frozenset({
    "topups", "topup_keys", "payment_methods", "invoices", "notification_events",
    "webhook_deliveries", "webhook_attempts", "email_deliveries", "jobs", "collections",
    "credit_grants", "credit_draws",
})
# ... of which these are not keyed by account yet: re-keyed before sharding (docs/scaling.md,
# "What is keyed by account, and what is not yet").
REKEY_BEFORE_SHARDING = frozenset({
    "topups", "notification_events", "webhook_deliveries", "webhook_attempts",
    "email_deliveries", "jobs", "collections",
})
# The account row itself (keyed by its id, the account id), and what stays global: the
# directory of credentials and members, operator tables, the processor's inbox, the sandbox
# processor's own state, and the workers' own rows.
ACCOUNT_ROW = "accounts"
GLOBAL = frozenset({
    "api_tokens", "users", "account_members", "operator_tokens", "webhook_endpoints",
    "webhook_events", "sandbox_intents", "server_secrets", "periodic_turns", "worker_heartbeats",
    # Dashboard sign-in: credentials, like api_tokens.
    "dashboard_sessions", "dashboard_links",
})


def keys(table: Table) -> list[list[str]]:
    """The primary key and every unique key, as column name lists."""
    found = [[c.name for c in table.primary_key.columns]]
    found += [[c.name for c in constraint.columns] for constraint in table.constraints
              if isinstance(constraint, UniqueConstraint)]
    found += [[c.name] for c in table.columns if c.unique]
    return [key for key in found if key]


def keyed_by_account(table: Table) -> bool:
    """`account_id` is the first column of its primary key or of a unique key."""
    if table.name == ACCOUNT_ROW:
        return True  # its key, `id`, is the account id
    return any(key[0] == "account_id" for key in keys(table))


def account_keyed_tables() -> set[str]:
    return {t.name for t in metadata.sorted_tables if keyed_by_account(t)}
