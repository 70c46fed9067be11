"""Crash safety: SIGKILL a writer (a big import, or a stream of edits) at random moments, many times.

python benchmarks/kill.py [--iterations 50] [--rows 5000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.crashcheck import kill_edits, kill_import  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(42)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.iterations):
            results.append(kill_import(Path(tmp), args.rows, rng) if i % 2 == 0 else kill_edits(Path(tmp), rng))
    imports = [r for r in results if r.mode == "import"]
    edits = [r for r in results if r.mode == "edits"]
    absent = sum(1 for r in imports if r.rows == 0)
    whole = sum(1 for r in imports if r.rows == args.rows)
    print(
        "| kills | during import: absent / whole / partial | during edits | integrity failures |"
        " lost committed edits | half-written edits |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {len(results)} | {absent} / {whole} / {len(imports) - absent - whole} | {len(edits)} |"
        f" {sum(1 for r in results if not r.integrity)} | {sum(r.lost for r in edits)} |"
        f" {sum(1 for r in edits if r.partial)} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
