"""Claim vectors in the PostgreSQL ledger: the contract of :class:`bot.store.vectors.SqliteVectors`, and, when
the server has pgvector, the search itself.

Vectors are kept as float16 ``bytea`` (the same bytes as on SQLite). Without pgvector that is all: the semantic
matcher (:class:`bot.matching.dense.DenseIndex`) loads a server's vectors and ranks them exactly in Python.

With pgvector (``features.hnsw``, see ``bot.store.pg_schema``, migration 9) each row also holds its vector as a
``halfvec`` (filled from the bytes by a trigger), and ``searches_itself`` is True: :meth:`PostgresVectors.nearest`
answers in PostgreSQL, :meth:`PostgresVectors.vectors_of` reads the few claims a question re-scores, and no
process holds a server's vectors in memory.
An HNSW index needs a fixed dimension, and a ledger may hold vectors of several models (while it moves to a new
one), so the column is untyped and each model has a partial index of its own, on ``embedding::halfvec(dim)``
with cosine distance, ``WHERE model = '<model>'``: made (empty, then growing with the inserts) when the model's
first vectors are written, or when a ledger that has none yet is first searched. Queries name the model and the
dimension as literals so that the planner can use that index.

How a server's search runs:

- a server with at most ``exact_limit`` vectors (the count is bounded, so cheap) is scanned exactly in SQL
  (``cosine_distance``, which no index serves), through the (scope, model) B-tree;
- a larger one goes through its model's HNSW index with ``hnsw.iterative_scan = relaxed_order`` (pgvector 0.8):
  the index holds every server's vectors, and the scan goes on until enough rows of this server passed the
  filter, so a server among much larger ones still gets its ``k``; ``hnsw.ef_search`` is at least the rows asked
  for. Should the scan still come back short (``hnsw.max_scan_tuples``), the server is scanned exactly.

Either way a few times more claims than asked for are proposed (ranked on the half-precision query), and their
float16 bytes re-scored in numpy against the float32 query: the cosines, and the order, are those of the exact
search in Python.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from psycopg import sql

from bot.store.vectors import DTYPE, VectorRows, claim_text, own_titles_sql

log = logging.getLogger(__name__)

EXACT_LIMIT = 20_000  # vectors: a server with more is searched through the HNSW index
OVERFETCH = 4  # the search proposes this many times the claims asked for (at least MIN_PROPOSED)
MIN_PROPOSED = 64
EF_SEARCH_MIN = 100  # hnsw.ef_search: at least this, and at least the rows asked for (pgvector allows 1000)
EF_SEARCH_MAX = 1000


def halfvec_text(vector: np.ndarray) -> str:
    """A vector as pgvector's text input (five significant digits: float16 holds fewer)."""
    return "[" + ",".join(f"{x:.5g}" for x in np.asarray(vector, dtype=np.float32).tolist()) + "]"


OWN_TITLES_SQL = own_titles_sql("string_agg(t.title, '; ' ORDER BY t.id)")


def hnsw_query(model: str, dim: int) -> sql.Composed:
    """The search through a model's HNSW index (parameters: scope, query vector, limit). The model and the
    dimension are literals: the index's predicate and expression, which the planner must see to use it."""
    return sql.SQL(
        "SELECT claim_id, vector FROM claim_vectors WHERE model = {model} AND scope = %s"
        " ORDER BY embedding::halfvec({dim}) <=> %s::halfvec({dim}) LIMIT %s"
    ).format(model=sql.Literal(model), dim=sql.Literal(dim))


def rescored(rows: Sequence[tuple[Any, Any]], vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best of (claim id, float16 bytes) rows by exact cosine with ``vector``, best first (ties: the
    lower id), as :class:`bot.matching.dense.DenseIndex` ranks in memory."""
    if not rows or k <= 0:
        return []
    ids = np.fromiter((int(row[0]) for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(bytes(row[1]) for row in rows), dtype=DTYPE).reshape(len(rows), -1)
    sims = matrix.astype(np.float32) @ vector
    order = np.lexsort((ids, -sims))[:k]
    return [(int(ids[i]), float(sims[i])) for i in order]


class PostgresVectors:
    def __init__(self, ledger: Any, *, exact_limit: int = EXACT_LIMIT) -> None:  # a PostgresLedger
        self.ledger = ledger
        self.exact_limit = exact_limit  # 0: every search goes through the HNSW index (tests)
        self._indexed: set[tuple[str, int]] = set()  # (model, dim) whose HNSW index is known to exist
        self._index_lock = threading.Lock()

    @property
    def searches_itself(self) -> bool:
        """True on the pgvector path: ask :meth:`nearest` / :meth:`vectors_of`, load nothing."""
        return bool(self.ledger.features.hnsw)

    def missing(self, scope: str, model: str, *, limit: int = 1_000_000) -> list[tuple[int, str]]:
        """(claim id, text to embed) of the scope's live claims without a vector made by ``model``."""
        with self.ledger.connection() as conn:
            rows = conn.execute(
                f"SELECT c.id, s.name, s.role, c.text, c.quote, {OWN_TITLES_SQL} FROM claims c"
                " LEFT JOIN speakers s ON s.id = c.speaker_id"
                " LEFT JOIN claim_vectors v ON v.claim_id = c.id AND v.model = %s"
                " WHERE c.scope = %s AND c.removed_reason IS NULL AND v.id IS NULL ORDER BY c.id LIMIT %s",
                [model, scope, limit],
            ).fetchall()
        return [(int(row[0]), claim_text(row[1], row[2], row[3], row[4], row[5])) for row in rows]

    def count_missing(self, scope: str | None, model: str) -> int:
        """Live claims of a scope (or of every scope) without a vector made by ``model``."""
        where = "c.removed_reason IS NULL" + ("" if scope is None else " AND c.scope = %s")
        with self.ledger.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM claims c LEFT JOIN claim_vectors v ON v.claim_id = c.id AND v.model = %s"
                f" WHERE {where} AND v.id IS NULL",
                [model] if scope is None else [model, scope],
            ).fetchone()
        return int(row[0]) if row else 0

    def scopes_missing(self, model: str) -> list[str]:
        with self.ledger.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT c.scope FROM claims c LEFT JOIN claim_vectors v ON v.claim_id = c.id AND v.model = %s"
                " WHERE c.removed_reason IS NULL AND v.id IS NULL ORDER BY 1",
                [model],
            ).fetchall()
        return [row[0] for row in rows]

    def put(self, scope: str, model: str, items: Iterable[tuple[int, np.ndarray]]) -> int:
        """Store vectors (replacing any older one of the claim); claims deleted meanwhile are skipped."""
        rows = [(int(claim_id), np.asarray(vector, dtype=DTYPE).tobytes()) for claim_id, vector in items]
        if not rows:
            return 0
        with self.ledger.transaction(), self.ledger.connection() as conn:
            if self.searches_itself:
                self._ensure_index(conn, model, len(rows[0][1]) // np.dtype(DTYPE).itemsize)
            ids = [r[0] for r in rows]
            conn.execute("DELETE FROM claim_vectors WHERE claim_id = ANY(%s)", [ids])
            conn.execute(
                "INSERT INTO claim_vectors (claim_id, scope, model, vector)"
                " SELECT v.claim_id, %s, %s, v.vector"
                " FROM unnest(%s::bigint[], %s::bytea[]) WITH ORDINALITY AS v(claim_id, vector, ord)"
                " WHERE EXISTS (SELECT 1 FROM claims WHERE id = v.claim_id AND scope = %s) ORDER BY v.ord",
                [scope, model, ids, [r[1] for r in rows], scope],
            )
        return len(rows)

    def state(self, scope: str, model: str) -> tuple[int, int]:
        """(vector count, highest row id) of a scope's vectors by ``model``: changes whenever they change."""
        with self.ledger.connection() as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(max(id), 0) FROM claim_vectors WHERE scope = %s AND model = %s",
                [scope, model],
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def load(self, scope: str, model: str, dim: int, *, after: int = 0) -> VectorRows:
        """A scope's vectors by ``model`` with row id above ``after`` (all of them by default)."""
        with self.ledger.connection() as conn:
            rows = conn.execute(
                "SELECT id, claim_id, vector FROM claim_vectors WHERE scope = %s AND model = %s AND id > %s"
                " ORDER BY id",
                [scope, model, after],
            ).fetchall()
        if not rows:
            return VectorRows(np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32), after)
        ids = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(bytes(row[2]) for row in rows), dtype=DTYPE).reshape(len(rows), dim)
        return VectorRows(ids, matrix.astype(np.float32), int(rows[-1][0]))

    # ------------------------------------------------------------ the pgvector path

    def _ensure_index(self, conn: Any, model: str, dim: int) -> None:
        """The model's HNSW index (made if missing; the caller holds the ledger's write lock)."""
        if (model, dim) in self._indexed:
            return
        name = conn.execute("SELECT claim_vectors_hnsw(%s, %s)", [model, dim]).fetchone()[0]
        log.debug("HNSW index %s serves the vectors of %s (%d dimensions)", name, model, dim)
        self._indexed.add((model, dim))

    def _index_for_search(self, model: str, dim: int) -> None:
        """Before a search: the model's index exists (a ledger copied in by ``migrate`` has vectors, no index)."""
        if (model, dim) in self._indexed:
            return
        with self._index_lock:
            if (model, dim) in self._indexed:
                return
            with self.ledger.connection() as conn:
                row = conn.execute(
                    "SELECT has_claim_vectors_index('claim_vectors_hnsw_' || left(md5(%s), 16))", [model]
                ).fetchone()
            if row is not None and row[0]:
                self._indexed.add((model, dim))
                return
            log.info("Building the HNSW index of the %s vectors (%d dimensions)", model, dim)
            with self.ledger.transaction(), self.ledger.connection() as conn:
                self._ensure_index(conn, model, dim)

    def nearest(self, scope: str, model: str, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(claim id, cosine) of the scope's ``k`` claims closest to ``vector`` among the vectors by ``model``,
        best first (removed claims included, as in memory). Only on the pgvector path."""
        query = np.asarray(vector, dtype=np.float32)
        if k <= 0:
            return []
        dim = len(query)
        self._index_for_search(model, dim)
        proposed = max(k * OVERFETCH, MIN_PROPOSED)
        with self.ledger.connection() as conn, conn.transaction():
            if self.exact_limit and self._bounded_count(conn, scope, model, self.exact_limit + 1) <= self.exact_limit:
                rows = self._exact(conn, scope, model, query, proposed)
            else:
                rows = self._approximate(conn, scope, model, query, proposed)
                if len(rows) < proposed and len(rows) < self._bounded_count(conn, scope, model, proposed):
                    log.debug("HNSW scan of %s came back short (%d rows); scanning exactly", scope, len(rows))
                    rows = self._exact(conn, scope, model, query, proposed)
        return rescored(rows, query, k)

    def vectors_of(self, scope: str, model: str, claim_ids: list[int]) -> dict[int, np.ndarray]:
        """The float32 vectors by ``model`` of these claims of the scope (claims without one left out)."""
        if not claim_ids:
            return {}
        with self.ledger.connection() as conn:
            rows = conn.execute(
                "SELECT claim_id, vector FROM claim_vectors WHERE scope = %s AND model = %s AND claim_id = ANY(%s)",
                [scope, model, [int(cid) for cid in claim_ids]],
            ).fetchall()
        return {int(row[0]): np.frombuffer(bytes(row[1]), dtype=DTYPE).astype(np.float32) for row in rows}

    @staticmethod
    def _bounded_count(conn: Any, scope: str, model: str, bound: int) -> int:
        """The scope's vectors by ``model``, counted up to ``bound`` (reads at most that many index entries)."""
        row = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM claim_vectors WHERE scope = %s AND model = %s LIMIT %s) AS v",
            [scope, model, bound],
        ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _exact(conn: Any, scope: str, model: str, query: np.ndarray, limit: int) -> list[tuple[Any, Any]]:
        """Every vector of the scope by ``model`` compared with the query (the function form: no index)."""
        conn.execute("SELECT set_config('enable_sort', 'on', true)")  # after a short HNSW scan turned it off
        return conn.execute(
            "SELECT claim_id, vector FROM claim_vectors WHERE scope = %s AND model = %s"
            " ORDER BY cosine_distance(embedding, %s::halfvec), claim_id LIMIT %s",
            [scope, model, halfvec_text(query), limit],
        ).fetchall()

    @staticmethod
    def _approximate(conn: Any, scope: str, model: str, query: np.ndarray, limit: int) -> list[tuple[Any, Any]]:
        """The model's HNSW index, scanned until ``limit`` rows of the scope passed the filter (or the scan's
        tuple budget ran out)."""
        dim = len(query)
        ef_search = min(max(EF_SEARCH_MIN, limit), EF_SEARCH_MAX)
        conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(ef_search)])
        conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        # the server was counted large: the index, not a sort of all its rows (whatever the statistics say)
        conn.execute("SELECT set_config('enable_sort', 'off', true)")
        return conn.execute(hnsw_query(model, dim), [scope, halfvec_text(query), limit]).fetchall()
