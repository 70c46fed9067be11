"""Crash safety: SIGKILL a writer (a big CSV import, or a stream of edits) at random moments, many times.

Each iteration starts a child Python process on a fresh ledger file, kills it with SIGKILL, and checks the
ledger as a restarted bot would open it: SQLite's and FTS5's integrity checks, the import all or nothing,
every edit the child reported as committed present, no half-written edit (tests/crashcheck.py). Half the
iterations are imports, two thirds of those killed at a random moment of the import's write transaction (after
the child said it began); the table counts the kills proven to have landed inside it. Exits 1 on any problem, or
when no kill landed mid-apply.

python benchmarks/kill.py [--iterations 50] [--rows 20000] [--seed 42]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.crashcheck import KillResult, kill_edits, kill_import  # noqa: E402


def calibrate(work: Path, rows: int) -> tuple[float, float]:
    """Seconds from the start of an import of ``rows`` rows to its report, and of its write transaction (from
    "applying" to "applied"), uninterrupted."""
    result = kill_import(work, rows, random.Random(0), kill_within=0)
    if result.problems or result.partial or result.lost or result.apply_seconds is None:
        raise SystemExit(f"the uninterrupted import is already wrong: {result}")
    return result.seconds, result.apply_seconds


def spread(values: list[float]) -> str:
    if not values:
        return "–"
    ordered = sorted(values)
    return f"{ordered[0]:.0%} / {ordered[len(ordered) // 2]:.0%} / {ordered[-1]:.0%}"


def _integrity(problem: str) -> bool:
    return "integrity" in problem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=50, help="kills in all, half of each kind (default 50)")
    parser.add_argument("--rows", type=int, default=20000, help="rows of the imported CSV (default 20000)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results: list[KillResult] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        import_seconds, apply_seconds = calibrate(work, args.rows)
        for i in range(args.iterations):
            if i % 6 == 0:
                # a random moment over the whole import, the commit included, and a little after it
                result = kill_import(work, args.rows, rng, kill_within=import_seconds * 1.15)
            elif i % 2 == 0:
                # while the rows are being written: a random moment of the write transaction, once it has begun
                result = kill_import(work, args.rows, rng, kill_within=apply_seconds, during_apply=True)
            else:
                result = kill_edits(work, rng, duration=2.0)
            results.append(result)
            for problem in result.problems:
                print(f"iteration {i} ({result.mode}): {problem}", file=sys.stderr)
    imports = [r for r in results if r.mode == "import"]
    edits = [r for r in results if r.mode == "edits"]
    mid_apply = [r for r in imports if r.mid_apply]
    where = [r.into_apply / apply_seconds for r in mid_apply if r.into_apply is not None]
    print(f"{args.rows}-row CSV import takes {import_seconds:.1f} s uninterrupted, {apply_seconds:.2f} s of it in the")
    print(f"write transaction; edits run 0.5-2 s before the kill; {time.perf_counter() - started:.0f} s in all.")
    print("Mid-apply: the child had said 'applying' (inside the write transaction) and never 'applied' (after its")
    print("commit), and none of the import is in the ledger.\n")
    print(
        "| kills | imports killed | before the report | of which mid-apply | where in the write (min / median / max)"
        " | after the commit, before the report | after the report | mid-edit stream | edits reported committed |"
        " integrity failures | lost committed writes | partial writes (imports, half-written edits) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {len(results)} | {len(imports)} | {sum(r.mid for r in imports)} | {len(mid_apply)} | {spread(where)}"
        f" | {sum(r.after_commit for r in imports)} | {sum(not r.mid for r in imports)} | {len(edits)}"
        f" | {sum(r.committed for r in edits)} | {sum(any(map(_integrity, r.problems)) for r in results)}"
        f" | {sum(r.lost for r in results)}"
        f" | {sum(r.partial or any(not _integrity(p) for p in r.problems) for r in results)} |"
    )
    failed = any(r.problems or r.lost or r.partial for r in results) or (imports and not mid_apply)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
