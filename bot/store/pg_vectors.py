"""Claim vectors in the PostgreSQL ledger: the contract of :class:`bot.store.vectors.SqliteVectors`.

Vectors are kept as float16 ``bytea`` (the same bytes as on SQLite) and ranked exactly by the semantic matcher in
Python over one server's vectors. pgvector is detected when the ledger opens (``features.pgvector``) and the path
taken is logged; an HNSW path would read and write the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from bot.store.vectors import DTYPE, VectorRows, claim_text


class PostgresVectors:
    def __init__(self, ledger: Any) -> None:  # a bot.store.postgres.PostgresLedger
        self.ledger = ledger

    def missing(self, scope: str, model: str, *, limit: int = 1_000_000) -> list[tuple[int, str]]:
        """(claim id, text to embed) of the scope's live claims without a vector made by ``model``."""
        with self.ledger.connection() as conn:
            rows = conn.execute(
                "SELECT c.id, s.name, s.role, c.text, c.quote FROM claims c"
                " LEFT JOIN speakers s ON s.id = c.speaker_id"
                " LEFT JOIN claim_vectors v ON v.claim_id = c.id AND v.model = %s"
                " WHERE c.scope = %s AND c.removed_reason IS NULL AND v.id IS NULL ORDER BY c.id LIMIT %s",
                [model, scope, limit],
            ).fetchall()
        return [(int(row[0]), claim_text(row[1], row[2], row[3], row[4])) for row in rows]

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
