"""The SQLite ledger file: WAL, foreign keys, every migration applied once.

The store's behaviour (scopes, the full-text index following writes, revisions, typed errors, merges) is tested
on both backends, SQLite and PostgreSQL, in tests/store/test_store_backends.py.
"""

from __future__ import annotations

from pathlib import Path

from bot.store import Ledger
from bot.store.schema import migrations


def test_file_ledger_uses_wal_foreign_keys_and_all_migrations(db_path: Path) -> None:
    with Ledger.open(db_path) as ledger:
        assert ledger.db.journal_mode == "wal"
        assert ledger._rows("PRAGMA foreign_keys")[0]["foreign_keys"] == 1
        applied = [m.name for m in migrations.applied(ledger.db)]
        assert applied == [m.name for m in migrations._migrations]
    # Re-opening applies nothing twice.
    with Ledger.open(db_path) as ledger:
        assert len(migrations.applied(ledger.db)) == len(migrations._migrations)
        assert migrations.pending(ledger.db) == []
