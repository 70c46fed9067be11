"""The claims store: one SQLite file (WAL), scoped rows, typed objects, a revision for every write.

Every method takes the ``scope`` (a Discord guild id as text, or the CLI's default scope)
first, and never reads or writes a row of another scope. A ``Ledger`` owns one connection
and serialises calls on it with a lock, so it may be used from a worker thread; the bot
uses :class:`bot.discord.service.LedgerService`, which keeps one writer and runs every call off
the event loop.
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

import bot.store.clock as clock
from bot.errors import InvalidInputError, LedgerBusyError
from bot.models import Claim
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
from bot.validation import (
    clean_text,
)

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

    # ----------------------------------------------------------------- settings

    def get_setting(self, scope: str, key: str, default: str | None = None) -> str | None:
        rows = self._rows("SELECT value FROM settings WHERE scope = ? AND key = ?", [scope, key])
        return rows[0]["value"] if rows else default

    def set_setting(self, scope: str, key: str, value: str | None, *, actor: str) -> None:
        key = clean_text(key, "setting_key", required=True, multiline=False)
        value = clean_text(value, "setting", multiline=False)
        with self.transaction():
            old = self.get_setting(scope, key)
            if value is None:
                self.db.execute("DELETE FROM settings WHERE scope = ? AND key = ?", [scope, key])
            else:
                self.db.execute(
                    "INSERT INTO settings (scope, key, value) VALUES (?,?,?)"
                    " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                    [scope, key, value],
                )
            self._revise(scope, "setting", 0, "set", actor, {key: old}, {key: value})

    def set_marker(self, scope: str, key: str, value: str) -> None:
        """Bookkeeping the bot keeps per server (such as the last revision posted to the audit channel): stored
        like a setting, but not a change to the ledger, so it leaves no revision."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO settings (scope, key, value) VALUES (?,?,?)"
                " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                [scope, clean_text(key, "setting_key", required=True, multiline=False), value],
            )

    def evidence_change_dates(self, scope: str) -> dict[int, str]:
        """Claim id → date (YYYY-MM-DD) of the last revision that changed its evidence (creation included)."""
        rows = self._rows(
            "SELECT entity_id, max(at) AS at FROM revisions WHERE scope = ? AND entity = 'claim'"
            " AND json_extract(old, '$.evidence') IS NOT json_extract(new, '$.evidence') GROUP BY entity_id",
            [scope],
        )
        return {r["entity_id"]: str(r["at"])[:10] for r in rows}

    def find_claim(
        self, scope: str, *, ref: str | None = None, text: str | None = None, speaker: str = ""
    ) -> Claim | None:
        """The claim with this ref; or, without a ref, the first unreferenced claim with this exact text and
        speaker name (case-insensitive; "" for none). None when there is no such claim."""
        if ref:
            rows = self._rows("SELECT id FROM claims WHERE scope = ? AND ref = ?", [scope, ref])
        elif text:
            rows = self._rows(
                "SELECT c.id FROM claims c LEFT JOIN speakers s ON s.id = c.speaker_id"
                " WHERE c.scope = ? AND c.text = ? AND c.ref IS NULL AND coalesce(s.name, '') = ? COLLATE NOCASE"
                " ORDER BY c.id LIMIT 1",
                [scope, text, speaker],
            )
        else:
            return None
        return self.get_claim(scope, rows[0]["id"]) if rows else None

    # -------------------------------------------------------- pinned summaries

    def add_pinned_summary(self, scope: str, incident: str | int, channel_id: int, message_id: int) -> None:
        incident_id = self.get_incident(scope, incident).id
        now = clock.now()
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO pinned_summaries (scope, incident_id, channel_id, message_id, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?)",
                [scope, incident_id, str(channel_id), str(message_id), now, now],
            )

    def pinned_summaries(self, scope: str, incident: str | int | None = None) -> list[tuple[int, int, int]]:
        """(incident id, channel id, message id) of the summaries pinned in this scope."""
        sql = "SELECT incident_id, channel_id, message_id FROM pinned_summaries WHERE scope = ?"
        params: list[Any] = [scope]
        if incident is not None:
            sql += " AND incident_id = ?"
            params.append(self.get_incident(scope, incident).id)
        return [
            (r["incident_id"], int(r["channel_id"]), int(r["message_id"]))
            for r in self._rows(sql + " ORDER BY id", params)
        ]

    def all_pinned_summaries(self) -> list[tuple[str, int]]:
        """(scope, incident id) of every tracked summary, across scopes (for the bot's start-up refresh)."""
        return [
            (r["scope"], r["incident_id"])
            for r in self._rows("SELECT DISTINCT scope, incident_id FROM pinned_summaries")
        ]

    def forget_pinned_summary(self, scope: str, message_id: int) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "DELETE FROM pinned_summaries WHERE scope = ? AND message_id = ?", [scope, str(message_id)]
            )
        return cursor.rowcount

    def scopes(self) -> list[str]:
        return [r["scope"] for r in self._rows("SELECT DISTINCT scope FROM claims UNION SELECT scope FROM incidents")]

    def is_empty(self, scope: str) -> bool:
        return not self._rows(
            "SELECT 1 FROM claims WHERE scope = ? UNION ALL SELECT 1 FROM incidents WHERE scope = ? LIMIT 1",
            [scope, scope],
        )
