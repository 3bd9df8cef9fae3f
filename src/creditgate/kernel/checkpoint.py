"""SQLite WAL checkpoints in the background, not inside a request, and a WAL that stays small.

By default SQLite checkpoints in whichever commit pushes the WAL past 1,000 pages: that commit
copies the pages into the database file and fsyncs it, tens to hundreds of milliseconds during
which it holds the writer's turn and, on the event loop, every request of the process. Our
write connections turn that off (`PRAGMA wal_autocheckpoint=0`) and this thread checkpoints
instead. Every process that writes runs one; two at once simply take turns (a checkpoint that
finds another running does nothing).

Each round first checkpoints in PASSIVE mode, which blocks nobody and copies the bulk. Under
steady writes that never quite catches up: commits land while it copies, and SQLite starts
writing the WAL from its beginning again only once every frame in it has been copied, so the
WAL would grow without end (measured: 240 MB in 10 s of the authorization benchmark). So a
round repeats the PASSIVE pass a few times (each copies only what committed during the one
before, so they shrink), and if commits still landed, takes the writer's turn for a moment and
copies the rest with no writer running; the next commit then reuses the WAL from its start.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger("creditgate.db")

INTERVAL_SECONDS = 0.2
PASSES_BEFORE_TURN = 3


class Checkpointer:
    def __init__(self, path: str, *, take_turn: Callable[[], object],
                 end_turn: Callable[[], None],
                 interval_seconds: float = INTERVAL_SECONDS) -> None:
        self.path = path
        self.take_turn = take_turn
        self.end_turn = end_turn
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
                self.round(conn)
        finally:
            conn.close()

    def round(self, conn: sqlite3.Connection) -> None:
        # Each pass copies what committed during the one before, so the passes shrink and the
        # one under the writer's turn has little left to copy.
        seen = -1
        for _ in range(PASSES_BEFORE_TURN):
            frames = self.checkpoint(conn)
            if frames in (0, seen):
                return  # nothing committed since the last pass began: every frame is copied
            seen = frames
        self.take_turn()
        try:
            self.checkpoint(conn)
        finally:
            self.end_turn()

    def checkpoint(self, conn: sqlite3.Connection) -> int:
        """One PASSIVE checkpoint; the frames in the WAL (0 also when it could not run)."""
        try:
            busy, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:
            # Briefly unavailable: the next round catches up.
            log.debug("WAL checkpoint skipped", exc_info=True)
            return 0
        # Busy: another process's checkpointer is at it.
        return 0 if busy else max(int(frames), 0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
