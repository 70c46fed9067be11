"""SIGKILL in the middle of an import or a stream of edits leaves a whole, consistent ledger."""

from __future__ import annotations

import random
from pathlib import Path

from tests.crashcheck import kill_edits, kill_import


def test_kill_during_import_is_all_or_nothing(tmp_path: Path) -> None:
    rng = random.Random(1)
    for _ in range(2):
        result = kill_import(tmp_path, 3000, rng)
        assert result.integrity
        assert not result.partial, f"partial import: {result.rows} rows"


def test_kill_during_edits_keeps_every_committed_edit(tmp_path: Path) -> None:
    rng = random.Random(2)
    for _ in range(2):
        result = kill_edits(tmp_path, rng)
        assert result.integrity
        assert result.lost == 0
        assert not result.partial
        assert result.rows > 0
