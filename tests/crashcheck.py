"""Kill a writer with SIGKILL at a random moment; check the ledger afterwards."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class KillResult:
    mode: str
    integrity: bool
    partial: bool
    lost: int
    rows: int


def make_csv(path: Path, rows: int) -> None:
    lines = ["ref,speaker,claim,said_at,evidence_status"]
    lines += [f"r{i},Speaker {i % 50},Imported claim number {i} about the dam,2024-03-{1 + i % 28:02d},unknown"
              for i in range(rows)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _checks(db: Path) -> tuple[bool, sqlite3.Connection]:
    conn = sqlite3.connect(db)
    ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    try:
        conn.execute("INSERT INTO claims_fts (claims_fts) VALUES ('integrity-check')")
    except sqlite3.DatabaseError:
        ok = False
    return ok, conn


def kill_import(work: Path, rows: int, rng: random.Random) -> KillResult:
    db, csv_path = work / "import.db", work / "import.csv"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    make_csv(csv_path, rows)
    child = subprocess.Popen([sys.executable, "-m", "tests.crashworker", "import", str(db), str(csv_path)],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout is not None
    child.stdout.readline()  # "starting"
    time.sleep(rng.uniform(0.0, 1.5))
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    ok, conn = _checks(db)
    count = conn.execute("SELECT count(*) FROM claims").fetchone()[0]
    revisions = conn.execute("SELECT count(*) FROM revisions WHERE entity = 'claim'").fetchone()[0]
    conn.close()
    return KillResult("import", ok, count not in (0, rows) or revisions != count, 0, count)


def kill_edits(work: Path, rng: random.Random) -> KillResult:
    db = work / "edits.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    child = subprocess.Popen([sys.executable, "-m", "tests.crashworker", "edits", str(db)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout is not None
    committed: list[tuple[int, int]] = []
    deadline = time.monotonic() + rng.uniform(0.3, 1.5)
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if line.startswith("committed"):
            _, claim_id, n = line.split()
            committed.append((int(claim_id), int(n)))
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    ok, conn = _checks(db)
    lost = 0
    for claim_id, n in committed:
        row = conn.execute("SELECT evidence_status, evidence_details, removed_reason FROM claims WHERE id = ?",
                           [claim_id]).fetchone()  # fmt: skip
        expected_removed = f"removed {n}" if n % 3 == 0 else None
        if row != ("partial", f"detail {n}", expected_removed):
            lost += 1
    # Every claim has its create revision and vice versa: no half-written edit.
    orphans = conn.execute(
        "SELECT (SELECT count(*) FROM claims c WHERE NOT EXISTS (SELECT 1 FROM revisions r WHERE r.entity = 'claim'"
        " AND r.entity_id = c.id AND r.action = 'create')) + (SELECT count(*) FROM revisions r WHERE r.entity = 'claim'"
        " AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = r.entity_id))"
    ).fetchone()[0]
    rows = conn.execute("SELECT count(*) FROM claims").fetchone()[0]
    conn.close()
    return KillResult("edits", ok, orphans > 0, lost, rows)
