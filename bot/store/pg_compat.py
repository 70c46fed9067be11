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
_INSERT_VALUES = re.compile(r"^\s*(INSERT INTO \w+ \([\w, ]+\)) VALUES \(([?, ]+)\)\s*$", re.IGNORECASE)
_DELETE_ONE_KEY = re.compile(r"^\s*(DELETE FROM \w+ WHERE \w+) = \?\s*$", re.IGNORECASE)
_UPDATE_BY_KEY = re.compile(r"^\s*UPDATE (\w+) SET ([\w=?, ]+?) WHERE (\w+ = \?(?: AND \w+ = \?)*)\s*$", re.IGNORECASE)
MAX_PARAMS = 65_535  # bind parameters one PostgreSQL statement can carry
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


def insert_rows(conn: Any, statement: str, rows: Sequence[Sequence[Any]]) -> int:
    """``INSERT INTO t (a, b) VALUES (?, ?)`` (or ``%s``) for every row, as few multi-row statements as the bind
    parameters allow (PostgreSQL assigns each row's values to the columns' types as for a single row)."""
    found = _INSERT_VALUES.match(statement.replace("%s", "?"))
    if found is None:
        raise NotImplementedError(f"Not an insert of one row of values: {statement}")
    width = found.group(2).count("?")
    marks = "(" + ", ".join(["%s"] * width) + ")"
    per_statement = max(1, MAX_PARAMS // max(width, 1))
    count = 0
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        count += conn.execute(
            f"{found.group(1)} VALUES {', '.join([marks] * len(chunk))}", [v for row in chunk for v in row]
        ).rowcount
    return count


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
        self._types: dict[str, dict[str, str]] = {}  # table → column → type, for batched updates

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
        """Every row in as few statements as possible (an insert of many rows, a delete by a list of keys, an
        update joined to a list of rows), so that the schema's statement triggers (full text, document
        frequencies, data version, change notices) run once per statement instead of once per row; a statement
        of another form runs once per row."""
        values = [list(r) for r in rows]
        if not values:
            return Result(None, [], 0)
        translate(statement)  # refuses what it cannot run
        with self.ledger.connection() as conn:
            if _INSERT_VALUES.match(statement):
                rowcount = insert_rows(conn, statement, values)
            elif (found := _DELETE_ONE_KEY.match(statement)) and all(len(r) == 1 for r in values):
                rowcount = conn.execute(f"{found.group(1)} = ANY(%s)", [[r[0] for r in values]]).rowcount
            elif (update := self._update_statement(conn, statement, values)) is not None:
                rowcount = 0
                for query, params in update:
                    rowcount += conn.execute(query, params).rowcount
            else:
                cursor = conn.cursor()
                cursor.executemany(translate(statement), values)
                rowcount = cursor.rowcount
            self._advance_identity(conn, statement)
        return Result(None, [], rowcount)

    def _update_statement(self, conn: Any, statement: str, rows: list[list[Any]]) -> list[tuple[str, list[Any]]] | None:
        """``UPDATE t SET a=?, b=? WHERE id = ? AND scope = ?`` over many rows as ``UPDATE … FROM (VALUES …)``
        statements, each value cast to its column's type; None when the statement has another form or two rows
        name the same keys (then each row is its own statement, applied in order)."""
        found = _UPDATE_BY_KEY.match(statement)
        if found is None:
            return None
        table = found.group(1)
        sets = [part.split("=")[0].strip() for part in found.group(2).split(",")]
        if any(part.split("=")[1].strip() != "?" for part in found.group(2).split(",")):
            return None
        keys = [part.split("=")[0].strip() for part in found.group(3).split(" AND ")]
        columns = [*sets, *keys]
        if len(set(columns)) != len(columns) or any(len(r) != len(columns) for r in rows):
            return None
        if len({tuple(r[len(sets) :]) for r in rows}) != len(rows):
            return None
        types = self._column_types(conn, table)
        if any(c not in types for c in columns):
            return None
        names = [f"v{i}" for i in range(len(columns))]
        assign = ", ".join(f"{c} = v.{n}::{types[c]}" for c, n in zip(sets, names, strict=False))
        match = " AND ".join(f"t.{c} = v.{n}::{types[c]}" for c, n in zip(keys, names[len(sets) :], strict=True))
        marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
        out: list[tuple[str, list[Any]]] = []
        per_statement = max(1, MAX_PARAMS // len(columns))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            out.append(
                (
                    f"UPDATE {table} AS t SET {assign} FROM (VALUES {', '.join([marks] * len(chunk))})"
                    f" AS v({', '.join(names)}) WHERE {match}",
                    [value for row in chunk for value in row],
                )
            )
        return out

    def _column_types(self, conn: Any, table: str) -> dict[str, str]:
        """Column name → its SQL type (as ``format_type`` writes it) of a table of the ledger's schema."""
        cache = self._types
        if table not in cache:
            rows = conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            ).fetchall()
            cache[table] = {str(name): str(kind) for name, kind in rows}
        return cache[table]

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
