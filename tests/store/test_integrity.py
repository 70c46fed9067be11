"""Ledger integrity: bundled data is required.

That an edit keeps what it did not touch and a name means one thing is tested on both backends, SQLite and
PostgreSQL, in tests/store/test_store_backends.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_ask_with_a_missing_seed_folder_says_so_and_fails(tmp_path: Path) -> None:
    env = {**os.environ, "CLAIMLEDGER_SEED_DIR": str(tmp_path / "nowhere"), "CLAIMLEDGER_DB": str(tmp_path / "l.db")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "Who claimed responsibility?"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode != 0
    assert "seed data folder" in result.stderr
    assert "Traceback" not in result.stderr
