"""Seed-incident question set: hit@1, hit@3 and abstention accuracy of the matcher, with a table.

python benchmarks/seed_questions.py [--threshold T] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bot.matching import Matcher  # noqa: E402
from bot.seed import seed_scope  # noqa: E402
from bot.store import DEFAULT_SCOPE, Ledger  # noqa: E402

QUESTIONS = ROOT / "tests" / "seed_questions.jsonl"


def load_questions() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(matcher: Matcher, questions: list[dict]) -> dict:
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    hit1 = hit3 = on_topic = abstain_ok = off_topic = 0
    failures = []
    for item in questions:
        answer = matcher.ask(DEFAULT_SCOPE, item["q"], top=5)
        refs = [m.claim.ref for m in answer.matches]
        if item["expect"] == "abstain":
            off_topic += 1
            ok = not refs
            abstain_ok += ok
        else:
            on_topic += 1
            expected = set(item["expect"])
            first = bool(refs) and refs[0] in expected
            hit1 += first
            hit3 += any(r in expected for r in refs[:3])
            ok = first
        per_kind[item["kind"]][0] += ok
        per_kind[item["kind"]][1] += 1
        if not ok:
            failures.append((item["q"], item["expect"], refs[:3]))
    return {
        "hit@1": hit1 / on_topic,
        "hit@3": hit3 / on_topic,
        "abstention": abstain_ok / off_topic,
        "on_topic": on_topic,
        "off_topic": off_topic,
        "per_kind": {k: f"{v[0]}/{v[1]}" for k, v in sorted(per_kind.items())},
        "failures": failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    with Ledger.memory() as ledger:
        seed_scope(ledger, DEFAULT_SCOPE)
        result = evaluate(Matcher(ledger, threshold=args.threshold), load_questions())
    print(
        f"| questions | hit@1 | hit@3 | abstention |\n|---|---|---|---|\n"
        f"| {result['on_topic']} on-topic + {result['off_topic']} off-topic | {result['hit@1']:.3f} |"
        f" {result['hit@3']:.3f} | {result['abstention']:.3f} |"
    )
    print("per kind:", result["per_kind"])
    if args.verbose:
        for question, expected, got in result["failures"]:
            print(f"MISS {question!r}: expected {expected}, got {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
