"""Backups of the ledger file with SQLite's online backup API: safe while the bot runs and writes.

``backup`` copies one consistent snapshot of the live ledger (a WAL reader never blocks the writer) into a
temporary file next to the destination, checks the copy, then renames it into place: a backup file is
either whole and checked, or absent. ``restore`` checks a backup before it touches anything, refuses to
replace an existing ledger unless forced, and refuses a ledger that another process (the bot) has open.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from bot.errors import LedgerError
from bot.store.schema import migrations

SIDE_FILES = ("-wal", "-shm", "-journal")

# Each schema object (type, name) of a ledger, and for tables and views their columns (name, type, notnull, pk).
Schema = dict[tuple[str, str], frozenset[tuple[str, str, int, int]]]


@dataclass(frozen=True)
class BackupInfo:
    """What a backup (or a restored ledger) holds."""

    path: Path
    size: int  # bytes
    claims: int  # every claim, removed ones included
    removed: int
    scopes: int  # server ledgers with at least one claim

    def describe(self) -> str:
        servers = f"{self.scopes} server ledger" + ("" if self.scopes == 1 else "s")
        return f"{self.claims} claims ({self.removed} removed) in {servers}, {_size(self.size)}"


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(size / 1024, 0.1):.0f} KiB"


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))


def known_migrations() -> list[str]:
    """The names of the migrations this version knows, in the order they apply (``bot.store.schema``)."""
    db = Database(memory=True)
    try:
        return [m.name for m in migrations.pending(db)]
    finally:
        db.close()


def _schema(conn: sqlite3.Connection) -> Schema:
    objects = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND tbl_name != ?",
        [migrations.migrations_table],
    ).fetchall()
    return {
        (kind, name): frozenset(
            conn.execute('SELECT name, type, "notnull", pk FROM pragma_table_xinfo(?)', [name]).fetchall()
            if kind in ("table", "view")
            else ()
        )
        for kind, name in objects
    }


@functools.cache
def _expected_schema(applied: int) -> Schema:
    """The schema a ledger has after the first ``applied`` migrations (made in memory from the migrations)."""
    db = Database(memory=True)
    try:
        names = known_migrations()
        migrations.apply(db, stop_before=names[applied:])
        return _schema(db.conn)
    finally:
        db.close()


def _applied_migrations(conn: sqlite3.Connection, path: Path) -> int:
    """How many of the known migrations the database at ``path`` records; refuses a database whose record is
    missing, is not a prefix of the known migrations, or names migrations this version does not know (newer)."""
    table = migrations.migrations_table
    columns = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", [table])}
    if not {"migration_set", "name"} <= columns:
        raise LedgerError(
            f"{path} is an SQLite database but not a Claim Ledger ledger: it has no record of the ledger's migrations."
        )
    recorded = [
        row[0]
        for row in conn.execute(f'SELECT name FROM "{table}" WHERE migration_set = ? ORDER BY rowid', [migrations.name])
    ]
    known = known_migrations()
    if unknown := [name for name in recorded if name not in known]:
        raise LedgerError(
            f"{path} comes from a newer version of Claim Ledger (this version does not know its migration"
            f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}); upgrade Claim Ledger, then restore it."
        )
    if not recorded or sorted(recorded) != sorted(known[: len(recorded)]):
        missing = [name for name in known[: max(len(recorded), 1)] if name not in recorded]
        raise LedgerError(
            f"{path} is an SQLite database but not a Claim Ledger ledger: its record of the ledger's migrations"
            f" lacks {', '.join(missing)}."
        )
    return len(recorded)


def _check_schema(conn: sqlite3.Connection, path: Path, applied: int) -> None:
    """The database must hold every table, view, index and trigger (and every column) that its recorded
    migrations make."""
    actual = _schema(conn)
    for (kind, name), columns in sorted(_expected_schema(applied).items()):
        if (kind, name) not in actual:
            problem = f"it has no {kind} {name}"
        elif missing := sorted(columns - actual[kind, name]):
            problem = f"its {kind} {name} lacks the column{'s' if len(missing) > 1 else ''} " + ", ".join(
                column[0] for column in missing
            )
        else:
            continue
        raise LedgerError(f"{path} is an SQLite database but not a Claim Ledger ledger: {problem}.")


def check(path: Path) -> BackupInfo:
    """Open ``path`` read-only; it must pass ``PRAGMA integrity_check``, record a prefix of the ledger's
    migrations (an older ledger gets the rest when it is opened; a newer one is refused) and hold the schema they
    make."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise LedgerError(f"{path} cannot be opened as an SQLite database: {error}.") from None
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise LedgerError(f"{path} fails SQLite's integrity check: {result}.")
        _check_schema(conn, path, _applied_migrations(conn, path))
        claims, removed, scopes = conn.execute(
            "SELECT count(*), count(removed_reason), count(DISTINCT scope) FROM claims"
        ).fetchone()
    except sqlite3.DatabaseError as error:
        raise LedgerError(f"{path} is not a readable SQLite database: {error}.") from None
    finally:
        conn.close()
    return BackupInfo(path=path, size=path.stat().st_size, claims=claims, removed=removed, scopes=scopes)


def _copy(source_uri: str, target: Path) -> None:
    """One consistent snapshot of the source into ``target`` (a new file), as a self-contained rollback-journal
    database (no -wal beside it)."""
    source = sqlite3.connect(source_uri, uri=True, timeout=30)
    try:
        dest = sqlite3.connect(str(target))
        try:
            source.backup(dest)  # pages=-1: every page in one step, under one read snapshot
            dest.execute("PRAGMA journal_mode = DELETE")
        finally:
            dest.close()
    finally:
        source.close()


def backup(ledger_path: Path, dest: Path) -> BackupInfo:
    """Copy the live ledger to ``dest`` (a file, or a folder to put a dated file in) and check the copy.

    Safe while the bot runs: the copy is one snapshot of committed transactions. Writes ``dest`` only
    once the copy passed the checks (a temporary file next to it, then an atomic rename).
    """
    ledger_path, dest = Path(ledger_path), Path(dest)
    if ledger_path.is_dir():
        raise LedgerError(f"{ledger_path} is a folder; give --db the path of the ledger file to back up.")
    if not ledger_path.is_file():
        raise LedgerError(f"There is no ledger at {ledger_path} to back up.")
    if dest.is_dir():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        dest = dest / f"{ledger_path.stem}-{stamp}.db"
    if _same_file(dest, ledger_path) or any(_same_file(dest, Path(f"{ledger_path}{s}")) for s in SIDE_FILES):
        raise LedgerError(f"{dest} is the ledger itself; choose another path for the backup.")
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        try:
            # read-write (never create): a read-only connection would leave empty -wal/-shm files behind
            _copy(f"{ledger_path.resolve().as_uri()}?mode=rw", partial)
            info = check(partial)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
    except sqlite3.Error as error:
        raise LedgerError(f"Could not back up {ledger_path}: {error}.") from None
    except OSError as error:
        raise LedgerError(f"Could not back up {ledger_path} to {dest}: {error.strerror or error}.") from None
    return BackupInfo(path=dest, size=info.size, claims=info.claims, removed=info.removed, scopes=info.scopes)


def _ensure_not_in_use(ledger_path: Path) -> None:
    """Refuse a ledger another connection has open: the bot would keep writing to the file being replaced.

    In WAL mode every open connection holds a shared lock on the WAL index, so an exclusive lock is refused
    while any other connection is open, even an idle one. (Closing the last connection also folds the WAL
    back into the file.)"""
    try:
        conn = sqlite3.connect(str(ledger_path), timeout=0.5)
    except sqlite3.Error:
        return  # not openable at all: nobody is using it as a database
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.rollback()
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            raise LedgerError(
                f"The ledger at {ledger_path} is open in another process (is the bot running?). Stop it, then restore."
            ) from None
    except sqlite3.DatabaseError:
        pass  # not a database: --force may replace it
    finally:
        conn.close()


def restore(backup_path: Path, ledger_path: Path, *, force: bool = False) -> BackupInfo:
    """Replace the ledger with a checked backup (atomically: a staged copy, then a rename).

    The backup is checked before anything is touched. An existing ledger is replaced only with ``force``,
    and never while another process has it open. Stale -wal/-shm/-journal files of the ledger are removed
    so that SQLite cannot replay them into the restored file.
    """
    backup_path, ledger_path = Path(backup_path), Path(ledger_path)
    if backup_path.is_dir():
        raise LedgerError(f"{backup_path} is a folder; give the path of a backup file.")
    if not backup_path.is_file():
        raise LedgerError(f"There is no backup at {backup_path}.")
    if ledger_path.is_dir():
        raise LedgerError(
            f"{ledger_path} is a folder; give --db the path of the ledger file to restore into, "
            f"such as {ledger_path / 'ledger.db'}."
        )
    if ledger_path.exists() and _same_file(backup_path, ledger_path):
        raise LedgerError(f"{backup_path} is the ledger itself; there is nothing to restore.")
    info = check(backup_path)
    if ledger_path.exists():
        if not force:
            raise LedgerError(f"A ledger already exists at {ledger_path}; add --force to replace it with the backup.")
        if not os.access(ledger_path, os.W_OK):
            raise LedgerError(
                f"The ledger {ledger_path} is read-only; make it writable first, or give --db another path."
            )
        _ensure_not_in_use(ledger_path)
    staging = ledger_path.with_name(f".{ledger_path.name}.{os.getpid()}.restoring")
    try:
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
        staging.unlink(missing_ok=True)
        try:
            _copy(f"{backup_path.resolve().as_uri()}?mode=ro", staging)
            check(staging)
            for suffix in SIDE_FILES:
                Path(f"{ledger_path}{suffix}").unlink(missing_ok=True)
            os.replace(staging, ledger_path)
        finally:
            staging.unlink(missing_ok=True)
    except sqlite3.Error as error:
        raise LedgerError(f"Could not restore {backup_path}: {error}.") from None
    except OSError as error:
        raise LedgerError(f"Could not restore {backup_path} into {ledger_path}: {error.strerror or error}.") from None
    return BackupInfo(
        path=ledger_path, size=ledger_path.stat().st_size, claims=info.claims, removed=info.removed, scopes=info.scopes
    )
