"""Dense search: each server's claim vectors in memory, searched exactly or through an approximate index.

Vectors live in the ledger (``ledger.vectors``), tagged with the model that made them; this module embeds the
claims that have none (new, edited, or made by another model) and searches a server's vectors. A server's
vectors are loaded once and then only what was written since is read (and what was deleted, dropped).

Up to ``exact_limit`` vectors (20,000 by default) a question is one matrix product: about 0.1 ms per 1,000
claims on one core while the matrix is in cache, more once it is not (100,000 claims: about 20 ms). Above it
the server also gets an HNSW index (usearch, 8-bit), built once and then updated as vectors come and go; it
proposes a few times more claims than asked for and their exact cosines order them, so the scores are the same
as exact search gives. While a large server's index is being built, questions are answered by exact search.

When the ledger searches its vectors itself (``ledger.vectors.searches_itself``: PostgreSQL with pgvector, see
``bot.store.pg_vectors``), :meth:`DenseIndex.search` and :meth:`DenseIndex.cosines` ask it, with the same
exact cosines, and nothing of the server is loaded here; embedding the claims is the same on every path.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from bot.matching.ann import SavedIndexes, index_keys, new_index
from bot.matching.background import BACKGROUND, PUBLIC_AFFAIRS
from bot.matching.embedding import Embedder, QueryCache
from bot.matching.textnorm import for_embedding
from bot.store import Ledger, VectorSearch

log = logging.getLogger(__name__)

EMBED_BATCH = 64
BACKGROUND_LATIN = 24  # the first sentences of BACKGROUND are English: the baseline for English claims
EXACT_LIMIT = 20_000  # vectors: above this a server's search goes through the approximate index
SAVE_AFTER_CHANGES = 1_000  # a loaded index this far behind the ledger is saved again at once
ANN_OVERFETCH = 4  # the approximate index proposes this many times the claims asked for (at least ANN_MIN)
ANN_MIN = 64
# A public-affairs statement this close to a claim (cosine of their passages) is about the claim's own subject:
# it is left out of that claim's comparison (the seed incident's claims come to at most 0.83 of them; claims about
# a pension law, a new football coach or a delivery of jets come to 0.87-0.92 of theirs)
AFFAIRS_NEAR = 0.85
NAMED_STATEMENTS = 3  # a question is compared with the public affairs closest to it told about a name it shares
NAMED_KEPT = 16_384  # public-affairs statements told about a name that are kept embedded


def _affairs_baseline(kept: np.ndarray) -> float:
    """A claim's public-affairs baseline: the mean of the text's three closest statements (``kept``: its cosines
    with the statements not about the claim's subject, closest first; not empty)."""
    return float(np.mean(kept[:3]))


def _store_search(ledger: Ledger) -> VectorSearch | None:
    """The ledger's vectors when they search themselves (pgvector), else None: search them here."""
    vectors = ledger.vectors
    return cast(VectorSearch, vectors) if getattr(vectors, "searches_itself", False) else None


class _Scope:
    """One server's vectors: float32 rows (contiguous, with room to grow), which claim each row holds (-1: a
    free row), and above the exact limit an approximate index keyed by claim id.

    ``lock`` guards the arrays (searches read them, updates change rows in place); ``update`` lets one thread at
    a time bring them up to date with the ledger."""

    def __init__(self, dim: int) -> None:
        self.lock = threading.Lock()
        self.update = threading.Lock()
        self.state: tuple[int, int] | None = None  # the ledger's (count, last row id) when last brought up to date
        self.last_id = 0
        self.matrix = np.zeros((0, dim), dtype=np.float32)
        self.ids = np.zeros(0, dtype=np.int64)
        self.size = 0  # rows in use (free ones included)
        self.row_of: dict[int, int] = {}
        self.free: list[int] = []
        self.ann: Any = None  # a usearch Index, or None: exact search
        self.ann_changes = 0  # vectors added to or taken from the index since it was built, loaded or saved

    def __len__(self) -> int:
        return len(self.row_of)

    def put(self, claim_ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors, or replace the claims' older ones."""
        if not len(claim_ids):
            return
        cids = claim_ids.tolist()
        with self.lock:
            if not self.size and len(set(cids)) == len(cids):  # the first load: the rows as read, not a copy
                self.matrix = np.ascontiguousarray(vectors, dtype=np.float32)
                self.ids = np.array(claim_ids, dtype=np.int64)
                self.size = len(cids)
                self.row_of = {cid: row for row, cid in enumerate(cids)}
                self.free = []
            else:
                rows: list[int | None] = [self.row_of.get(cid) for cid in cids]
                replaced = [cid for cid, row in zip(cids, rows, strict=True) if row is not None]
                needed = len(cids) - len(replaced) - len(self.free)
                if self.size + needed > len(self.matrix):
                    self._grow(self.size + needed)
                for n, cid in enumerate(cids):
                    if rows[n] is None:
                        row = self.row_of.get(cid)  # the same claim twice in one batch: the last vector wins
                        if row is None:
                            row = self.row_of[cid] = self.free.pop() if self.free else self._next_row()
                        rows[n] = row
                at = np.array(rows, dtype=np.int64)
                self.ids[at] = claim_ids
                self.matrix[at] = vectors
                if self.ann is not None and replaced:
                    self.ann.remove(np.array(replaced, dtype=np.uint64))
            if self.ann is not None:
                self.ann.add(claim_ids.astype(np.uint64), np.ascontiguousarray(vectors, dtype=np.float32))
                self.ann_changes += len(cids)

    def remove(self, claim_ids: set[int]) -> None:
        with self.lock:
            gone = [cid for cid in claim_ids if cid in self.row_of]
            for cid in gone:
                row = self.row_of.pop(cid)
                self.ids[row] = -1
                self.matrix[row] = 0.0
                self.free.append(row)
            if self.ann is not None and gone:
                self.ann.remove(np.array(gone, dtype=np.uint64))
                self.ann_changes += len(gone)

    def _next_row(self) -> int:
        self.size += 1
        return self.size - 1

    def _grow(self, rows: int) -> None:
        capacity = max(rows, len(self.matrix) + len(self.matrix) // 2, 64)
        matrix = np.zeros((capacity, self.matrix.shape[1]), dtype=np.float32)
        matrix[: self.size] = self.matrix[: self.size]
        ids = np.full(capacity, -1, dtype=np.int64)
        ids[: self.size] = self.ids[: self.size]
        self.matrix, self.ids = matrix, ids

    def build_ann(self) -> tuple[Any, int]:
        """An approximate index of the rows held now, built without the lock: searches go on meanwhile, and rows
        change only through ``DenseIndex._refresh``, which is the caller (the rows are read, not copied)."""
        with self.lock:
            keys = self.ids[: self.size]
            vectors = self.matrix[: self.size]
            if self.free:
                live = keys >= 0
                keys, vectors = keys[live], vectors[live]
            keys = keys.astype(np.uint64)
        index = new_index(self.matrix.shape[1])
        index.add(keys, vectors, threads=1)
        return index, len(keys)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        with self.lock:
            if not self.row_of:
                return []
            if self.ann is not None and len(self.ann):
                found = self.ann.search(vector, min(max(k * ANN_OVERFETCH, ANN_MIN), len(self.ann)), threads=1)
                proposed = [self.row_of.get(cid) for cid in found.keys.tolist()]
                rows = np.array([row for row in proposed if row is not None], dtype=np.int64)
                sims = self.matrix[rows] @ vector
                ids = self.ids[rows]
            else:
                sims = self.matrix[: self.size] @ vector
                ids = self.ids[: self.size]
                if self.free:
                    sims[ids < 0] = -np.inf
            k = min(k, len(self.row_of), len(sims))
            if k <= 0:
                return []
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.lexsort((ids[top], -sims[top]))]
            return [(int(ids[i]), float(sims[i])) for i in top]

    def cosines(self, vectors: np.ndarray, claim_ids: list[int]) -> dict[int, np.ndarray]:
        """Each claim's cosines with the rows of ``vectors`` (claims without a vector are left out)."""
        with self.lock:
            rows = [(cid, self.row_of[cid]) for cid in claim_ids if cid in self.row_of]
            if not rows:
                return {}
            sims = self.matrix[[r for _, r in rows]] @ vectors.T
        return {cid: row for (cid, _), row in zip(rows, sims, strict=True)}


class DenseIndex:
    """Claim vectors of every server, for one embedder. Thread-safe; calls that embed block."""

    def __init__(self, embedder: Embedder, *, exact_limit: int = EXACT_LIMIT, index_dir: Path | None = None) -> None:
        """``exact_limit``: a server with more vectors than this is searched through an approximate index.
        ``index_dir``: where approximate indexes are saved once built and loaded from when the bot starts again
        (see :mod:`bot.matching.ann`); without it they are built in every process that needs them."""
        self.embedder = embedder
        self.exact_limit = exact_limit
        self.saved = SavedIndexes(index_dir) if index_dir is not None else None
        self.queries = QueryCache(embedder)
        self._scopes: dict[str, _Scope] = {}
        self._lock = threading.Lock()
        self._background: np.ndarray | None = None
        self._affairs: np.ndarray | None = None
        self._named_affairs: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()  # (name, statement) -> vector

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
        # the scope's vectors (with a large scope's approximate index) are loaded now, so no question waits
        if _store_search(ledger) is None:
            self._scope(ledger, scope)
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

    def _scope(self, ledger: Ledger, scope: str, *, fresh: bool = False) -> _Scope:
        """The scope's vectors, up to date; ``fresh``: the caller knows nothing changed since it last looked.

        While another thread brings them up to date, what is held is answered with (it is at most a few writes
        behind); only a scope never loaded waits."""
        with self._lock:
            held = self._scopes.get(scope)
            if held is None:
                held = self._scopes[scope] = _Scope(self.embedder.dim)
        if fresh and held.state is not None:
            return held
        if held.state is None:
            with held.update:
                self._refresh(ledger, scope, held)
        elif held.update.acquire(blocking=False):
            try:
                self._refresh(ledger, scope, held)
            finally:
                held.update.release()
        return held

    def _refresh(self, ledger: Ledger, scope: str, held: _Scope) -> None:
        state = ledger.vectors.state(scope, self.model_id)
        if state == held.state:
            return
        dim = self.embedder.dim
        new = ledger.vectors.load(scope, self.model_id, dim, after=held.last_id)
        added = len({int(cid) for cid in new.claim_ids} - held.row_of.keys())
        if held.state is not None and len(held) + added != state[0]:
            # vectors were deleted (their claims edited or deleted): which ones, from the scope's full list
            current = ledger.vectors.load(scope, self.model_id, dim)
            if held.ann is None:  # small: start again from what was just read
                fresh = _Scope(dim)
                fresh.put(current.claim_ids, current.vectors)
                with held.lock:
                    held.matrix, held.ids, held.size = fresh.matrix, fresh.ids, fresh.size
                    held.row_of, held.free = fresh.row_of, fresh.free
                held.state, held.last_id = state, current.last_id
                self._index_if_large(ledger, scope, held)
                return
            held.remove(held.row_of.keys() - {int(cid) for cid in current.claim_ids})
        held.put(new.claim_ids, new.vectors)
        held.state, held.last_id = state, new.last_id
        self._index_if_large(ledger, scope, held)

    def _index_if_large(self, ledger: Ledger, scope: str, held: _Scope) -> None:
        """Give a scope that has outgrown exact search its approximate index: the saved one brought up to date,
        or a new one (then saved). The caller holds ``update``: rows do not change meanwhile."""
        if held.ann is not None or len(held) <= self.exact_limit:
            return
        index = self._saved_index(ledger, scope, held) if self.saved is not None else None
        if index is None:
            log.info("Indexing the %d vectors of %s for approximate search", len(held), scope)
            index, count = held.build_ann()
            log.info("Indexed the %d vectors of %s", count, scope)
            if self.saved is not None:
                self.saved.save(scope, self.model_id, index, held.last_id)
        with held.lock:
            held.ann, held.ann_changes = index, 0

    def _saved_index(self, ledger: Ledger, scope: str, held: _Scope) -> Any:
        """The scope's saved index with what changed since it was saved (None: there is none to use)."""
        assert self.saved is not None
        found = self.saved.load(scope, self.model_id, self.embedder.dim)
        if found is None:
            return None
        index, saved_last = found
        if saved_last > held.last_id:  # saved from a ledger ahead of this one (restored from a backup?)
            log.info("The saved approximate index of %s is ahead of the ledger; building it again", scope)
            return None
        keys = index_keys(index)
        live = held.ids[: held.size]
        live = live[live >= 0]
        changed = ledger.vectors.load(scope, self.model_id, self.embedder.dim, after=saved_last).claim_ids
        # claims to (re)add: not in the index, or with a vector made since it was saved (an edited claim)
        add = np.union1d(live[~np.isin(live, keys)], np.intersect1d(changed, live))
        drop = np.concatenate([keys[~np.isin(keys, live)], np.intersect1d(add, keys)])
        if len(drop):
            index.remove(drop.astype(np.uint64))
        if len(add):
            rows = np.array([held.row_of[cid] for cid in add.tolist()], dtype=np.int64)
            index.add(add.astype(np.uint64), np.ascontiguousarray(held.matrix[rows]), threads=1)
        log.info(
            "Loaded the saved approximate index of %s: %d vectors, %d added and %d taken out since it was saved",
            scope, len(index), len(add), len(drop) - len(np.intersect1d(add, keys)),
        )  # fmt: skip
        if len(add) + len(drop) > SAVE_AFTER_CHANGES:
            self.saved.save(scope, self.model_id, index, held.last_id)
        return index

    def save_indexes(self) -> int:
        """Save the approximate indexes that changed since they were built, loaded or saved (when the bot or a
        command stops); returns how many were saved."""
        if self.saved is None:
            return 0
        saved = 0
        with self._lock:
            scopes = list(self._scopes.items())
        for scope, held in scopes:
            with held.update, held.lock:
                if held.ann is None or not held.ann_changes:
                    continue
                self.saved.save(scope, self.model_id, held.ann, held.last_id)
                held.ann_changes = 0
                saved += 1
        return saved

    def background(self) -> np.ndarray:
        if self._background is None:
            self._background = self.embedder.encode_passages(list(BACKGROUND[:BACKGROUND_LATIN]))
        return self._background

    def encode(self, questions: list[str]) -> np.ndarray:
        """Questions' vectors (URLs and Discord markup left out: see ``for_embedding``), cached."""
        return self.queries.encode([for_embedding(q) for q in questions])

    def affairs_baselines(
        self, ledger: Ledger, scope: str, vector: np.ndarray, claim_ids: list[int]
    ) -> dict[int, float]:
        """For each claim, how close the text is to public affairs other than the claim's own subject (the mean
        of the closest three ``PUBLIC_AFFAIRS`` statements not within ``AFFAIRS_NEAR`` of the claim)."""
        compared = self._against_affairs(ledger, scope, vector, claim_ids)
        return {cid: _affairs_baseline(kept) for cid, (_, kept, _, _) in compared.items() if len(kept)}

    def closest_affairs(
        self, ledger: Ledger, scope: str, vector: np.ndarray, claim_ids: list[int], names: Sequence[str] = ()
    ) -> dict[int, tuple[float, float, float]]:
        """For each claim with a vector: the text's cosine with it; with the closest ``PUBLIC_AFFAIRS`` statement
        that is not about the claim's own subject; and with the closest of those statements read as news about
        one of ``names`` ("Ukraine: The national football team named a new head coach..."), so that a question
        sharing a name with the claim is measured against other news about that name (-1 when there is no such
        statement, or no name; only the NAMED_STATEMENTS statements closest to the text are read so). One read
        of the claims' vectors."""
        vector = np.asarray(vector, dtype=np.float32)
        to_named = None
        if names:
            closest = np.argsort(-(self._affairs_vectors() @ vector))[:NAMED_STATEMENTS]
            to_named = np.full(len(PUBLIC_AFFAIRS), -1.0, dtype=np.float32)
            for name in names:
                to_named[closest] = np.maximum(to_named[closest], self.named_affairs(name, closest.tolist()) @ vector)
        out: dict[int, tuple[float, float, float]] = {}
        compared = self._against_affairs(ledger, scope, vector, claim_ids, also=to_named)
        for cid, (cosine, kept, _, named) in compared.items():
            out[cid] = (cosine, float(kept[0]) if len(kept) else -1.0, float(named[0]) if len(named) else -1.0)
        return out

    def named_affairs(self, name: str, statements: list[int]) -> np.ndarray:
        """These ``PUBLIC_AFFAIRS`` statements (their indexes) as news about ``name``, one row each: each
        embedded once (the last NAMED_KEPT kept)."""
        keys = [(name, i) for i in statements]
        with self._lock:
            held = {key: self._named_affairs[key] for key in keys if key in self._named_affairs}
            for key in held:
                self._named_affairs.move_to_end(key)
        missing = [key for key in keys if key not in held]
        if missing:
            made = self.embedder.encode_passages([f"{name}: {PUBLIC_AFFAIRS[i]}" for _, i in missing])
            held.update(zip(missing, made, strict=True))
            with self._lock:
                self._named_affairs.update(zip(missing, made, strict=True))
                while len(self._named_affairs) > NAMED_KEPT:
                    self._named_affairs.popitem(last=False)
        return np.stack([held[key] for key in keys])

    def about_margins(
        self, ledger: Ledger, scope: str, vector: np.ndarray, claim_ids: list[int], names: np.ndarray
    ) -> dict[int, tuple[float, float]]:
        """For each claim with a vector: how much closer the text is to it than to everyday statements and to
        public affairs other than the claim's subject (see ``affairs_baselines``), and the cosine of ``names``
        (the vector of the words taken out of the text) with it. One read of the claims' vectors."""
        everyday = self.baseline(vector)
        out: dict[int, tuple[float, float]] = {}
        for cid, (cosine, kept, named, _) in self._against_affairs(ledger, scope, vector, claim_ids, names).items():
            out[cid] = (cosine - max(everyday, _affairs_baseline(kept) if len(kept) else everyday), named)
        return out

    def _against_affairs(
        self,
        ledger: Ledger,
        scope: str,
        vector: np.ndarray,
        claim_ids: list[int],
        other: np.ndarray | None = None,
        *,
        also: np.ndarray | None = None,
    ) -> dict[int, tuple[float, np.ndarray, float, np.ndarray]]:
        """(the text's cosine with the claim, its cosines with the public-affairs statements not about the
        claim's subject, closest first, the ``other`` text's cosine with the claim, or nan, and the ``also``
        cosines of those same statements, closest first) for each claim with a vector: the texts and the
        statements are compared with the claims in one read. ``also``: the text's cosines with other versions
        of the statements (one each, in their order; none: empty)."""
        affairs = self._affairs_vectors()
        vector = np.asarray(vector, dtype=np.float32)
        other = np.full_like(vector, np.nan) if other is None else np.asarray(other, dtype=np.float32)
        to_text = affairs @ vector
        to_also = np.empty(0, dtype=np.float32) if also is None else also
        out: dict[int, tuple[float, np.ndarray, float, np.ndarray]] = {}
        for cid, row in self.cosines(ledger, scope, np.vstack([vector, other, affairs]), claim_ids).items():
            kept = row[2:] < AFFAIRS_NEAR
            out[cid] = (
                float(row[0]),
                np.sort(to_text[kept])[::-1],
                float(row[1]),
                np.sort(to_also[kept])[::-1] if len(to_also) else to_also,
            )
        return out

    def _affairs_vectors(self) -> np.ndarray:
        if self._affairs is None:
            self._affairs = self.embedder.encode_passages(list(PUBLIC_AFFAIRS))
        return self._affairs

    def baseline(self, vector: np.ndarray) -> float:
        """How close the question is to statements about nothing in particular (the mean of the closest three)."""
        sims = np.sort(self.background() @ vector)[::-1]
        return float(sims[:3].mean())

    def search(
        self, ledger: Ledger, scope: str, vector: np.ndarray, k: int, *, fresh: bool = False
    ) -> list[tuple[int, float]]:
        """(claim id, cosine) of the ``k`` closest claims of the scope, best first (removed claims included)."""
        store = _store_search(ledger)
        if store is not None:
            return store.nearest(scope, self.model_id, np.asarray(vector, dtype=np.float32), k)
        return self._scope(ledger, scope, fresh=fresh).search(np.asarray(vector, dtype=np.float32), k)

    def cosines(self, ledger: Ledger, scope: str, vectors: np.ndarray, claim_ids: list[int]) -> dict[int, np.ndarray]:
        """Cosines of several texts' vectors (the rows of ``vectors``) with each of these claims that has a
        vector: one read of the claims' vectors for them all."""
        vectors = np.asarray(vectors, dtype=np.float32)
        store = _store_search(ledger)
        if store is not None:
            return {cid: row @ vectors.T for cid, row in store.vectors_of(scope, self.model_id, claim_ids).items()}
        return self._scope(ledger, scope, fresh=True).cosines(vectors, claim_ids)
