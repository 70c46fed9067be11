"""Question sets on the bundled incident: hit@1, hit@3 and abstention, by language and kind, lexical vs hybrid.

    python benchmarks/questions.py [--set member|tuning|seed|holdout|final|blind|speaker-topic|sides] [--lexical]
        [--crowded] [--threshold T] [--verbose]

``member`` (benchmarks/member_questions.jsonl): questions as members ask them, in English,
Russian, Ukrainian and German, plus questions the ledger cannot answer. ``tuning`` is the set the semantic
weights and thresholds were tuned on. ``seed`` is tests/seed_questions.jsonl. ``holdout``
(benchmarks/holdout_questions.jsonl) and ``final`` (benchmarks/final_questions.jsonl) were written from the
article by helpers who never ran the matcher; ``holdout``'s misses were then read and it joined the tuning set,
``final`` is measured only. ``speaker-topic`` holds only questions the ledger cannot answer that name one of its
speakers and ask about another subject ("what did zelensky say about sanctions"), written after that kind was
seen to fail; measured only. ``sides`` asks what a country said ("what did the Russians say?", "did Kyiv deny
it?"), written with the matcher's reading of countries as speakers (16 of them while it was built; the other 8
after). ``--crowded`` also imports the
10,375 CheckThat! 2020 claims (read from ../shared, never copied) into the same server as other incidents, so
the bundled incident must hold its own in a crowded ledger; the ledger and its vectors are cached in the
system's temporary folder, as embedding them takes minutes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.formats import import_bytes  # noqa: E402
from bot.matching import DenseIndex, Matcher, default_embedder  # noqa: E402
from bot.progress import ProgressBar  # noqa: E402
from bot.seed import seed_scope  # noqa: E402
from bot.store import DEFAULT_SCOPE, Ledger, backup  # noqa: E402

SETS = {
    "member": ROOT / "benchmarks" / "member_questions.jsonl",
    "tuning": ROOT / "benchmarks" / "tuning_questions.jsonl",
    "seed": ROOT / "tests" / "seed_questions.jsonl",
    "holdout": ROOT / "benchmarks" / "holdout_questions.jsonl",
    "final": ROOT / "benchmarks" / "final_questions.jsonl",
    "blind": ROOT / "benchmarks" / "blind_questions.jsonl",
    "speaker-topic": ROOT / "benchmarks" / "speaker_topic_questions.jsonl",
    "sides": ROOT / "benchmarks" / "side_questions.jsonl",
}
CHECKTHAT = ROOT.parent / "shared" / "bench" / "checkthat-2020" / "verified_claims.docs.tsv"
CACHE = Path(tempfile.gettempdir()) / "claimledger-bench"  # benchmarks/checkthat.py --db CACHE/checkthat.db


def load(name: str) -> list[dict]:
    items = []
    for line in SETS[name].read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        expect = item["expect"]
        items.append(
            {
                "question": item.get("question") or item["q"],
                "expect": [] if expect == "abstain" else expect,
                "lang": item.get("lang", "en"),
                "kind": item.get("kind") or ("answerable" if expect and expect != "abstain" else "offtopic"),
            }
        )
    return items


def build(path: Path, *, crowded: bool, dense: DenseIndex | None) -> Ledger:
    fresh = not path.exists()
    checkthat_db = CACHE / "checkthat.db"  # left by `benchmarks/checkthat.py --db ...`, vectors included
    if fresh and crowded and checkthat_db.exists():
        backup(checkthat_db, path)  # a consistent copy, vectors included
        ledger = Ledger.open(path)
        seed_scope(ledger, DEFAULT_SCOPE)
        fresh = False
    else:
        ledger = Ledger.open(path)
    if fresh:
        seed_scope(ledger, DEFAULT_SCOPE)
        if crowded:
            with CHECKTHAT.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.reader(handle, delimiter="\t"))[1:]
            lines = [
                json.dumps({"ref": f"checkthat-{r[0]}", "claim": r[1], "source_title": r[2], "incident": "Snopes"})
                for r in rows
            ]
            ledger.create_incident(DEFAULT_SCOPE, title="Snopes", actor="bench")
            import_bytes(ledger, DEFAULT_SCOPE, "checkthat.jsonl", "\n".join(lines).encode(), actor="bench")
    if dense is not None:
        missing = dense.missing(ledger, DEFAULT_SCOPE)
        if missing:
            dense.sync(ledger, DEFAULT_SCOPE, progress=ProgressBar("Embedding claims", min_total=100))
    return ledger


def evaluate(matcher: Matcher, items: list[dict]) -> dict:
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # hit1, hit3, answerable, abstained-ok...
    offs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    took = []
    for item in items:
        answer = matcher.ask(DEFAULT_SCOPE, item["question"], top=5)
        took.append(answer.took_ms)
        # ranked by relevance; claims shown as the other side of a dispute are labelled so and not counted
        refs = [m.claim.ref for m in answer.matches if not m.other_side]
        if item["expect"]:
            first = bool(refs) and refs[0] in item["expect"]
            top3 = any(r in item["expect"] for r in refs[:3])
            for key in ("all", item["lang"]):
                groups[key][0] += first
                groups[key][1] += top3
                groups[key][2] += 1
            if not first:
                misses.append((item, refs[:3], [round(m.score, 2) for m in answer.matches[:3]]))
        else:
            for key in ("all", item["lang"], item["kind"]):
                offs[key][0] += not refs
                offs[key][1] += 1
            if refs:
                misses.append((item, refs[:3], [round(m.score, 2) for m in answer.matches[:3]]))
    took.sort()
    return {"answerable": groups, "unanswerable": offs, "misses": misses, "p50_ms": took[len(took) // 2]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=sorted(SETS), default="member")
    parser.add_argument("--lexical", action="store_true", help="lexical matching only (no semantic search)")
    parser.add_argument("--crowded", action="store_true", help="add the CheckThat claims to the same server")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    embedder = None if args.lexical else default_embedder()
    dense = DenseIndex(embedder) if embedder else None
    CACHE.mkdir(exist_ok=True)
    name = "crowded" if args.crowded else "seed"
    path = CACHE / f"questions-{name}.db"
    if os.environ.get("CLAIMLEDGER_BENCH_FRESH"):
        path.unlink(missing_ok=True)
    started = time.perf_counter()
    with build(path, crowded=args.crowded, dense=dense) as ledger:
        built = time.perf_counter() - started
        claims = ledger.count_claims(DEFAULT_SCOPE)
        result = evaluate(Matcher(ledger, threshold=args.threshold, dense=dense), load(args.set))
    mode = "lexical" if dense is None else f"hybrid ({dense.model_id})"
    print(f"{args.set} questions, {mode}, {claims} claims in the server (ready in {built:.1f} s)")
    print("| language | answerable | hit@1 | hit@3 |\n|---|---|---|---|")
    for key, (h1, h3, n, _) in sorted(result["answerable"].items(), key=lambda kv: kv[0] != "all"):
        print(f"| {key} | {n} | {h1 / n:.3f} | {h3 / n:.3f} |")
    print("\n| unanswerable | questions | abstained |\n|---|---|---|")
    for key, (ok, n) in sorted(result["unanswerable"].items(), key=lambda kv: kv[0] != "all"):
        print(f"| {key} | {n} | {ok / n:.3f} |")
    print(f"\nmedian time per question: {result['p50_ms']:.1f} ms")
    if args.verbose:
        for item, refs, confs in result["misses"]:
            where = f"{item['lang']}/{item['kind']}"
            print(f"MISS [{where}] {item['question']!r}: expected {item['expect']}, got {refs} {confs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
