"""The connection ``bot.store.bulk`` (set-based imports) talks to, on a PostgreSQL ledger.

``bulk`` reads and writes through ``ledger.conn`` with the SQLite dialect: ``?`` placeholders, ``json_each(?)``
lists, ``COLLATE NOCASE``, ``PRAGMA data_version``, ``PRAGMA defer_foreign_keys``, explicit ids. This adapter
rewrites exactly those constructs into PostgreSQL, runs the statement on the thread's transaction connection (or a
pooled one), keeps identity sequences ahead of explicit ids, and hands rows back as SQLite would (JSON lists as
text, times as ISO text), so the import planner and applier work unchanged on both backends. A construct it does
not know raises :class:`NotImplementedError` naming the statement, never a silent mistranslation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from bot.store.core import stamp

__all__ = ["ID_TABLES", "Column", "CompatConnection", "Result", "stamp", "translate"]

_IN_JSON_LIST = re.compile(r"(\b[\w.]+) IN \(SELECT value FROM json_each\(\?\)\)")
_NOCASE = re.compile(r"(\b[\w.]+) COLLATE NOCASE")
_DATE_DESC = re.compile(r"\bdate DESC\b(?! NULLS)")
_INSERT_WITH_ID = re.compile(r"^\s*INSERT INTO (\w+) \(id,", re.IGNORECASE)
_UNSUPPORTED = ("json_each", "json_extract", "PRAGMA", "INSERT OR", "group_concat", "rowid", "MATCH")
ID_TABLES = frozenset({"incidents", "speakers", "sources", "claims", "revisions", "pinned_summaries"})


def _in_list(match: re.Match[str]) -> str:
    column = match.group(1)
    if column == "id" or column.endswith(("_id", ".id")):
        return f"{column} = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))::bigint[])"
    return f"{column} = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))"


def translate(statement: str) -> str:
    """The PostgreSQL form of one statement of ``bot.store.bulk``."""
    out = _IN_JSON_LIST.sub(lambda m: _in_list(m).replace("%s", "\0"), statement)
    out = _NOCASE.sub(r"lower(\1)", out)
    out = _DATE_DESC.sub("date DESC NULLS LAST", out)
    for word in _UNSUPPORTED:
        if word in out:
            raise NotImplementedError(f"The PostgreSQL ledger cannot run this SQLite statement: {statement}")
    return out.replace("%", "%%").replace("?", "%s").replace("\0", "%s")


def _value(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


class Column(tuple):
    """A column of a result, as ``cursor.description`` gives it (name first)."""


class Result:
    """A fully read result, with the parts of ``sqlite3.Cursor`` that ``bulk`` uses."""

    def __init__(self, names: list[str] | None, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self.description = None if names is None else [Column((n, None, None, None, None, None, None)) for n in names]
        self.rows = rows
        self.rowcount = rowcount
        self.lastrowid = None

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self.rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)


class CompatConnection:
    """``ledger.conn`` of a :class:`PostgresLedger`: just enough of ``sqlite3.Connection`` for ``bot.store.bulk``."""

    def __init__(self, ledger: Any) -> None:  # a bot.store.postgres.PostgresLedger
        self.ledger = ledger

    @property
    def in_transaction(self) -> bool:
        return self.ledger.in_transaction

    @property
    def total_changes(self) -> int:
        return 0  # the data version (``PRAGMA data_version``) alone tells every change, own ones included

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Result:
        text = statement.strip()
        if text.upper() == "PRAGMA DATA_VERSION":
            return Result(["data_version"], [(self.ledger.search.version()[0],)], 1)
        if text.upper().replace(" ", "") == "PRAGMADEFER_FOREIGN_KEYS=ON":
            with self.ledger.connection() as conn:
                conn.execute("SET CONSTRAINTS ALL DEFERRED")
            return Result(None, [], 0)
        query = translate(statement)
        with self.ledger.connection() as conn:
            cursor = conn.execute(query, list(params) or None)
            names = None if cursor.description is None else [d.name for d in cursor.description]
            rows = [tuple(_value(v) for v in row) for row in cursor.fetchall()] if names is not None else []
            rowcount = cursor.rowcount
            self._advance_identity(conn, statement)
        return Result(names, rows, rowcount)

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> Result:
        rows = [list(r) for r in rows]
        if not rows:
            return Result(None, [], 0)
        query = translate(statement)
        with self.ledger.connection() as conn:
            cursor = conn.cursor()
            cursor.executemany(query, rows)
            rowcount = cursor.rowcount
            self._advance_identity(conn, statement)
        return Result(None, [], rowcount)

    def _advance_identity(self, conn: Any, statement: str) -> None:
        """After rows were inserted with explicit ids, the table's identity goes past them."""
        found = _INSERT_WITH_ID.match(statement)
        if found and found.group(1) in ID_TABLES:
            table = found.group(1)
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" greatest((SELECT coalesce(max(id), 0) FROM {table}), 1),"
                f" (SELECT count(*) > 0 FROM {table}))"
            )
