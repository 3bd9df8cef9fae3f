"""SQLite WAL checkpoints in the background, not inside a request.

By default SQLite checkpoints in whichever commit pushes the WAL past 1,000 pages: that commit
copies the pages into the database file and fsyncs it, tens to hundreds of milliseconds during
which it holds the writer's turn and, on the event loop, every request of the process. Our
write connections turn that off (`PRAGMA wal_autocheckpoint=0`) and this thread checkpoints
instead, in PASSIVE mode: it never blocks a writer or a reader, and SQLite reuses the WAL from
its start once a checkpoint has caught up. Every process that writes runs one; two at once
simply take turns (a checkpoint that finds another running does nothing).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("creditgate.db")

INTERVAL_SECONDS = 0.2


class Checkpointer:
    def __init__(self, path: str, *, interval_seconds: float = INTERVAL_SECONDS) -> None:
        self.path = path
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="creditgate-sqlite-checkpoint")
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=1, check_same_thread=False,
                               isolation_level=None)
        try:
            while not self._stop.wait(self.interval_seconds):
                self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            # Busy or briefly unavailable: the next round catches up.
            log.debug("WAL checkpoint skipped", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
