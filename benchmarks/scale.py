"""Matcher latency at scale: synthetic ledgers of 1k to 1M claims, short and tweet-length questions.

Each size runs in its own process (clean peak memory). Prints median and p95 ms per question for the
matcher and for naive rapidfuzz over every claim (token_set_ratio, the same run), ledger file size and
peak RSS.

    python benchmarks/scale.py [--sizes 1000 10000 100000 1000000] [--questions 200]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMON = [
    "said",
    "claimed",
    "government",
    "minister",
    "president",
    "army",
    "police",
    "attack",
    "forces",
    "official",
    "report",
    "statement",
    "city",
    "people",
    "security",
    "border",
    "evidence",
    "video",
    "footage",
    "denied",
    "alleged",
    "support",
    "military",
    "election",
    "vote",
    "law",
    "court",
    "protest",
    "media",
    "news",
    "agency",
    "foreign",
    "office",
    "spokesperson",
    "week",
    "month",
    "year",
    "village",
    "region",
    "capital",
    "strike",
    "missile",
    "drone",
    "ship",
    "oil",
    "gas",
    "price",
    "bank",
    "money",
    "fund",
    "health",
    "hospital",
    "virus",
    "vaccine",
    "school",
    "children",
    "water",
    "fire",
    "flood",
    "storm",
    "bridge",
    "road",
    "train",
    "airport",
    "embassy",
    "sanctions",
    "trade",
    "talks",
    "ceasefire",
    "peace",
    "deal",
    "troops",
]
FILLER = [
    "the",
    "a",
    "of",
    "to",
    "in",
    "and",
    "that",
    "on",
    "for",
    "with",
    "by",
    "was",
    "were",
    "has",
    "have",
    "it",
    "from",
    "at",
    "as",
    "an",
    "is",
    "be",
    "this",
]


def make_vocab(rng: random.Random, size: int = 30_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    names = {"".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)}
    return sorted(names)


def make_claim(rng: random.Random, vocab: list[str]) -> str:
    words = []
    for _ in range(rng.randint(12, 30)):
        roll = rng.random()
        if roll < 0.35:
            words.append(rng.choice(FILLER))
        elif roll < 0.7:
            words.append(rng.choice(COMMON))
        else:
            # Zipf-ish: rare words are rare.
            words.append(
                vocab[min(int(rng.paretovariate(1.1)) - 1, len(vocab) - 1)] if rng.random() < 0.5 else rng.choice(vocab)
            )
    return " ".join(words).capitalize() + "."


def build(path: Path, size: int, seed: int = 7) -> list[str]:
    from bot.store import Ledger

    rng = random.Random(seed)
    vocab = make_vocab(rng)
    texts = [make_claim(rng, vocab) for _ in range(size)]
    with Ledger.open(path) as ledger:
        speakers = [f"Speaker {rng.choice(vocab).capitalize()} {i}" for i in range(min(500, size))]
        with ledger.transaction():
            for name in speakers:
                ledger.db.execute(
                    "INSERT INTO speakers (scope, name, aliases, created_at, updated_at)"
                    " VALUES ('local', ?, '[]', '', '')",
                    [name],
                )
            ledger.db.conn.executemany(
                "INSERT INTO claims (scope, text, speaker_id, said_at, created_at, updated_at)"
                " VALUES ('local', ?, ?, '2024-03-22', '', '')",
                ((t, 1 + i % len(speakers)) for i, t in enumerate(texts)),
            )
    return texts


def questions(texts: list[str], n: int, seed: int = 11) -> dict[str, list[str]]:
    rng = random.Random(seed)
    short, tweets = [], []
    for _ in range(n):
        words = rng.choice(texts).rstrip(".").split()
        start = rng.randrange(max(len(words) - 5, 1))
        short.append(" ".join(words[start : start + rng.randint(3, 6)]))
        noise = " ".join(rng.choice(COMMON + FILLER) for _ in range(15))
        tweets.append(f"BREAKING {' '.join(words[: len(words) // 2])} {noise} https://t.co/abc #news")
    return {"short": short, "tweet": tweets}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p), len(ordered) - 1)]


def measure(size: int, n: int, naive_n: int, hybrid: bool) -> dict:
    from rapidfuzz import fuzz, process, utils

    from bot.matching import Matcher
    from bot.store import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.db"
        started = time.perf_counter()
        texts = build(path, size)
        build_s = time.perf_counter() - started
        result: dict = {"size": size, "build_s": round(build_s, 1)}
        with Ledger.open(path) as ledger:
            matcher = Matcher(ledger, threshold=0.0)
            asked = questions(texts, n)
            matcher.ask("local", "warm up the caches")
            for kind, qs in asked.items():
                times = []
                for q in qs:
                    t = time.perf_counter()
                    matcher.ask("local", q)
                    times.append((time.perf_counter() - t) * 1000)
                result[f"{kind}_median"] = round(statistics.median(times), 2)
                result[f"{kind}_p95"] = round(percentile(times, 0.95), 2)
            processed = [utils.default_process(t) for t in texts]
            naive = []
            for q in asked["short"][:naive_n]:
                t = time.perf_counter()
                process.extract(
                    utils.default_process(q), processed, scorer=fuzz.token_set_ratio, limit=5, processor=None
                )
                naive.append((time.perf_counter() - t) * 1000)
            result["naive_median"] = round(statistics.median(naive), 2)
            result["file_mb"] = round(path.stat().st_size / 1e6, 1)
            if hybrid:
                result.update(measure_hybrid(ledger, asked, size))
                result["file_with_vectors_mb"] = round(path.stat().st_size / 1e6, 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def measure_hybrid(ledger: object, asked: dict[str, list[str]], size: int) -> dict:
    """Hybrid latency with the real model for the questions and synthetic claim vectors (random unit
    vectors: embedding a million claims takes hours; the search costs the same whatever the vectors)."""
    import numpy as np

    from bot.matching import DenseIndex, E5Embedder, Matcher

    embedder = E5Embedder()
    rng = np.random.default_rng(5)
    ids = [row[0] for row in ledger.conn.execute("SELECT id FROM claims ORDER BY id")]  # type: ignore[attr-defined]
    started = time.perf_counter()
    for start in range(0, len(ids), 50_000):
        chunk = ids[start : start + 50_000]
        vectors = rng.standard_normal((len(chunk), embedder.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ledger.vectors.put("local", embedder.model_id, zip(chunk, vectors, strict=True))  # type: ignore[attr-defined]
    out: dict = {"vectors_write_s": round(time.perf_counter() - started, 1)}
    dense = DenseIndex(embedder)
    started = time.perf_counter()
    dense.sync(ledger, "local")  # as the bot's embedder thread does: no claim is missing, the speakers get warm
    out["speakers_warm_s"] = round(time.perf_counter() - started, 1)
    matcher = Matcher(ledger, threshold=0.0, dense=dense)  # type: ignore[arg-type]
    started = time.perf_counter()
    matcher.ask("local", "warm up the caches and load the vectors")
    out["vectors_load_s"] = round(time.perf_counter() - started, 1)
    for kind, qs in asked.items():
        times = []
        for q in qs:
            t = time.perf_counter()
            matcher.ask("local", q)
            times.append((time.perf_counter() - t) * 1000)
        out[f"hybrid_{kind}_median"] = round(statistics.median(times), 2)
        out[f"hybrid_{kind}_p95"] = round(percentile(times, 0.95), 2)
    return out


def embed_rate(n: int = 300) -> str:
    """Claims embedded per second by the real model, on synthetic claim texts, and peak memory."""
    from bot.matching import E5Embedder

    rng = random.Random(3)
    vocab = make_vocab(rng)
    texts = [make_claim(rng, vocab) for _ in range(n)]
    embedder = E5Embedder()
    embedder.encode_passages(texts[:8])
    started = time.perf_counter()
    embedder.encode_passages(texts)
    seconds = time.perf_counter() - started
    rate = n / seconds
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"Embedding claims: {rate:.1f} claims/s ({n} claims in {seconds:.1f} s, peak RSS {rss:.0f} MB); at that"
        f" rate 10k claims take {10_000 / rate / 60:.1f} min and 100k take {100_000 / rate / 60:.0f} min"
        " (extrapolated). Vectors on disk: 768 bytes a claim (float16, 384 dimensions) plus the row."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--naive-questions", type=int, default=20)
    parser.add_argument("--lexical", action="store_true", help="lexical matching only (no hybrid columns)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.questions, args.naive_questions, not args.lexical)))
        return 0
    print(
        "| claims | build s | file MB | peak RSS MB | short median / p95 ms | tweet median / p95 ms |"
        " naive rapidfuzz median ms | naive / matcher |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows: list[dict] = []
    for size in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--questions", str(args.questions),
             "--naive-questions", str(args.naive_questions), *(["--lexical"] if args.lexical else [])],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        ratio = r["naive_median"] / r["short_median"] if r["short_median"] else float("inf")
        print(
            f"| {size:,} | {r['build_s']} | {r['file_mb']} | {r['peak_rss_mb']} |"
            f" {r['short_median']} / {r['short_p95']} | {r['tweet_median']} / {r['tweet_p95']} |"
            f" {r['naive_median']} | {ratio:.0f}x |",
            flush=True,
        )
        rows.append(r)
    if not args.lexical:
        print("\n| claims | hybrid short median / p95 ms | hybrid tweet median / p95 ms | vectors write s |"
              " vectors load s | file with vectors MB |")  # fmt: skip
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['size']:,} | {r['hybrid_short_median']} / {r['hybrid_short_p95']} |"
                f" {r['hybrid_tweet_median']} / {r['hybrid_tweet_p95']} | {r['vectors_write_s']} |"
                f" {r['vectors_load_s']} | {r['file_with_vectors_mb']} |"
            )
        print()
        print(embed_rate())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
