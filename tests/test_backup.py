"""Backups taken under write load restore to a consistent ledger; restore refuses to overwrite by default."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.backup import backup, restore
from bot.cli import main
from bot.errors import LedgerError
from bot.ledger import Ledger


def consistent(path: Path) -> int:
    """Integrity, FTS and history agree; returns the number of claims."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO claims_fts (claims_fts) VALUES ('integrity-check')")
        claims = conn.execute("SELECT count(*) FROM claims").fetchone()[0]
        fts = conn.execute("SELECT count(*) FROM claims_fts").fetchone()[0]
        created = conn.execute(
            "SELECT count(*) FROM revisions WHERE entity = 'claim' AND action = 'create'"
        ).fetchone()[0]
        orphans = conn.execute(
            "SELECT count(*) FROM revisions r WHERE entity = 'claim' AND NOT EXISTS"
            " (SELECT 1 FROM claims c WHERE c.id = r.entity_id)"
        ).fetchone()[0]
    finally:
        conn.close()
    assert claims == fts == created
    assert orphans == 0
    return claims


def test_backup_under_write_load_restores_consistently(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    Ledger.open(live).close()
    stop = threading.Event()
    written = []

    def writer() -> None:
        with Ledger.open(live) as ledger:
            i = 0
            while not stop.is_set() and i < 2000:
                ledger.add_claim("1", text=f"Claim number {i} about the bridge", actor="writer")
                written.append(i)
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 50:
            threading.Event().wait(0.01)
        copies = [backup(live, tmp_path / f"backup-{n}.db") for n in range(3)]
    finally:
        stop.set()
        thread.join()
    counts = [consistent(info.path) for info in copies]
    assert counts == sorted(counts) and counts[0] >= 50
    restored = tmp_path / "restored.db"
    info = restore(copies[-1].path, restored)
    assert info.claims == counts[-1]
    assert consistent(restored) == counts[-1]
    with Ledger.open(restored) as ledger:
        assert ledger.count_claims("1") == counts[-1]


def test_restore_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    with Ledger.open(live) as ledger:
        ledger.add_claim("1", text="one", actor="t")
    copy = backup(live, tmp_path / "b.db")
    with Ledger.open(live) as ledger:
        ledger.add_claim("1", text="two", actor="t")
    with pytest.raises(LedgerError, match="--force"):
        restore(copy.path, live)
    restore(copy.path, live, force=True)
    with Ledger.open(live) as ledger:
        assert [c.text for c in ledger.list_claims("1")] == ["one"]


def test_restore_refuses_foreign_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(LedgerError, match=r"not a readable SQLite|cannot be opened"):
        restore(junk, tmp_path / "x.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(LedgerError, match="not a Claim Ledger"):
        restore(other, tmp_path / "x.db")


def test_cli_backup_and_restore(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "l.db"
    assert main(["ask", "medvedev", "--db", str(db)]) == 0
    assert main(["backup", str(tmp_path / "b.db"), "--db", str(db)]) == 0
    assert "Backed up 27 claims" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "b.db"), "--db", str(db)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "b.db"), "--db", str(tmp_path / "new.db")]) == 0
