"""Backups taken under write load restore to a consistent ledger; restore checks before it touches anything."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.cli import main
from bot.errors import LedgerError
from bot.store import Ledger
from bot.store.backups import backup, check, restore
from bot.store.schema import migrations
from tests.crashcheck import consistency_problems

S = "1"


def claim_ids(path: Path, where: str = "1") -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute(f"SELECT id FROM claims WHERE {where} ORDER BY id")]
    finally:
        conn.close()


def unfindable(path: Path) -> list[int]:
    """Claims that a full-text search for their own marker word does not find (alone)."""
    conn = sqlite3.connect(path)
    try:
        missed = []
        for claim_id, text in conn.execute("SELECT id, text FROM claims").fetchall():
            marker = re.search(r"marker\d+x", text)
            rows = conn.execute("SELECT rowid FROM claims_fts WHERE claims_fts MATCH ?", [marker and marker[0]])
            if rows.fetchall() != [(claim_id,)]:
                missed.append(claim_id)
        return missed
    finally:
        conn.close()


class Writer(threading.Thread):
    """Adds claims (and edits, removes some) on its own connection until stopped."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with Ledger.open(self.path) as ledger:
                while not self.stop.is_set() and self.written < 5000:
                    marker = f"marker{self.written}x"
                    claim = ledger.add_claim(S, text=f"Claim {marker} about the bridge", actor="writer",
                                             sources=[{"title": f"Report {self.written % 9}"}])  # fmt: skip
                    ledger.update_claim(S, claim.id, text=f"Claim {marker} revised, about the bridge", actor="writer")
                    if claim.id % 4 == 0:
                        ledger.remove_claim(S, claim.id, reason="duplicate", actor="writer")
                    self.written += 1
        except BaseException as error:  # surfaced by the test
            self.error = error

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.written < count:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"writer stuck at {self.written} claims"
            time.sleep(0.005)


def test_backup_under_write_load_restores_consistently(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    Ledger.open(live).close()
    writer = Writer(live)
    writer.start()
    copies = []
    try:
        for n in range(3):
            writer.wait_for(40 * (n + 1))
            copies.append(backup(live, tmp_path / f"backup-{n}.db"))
        writer.wait_for(writer.written + 20)  # still writing after the last backup
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    counts = [info.claims for info in copies]
    assert counts == sorted(set(counts)) and counts[0] >= 40  # each backup a later snapshot
    assert counts[-1] < len(claim_ids(live))
    for info in copies:
        assert consistency_problems(info.path) == []
        ids = claim_ids(info.path)
        removed = claim_ids(info.path, "removed_reason IS NOT NULL")
        assert len(ids) == info.claims and len(removed) == info.removed
        # the writer removes every fourth claim right after writing it: only the newest may not be removed yet
        assert {i for i in ids if i % 4 == 0} - set(removed) <= {ids[-1]} and all(i % 4 == 0 for i in removed)
        assert unfindable(info.path) == []
        assert not Path(f"{info.path}-wal").exists()  # a backup is one self-contained file
    restored = tmp_path / "restored.db"
    info = restore(copies[-1].path, restored)
    assert (info.path, info.claims) == (restored, counts[-1])
    assert consistency_problems(restored) == []
    assert claim_ids(restored) == claim_ids(copies[-1].path)
    with Ledger.open(restored) as ledger:  # the restored ledger takes writes again
        assert ledger.count_claims(S, include_removed=True) == counts[-1]
        ledger.add_claim(S, text="after the restore", actor="t")
    assert consistency_problems(restored) == []


def test_backup_into_a_folder_and_failures_leave_nothing(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    with Ledger.open(live) as ledger:
        ledger.add_claim(S, text="one", actor="t")
    folder = tmp_path / "backups"
    folder.mkdir()
    info = backup(live, folder)
    assert info.path.parent == folder and info.path.name.startswith("live-") and info.claims == 1
    with pytest.raises(LedgerError, match="no ledger"):
        backup(tmp_path / "missing.db", tmp_path / "b.db")
    with pytest.raises(LedgerError, match="the ledger itself"):
        backup(live, live)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(LedgerError):
        backup(junk, tmp_path / "j.db")
    assert not (tmp_path / "j.db").exists() and not (tmp_path / "b.db").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".partial")]
    assert [p.name for p in folder.iterdir()] == [info.path.name]


def test_restore_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    with Ledger.open(live) as ledger:
        ledger.add_claim(S, text="one", actor="t")
    copy = backup(live, tmp_path / "b.db")
    with Ledger.open(live) as ledger:
        ledger.add_claim(S, text="two", actor="t")
    with pytest.raises(LedgerError, match="--force"):
        restore(copy.path, live)
    with Ledger.open(live) as ledger:
        assert [c.text for c in ledger.list_claims(S)] == ["one", "two"]  # untouched
    restore(copy.path, live, force=True)
    with Ledger.open(live) as ledger:
        assert [c.text for c in ledger.list_claims(S)] == ["one"]


def test_restore_refuses_a_ledger_in_use(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    with Ledger.open(live) as ledger:
        ledger.add_claim(S, text="one", actor="t")
    copy = backup(live, tmp_path / "b.db")
    with Ledger.open(live) as running:
        running.add_claim(S, text="two", actor="t")
        with pytest.raises(LedgerError, match="bot running"):
            restore(copy.path, live, force=True)
        assert running.count_claims(S) == 2
    restore(copy.path, live, force=True)  # once the bot stopped
    assert claim_ids(live) == [1]


def test_restore_removes_stale_wal_of_the_old_ledger(tmp_path: Path) -> None:
    """A -wal left beside the target must not be replayed into the restored file."""
    source = tmp_path / "source.db"
    with Ledger.open(source) as ledger:
        ledger.add_claim(S, text="from the backup", actor="t")
    copy = backup(source, tmp_path / "b.db")
    other = tmp_path / "other.db"
    with Ledger.open(other) as ledger:
        for i in range(30):
            ledger.add_claim(S, text=f"old {i}", actor="t")
        wal = Path(f"{other}-wal").read_bytes()  # while open: not yet folded back into the file
    # control: SQLite would replay such a WAL into a copy of the backup
    control = tmp_path / "control.db"
    control.write_bytes(copy.path.read_bytes())
    Path(f"{control}-wal").write_bytes(wal)
    conn = sqlite3.connect(control)
    conn.execute("PRAGMA journal_mode = WAL")
    try:
        replayed = [r[0] for r in conn.execute("SELECT text FROM claims")]
    except sqlite3.DatabaseError:
        replayed = ["<malformed>"]
    conn.close()
    assert replayed != ["from the backup"]
    target = tmp_path / "target.db"
    target.write_bytes(b"")
    Path(f"{target}-wal").write_bytes(wal)
    restore(copy.path, target, force=True)
    assert not Path(f"{target}-wal").exists()
    assert consistency_problems(target) == []
    with Ledger.open(target) as ledger:
        assert [c.text for c in ledger.list_claims(S)] == ["from the backup"]


def test_restore_checks_the_backup_before_touching_anything(tmp_path: Path) -> None:
    target = tmp_path / "x.db"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(LedgerError, match=r"not a readable SQLite|cannot be opened"):
        restore(junk, target, force=True)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE claims (x)")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match="not a Claim Ledger"):
        restore(other, target, force=True)
    with pytest.raises(LedgerError, match="no backup"):
        restore(tmp_path / "missing.db", target)
    assert not target.exists()
    live = tmp_path / "live.db"
    Ledger.open(live).close()
    with pytest.raises(LedgerError, match="the ledger itself"):
        restore(live, live, force=True)


def test_check_reports_a_corrupt_backup(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    with Ledger.open(live) as ledger:
        for i in range(200):
            ledger.add_claim(S, text=f"claim {i} " + "padding " * 20, actor="t")
    copy = backup(live, tmp_path / "b.db")
    data = bytearray(copy.path.read_bytes())
    page = 4096
    for offset in range(page, len(data), page):  # scribble over the header of every page but the first
        data[offset : offset + 16] = b"\x07" * 16
    copy.path.write_bytes(bytes(data))
    with pytest.raises(LedgerError, match=r"integrity|not a readable"):
        check(copy.path)
    target = tmp_path / "t.db"
    with pytest.raises(LedgerError):
        restore(copy.path, target)
    assert not target.exists()


def test_cli_backup_and_restore(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "l.db"
    assert main(["ask", "medvedev", "--db", str(db)]) == 0  # creates and seeds the ledger
    capsys.readouterr()
    with Ledger.open(db) as ledger:
        seeded = ledger.count_claims("local", include_removed=True)
        removed = seeded - ledger.count_claims("local")
    assert main(["backup", str(tmp_path / "b.db"), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"Backed up {seeded} claims ({removed} removed) in 1 server ledger" in out
    assert "integrity check: ok" in out
    assert main(["restore", str(tmp_path / "b.db"), "--db", str(db)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "b.db"), "--db", str(tmp_path / "new.db")]) == 0
    assert f"Restored {seeded} claims" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "b.db"), "--db", str(db), "--force"]) == 0
    assert "replacing the ledger that was there" in capsys.readouterr().out
    assert main(["ask", "medvedev", "--db", str(tmp_path / "new.db")]) == 0
    assert "Medvedev" in capsys.readouterr().out


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _one_sentence(err: str, command: str) -> None:
    assert err.startswith(f"claimledger {command}: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.strip().endswith(".")


def test_restore_into_a_folder_is_one_sentence_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    live = tmp_path / "live.db"
    with Ledger.open(live) as ledger:
        ledger.add_claim(S, text="one", actor="t")
    copy = backup(live, tmp_path / "b.db")
    folder = tmp_path / "adir"
    folder.mkdir()
    (folder / "keep.txt").write_text("x", encoding="utf-8")
    before = _tree(tmp_path)
    with pytest.raises(LedgerError, match=r"adir is a folder; give --db the path of the ledger file .*adir/ledger\.db"):
        restore(copy.path, folder, force=True)
    assert _tree(tmp_path) == before
    assert main(["restore", "--force", str(copy.path), "--db", str(folder)]) == 1
    err = capsys.readouterr().err
    _one_sentence(err, "restore")
    assert "is a folder" in err and str(folder / "ledger.db") in err
    assert _tree(tmp_path) == before
    with pytest.raises(LedgerError, match="is a folder; give the path of a backup file"):
        restore(folder, tmp_path / "new.db")
    assert _tree(tmp_path) == before


def test_backup_into_a_folder_still_makes_a_dated_file_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    live = tmp_path / "live.db"
    with Ledger.open(live) as ledger:
        ledger.add_claim(S, text="one", actor="t")
    folder = tmp_path / "backups"
    folder.mkdir()
    assert main(["backup", str(folder), "--db", str(live)]) == 0
    made = list(folder.iterdir())
    assert len(made) == 1 and re.fullmatch(r"live-\d{8}-\d{6}\.db", made[0].name)
    assert str(made[0]) in capsys.readouterr().out
    assert claim_ids(made[0]) == [1]


def _lookalike(path: Path) -> None:
    """The ledger's table names (and the columns ``check`` once counted) without its schema or migration record."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT);
        INSERT INTO _sqlite_migrations (name, applied_at) VALUES ('m0001_initial', '2024-01-01');
        CREATE TABLE claims (id INTEGER PRIMARY KEY, scope TEXT, text TEXT, removed_reason TEXT);
        INSERT INTO claims (scope, text) VALUES ('local', 'a claim');
        CREATE TABLE revisions (id INTEGER PRIMARY KEY);
        CREATE TABLE speakers (id INTEGER PRIMARY KEY);
        CREATE TABLE incidents (id INTEGER PRIMARY KEY);
        """
    )
    conn.close()


def _missing_column(path: Path) -> None:
    """A real ledger, every migration recorded, whose claims table has lost a column."""
    with Ledger.open(path) as ledger:
        ledger.add_claim(S, text="one", actor="t")
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE claims DROP COLUMN said_where")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


def _gap_in_record(path: Path) -> None:
    """A real ledger whose record of applied migrations skips one (the rest would not be applied in order)."""
    Ledger.open(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm0003_pinned_summaries'")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_lookalike, "it has no record of the ledger's migrations"),
        (_missing_column, "its table claims lacks the column said_where"),
        (_gap_in_record, "its record of the ledger's migrations lacks m0003_pinned_summaries"),
    ],
)
def test_restore_refuses_the_ledgers_table_names_without_its_schema(
    tmp_path: Path, make: Callable[[Path], None], problem: str, capsys: pytest.CaptureFixture
) -> None:
    other = tmp_path / "other.db"
    make(other)
    with pytest.raises(LedgerError, match=f"is an SQLite database but not a Claim Ledger ledger: {problem}"):
        check(other)
    target = tmp_path / "target.db"
    before = _tree(tmp_path)
    assert main(["restore", str(other), "--db", str(target)]) == 1
    err = capsys.readouterr().err
    _one_sentence(err, "restore")
    assert problem in err
    assert _tree(tmp_path) == before


def test_restore_refuses_a_backup_from_a_newer_version(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    live = tmp_path / "live.db"
    with Ledger.open(live) as ledger:
        ledger.add_claim(S, text="ours", actor="t")
    newer = backup(live, tmp_path / "newer.db").path
    conn = sqlite3.connect(newer)
    with conn:
        conn.execute("CREATE TABLE claim_votes (id INTEGER PRIMARY KEY)")
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('claimledger', 'm0099_claim_votes', '2030-01-01')"
        )
    conn.close()
    with pytest.raises(LedgerError, match=r"newer version of Claim Ledger .*m0099_claim_votes.*upgrade Claim Ledger"):
        check(newer)
    before = _tree(tmp_path)
    assert main(["restore", "--force", str(newer), "--db", str(live)]) == 1
    err = capsys.readouterr().err
    _one_sentence(err, "restore")
    assert "newer version" in err
    assert _tree(tmp_path) == before
    with Ledger.open(live) as ledger:
        assert [c.text for c in ledger.list_claims(S)] == ["ours"]


@pytest.mark.parametrize("stop_before", ["m0002_full_text", "m0004_claim_vectors"])
def test_a_backup_from_an_older_version_restores_gets_the_rest_of_the_migrations_and_answers(
    tmp_path: Path, stop_before: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMLEDGER_SEMANTIC", "0")  # the full-text index answers; no model to load
    known = [m.name for m in migrations.pending(Database(memory=True))]
    older = tmp_path / "older.db"
    db = Database(sqlite3.connect(older))
    migrations.apply(db, stop_before=stop_before)
    db.execute(
        "INSERT INTO speakers (scope, name, created_at, updated_at) VALUES ('local', 'Vitali Klitschko', 'x', 'x')"
    )
    db.execute(
        "INSERT INTO claims (scope, speaker_id, text, created_at, updated_at)"
        " VALUES ('local', 1, 'The Paton bridge in Kyiv is closed to lorries', 'x', 'x')"
    )
    db.conn.commit()
    db.close()
    recorded = known[: known.index(stop_before)]
    assert check(older).claims == 1
    target = tmp_path / "restored.db"
    assert main(["restore", str(older), "--db", str(target)]) == 0
    assert "Restored 1 claims" in capsys.readouterr().out
    restored = Database(sqlite3.connect(target))
    assert [m.name for m in migrations.applied(restored)] == recorded  # restored as it was
    restored.close()
    assert main(["ask", "Is the Paton bridge closed?", "--json", "--db", str(target)]) == 0
    matches = json.loads(capsys.readouterr().out)["matches"]
    assert [(m["claim"], m["speaker"]["name"]) for m in matches] == [
        ("The Paton bridge in Kyiv is closed to lorries", "Vitali Klitschko")
    ]
    opened = Database(sqlite3.connect(target))
    assert [m.name for m in migrations.applied(opened)] == known  # opening applied the rest
    opened.close()
    assert check(target).claims == 1  # and the migrated ledger holds the schema of every migration
