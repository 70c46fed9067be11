"""Matcher latency at scale: synthetic ledgers of 1k to 1M claims, short and tweet-length questions.

Each size runs in its own process (clean peak memory). Prints median and p95 ms per question for the
matcher and for naive rapidfuzz over every claim (token_set_ratio, the same run), ledger file size and
peak RSS.

The ledger is written through the store's bulk writer (``bot.store.write_batch``, what an import's applier
calls: speakers, claims and their "create" revisions, the full-text index kept by the schema), in one
transaction per 100,000 claims. ``--backend postgresql`` (or ``both``) builds the same ledger on PostgreSQL:
the database named in ``--pg-url`` (its name must start with ``claimledger_bench``) is dropped and created
again (``dropdb`` / ``createdb``) for every size, and one table prints both backends side by side.

    python benchmarks/scale.py [--sizes 1000 10000 100000 1000000] [--questions 200]
    python benchmarks/scale.py --backend both --sizes 100000 --lexical [--pg-url postgresql://...]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


CHUNK = 100_000  # claims per write transaction (one import's worth)
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/claimledger_bench"
BENCH_DB_PREFIX = "claimledger_bench"


def synthetic(size: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """(speaker names, claim texts) of a synthetic ledger; the same for every backend."""
    rng = random.Random(seed)
    vocab = make_vocab(rng)
    texts = [make_claim(rng, vocab) for _ in range(size)]
    speakers = [f"Speaker {rng.choice(vocab).capitalize()} {i}" for i in range(min(500, size))]
    return speakers, texts


def build(ledger: Any, size: int, seed: int = 7) -> list[str]:
    """Write the synthetic ledger through the store's bulk writer (either backend); the claim texts."""
    from bot.store import DEFAULT_SCOPE, Batch, next_ids, now, write_batch

    speakers, texts = synthetic(size, seed)
    at = now()
    speaker_ids: list[int] = []
    for start in range(0, len(texts), CHUNK):
        batch = Batch(DEFAULT_SCOPE)
        with ledger.transaction():
            ids = next_ids(ledger)
            if not speaker_ids:
                speaker_ids = list(range(ids["speakers"], ids["speakers"] + len(speakers)))
                batch.speakers_new = [
                    (sid, name, None, "person", "[]", at, at) for sid, name in zip(speaker_ids, speakers, strict=True)
                ]
                batch.revisions += [
                    ("speaker", sid, "create", "bench", at, None, json.dumps({"name": name}))
                    for sid, name in zip(speaker_ids, speakers, strict=True)
                ]
            for offset, text in enumerate(texts[start : start + CHUNK]):
                i = start + offset
                claim_id = ids["claims"] + offset
                speaker = speakers[i % len(speakers)]
                batch.claims_new.append(
                    (claim_id, None, None, speaker_ids[i % len(speakers)], text, None, "2024-03-22", None, "[]",
                     "unknown", None, "[]", None, at, at)
                )  # fmt: skip
                record = {"ref": None, "incident": None, "speaker": speaker, "claim": text, "said_at": "2024-03-22"}
                batch.revisions.append(("claim", claim_id, "create", "bench", at, None, json.dumps(record)))
            write_batch(ledger, batch)
    return texts


def bench_database(url: str) -> str:
    """The database named in ``url``, refused (exit) unless it is the benchmark's own (it gets dropped)."""
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith(BENCH_DB_PREFIX):
        raise SystemExit(f"--pg-url must name a database starting with {BENCH_DB_PREFIX!r} (it is dropped): {name!r}")
    return name


def recreate_database(url: str) -> None:
    """Drop and create the benchmark's own database (``dropdb`` / ``createdb``); refuses any other name."""
    parts = urlsplit(url)
    name = bench_database(url)
    common = [f"--host={parts.hostname or '127.0.0.1'}", f"--port={parts.port or 5432}"]
    if parts.username:
        common.append(f"--username={parts.username}")
    subprocess.run(["dropdb", "--if-exists", *common, name], check=True)
    subprocess.run(["createdb", *common, name], check=True)


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


def measure(
    size: int, n: int, naive_n: int, hybrid: bool, backend: str = "sqlite", pg_url: str = DEFAULT_PG_URL
) -> dict:
    from bot.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.db"
        if backend == "postgresql":
            recreate_database(pg_url)
        target = pg_url if backend == "postgresql" else str(path)
        with open_store(target) as ledger:
            started = time.perf_counter()
            texts = build(ledger, size)
            build_s = time.perf_counter() - started
        result: dict = {"size": size, "backend": backend, "build_s": round(build_s, 1)}
        with open_store(target) as ledger:  # opened again, as the bot would after an import
            result.update(measure_questions(ledger, texts, n, naive_n if backend == "sqlite" else 0))
            if backend == "sqlite":
                result["file_mb"] = round(path.stat().st_size / 1e6, 1)
            if hybrid:
                result.update(measure_hybrid(ledger, questions(texts, n), size))
                if backend == "sqlite":
                    ledger.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    result["file_with_vectors_mb"] = round(path.stat().st_size / 1e6, 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def measure_questions(ledger: Any, texts: list[str], n: int, naive_n: int) -> dict:
    """Lexical latency of the short and tweet questions, and naive rapidfuzz over every claim (``naive_n``)."""
    from rapidfuzz import fuzz, process, utils

    from bot.matching import Matcher

    result: dict = {}
    matcher = Matcher(ledger, threshold=0.0)
    asked = questions(texts, n)
    matcher.ask("local", "warm up the caches")
    for kind, qs in asked.items():
        result.update(timed(kind, qs, lambda q: matcher.ask("local", q)))
    if naive_n:
        processed = [utils.default_process(t) for t in texts]
        naive = []
        for q in asked["short"][:naive_n]:
            t = time.perf_counter()
            process.extract(utils.default_process(q), processed, scorer=fuzz.token_set_ratio, limit=5, processor=None)
            naive.append((time.perf_counter() - t) * 1000)
        result["naive_median"] = round(statistics.median(naive), 2)
    return result


def measure_hybrid(ledger: object, asked: dict[str, list[str]], size: int) -> dict:
    """Hybrid latency with the real model for the questions and synthetic claim vectors (random unit
    vectors: embedding a million claims takes hours; exact search costs the same whatever the vectors, the
    approximate index's search is slower on random vectors than on real ones, which cluster). Besides the whole
    question: embedding the question alone, and dense search alone."""
    import numpy as np

    from bot.matching import DenseIndex, E5Embedder, Matcher

    embedder = E5Embedder()
    rng = np.random.default_rng(5)
    ids = sorted(cid for cid, _ in ledger.vectors.missing("local", embedder.model_id, limit=size + 1))  # type: ignore[attr-defined]
    started = time.perf_counter()
    for start in range(0, len(ids), 50_000):
        chunk = ids[start : start + 50_000]
        vectors = rng.standard_normal((len(chunk), embedder.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ledger.vectors.put("local", embedder.model_id, zip(chunk, vectors, strict=True))  # type: ignore[attr-defined]
    out: dict = {"vectors_write_s": round(time.perf_counter() - started, 1)}
    dense = DenseIndex(embedder)
    started = time.perf_counter()
    # as the bot's embedder thread does: no claim is missing; the speakers get warm, the vectors are loaded and
    # (above the exact limit) indexed
    dense.sync(ledger, "local")  # type: ignore[arg-type]
    out["sync_s"] = round(time.perf_counter() - started, 1)
    held = dense._scopes.get("local")  # noqa: SLF001  (none on the pgvector path: the ledger searches itself)
    out["ann"] = "pgvector" if held is None else held.ann is not None
    matcher = Matcher(ledger, threshold=0.0, dense=dense)  # type: ignore[arg-type]
    matcher.ask("local", "warm up the caches")
    for kind, qs in asked.items():
        out.update(timed(f"hybrid_{kind}", qs, lambda q: matcher.ask("local", q)))
    # the parts: the question's embedding (not through the cache: every question is new) and the dense search
    vector = embedder.encode_queries(["warm up"])[0]
    for kind, qs in asked.items():
        out.update(timed(f"embed_{kind}", qs, lambda q: embedder.encode_queries([q])))
    search = lambda q: dense.search(ledger, "local", vector, 20, fresh=True)  # type: ignore[arg-type]  # noqa: E731
    out.update(timed("search", asked["short"], search))
    return out


def timed(name: str, qs: list[str], run: Callable[[str], object]) -> dict:
    """Median and p95 ms per question, wall clock and the process's CPU time (the second is what one core costs
    when other work shares the machine: waits for a core are not in it)."""
    times, cpu = [], []
    for q in qs:
        t, c = time.perf_counter(), time.process_time()
        run(q)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return {
        f"{name}_median": round(statistics.median(times), 2),
        f"{name}_p95": round(percentile(times, 0.95), 2),
        f"{name}_cpu_median": round(statistics.median(cpu), 2),
        f"{name}_cpu_p95": round(percentile(cpu, 0.95), 2),
    }


def measure_embedding(n: int) -> dict:
    """The real model embedding ``n`` synthetic claims into a ledger, as the bot does (DenseIndex.sync)."""
    from bot.matching import DenseIndex, E5Embedder
    from bot.store import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "embed.db"
        with Ledger.open(path) as ledger:
            build(ledger, n, seed=3)
        before = path.stat().st_size
        with Ledger.open(path) as ledger:
            dense = DenseIndex(E5Embedder())
            started = time.perf_counter()
            done = dense.sync(ledger, "local")
            seconds = time.perf_counter() - started
            stored = ledger.conn.execute("SELECT sum(length(vector)) FROM claim_vectors").fetchone()[0]
        return {
            "claims": done,
            "embed_s": round(seconds, 1),
            "claims_per_s": round(done / seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "vector_bytes": stored,
            "file_growth_mb": round((path.stat().st_size - before) / 1e6, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", type=int, default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--naive-questions", type=int, default=20)
    parser.add_argument("--lexical", action="store_true", help="lexical matching only (no hybrid columns)")
    parser.add_argument(
        "--embed", type=int, nargs="*", default=[], metavar="N",
        help="also embed N synthetic claims with the real model (time, peak memory, vectors on disk)",
    )  # fmt: skip
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="sqlite",
        help="the ledger's backend; 'both' prints SQLite and PostgreSQL side by side (default sqlite)",
    )  # fmt: skip
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL,
        help=f"PostgreSQL database for the benchmark, dropped and created again for each size (its name must start"
        f" with {BENCH_DB_PREFIX!r}; default {DEFAULT_PG_URL})",
    )  # fmt: skip
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--embed-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        backend = "sqlite" if args.backend == "both" else args.backend
        print(
            json.dumps(measure(args.one, args.questions, args.naive_questions, not args.lexical, backend, args.pg_url))
        )
        return 0
    if args.embed_one:
        print(json.dumps(measure_embedding(args.embed_one)))
        return 0
    if args.backend != "sqlite":
        bench_database(args.pg_url)
        compare(args)
        return 0
    rows: list[dict] = []
    if args.sizes:
        print(
            "| claims | build s | file MB | peak RSS MB | short median / p95 ms | tweet median / p95 ms |"
            " naive rapidfuzz median ms | naive / matcher |"
        )
        print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        r = run_one("--one", str(size), "--questions", str(args.questions), "--naive-questions",
                    str(args.naive_questions), *(["--lexical"] if args.lexical else []))  # fmt: skip
        ratio = r["naive_median"] / r["short_median"] if r["short_median"] else float("inf")
        print(
            f"| {size:,} | {r['build_s']} | {r['file_mb']} | {r['peak_rss_mb']} |"
            f" {r['short_median']} / {r['short_p95']} | {r['tweet_median']} / {r['tweet_p95']} |"
            f" {r['naive_median']} | {ratio:.0f}x |",
            flush=True,
        )
        rows.append(r)
    if rows and not args.lexical:
        print("\nLexical-only and hybrid side by side, median / p95 ms per question; then the parts of a hybrid"
              " question: embedding it, and dense search alone (k = 20). Sync: DenseIndex.sync with every claim's"
              " vector written: the speakers embedded, the vectors loaded and, above the exact limit,"
              " indexed.\n")  # fmt: skip
        print("| claims | short: lexical | short: hybrid | tweet: lexical | tweet: hybrid | embed short |"
              " embed tweet | dense search | CPU: short lexical | CPU: short hybrid | CPU: tweet hybrid | dense |"
              " vectors write s | sync s | vectors on disk MB |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:

            def pair(name: str, r: dict = r) -> str:
                return f"{r[name + '_median']} / {r[name + '_p95']}"

            print(
                f"| {r['size']:,} | {pair('short')} | {pair('hybrid_short')} | {pair('tweet')} |"
                f" {pair('hybrid_tweet')} | {pair('embed_short')} | {pair('embed_tweet')} | {pair('search')} |"
                f" {pair('short_cpu')} | {pair('hybrid_short_cpu')} | {pair('hybrid_tweet_cpu')} |"
                f" {'approximate' if r['ann'] else 'exact'} | {r['vectors_write_s']} | {r['sync_s']} |"
                f" {round(r['file_with_vectors_mb'] - r['file_mb'], 1)} |",
                flush=True,
            )
    for n in args.embed:
        e = run_one("--embed-one", str(n))
        print(
            f"\nEmbedding {e['claims']:,} synthetic claims with the real model (DenseIndex.sync): {e['embed_s']} s"
            f" ({e['claims_per_s']} claims/s), peak RSS {e['peak_rss_mb']} MB; vectors {e['vector_bytes'] / 1e6:.1f}"
            f" MB ({e['vector_bytes'] // max(e['claims'], 1)} bytes a claim), ledger file +{e['file_growth_mb']} MB",
            flush=True,
        )
    return 0


def compare(args: argparse.Namespace) -> None:
    """One table, the backends side by side: import (build) time and median / p95 ms per question."""
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    kinds = ["short", "tweet"] + ([] if args.lexical else ["hybrid_short", "hybrid_tweet"])
    titles = {"short": "lexical short", "tweet": "lexical tweet", "hybrid_short": "hybrid short",
              "hybrid_tweet": "hybrid tweet"}  # fmt: skip
    header = ["claims"] + [f"{names[b]} import s" for b in backends]
    header += [f"{titles[k]}: {names[b]}" for k in kinds for b in backends]
    if len(backends) == 2:
        header += [f"{titles[k]} p95 PG / SQLite" for k in kinds]
    header += [f"{names[b]} peak RSS MB" for b in backends]
    print("Median / p95 ms per question; import s: the bulk writer (speakers, claims, revisions, full text)\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header), flush=True)
    for size in args.sizes:
        found: dict[str, dict] = {}
        for backend in backends:
            found[backend] = run_one("--one", str(size), "--questions", str(args.questions), "--naive-questions",
                                     str(args.naive_questions), "--backend", backend, "--pg-url", args.pg_url,
                                     *(["--lexical"] if args.lexical else []))  # fmt: skip
        cells = [f"{size:,}"] + [str(found[b]["build_s"]) for b in backends]
        cells += [f"{found[b][k + '_median']} / {found[b][k + '_p95']}" for k in kinds for b in backends]
        if len(backends) == 2:
            cells += [f"{found['postgresql'][k + '_p95'] / max(found['sqlite'][k + '_p95'], 1e-9):.2f}x" for k in kinds]
        cells += [str(found[b]["peak_rss_mb"]) for b in backends]
        print("| " + " | ".join(cells) + " |", flush=True)


def run_one(*args: str) -> dict:
    """One measurement in its own process (its own peak memory)."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    raise SystemExit(main())
