"""The claims store: one SQLite file (WAL), scoped rows, typed objects, a revision for every write.

Every method takes the ``scope`` (a Discord guild id as text, or the CLI's default scope)
first, and never reads or writes a row of another scope. A ``Ledger`` owns one connection
and serialises calls on it with a lock, so it may be used from a worker thread; the bot
uses :class:`bot.discord.service.LedgerService`, which keeps one writer and runs every call off
the event loop.

The ledger's logic is in :class:`bot.store.core.LedgerCore`, shared with the PostgreSQL ledger; this module
supplies the connection, its transactions and :class:`SqliteDialect`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.errors import InvalidInputError, LedgerBusyError
from bot.store.base import ChangeCallback, ChangeFeed, NoChanges
from bot.store.core import (
    Dialect,
    LedgerCore,
    claim_record,
    incident_record,
    speaker_record,
)
from bot.store.schema import apply as apply_schema
from bot.store.search import SqliteSearch
from bot.store.vectors import SqliteVectors

log = logging.getLogger(__name__)

DEFAULT_SCOPE = "local"
BUSY_TIMEOUT = 60.0  # seconds a write waits for another process's write to finish

__all__ = ["DEFAULT_SCOPE", "Ledger", "SqliteDialect", "claim_record", "incident_record", "speaker_record"]


class SqliteDialect(Dialect):
    """The core's SQL is SQLite's: ``?`` placeholders, JSON lists as text."""

    claim_sources_scoped = False

    def sql(self, statement: str) -> str:
        return statement

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def json_list_has(self, column: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = ?)"

    def load_json(self, value: Any) -> Any:
        return json.loads(value) if value else None

    def nocase(self, expr: str) -> str:
        return f"{expr} COLLATE NOCASE"

    def equals_nocase(self, expr: str) -> str:
        return f"{expr} = ? COLLATE NOCASE"

    def desc_nulls_last(self, expr: str) -> str:
        return f"{expr} DESC"  # NULL sorts first, so last when descending

    def json_differs(self, left: str, right: str, key: str) -> str:
        return f"json_extract({left}, '$.{key}') IS NOT json_extract({right}, '$.{key}')"

    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        return f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"


class Ledger(LedgerCore):
    """The store API. Construct with :meth:`open` (a file) or :meth:`memory` (tests)."""

    _dialect = SqliteDialect()

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self._lock = threading.RLock()
        self.search = SqliteSearch(self.conn, self._lock)
        self.vectors = SqliteVectors(self.conn, self._lock)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        apply_schema(self.db)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=BUSY_TIMEOUT)
        db = Database(conn)
        db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        return cls(db)

    @classmethod
    def memory(cls) -> Ledger:
        return cls(Database(sqlite3.connect(":memory:", check_same_thread=False)))

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def listen(self, callback: ChangeCallback) -> ChangeFeed:
        """Changes written by other processes: none to tell. A SQLite ledger has one bot process writing it, which
        tells itself of its writes; another process (the command line) shows at the next read, and pinned summaries
        catch up when the bot starts."""
        return NoChanges()

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """All writes inside succeed together or not at all (nests with savepoints).

        The outermost transaction starts as a write (``BEGIN IMMEDIATE``): a writer that finds another process
        writing waits its turn (the busy timeout) instead of failing when a read would upgrade to a write."""
        with self._lock:
            if self.conn.in_transaction:
                with self.db.atomic():
                    yield self
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise LedgerBusyError(
                    "The ledger is busy with another long write (an import?); try again in a minute."
                ) from error
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                try:
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            try:
                cursor = self.conn.execute(sql, params)
            except UnicodeEncodeError:  # a lone surrogate (e.g. "\ud800" in imported JSON) in a lookup key
                raise InvalidInputError("The text holds characters that are not valid Unicode.") from None
            keys = [d[0] for d in cursor.description]
            return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, params)

    def _insert(self, sql: str, params: Sequence[Any]) -> int:
        cursor = self._execute(sql, params)
        assert cursor.lastrowid is not None
        return cursor.lastrowid
