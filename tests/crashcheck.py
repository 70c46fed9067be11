"""Kill a writer with SIGKILL at a random moment, then check the ledger as the restarted bot would find it.

Used by tests/store/test_crash.py (a few kills) and benchmarks/kill.py (many). ``consistency_problems`` is also
the check of a restored backup in tests/store/test_backup.py.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.store import Ledger, claim_record

ROOT = Path(__file__).resolve().parent.parent
SCOPE = "1"  # the worker's scope (tests/crashworker.py)
REVISION_ACTION = {
    "create": "create",
    "update": "update",
    "evidence": "update",
    "remove": "remove",
    "restore": "restore",
}


def consistency_problems(db: Path) -> list[str]:
    """Everything wrong with a ledger file after a crash or a restore; empty when all is well.

    SQLite's integrity check, FTS5's own integrity check, the index holding exactly the claims with their
    current text, and no half-written edit: every claim has its 'create' revision, every claim revision names
    an existing claim, and each claim is exactly what its last revision says it became. (The last holds for
    ledgers whose speakers and sources were not renamed, as in these workloads.)
    """
    problems: list[str] = []
    conn = sqlite3.connect(db)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            return [f"integrity_check: {result}"]
        try:
            conn.execute("INSERT INTO claims_fts (claims_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as error:
            problems.append(f"FTS integrity check: {error}")
        queries = {
            "claims missing from the index": "SELECT count(*) FROM claims c WHERE NOT EXISTS"
            " (SELECT 1 FROM claims_fts f WHERE f.rowid = c.id)",
            "index rows of no claim": "SELECT count(*) FROM claims_fts f WHERE NOT EXISTS"
            " (SELECT 1 FROM claims c WHERE c.id = f.rowid)",
            "index rows with stale text": "SELECT count(*) FROM claims c JOIN claims_fts f ON f.rowid = c.id"
            " WHERE f.claim IS NOT c.text",
            "claims without a create revision": "SELECT count(*) FROM claims c WHERE NOT EXISTS (SELECT 1 FROM"
            " revisions r WHERE r.entity = 'claim' AND r.entity_id = c.id AND r.action = 'create')",
            "claim revisions of no claim": "SELECT count(*) FROM revisions r WHERE r.entity = 'claim' AND NOT EXISTS"
            " (SELECT 1 FROM claims c WHERE c.id = r.entity_id)",
        }
        for label, sql in queries.items():
            count = conn.execute(sql).fetchone()[0]
            if count:
                problems.append(f"{count} {label}")
    finally:
        conn.close()
    with Ledger.open(db) as ledger:
        for scope in ledger.scopes():
            for claim in ledger.list_claims(scope, include_removed=True):
                history = ledger.history(scope, "claim", claim.id)
                if history and history[-1].new != claim_record(claim):
                    problems.append(f"claim #{claim.id} differs from its last revision ({history[-1].action})")
    return problems


def reset(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def make_csv(path: Path, rows: int) -> None:
    lines = ["ref,incident,speaker,claim,said_at,evidence_status,source_title,tags"]
    lines += [f"r{i},Dam breach {i % 3},Speaker {i % 50},Imported claim number {i} about the dam,"
              f"2024-03-{1 + i % 28:02d},unknown,Report {i % 40},dam;import"
              for i in range(rows)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class _Child:
    """A worker process whose stdout lines are collected as they come (so it never blocks on a full pipe)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.crashworker", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.arrived: dict[str, float] = {}  # line → when the parent first read it (time.monotonic)
        self._first = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.arrived.setdefault(line.strip(), time.monotonic())
            self.lines.append(line.strip())
            self._first.set()
        self._first.set()

    def wait_first_line(self, timeout: float = 30.0) -> None:
        if not self._first.wait(timeout) or not self.lines:
            self.kill()
            raise RuntimeError(f"crash worker did not start: {self.stderr()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._reader.join()

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()


@dataclass
class KillResult:
    mode: str  # "import" or "edits"
    mid: bool  # killed before the child reported the end of its work (import) / while it was editing (edits)
    problems: list[str] = field(default_factory=list)  # integrity, FTS, half-written edits
    partial: bool = False  # import: some of the file's rows present but not all
    lost: int = 0  # edits the child reported as committed that are missing
    committed: int = 0  # edits the child reported as committed
    rows: int = 0  # claims in the ledger afterwards
    seconds: float = 0.0  # from the child's first line to the kill
    mid_apply: bool = False  # import: killed inside its write transaction (begun, and never committed)
    after_commit: bool = False  # import: killed after its transaction committed, before it said so
    into_apply: float | None = None  # import: seconds from the parent reading "applying" to the kill
    apply_seconds: float | None = None  # import: "applying" to "applied", when the child got that far
    said: list[str] = field(default_factory=list)  # import: the child's lines


def kill_import(
    work: Path, rows: int, rng: random.Random, *, kill_within: float, during_apply: bool = False
) -> KillResult:
    """Import a CSV of ``rows`` claims into a ledger holding one claim already; SIGKILL after a random delay
    in [0, kill_within) seconds from the start of the import (``kill_within=0``: right after it reported), or
    from the start of its write transaction (``during_apply``: the child said "applying").

    ``mid_apply`` is proven, not guessed from the timing: the child had said "applying" (printed inside the write
    transaction), never said "applied" (printed once it committed), and the ledger holds none of the import."""
    db, csv_path = work / "import.db", work / "import.csv"
    reset(db)
    with Ledger.open(db) as ledger:
        ledger.add_claim(SCOPE, text="A claim from before the import", actor="setup")
    make_csv(csv_path, rows)
    child = _Child("import", str(db), str(csv_path))
    child.wait_first_line()
    if during_apply:
        deadline = time.monotonic() + 120
        while "applying" not in child.lines and child.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
    started = time.perf_counter()
    if kill_within > 0:
        time.sleep(rng.uniform(0.0, kill_within))
    else:
        while "imported" not in child.lines and child.process.poll() is None:
            time.sleep(0.005)
    killed_at = time.monotonic()
    child.kill()
    seconds = time.perf_counter() - started
    reported = "imported" in child.lines
    if child.process.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"crash worker failed: {child.stderr()}")
    result = KillResult("import", mid=not reported, problems=consistency_problems(db), seconds=seconds)
    result.said = list(child.lines)
    with Ledger.open(db) as ledger:
        result.rows = ledger.count_claims(SCOPE, include_removed=True)
        speakers = len(ledger.list_speakers(SCOPE))
    # all or nothing; and once the child said "imported", all (a kill between the commit and the print may
    # leave all of it without the report)
    whole, absent = result.rows == rows + 1 and speakers == 50, result.rows == 1 and speakers == 0
    result.partial = not (whole or absent)
    result.lost = int(("applied" in child.lines or reported) and not whole)
    began, ended = child.arrived.get("applying"), child.arrived.get("applied")
    if began is not None:
        result.into_apply = killed_at - began
    if began is not None and ended is not None:
        result.apply_seconds = ended - began
    result.mid_apply = began is not None and "applied" not in child.lines and not whole
    result.after_commit = whole and not reported
    return result


def kill_edits(work: Path, rng: random.Random, *, duration: float) -> KillResult:
    """Stream edits for a random time in [duration / 4, duration) seconds, SIGKILL, then check that every
    edit the child reported as committed is in the ledger."""
    db = work / "edits.db"
    reset(db)
    child = _Child("edits", str(db), str(rng.randrange(1 << 30)))
    child.wait_first_line()
    time.sleep(rng.uniform(duration / 4, duration))
    child.kill()
    if child.process.returncode != -signal.SIGKILL:
        raise RuntimeError(f"crash worker stopped by itself: {child.stderr()}")
    reported = [line.split() for line in child.lines if line.startswith("committed")]
    result = KillResult("edits", mid=True, problems=consistency_problems(db), committed=len(reported))
    conn = sqlite3.connect(db)
    try:
        for _, revision_id, claim_id, action in reported:
            row = conn.execute(
                "SELECT entity_id, action FROM revisions WHERE id = ? AND entity = 'claim'", [int(revision_id)]
            ).fetchone()
            if row != (int(claim_id), REVISION_ACTION[action]):
                result.lost += 1
        revisions = conn.execute("SELECT count(*) FROM revisions WHERE entity = 'claim'").fetchone()[0]
        result.rows = conn.execute("SELECT count(*) FROM claims").fetchone()[0]
    finally:
        conn.close()
    # at most one edit may have committed after the last report (killed between commit and print)
    if revisions not in (len(reported), len(reported) + 1):
        result.problems.append(f"{revisions} claim revisions for {len(reported)} reported commits")
    return result
