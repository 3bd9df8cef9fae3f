"""SQLite WAL checkpoints happen in a background thread, never inside a writer's commit."""

from __future__ import annotations

import time
from pathlib import Path

from creditgate.kernel.db import Database


def test_writers_never_checkpoint_and_the_background_thread_does(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.write() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
            conn.exec_driver_sql("CREATE TABLE t (x BLOB)")
        for _ in range(30):
            with db.write() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (randomblob(100000))")
        # Only a checkpoint moves the ~3 MB written to the WAL into the database file.
        deadline = time.monotonic() + 10
        while path.stat().st_size < 3_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size >= 3_000_000
    finally:
        db.dispose()


def test_the_wal_stays_small_under_nonstop_writes(tmp_path: Path) -> None:
    """Without the checkpoint under the writer's turn, the WAL never restarts while writes go
    on (it reached 96 MB here for 66 MB written) and grows without end."""
    path = tmp_path / "w.db"
    wal = tmp_path / "w.db-wal"
    db = Database(f"sqlite:///{path}")
    blob = 20_000
    try:
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x BLOB)")
        written = largest = 0
        deadline = time.monotonic() + 60
        while written < 80_000_000 and time.monotonic() < deadline:
            with db.write() as conn:
                conn.exec_driver_sql(f"INSERT INTO t VALUES (randomblob({blob}))")
            written += blob
            largest = max(largest, wal.stat().st_size)
        assert written >= 80_000_000, "too slow to tell"
        # Bounded by what commits in one checkpoint round: ~8 MB here, ~40 MB at worst seen.
        assert largest < 50_000_000, f"the WAL reached {largest / 1e6:.0f} MB"
    finally:
        db.dispose()
