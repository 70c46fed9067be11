"""A bot's start with a large server: the approximate index built (and saved), then loaded at the next start.

Builds a synthetic ledger (``benchmarks/scale.py``'s claims) with random unit vectors for its claims, then
times ``DenseIndex.sync`` twice with the same index folder: the first start loads the vectors and builds and
saves the HNSW index, the next loads the vectors and the saved index. Prints both and the saved size.

    taskset -c 0 python benchmarks/ann_restart.py [--claims 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scale import build  # noqa: E402

from bot.matching import DenseIndex  # noqa: E402
from bot.store import DEFAULT_SCOPE, Ledger  # noqa: E402

DIM = 384


class RandomVectors:
    """Only its id and dimension are used: the claims' vectors are written here, not embedded."""

    model_id = "random-unit-vectors"
    dim = DIM

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        raise AssertionError("nothing is embedded here")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        raise AssertionError("nothing is embedded here")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Ledger.open(Path(tmp) / "ann.db") as ledger:
        build(ledger, args.claims)
        ids = [cid for cid, _ in ledger.vectors.missing(DEFAULT_SCOPE, RandomVectors.model_id, limit=args.claims + 1)]
        rng = np.random.default_rng(1)
        for start in range(0, len(ids), 50_000):
            chunk = ids[start : start + 50_000]
            vectors = rng.standard_normal((len(chunk), DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ledger.vectors.put(DEFAULT_SCOPE, RandomVectors.model_id, zip(chunk, vectors, strict=True))
        folder = Path(tmp) / "ann.db.ann"
        timings = []
        for _ in range(2):
            dense = DenseIndex(RandomVectors(), index_dir=folder)
            started = time.perf_counter()
            dense.sync(ledger, DEFAULT_SCOPE)
            timings.append(time.perf_counter() - started)
            assert dense._scopes[DEFAULT_SCOPE].ann is not None  # noqa: SLF001
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    first, then = timings
    print(f"{len(ids):,} claims: first start (vectors loaded, index built and saved) {first:.1f} s;")
    print(f"next start (vectors loaded, saved index loaded) {then:.1f} s; saved index {size:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
