"""Moving a whole ledger between backends (SQLite ⇄ PostgreSQL, or to another ledger of the same kind).

:func:`copy_ledger` copies every row of every server — incidents, speakers, sources, claims and their sources,
the full revision history, settings and markers, pinned-summary tracking, claim vectors — keeping ids (revisions
name rows by id), in one write transaction on the target, then checks that every table holds as many rows on
both sides. The target must be empty. ``claimledger migrate --from PATH_OR_URL --to URL`` is a thin wrapper.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.errors import LedgerError
from bot.store.sqlite import Ledger

# (table, columns in copy order, ORDER BY). Ids are kept, except claim_vectors' (a read cursor, renumbered).
TABLES: list[tuple[str, tuple[str, ...], str]] = [
    ("incidents", ("id", "scope", "slug", "title", "date", "place", "summary", "aliases", "created_at", "updated_at"),
     "id"),
    ("speakers", ("id", "scope", "name", "role", "kind", "aliases", "created_at", "updated_at"), "id"),
    ("sources", ("id", "scope", "url", "title", "publisher"), "id"),
    ("claims", ("id", "scope", "ref", "incident_id", "speaker_id", "text", "quote", "said_at", "said_where", "tags",
                "evidence_status", "evidence_details", "evidence_links", "removed_reason", "created_at",
                "updated_at"), "id"),
    ("claim_sources", ("claim_id", "source_id", "position"), "claim_id, position, source_id"),
    ("revisions", ("id", "scope", "entity", "entity_id", "action", "actor", "at", "old", "new"), "id"),
    ("settings", ("scope", "key", "value"), "scope, key"),
    ("pinned_summaries", ("id", "scope", "incident_id", "channel_id", "message_id", "created_at", "updated_at"), "id"),
    ("claim_vectors", ("claim_id", "scope", "model", "vector"), "id"),
]  # fmt: skip
JSON_TEXT = {("revisions", "old"), ("revisions", "new")}  # kept as written (keys in order)
BATCH = 2_000

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows in the table)


@dataclass
class MigrationReport:
    counts: dict[str, int] = field(default_factory=dict)  # table → rows copied (equal on both sides)

    def describe(self) -> str:
        return ", ".join(f"{n} {table}" for table, n in self.counts.items())


def _is_postgres(ledger: Any) -> bool:
    return not isinstance(ledger, Ledger)


@contextmanager
def _cursor(ledger: Any) -> Iterator[Any]:
    """Something with ``execute`` for raw reads: the SQLite connection, or a PostgreSQL connection."""
    if _is_postgres(ledger):
        with ledger.connection() as conn:
            yield conn
    else:
        yield ledger.conn


def count_rows(ledger: Any) -> dict[str, int]:
    """Rows in each copied table (every server)."""
    with _cursor(ledger) as conn:
        return {table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) for table, _, _ in TABLES}


def _read(ledger: Any, table: str, columns: tuple[str, ...], order: str) -> Iterator[list[tuple[Any, ...]]]:
    """The table's rows in batches, as SQLite holds them (JSON as text, times as ISO text, bytes)."""
    if _is_postgres(ledger):
        from bot.store.pg_compat import stamp

        select = ", ".join(f"{c}::text" if (table, c) in JSON_TEXT else c for c in columns)

        def convert(value: Any) -> Any:
            if isinstance(value, list | dict):
                return json.dumps(value, ensure_ascii=False)
            if isinstance(value, memoryview):
                return bytes(value)
            return stamp(value)

        with ledger.connection() as conn, conn.cursor() as cursor:
            cursor.execute(f"SELECT {select} FROM {table} ORDER BY {order}")
            while rows := cursor.fetchmany(BATCH):
                yield [tuple(convert(v) for v in row) for row in rows]
        return
    cursor = ledger.conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
    while rows := cursor.fetchmany(BATCH):
        yield [tuple(row) for row in rows]


def _write(target: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    names = ", ".join(columns)
    if _is_postgres(target):
        marks = ", ".join("%s" for _ in columns)
        with target.connection() as conn, conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    else:
        marks = ", ".join("?" for _ in columns)
        target.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def copy_ledger(source: Any, target: Any, *, progress: Progress | None = None) -> MigrationReport:
    """Copy every row of ``source`` into the empty ledger ``target`` (either backend), all or nothing; the
    counts of every table are checked afterwards (:class:`LedgerError` when they differ)."""
    before = count_rows(target)
    if any(before.values()):
        busy = ", ".join(f"{n} {t}" for t, n in before.items() if n)
        raise LedgerError(f"The target ledger is not empty ({busy}); migrate only into an empty ledger.")
    expected = count_rows(source)
    with target.transaction():
        for table, columns, order in TABLES:
            done = 0
            if progress:
                progress(table, 0, expected[table])
            for rows in _read(source, table, columns, order):
                _write(target, table, columns, rows)
                done += len(rows)
                if progress:
                    progress(table, done, expected[table])
        if _is_postgres(target):
            with target.connection() as conn:
                for table, columns, _ in TABLES:
                    if columns[0] == "id":
                        conn.execute(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                            f" greatest((SELECT coalesce(max(id), 0) FROM {table}), 1),"
                            f" (SELECT count(*) > 0 FROM {table}))"
                        )
        after = count_rows(target)
        if after != expected:
            wrong = ", ".join(f"{t}: {expected[t]} → {after[t]}" for t in expected if expected[t] != after[t])
            raise LedgerError(f"The copy does not match its source ({wrong}); nothing was written.")
    return MigrationReport(counts=expected)
