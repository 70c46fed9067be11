"""CheckThat! 2020 Task 2 (English): the matcher on an external benchmark.

Imports the verified claims (read from ../shared, never copied) into a fresh ledger through the flat
import, runs the tweets through `claimledger ask --batch`, writes a TREC run and scores it with the
lab's scorer. Prints a table.

    python benchmarks/checkthat.py [--splits dev train] [--keep-dups] [--data DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "bench" / "checkthat-2020"


# Twins that differ only in quote characters are the same claim (the README's quirk): keep the lowest id.
QUOTES = str.maketrans({c: '"' for c in "“”„‟'‘’‚‛`´"})


def read_tsv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    return rows[1:]


def write_claims(data: Path, out: Path, *, collapse: bool) -> tuple[int, int]:
    rows = sorted(read_tsv(data / "verified_claims.docs.tsv"), key=lambda r: int(r[0]))
    seen: set[str] = set()
    kept = 0
    with out.open("w", encoding="utf-8") as handle:
        for vclaim_id, vclaim, title in rows:
            if collapse:
                key = vclaim.translate(QUOTES).strip()
                if key in seen:
                    continue
                seen.add(key)
            handle.write(json.dumps({"ref": vclaim_id, "claim": vclaim, "source_title": title}) + "\n")
            kept += 1
    return len(rows), kept


def claimledger(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True, check=True)


def run_split(data: Path, split: str, db: Path, work: Path, top: int) -> tuple[dict, float, int]:
    questions = work / f"{split}.questions.jsonl"
    with questions.open("w", encoding="utf-8") as handle:
        for tweet_id, content in read_tsv(data / split / "tweets.queries.tsv"):
            handle.write(json.dumps({"id": tweet_id, "question": content}) + "\n")
    result = claimledger("ask", "--batch", str(questions), "--top", str(top), "--threshold", "0", "--db", str(db))
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    run_file = work / f"{split}.run"
    took = sorted(a["took_ms"] for a in answers if "took_ms" in a)
    with run_file.open("w", encoding="utf-8") as handle:
        for answer in answers:
            for rank, match in enumerate(answer["matches"], start=1):
                handle.write(f"{answer['id']} Q0 {match['ref']} {rank} {1000 - rank} claimledger\n")
    scored = subprocess.run(
        [sys.executable, str(data / "score.py"), str(run_file), str(data / split / "tweet-vclaim-pairs.qrels"),
         "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    median = took[len(took) // 2] if took else 0.0
    return json.loads(scored.stdout), median, len(answers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=["dev", "train"])
    parser.add_argument("--keep-dups", action="store_true", help="do not collapse exact-duplicate claim texts")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--db", type=Path, help="keep the imported ledger here (reused if it exists)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        claims = work / "claims.jsonl"
        total, kept = write_claims(args.data, claims, collapse=not args.keep_dups)
        db = args.db or work / "checkthat.db"
        if db.exists():
            print(f"reusing {db}")
        else:
            started = time.perf_counter()
            claimledger("import", str(claims), "--db", str(db))
            print(f"imported {kept} of {total} verified claims in {time.perf_counter() - started:.1f} s")
        print("| split | queries | MAP@1 | MAP@5 | MRR | median ms/query |")
        print("|---|---|---|---|---|---|")
        for split in args.splits:
            scores, median, n = run_split(args.data, split, db, work, args.top)
            print(
                f"| {split} | {n} | {scores['MAP@1']:.3f} | {scores['MAP@5']:.3f} | {scores['MRR']:.3f} |"
                f" {median:.1f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
