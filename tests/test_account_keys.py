"""The static half of the sharding path (docs/scaling.md): every table that grows with usage
carries `account_id` first in its key, so `account_id` can be the distribution column."""

from __future__ import annotations

from creditgate.tables import metadata
from tests.sharding import (
    ACCOUNT_ROW,
    GLOBAL,
    GROWS_WITH_ACCOUNT_ACTIVITY,
    GROWS_WITH_USAGE,
    ONE_PER_ACCOUNT,
    REKEY_BEFORE_SHARDING,
    keyed_by_account,
)

TABLES = {t.name: t for t in metadata.sorted_tables}


def test_every_table_is_classified_once() -> None:
    groups = [GROWS_WITH_USAGE, ONE_PER_ACCOUNT, GROWS_WITH_ACCOUNT_ACTIVITY, GLOBAL,
              frozenset({ACCOUNT_ROW})]
    assert sum(len(g) for g in groups) == len(set().union(*groups))
    # A new table must be placed (and, if it grows with usage, keyed by account).
    assert set().union(*groups) == set(TABLES)


def test_tables_that_grow_with_usage_are_keyed_by_account_first() -> None:
    assert [name for name in sorted(GROWS_WITH_USAGE) if not keyed_by_account(TABLES[name])] \
        == []


def test_per_account_tables_are_keyed_by_account() -> None:
    assert [name for name in sorted(ONE_PER_ACCOUNT)
            if [c.name for c in TABLES[name].primary_key.columns] != ["account_id"]] == []


def test_the_tables_still_to_rekey_are_exactly_the_listed_ones() -> None:
    """The activity tables not keyed by account are listed (and planned in docs/scaling.md);
    re-keying one, or adding one that is not keyed, must update the list and the page."""
    assert {name for name in GROWS_WITH_ACCOUNT_ACTIVITY
            if not keyed_by_account(TABLES[name])} == REKEY_BEFORE_SHARDING
    # Each still reaches its account: an account_id column, or foreign keys to a row with one.
    assert [name for name in sorted(REKEY_BEFORE_SHARDING) if not reaches_account(name)] == []


def reaches_account(name: str) -> bool:
    table = TABLES[name]
    return "account_id" in table.c or any(
        reaches_account(fk.column.table.name) for fk in table.foreign_keys)
