"""SIGKILL in the middle of an import or a stream of edits leaves a whole, consistent ledger.

A few kills only (benchmarks/kill.py runs many): each child is a real Python process writing a ledger file.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from bot.store import Ledger
from tests.crashcheck import consistency_problems, kill_edits, kill_import


def test_kill_during_import_leaves_it_absent(tmp_path: Path) -> None:
    rng = random.Random(1)
    for _ in range(2):
        # killed within a few milliseconds of the write transaction's start: 20,000 rows take longer to write
        result = kill_import(tmp_path, 20_000, rng, kill_within=0.02, during_apply=True)
        assert result.mid_apply, "the kill must land while the import writes"
        assert result.said == ["starting", "applying"]  # inside the write transaction, never committed
        assert not result.after_commit
        assert result.problems == []
        assert not result.partial, f"partial import: {result.rows} claims"
        assert result.rows == 1  # only the claim from before the import


def test_kill_right_after_an_import_keeps_all_of_it(tmp_path: Path) -> None:
    result = kill_import(tmp_path, 200, random.Random(3), kill_within=0)
    assert not result.mid
    assert result.said == ["starting", "applying", "applied", "imported"]
    assert not result.mid_apply and not result.after_commit  # a kill after the commit is not counted mid-apply
    assert result.apply_seconds is not None
    assert result.problems == []
    assert result.lost == 0 and not result.partial
    assert result.rows == 201


def test_kill_during_edits_keeps_every_committed_edit(tmp_path: Path) -> None:
    rng = random.Random(2)
    for _ in range(2):
        result = kill_edits(tmp_path, rng, duration=1.0)
        assert result.problems == []
        assert result.committed > 10
        assert result.lost == 0


def test_consistency_check_sees_a_half_written_edit(tmp_path: Path) -> None:
    """The check the kill tests rely on does fail on a claim written without its revision, or changed behind it."""
    db = tmp_path / "l.db"
    with Ledger.open(db) as ledger:
        claim = ledger.add_claim("1", text="Whole claim", actor="t")
    assert consistency_problems(db) == []
    conn = sqlite3.connect(db)
    conn.execute("UPDATE claims SET text = 'Changed without a revision' WHERE id = ?", [claim.id])
    conn.execute("INSERT INTO claims (scope, text, created_at, updated_at) VALUES ('1', 'No revision', 'now', 'now')")
    conn.commit()
    conn.close()
    problems = consistency_problems(db)
    assert any("without a create revision" in p for p in problems)
    assert any(f"claim #{claim.id} differs" in p for p in problems)
