"""Claim vectors in the ledger: what the semantic matcher stores and reads (float16, one row per claim).

The store knows nothing of models: it keeps bytes tagged with a model id, tells which live claims have no
vector for a model (new, edited, or made by another model), and hands out a server's vectors, optionally only
those written since a reader last looked.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

DTYPE = np.float16
LOAD_CHUNK = 20_000  # rows read at a time


@dataclass(frozen=True)
class VectorRows:
    claim_ids: np.ndarray  # int64
    vectors: np.ndarray  # float32, one row per claim
    last_id: int  # the highest row id read: pass it back as ``after`` to read only newer rows


def speaker_text(speaker: str | None, role: str | None) -> str:
    """Who said it, as embedded: the name and the role."""
    return f"{speaker} ({role})" if speaker and role else speaker or ""


def claim_text(speaker: str | None, role: str | None, text: str, quote: str | None, titles: str | None = None) -> str:
    """What a claim's vector is made from: who said it (name and role), what they said, and the titles of the
    sources that this claim alone cites (a source many claims cite, such as the article a whole incident comes
    from, says nothing about one of them)."""
    who = speaker_text(speaker, role)
    said = f'{text} "{quote}"' if quote else text
    if titles:
        said = f"{said} ({titles})"
    return f"{who}: {said}" if who else said


def own_titles_sql(aggregate: str) -> str:
    """SQL for the titles of the sources only the claim ``c`` cites, joined by ``aggregate`` over the rows ``t``
    (``title``, ``id``) in source order: each dialect's own string aggregate."""
    return (
        f"(SELECT {aggregate} FROM (SELECT src.title, src.id FROM claim_sources cs"
        " JOIN sources src ON src.id = cs.source_id WHERE cs.claim_id = c.id AND NOT EXISTS"
        " (SELECT 1 FROM claim_sources o WHERE o.source_id = cs.source_id AND o.claim_id <> cs.claim_id)"
        " ORDER BY src.id) AS t)"
    )


OWN_TITLES_SQL = own_titles_sql("group_concat(t.title, '; ')")


class SqliteVectors:
    searches_itself = False  # the matcher loads and searches them (bot.matching.dense)

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self.conn = conn
        self.lock = lock

    def missing(self, scope: str, model: str, *, limit: int = 1_000_000) -> list[tuple[int, str]]:
        """(claim id, text to embed) of the scope's live claims without a vector made by ``model``."""
        with self.lock:
            rows = self.conn.execute(
                f"SELECT c.id, s.name, s.role, c.text, c.quote, {OWN_TITLES_SQL} FROM claims c"
                " LEFT JOIN speakers s ON s.id = c.speaker_id"
                " LEFT JOIN claim_vectors v ON v.claim_id = c.id AND v.model = ?"
                " WHERE c.scope = ? AND c.removed_reason IS NULL AND v.id IS NULL ORDER BY c.id LIMIT ?",
                [model, scope, limit],
            ).fetchall()
        return [(row[0], claim_text(row[1], row[2], row[3], row[4], row[5])) for row in rows]

    def count_missing(self, scope: str | None, model: str) -> int:
        """Live claims of a scope (or of every scope) without a vector made by ``model``."""
        where = "c.removed_reason IS NULL" + ("" if scope is None else " AND c.scope = ?")
        with self.lock:
            return self.conn.execute(
                "SELECT count(*) FROM claims c LEFT JOIN claim_vectors v ON v.claim_id = c.id AND v.model = ?"
                f" WHERE {where} AND v.id IS NULL",
                [model] if scope is None else [model, scope],
            ).fetchone()[0]

    def scopes_missing(self, model: str) -> list[str]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT DISTINCT c.scope FROM claims c LEFT JOIN claim_vectors v ON v.claim_id = c.id AND v.model = ?"
                " WHERE c.removed_reason IS NULL AND v.id IS NULL",
                [model],
            ).fetchall()
        return [row[0] for row in rows]

    def put(self, scope: str, model: str, items: Iterable[tuple[int, np.ndarray]]) -> int:
        """Store vectors (replacing any older one of the claim); claims deleted meanwhile are skipped."""
        rows = [(claim_id, scope, model, np.asarray(vector, dtype=DTYPE).tobytes()) for claim_id, vector in items]
        with self.lock:
            in_transaction = self.conn.in_transaction
            if not in_transaction:
                self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany("DELETE FROM claim_vectors WHERE claim_id = ?", [(r[0],) for r in rows])
                self.conn.executemany(
                    "INSERT INTO claim_vectors (claim_id, scope, model, vector)"
                    " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM claims WHERE id = ?1 AND scope = ?2)",
                    rows,
                )
            except BaseException:
                if not in_transaction and self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            if not in_transaction:
                self.conn.execute("COMMIT")
        return len(rows)

    def state(self, scope: str, model: str) -> tuple[int, int]:
        """(vector count, highest row id) of a scope's vectors by ``model``: changes whenever they change."""
        with self.lock:
            count, last = self.conn.execute(
                "SELECT count(*), coalesce(max(id), 0) FROM claim_vectors WHERE scope = ? AND model = ?", [scope, model]
            ).fetchone()
        return count, last

    def load(self, scope: str, model: str, dim: int, *, after: int = 0) -> VectorRows:
        """A scope's vectors by ``model`` with row id above ``after`` (all of them by default).

        Read in chunks, each turned into float16 rows at once: a million rows never exist as Python objects."""
        ids: list[np.ndarray] = []
        halves: list[np.ndarray] = []
        last = after
        with self.lock:
            cursor = self.conn.execute(
                "SELECT id, claim_id, vector FROM claim_vectors WHERE scope = ? AND model = ? AND id > ? ORDER BY id",
                [scope, model, after],
            )
            while rows := cursor.fetchmany(LOAD_CHUNK):
                ids.append(np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows)))
                halves.append(np.frombuffer(b"".join(row[2] for row in rows), dtype=DTYPE).reshape(len(rows), dim))
                last = rows[-1][0]
        if not ids:
            return VectorRows(np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32), after)
        matrix = np.empty((sum(len(part) for part in ids), dim), dtype=np.float32)
        start = 0
        while halves:
            part = halves.pop(0)
            matrix[start : start + len(part)] = part
            start += len(part)
        return VectorRows(np.concatenate(ids), matrix, last)
