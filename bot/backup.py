"""Backups of the ledger file with SQLite's online backup API: safe while the bot runs and writes."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .errors import LedgerError


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    claims: int
    scopes: int


def _check(path: Path) -> BackupInfo:
    """Open read-only, check integrity and that it is a Claim Ledger database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise LedgerError(f"{path} cannot be opened as SQLite: {error}.") from None
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise LedgerError(f"{path} fails SQLite's integrity check: {result}.")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"claims", "revisions", "_sqlite_migrations"} <= tables:
            raise LedgerError(f"{path} is an SQLite file but not a Claim Ledger ledger.")
        claims, scopes = conn.execute("SELECT count(*), count(DISTINCT scope) FROM claims").fetchone()
    except sqlite3.DatabaseError as error:
        raise LedgerError(f"{path} is not a readable SQLite database: {error}.") from None
    finally:
        conn.close()
    return BackupInfo(path=path, size=path.stat().st_size, claims=claims, scopes=scopes)


def backup(ledger_path: Path, dest: Path) -> BackupInfo:
    """Copy the live ledger to ``dest`` (through a temporary file, then an atomic rename)."""
    if not ledger_path.exists():
        raise LedgerError(f"There is no ledger at {ledger_path} to back up.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(str(ledger_path), timeout=10)
    target = sqlite3.connect(str(partial))
    try:
        source.backup(target, pages=1024)
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()
        source.close()
    info = _check(partial)
    os.replace(partial, dest)
    return BackupInfo(path=dest, size=info.size, claims=info.claims, scopes=info.scopes)


def restore(backup_path: Path, ledger_path: Path, *, force: bool = False) -> BackupInfo:
    """Replace the ledger with a checked backup. Refuses to overwrite an existing ledger without ``force``.

    Stop the bot first: a running bot keeps the old file open.
    """
    if not backup_path.exists():
        raise LedgerError(f"There is no backup at {backup_path}.")
    info = _check(backup_path)
    if ledger_path.exists() and not force:
        raise LedgerError(
            f"A ledger already exists at {ledger_path}; restoring would replace it. Add --force to do so."
        )
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    staging = ledger_path.with_name(ledger_path.name + ".restoring")
    source = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
    target = sqlite3.connect(str(staging))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    for suffix in ("-wal", "-shm"):
        Path(str(ledger_path) + suffix).unlink(missing_ok=True)
    os.replace(staging, ledger_path)
    return BackupInfo(path=ledger_path, size=info.size, claims=info.claims, scopes=info.scopes)
