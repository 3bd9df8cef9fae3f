"""A PostgreSQL primary and its streaming replica on free ports of this machine, for the tests.

`initdb` makes a fresh primary (`wal_level=replica`, replication allowed from the loopback),
`pg_basebackup -R` copies it into a second data directory that starts as a hot standby
following it. PostgreSQL refuses to run as root, so under root every server command runs as
the `postgres` user (`runuser`), in a directory that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

DATABASE = "creditgate"
WAIT_S = 60.0  # the longest any start or catch-up may take on a loaded machine
CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 4
hot_standby = on
shared_buffers = 16MB
max_connections = 60
fsync = off
full_page_writes = off
"""


def binaries() -> Path | None:
    """The newest PostgreSQL server's binary directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    for initdb in reversed(found):
        bin_dir = Path(initdb).parent
        if all((bin_dir / tool).exists() for tool in ("pg_ctl", "pg_basebackup", "postgres")):
            return bin_dir
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Poll `condition` (a database state, which nothing can notify us of) until it holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting {timeout_s:.0f} s for {what}")
        time.sleep(0.02)


@dataclass
class Cluster:
    """The primary and the replica, their URLs and the levers the tests pull."""

    bin_dir: Path
    root: Path
    primary_port: int = field(default_factory=free_port)
    replica_port: int = field(default_factory=free_port)
    _engines: dict[str, Engine] = field(default_factory=dict)

    @property
    def primary_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.primary_port}/{DATABASE}"

    @property
    def replica_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.replica_port}/{DATABASE}"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=WAIT_S,
                              check=False, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-800:]}")

    def _pg_ctl(self, name: str, action: str, *extra: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.root / name), "-w", "-t", str(int(WAIT_S)),
                  *extra)

    def create(self) -> None:
        primary = self.root / "primary"
        self._run("initdb", "-D", str(primary), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions")
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(CONF.format(port=self.primary_port, sockets=self.root))
        with open(primary / "pg_hba.conf", "a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self._pg_ctl("primary", "start", "-l", str(self.root / "primary.log"))
        self.sql("primary", f'CREATE DATABASE "{DATABASE}"', database="postgres")
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port),
                  "-U", "postgres", "-D", str(self.root / "replica"), "-R", "-X", "stream",
                  "--checkpoint=fast", "--no-sync")
        with open(self.root / "replica" / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.replica_port}\n")  # the last setting of a name wins
        self.start_replica()

    def start_replica(self) -> None:
        self._pg_ctl("replica", "start", "-l", str(self.root / "replica.log"))
        until(self.streaming, "the replica to stream from the primary")

    def stop_replica(self) -> None:
        engine = self._engines.pop("replica", None)
        if engine is not None:
            engine.dispose()
        self._pg_ctl("replica", "stop", "-m", "fast")

    def engine(self, name: str, database: str = DATABASE) -> Engine:
        key = name if database == DATABASE else f"{name}/{database}"
        if key not in self._engines:
            port = self.primary_port if name == "primary" else self.replica_port
            self._engines[key] = create_engine(
                f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}",
                isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        return self._engines[key]

    def sql(self, name: str, statement: str, database: str = DATABASE) -> object:
        with self.engine(name, database).connect() as conn:
            result = conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None

    def streaming(self) -> bool:
        return self.sql("primary", "SELECT count(*) FROM pg_stat_replication "
                        "WHERE state = 'streaming'", database="postgres") == 1

    def catch_up(self) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        lsn = self.sql("primary", "SELECT pg_current_wal_insert_lsn()")
        until(lambda: bool(self.sql(
            "replica", f"SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '{lsn}') >= 0")),
            f"the replica to replay up to {lsn}")

    def pause_replay(self) -> None:
        """The replica keeps receiving WAL but stops applying it: it lags from here on."""
        self.sql("replica", "SELECT pg_wal_replay_pause()")
        until(lambda: self.sql("replica", "SELECT pg_get_wal_replay_pause_state()") == "paused",
              "the replay to pause")

    def resume_replay(self) -> None:
        self.sql("replica", "SELECT pg_wal_replay_resume()")

    def destroy(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        for name in ("replica", "primary"):
            if (self.root / name / "postmaster.pid").exists():
                self._pg_ctl(name, "stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def new_cluster(bin_dir: Path) -> Cluster:
    """A started primary and replica; the caller destroys it."""
    root = Path(tempfile.mkdtemp(prefix="creditgate-replica-"))
    os.chmod(root, 0o700)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")  # KeyError: no such user, reported by the fixture
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = Cluster(bin_dir, root)
    try:
        cluster.create()
    except BaseException:
        cluster.destroy()
        raise
    return cluster
