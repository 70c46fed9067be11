"""Moving a whole ledger between backends (SQLite ⇄ PostgreSQL, or to another ledger of the same kind).

:func:`copy_ledger` copies every row of every server — incidents, speakers, sources, claims and their sources,
the full revision history, settings and markers, pinned-summary tracking, claim vectors — keeping ids (revisions
name rows by id), in one write transaction on the target, then checks that every table holds as many rows on
both sides and the claims, revisions, speakers and incidents of every server. The target must be empty, unless
``replace`` is given: then its rows are deleted in the same transaction, so a failed copy leaves it as it was.

:func:`migrate_ledger` (behind ``claimledger migrate --from PATH_OR_URL --to PATH_OR_URL``) opens both ends from
their locations, refuses bad ones (a missing or empty source, an unreachable server, the same ledger twice, a
target that is not empty unless ``force``) with one sentence, and copies with a single progress count.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

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
PER_SCOPE = ("claims", "revisions", "speakers", "incidents")  # counted server by server as well
PROBE_TIMEOUT = 5  # seconds to reach a PostgreSQL server before saying it is unreachable

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows in the table)
Overall = Callable[[int, int], None]  # (rows copied, rows in all): a ProgressBar
ScopeCounts = dict[str, dict[str, int]]  # scope → {claims, revisions, speakers, incidents}


@dataclass
class MigrationReport:
    counts: dict[str, int] = field(default_factory=dict)  # table → rows copied (equal on both sides)
    scopes: ScopeCounts = field(default_factory=dict)  # per server (equal on both sides)
    replaced: dict[str, int] = field(default_factory=dict)  # table → rows the target held before (replace=True)
    source: str = ""  # the locations, as given (without a password), when known
    target: str = ""

    def describe(self) -> str:
        return ", ".join(f"{n} {table}" for table, n in self.counts.items())

    def table(self) -> list[str]:
        """The per-server counts as aligned text lines (a header, one line a server, a total)."""
        head = ["server", *PER_SCOPE]
        rows = [[scope, *(str(n[k]) for k in PER_SCOPE)] for scope, n in self.scopes.items()]
        rows.append(["total", *(str(sum(n[k] for n in self.scopes.values())) for k in PER_SCOPE)])
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = []
        for row in [head, *rows]:
            cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
            lines.append("  ".join(cells))
        return lines


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


def scope_counts(ledger: Any) -> ScopeCounts:
    """Claims (removed ones too), revisions, speakers and incidents of each server, servers in order."""
    counts: ScopeCounts = {}
    with _cursor(ledger) as conn:
        for table in PER_SCOPE:
            for scope, n in conn.execute(f"SELECT scope, count(*) FROM {table} GROUP BY scope").fetchall():
                counts.setdefault(str(scope), dict.fromkeys(PER_SCOPE, 0))[table] = int(n)
    return dict(sorted(counts.items()))


def _clear(target: Any) -> dict[str, int]:
    """Delete every copied row of ``target`` (inside the caller's transaction); the rows it held, by table."""
    held = count_rows(target)
    with _cursor(target) as conn:
        for table, _, _ in reversed(TABLES):  # referencing tables first
            conn.execute(f"DELETE FROM {table}")
    return held


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
        from bot.store.pg_compat import insert_rows

        marks = ", ".join("%s" for _ in columns)
        with target.connection() as conn:  # many rows a statement: the schema's statement triggers run once
            insert_rows(conn, f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    else:
        marks = ", ".join("?" for _ in columns)
        target.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def copy_ledger(
    source: Any, target: Any, *, progress: Progress | None = None, replace: bool = False
) -> MigrationReport:
    """Copy every row of ``source`` into the empty ledger ``target`` (either backend), all or nothing; the
    counts of every table, and of each server's claims, revisions, speakers and incidents, are checked before
    the commit (:class:`LedgerError` when they differ). With ``replace`` a target that holds rows is emptied
    first, in the same transaction."""
    if not replace:
        before = count_rows(target)
        if any(before.values()):
            busy = ", ".join(f"{n} {t}" for t, n in before.items() if n)
            raise LedgerError(f"The target ledger is not empty ({busy}); migrate only into an empty ledger.")
    expected = count_rows(source)
    expected_scopes = scope_counts(source)
    replaced: dict[str, int] = {}
    with target.transaction():
        if replace:
            replaced = _clear(target)
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
        after_scopes = scope_counts(target)
        if after_scopes != expected_scopes:
            scopes = sorted(set(expected_scopes) | set(after_scopes))
            wrong = ", ".join(f"server {s}" for s in scopes if expected_scopes.get(s) != after_scopes.get(s))
            raise LedgerError(f"The copy does not match its source ({wrong}); nothing was written.")
    return MigrationReport(counts=expected, scopes=expected_scopes, replaced=replaced)


# ------------------------------------------------------------------ opening both ends (the command line)


def _sqlite_path(location: str | Path) -> Path | None:
    """The file of a SQLite location (a path or ``sqlite:///path``); None for a PostgreSQL URL."""
    if isinstance(location, Path):
        return location
    if location.startswith(("postgresql://", "postgres://")):
        return None
    return Path(location.removeprefix("sqlite:///") if location.startswith("sqlite:///") else location)


def _postgres_identity(url: str) -> tuple[str, str, str, str]:
    """(host, port, database, schema) of a PostgreSQL URL, with libpq's defaults filled in."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    host = (parts.hostname or query.get("host") or "localhost").lower()
    if host in ("127.0.0.1", "::1", "localhost") or host.startswith("/"):
        host = "localhost"  # the same server, by TCP or by its socket
    port = str(parts.port or query.get("port") or 5432)
    user = parts.username or query.get("user") or os.environ.get("PGUSER") or ""
    database = parts.path.lstrip("/") or query.get("dbname") or user
    return host, port, database, query.get("schema") or "public"


def describe_location(location: str | Path) -> str:
    """The location as the user gave it, without a password."""
    path = _sqlite_path(location)
    if path is not None:
        return str(path)
    parts = urlsplit(str(location))
    if parts.password is None:
        return str(location)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def same_location(one: str | Path, other: str | Path) -> bool:
    """Whether two locations name the same ledger (the same file, or the same database and schema)."""
    first, second = _sqlite_path(one), _sqlite_path(other)
    if first is not None and second is not None:
        if first.exists() and second.exists():
            return first.samefile(second)
        return first.resolve() == second.resolve()
    if first is None and second is None:
        return _postgres_identity(str(one)) == _postgres_identity(str(other))
    return False


def _open_postgres(url: str) -> Any:
    """Open the PostgreSQL ledger at ``url``, after checking quickly that its server answers."""
    try:
        import psycopg

        from bot.store.postgres import PostgresLedger, split_url
    except ImportError:
        raise LedgerError(
            "PostgreSQL needs the postgres extra (pip install -e '.[postgres]'), which is not installed."
        ) from None
    where = describe_location(url)
    try:
        with psycopg.connect(split_url(url)[0], connect_timeout=PROBE_TIMEOUT, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as error:  # psycopg.Error mostly; whatever it is, the server cannot be used
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise LedgerError(f"Cannot reach the PostgreSQL server of {where}: {first.rstrip('.')}.") from None
    return PostgresLedger.open(url)


def open_source(location: str | Path) -> Any:
    """The ledger to copy from; it must exist (a SQLite file is never created here) and hold something."""
    path = _sqlite_path(location)
    if path is None:
        ledger = _open_postgres(str(location))
    else:
        if path.is_dir():
            raise LedgerError(f"The source {path} is a folder, not a ledger file.")
        if not path.exists():
            raise LedgerError(f"The source ledger {path} does not exist.")
        try:
            ledger = Ledger.open(path)
        except sqlite3.Error as error:
            raise LedgerError(f"The source {path} is not a Claim Ledger database ({error}).") from None
    if not any(count_rows(ledger).values()):
        ledger.close()
        raise LedgerError(f"The source ledger {describe_location(location)} is empty; there is nothing to migrate.")
    return ledger


@contextmanager
def open_target(location: str | Path) -> Iterator[Any]:
    """The ledger to copy into, created if it does not exist; a SQLite file created here is removed again when
    the migration fails."""
    path = _sqlite_path(location)
    if path is None:
        with _open_postgres(str(location)) as ledger:
            yield ledger
        return
    if path.is_dir():
        raise LedgerError(f"The target {path} is a folder; give the path of a ledger file.")
    if not path.parent.is_dir():
        raise LedgerError(f"The folder {path.parent} does not exist; create it first, or choose another target.")
    is_new = not path.exists()
    try:
        ledger = Ledger.open(path)
    except sqlite3.Error as error:
        if is_new:
            _remove_sqlite(path)
        raise LedgerError(f"The target {path} is not a Claim Ledger database ({error}).") from None
    try:
        with ledger:
            yield ledger
    except BaseException:
        if is_new:
            _remove_sqlite(path)
        raise


def _remove_sqlite(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)


def migrate_ledger(
    source: str | Path, target: str | Path, *, force: bool = False, progress: Overall | None = None
) -> MigrationReport:
    """Copy the ledger at ``source`` into the one at ``target`` (SQLite paths or PostgreSQL URLs, created when
    missing). A target that holds rows is refused unless ``force``, which replaces them in the same transaction."""
    source_name, target_name = describe_location(source), describe_location(target)
    if same_location(source, target):
        raise LedgerError(f"The source and the target are the same ledger ({source_name}); choose another --to.")
    with open_source(source) as reader, open_target(target) as writer:
        held = count_rows(writer)
        if any(held.values()) and not force:
            raise LedgerError(
                f"The target {target_name} is not empty ({held['claims']} claims, {sum(held.values())} rows in all);"
                " choose an empty target, or add --force to replace everything it holds."
            )
        totals = count_rows(reader)
        offsets, overall = {}, 0
        for table, _, _ in TABLES:
            offsets[table], overall = overall, overall + totals[table]

        def step(table: str, done: int, _rows: int) -> None:
            if progress is not None:
                progress(offsets[table] + done, overall)

        report = copy_ledger(reader, writer, progress=step, replace=force)
    report.source, report.target = source_name, target_name
    return report
