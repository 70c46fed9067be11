"""Import speed: the ledger's import of a flat CSV against ``sqlite-utils insert_all`` of the same rows.

For each size, one CSV (every column filled; 500 speakers and 50 incidents at 20k rows, proportionally more
speakers and incidents are not added at 100k: the same 500 and 50), then, each in its own process (a clean
peak RSS) and into a new ledger file:

- import: ``bot.formats.import_bytes`` (planner + applier: speakers, incidents, sources, claims, revisions, FTS)
- dry run: the same call with ``dry_run=True`` (the plan alone)
- sqlite-utils: ``insert_all`` of the rows into one flat table, then an FTS5 index over its text columns

    python benchmarks/import.py [--sizes 20000 100000]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = [
    *[
        "army",
        "dam",
        "city",
        "minister",
        "attack",
        "report",
        "forces",
        "official",
        "statement",
        "people",
        "bridge",
        "drone",
        "shelling",
        "village",
    ],
    *[
        "convoy",
        "evidence",
        "footage",
        "satellite",
        "ceasefire",
        "border",
        "refinery",
        "hospital",
        "school",
        "power",
        "plant",
        "reservoir",
    ],
]
STATUSES = ["presented", "not_presented", "partial", "disputed", "unknown"]


def make_csv(rows: int, speakers: int = 500, incidents: int = 50, seed: int = 1) -> bytes:
    from bot.formats.transfer import FLAT_COLUMNS

    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FLAT_COLUMNS)
    for i in range(rows):
        s, n = rng.randrange(speakers), rng.randrange(incidents)
        words = " ".join(rng.choice(WORDS) for _ in range(14))
        writer.writerow(
            [
                f"bench-{i}",
                f"Incident number {n}",
                f"Speaker {s}",
                f"Role of speaker {s}",
                f"Claim {i}: the {words}.",
                f"We said {words[:60]}",
                f"20{10 + n % 15}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                f"Channel {i % 40}",
                STATUSES[i % 5],
                f"Details of claim {i}: {words[:80]}",
                f"https://source{i % 300}.example/article/{i}",
                f"Source article {i}",
                f"tag{i % 30}; topic{i % 7}",
            ]
        )
    return out.getvalue().encode()


def child(mode: str, csv_path: Path, db_path: Path) -> dict[str, float]:
    data = csv_path.read_bytes()
    if mode == "sqlite-utils":
        from sqlite_utils import Database

        rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
        start = time.perf_counter()
        db = Database(db_path)
        db["claims"].insert_all(rows, batch_size=1000)
        db["claims"].enable_fts(
            ["claim", "quote", "speaker", "incident", "tags", "source_title"], fts_version="FTS5", create_triggers=True
        )
        db.conn.commit()
        seconds = time.perf_counter() - start
        count = db["claims"].count
    else:
        from bot.formats import import_bytes
        from bot.store import Ledger

        with Ledger.open(db_path) as ledger:
            start = time.perf_counter()
            report = import_bytes(ledger, "1", "bench.csv", data, actor="bench", dry_run=mode == "dry run")
            seconds = time.perf_counter() - start
            if report.problems:
                raise SystemExit(f"{mode}: {report.problems[:3]}")
            count = report.total if mode == "dry run" else ledger.count_claims("1")
    return {"seconds": seconds, "rows": count, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run(mode: str, csv_path: Path, work: Path) -> dict[str, float]:
    db_path = work / f"{mode.replace(' ', '-')}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(csv_path), str(db_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, csv_path, db_path = args.child
        print(json.dumps(child(mode, Path(csv_path), Path(db_path))))
        return 0
    print("| rows | CSV MB | import s | dry run s | sqlite-utils + FTS5 s | import / sqlite-utils | peak RSS MB (import"
          " / dry run / sqlite-utils) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for size in args.sizes:
            csv_path = work / f"rows-{size}.csv"
            csv_path.write_bytes(make_csv(size))
            results = {mode: run(mode, csv_path, work) for mode in ("import", "dry run", "sqlite-utils")}
            for mode, result in results.items():
                if result["rows"] != size:
                    raise SystemExit(f"{mode} gave {result['rows']} rows, expected {size}")
            imp, dry, base = (results[m]["seconds"] for m in ("import", "dry run", "sqlite-utils"))
            peaks = " / ".join(f"{results[m]['peak_mb']:.0f}" for m in ("import", "dry run", "sqlite-utils"))
            mb = csv_path.stat().st_size / 1024 / 1024
            print(f"| {size:,} | {mb:.1f} | {imp:.2f} | {dry:.2f} | {base:.2f} | {imp / base:.1f}x | {peaks} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
