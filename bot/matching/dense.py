"""Dense search: each server's claim vectors in memory, exact cosine search, and keeping the vectors made.

Vectors live in the ledger (``ledger.vectors``), tagged with the model that made them; this module embeds the
claims that have none (new, edited, or made by another model) and searches a server's vectors. A server's
matrix is loaded once and then only what was written since is read; exact search (one matrix product) takes
about a millisecond per 10,000 claims.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.matching.background import BACKGROUND
from bot.matching.embedding import Embedder, QueryCache
from bot.store import Ledger, speaker_text

log = logging.getLogger(__name__)

EMBED_BATCH = 64
BACKGROUND_LATIN = 24  # the first sentences of BACKGROUND are English: the baseline for English claims


@dataclass
class _ScopeMatrix:
    state: tuple[int, int]
    ids: np.ndarray
    matrix: np.ndarray
    last_id: int
    row_of: dict[int, int]


class DenseIndex:
    """Claim vectors of every server, for one embedder. Thread-safe; calls that embed block."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.queries = QueryCache(embedder)
        self._scopes: dict[str, _ScopeMatrix] = {}
        self._lock = threading.Lock()
        self._background: np.ndarray | None = None
        self._speakers: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    # ---------------------------------------------------------------- writing

    def missing(self, ledger: Ledger, scope: str) -> int:
        return ledger.vectors.count_missing(scope, self.model_id)

    def sync(
        self,
        ledger: Ledger,
        scope: str,
        *,
        limit: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Embed the scope's claims that have no vector by this model (at most ``limit``); returns how many."""
        todo = ledger.vectors.missing(scope, self.model_id, limit=limit or 1_000_000_000)
        done = 0
        for start in range(0, len(todo), EMBED_BATCH):
            chunk = todo[start : start + EMBED_BATCH]
            vectors = self.embedder.encode_passages([text for _, text in chunk])
            ledger.vectors.put(scope, self.model_id, zip((cid for cid, _ in chunk), vectors, strict=True))
            done += len(chunk)
            if progress:
                progress(done, len(todo))
        if done:
            log.info("Embedded %d claims of %s with %s", done, scope, self.model_id)
        # speakers' descriptions too (kept in memory), so no question waits for them
        self._embed_speakers([speaker_text(s.name, s.role) for s in ledger.list_speakers(scope)])
        return done

    def sync_all(self, ledger: Ledger, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Embed every server's missing claims (after an import, or when the model changed)."""
        total = ledger.vectors.count_missing(None, self.model_id)
        done = 0
        for scope in ledger.vectors.scopes_missing(self.model_id):
            base = done

            def report(n: int, _: int, base: int = base) -> None:
                if progress:
                    progress(base + n, total)

            done += self.sync(ledger, scope, progress=report)
        return done

    # ---------------------------------------------------------------- reading

    def _matrix(self, ledger: Ledger, scope: str, *, fresh: bool = False) -> _ScopeMatrix:
        """The scope's vectors; ``fresh``: the caller knows nothing changed since it last looked."""
        with self._lock:
            cached = self._scopes.get(scope)
        if fresh and cached is not None:
            return cached
        state = ledger.vectors.state(scope, self.model_id)
        if cached is not None and cached.state == state:
            return cached
        dim = self.embedder.dim
        if cached is not None:
            new = ledger.vectors.load(scope, self.model_id, dim, after=cached.last_id)
            added = [int(i) for i in new.claim_ids if int(i) not in cached.row_of]
            if len(added) == len(new.claim_ids) and len(cached.ids) + len(added) == state[0]:
                ids = np.concatenate([cached.ids, new.claim_ids])
                matrix = np.concatenate([cached.matrix, new.vectors])
                row_of = dict(cached.row_of)
                row_of.update({int(cid): len(cached.ids) + n for n, cid in enumerate(new.claim_ids)})
                loaded = _ScopeMatrix(state, ids, matrix, new.last_id, row_of)
                with self._lock:
                    self._scopes[scope] = loaded
                return loaded
        rows = ledger.vectors.load(scope, self.model_id, dim)
        row_of = {int(cid): n for n, cid in enumerate(rows.claim_ids)}
        loaded = _ScopeMatrix(state, rows.claim_ids, rows.vectors, rows.last_id, row_of)
        with self._lock:
            self._scopes[scope] = loaded
        return loaded

    def background(self) -> np.ndarray:
        if self._background is None:
            self._background = self.embedder.encode_passages(list(BACKGROUND[:BACKGROUND_LATIN]))
        return self._background

    def encode(self, questions: list[str]) -> np.ndarray:
        return self.queries.encode(questions)

    def baseline(self, vector: np.ndarray) -> float:
        """How close the question is to statements about nothing in particular (the mean of the closest three)."""
        sims = np.sort(self.background() @ vector)[::-1]
        return float(sims[:3].mean())

    def _embed_speakers(self, speakers: list[str]) -> None:
        """Embed the speakers' descriptions not yet held (in memory, the last 20,000)."""
        with self._lock:
            todo = [text for text in dict.fromkeys(speakers) if text and text not in self._speakers]
        if todo:
            made = self.embedder.encode_passages(todo)
            with self._lock:
                self._speakers.update(zip(todo, made, strict=True))
                while len(self._speakers) > 20_000:
                    self._speakers.popitem(last=False)

    def speaker_similarities(self, vector: np.ndarray, speakers: list[str]) -> dict[str, float]:
        """Cosine of the question with each speaker's description alone ("name (role)"): how much of a claim's
        similarity is only its speaker's name."""
        self._embed_speakers(speakers)
        with self._lock:
            return {text: float(self._speakers[text] @ vector) for text in speakers if text in self._speakers}

    def search(
        self, ledger: Ledger, scope: str, vector: np.ndarray, k: int, *, fresh: bool = False
    ) -> list[tuple[int, float]]:
        """(claim id, cosine) of the ``k`` closest claims of the scope, best first (removed claims included)."""
        loaded = self._matrix(ledger, scope, fresh=fresh)
        if not len(loaded.ids):
            return []
        sims = loaded.matrix @ vector
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(loaded.ids[i]), float(sims[i])) for i in top]

    def similarities(self, ledger: Ledger, scope: str, vector: np.ndarray, claim_ids: list[int]) -> dict[int, float]:
        """Cosine of the question with each of these claims that has a vector."""
        loaded = self._matrix(ledger, scope, fresh=True)  # search() just checked
        rows = [(cid, loaded.row_of[cid]) for cid in claim_ids if cid in loaded.row_of]
        if not rows:
            return {}
        sims = loaded.matrix[[r for _, r in rows]] @ vector
        return {cid: float(s) for (cid, _), s in zip(rows, sims, strict=True)}
