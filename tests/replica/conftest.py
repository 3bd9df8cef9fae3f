"""Fixtures: a real primary and streaming replica (tests/replica/cluster.py), and a runtime on
them with CREDITGATE_DATABASE_READ_URL set.

One pair serves the whole session (making it takes seconds). Without PostgreSQL's server
binaries the tests skip, saying so; in CI (CI=true) binaries that exist but cannot make the
pair are a failure, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from creditgate.composition import build_runtime
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.migrations import upgrade
from creditgate.settings import Settings
from tests.conftest import truncate_all
from tests.replica.cluster import Cluster, binaries, new_cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl, "
                    "pg_basebackup) to make a primary and a replica with")
    try:
        made = new_cluster(bin_dir)
    except Exception as exc:
        problem = f"could not make a primary and a replica with {bin_dir}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem}; CI requires it")
        pytest.skip(problem)
    upgrade(made.primary_url)
    yield made
    made.destroy()


@pytest.fixture
def replication(cluster: Cluster) -> Iterator[Cluster]:
    """The pair, emptied, replica running, replaying and caught up; left that way after."""
    truncate_all(cluster.primary_url)
    cluster.catch_up()
    yield cluster
    if not (cluster.root / "replica" / "postmaster.pid").exists():
        cluster.start_replica()
    cluster.resume_replay()
    cluster.catch_up()


@pytest.fixture
def runtime(replication: Cluster, clock: ManualClock) -> Iterator[Runtime]:
    settings = Settings(database_url=replication.primary_url,
                        database_read_url=replication.replica_url)
    runtime = build_runtime(settings, clock)
    yield runtime
    runtime.db.dispose()

