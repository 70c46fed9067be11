"""DenseIndex on synthetic vectors (no model): the approximate index finds what exact search finds, and follows
the ledger's vectors as they are added, replaced and deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.matching import DenseIndex, index_dir_for
from bot.store import DEFAULT_SCOPE, Ledger

S = DEFAULT_SCOPE
DIM = 64
CLAIMS = 1_500
LOW_LIMIT = 100  # far below CLAIMS: the approximate index serves the scope


class RandomEmbedder:
    """Only its id and dimension are used: the tests write the claims' vectors themselves."""

    model_id = "random-unit-vectors"
    dim = DIM

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("no question is embedded here")

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("no claim is embedded here")


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def add_claims(ledger: Ledger, n: int) -> list[int]:
    with ledger.transaction():
        ledger.db.conn.executemany(
            "INSERT INTO claims (scope, text, said_at, created_at, updated_at) VALUES (?, ?, '2024-03-22', '', '')",
            ((S, f"Synthetic claim number {i}.") for i in range(n)),
        )
    return [row[0] for row in ledger.db.conn.execute("SELECT id FROM claims WHERE scope = ? ORDER BY id", [S])]


@pytest.fixture
def ledger() -> Iterator[tuple[Ledger, list[int], np.ndarray]]:
    rng = np.random.default_rng(20)
    with Ledger.memory() as ledger:
        ids = add_claims(ledger, CLAIMS)
        vectors = unit(rng, len(ids))
        ledger.vectors.put(S, RandomEmbedder.model_id, zip(ids, vectors, strict=True))
        yield ledger, ids, vectors


def test_the_approximate_index_finds_what_exact_search_finds(ledger: tuple[Ledger, list[int], np.ndarray]) -> None:
    store, _, _ = ledger
    exact = DenseIndex(RandomEmbedder())
    approximate = DenseIndex(RandomEmbedder(), exact_limit=LOW_LIMIT)
    queries = unit(np.random.default_rng(21), 40)
    recalls = []
    for query in queries:
        truth = exact.search(store, S, query, 20)
        found = approximate.search(store, S, query, 20)
        assert len(found) == 20
        recalls.append(len({cid for cid, _ in truth} & {cid for cid, _ in found}) / 20)
        # the scores are exact cosines, and the order is by them
        truth_scores = dict(truth)
        assert all(abs(score - truth_scores[cid]) < 1e-5 for cid, score in found if cid in truth_scores)
        assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)
    assert exact._scopes[S].ann is None
    assert approximate._scopes[S].ann is not None and len(approximate._scopes[S].ann) == CLAIMS
    assert float(np.mean(recalls)) >= 0.95


@pytest.mark.parametrize("exact_limit", [LOW_LIMIT, 1_000_000], ids=["approximate", "exact"])
def test_added_replaced_and_deleted_vectors_are_followed(
    ledger: tuple[Ledger, list[int], np.ndarray], exact_limit: int
) -> None:
    store, ids, vectors = ledger
    model = RandomEmbedder.model_id
    dense = DenseIndex(RandomEmbedder(), exact_limit=exact_limit)
    edited, deleted, unchanged = ids[10], ids[20], ids[30]
    assert dense.search(store, S, vectors[10], 1)[0][0] == edited
    assert (dense._scopes[S].ann is not None) == (exact_limit == LOW_LIMIT)

    # an edit deletes the claim's vector (a trigger), a deletion deletes the claim and its vector
    store.update_claim(S, edited, text="Edited synthetic claim.", actor="t")
    store.db.conn.execute("DELETE FROM claims WHERE id = ?", [deleted])
    hits = dict(dense.search(store, S, vectors[10], 50))
    assert edited not in hits and dense.search(store, S, vectors[20], 1)[0][0] != deleted
    assert dense.cosines(store, S, vectors[10][None, :], [edited, deleted, unchanged]).keys() == {unchanged}

    # the edited claim's new vector, and a new claim's, are found
    new_vectors = unit(np.random.default_rng(22), 2)
    [added] = add_claims(store, 1)[-1:]
    store.vectors.put(S, model, [(edited, new_vectors[0]), (added, new_vectors[1])])
    assert dense.search(store, S, new_vectors[0], 1) == [(edited, pytest.approx(1.0, abs=2e-3))]
    assert dense.search(store, S, new_vectors[1], 1)[0][0] == added
    assert dense.cosines(store, S, new_vectors[0][None, :], [edited])[edited][0] == pytest.approx(1.0, abs=2e-3)
    # several texts at once: each row's cosines are those one text at a time gives
    both = dense.cosines(store, S, np.stack([new_vectors[0], vectors[30]]), [edited, deleted, unchanged])
    assert both.keys() == {edited, unchanged}
    for row, text in enumerate((new_vectors[0], vectors[30])):
        one = dense.cosines(store, S, text[None, :], [edited, unchanged])
        assert all(both[cid][row] == pytest.approx(one[cid][0], abs=1e-5) for cid in one)
    held = dense._scopes[S]
    assert len(held) == CLAIMS  # one deleted, one added
    if held.ann is not None:
        assert len(held.ann) == CLAIMS and deleted not in held.ann and added in held.ann

    # a fresh index reads the same ledger the same way
    again = DenseIndex(RandomEmbedder(), exact_limit=exact_limit)
    for query in (new_vectors[0], vectors[30]):
        assert again.search(store, S, query, 5) == dense.search(store, S, query, 5)


def test_a_built_index_is_saved_and_loaded_by_the_next_process_instead_of_built_again(
    ledger: tuple[Ledger, list[int], np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, ids, vectors = ledger
    model = RandomEmbedder.model_id
    first = DenseIndex(RandomEmbedder(), exact_limit=LOW_LIMIT, index_dir=tmp_path)
    assert first.search(store, S, vectors[7], 1)[0][0] == ids[7]
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".usearch"]

    # what changes while no bot runs: a claim edited (new vector), one deleted, one added
    edited, deleted = ids[10], ids[20]
    store.update_claim(S, edited, text="Edited synthetic claim.", actor="t")
    store.db.conn.execute("DELETE FROM claims WHERE id = ?", [deleted])
    [added] = add_claims(store, 1)[-1:]
    new_vectors = unit(np.random.default_rng(24), 2)
    store.vectors.put(S, model, [(edited, new_vectors[0]), (added, new_vectors[1])])

    # the next process loads the saved index (building one would fail here) and brings it up to date
    def no_build(self: object) -> None:
        raise AssertionError("the saved index should have been loaded")

    monkeypatch.setattr("bot.matching.dense._Scope.build_ann", no_build)
    second = DenseIndex(RandomEmbedder(), exact_limit=LOW_LIMIT, index_dir=tmp_path)
    assert second.search(store, S, new_vectors[0], 1) == [(edited, pytest.approx(1.0, abs=2e-3))]
    assert second.search(store, S, new_vectors[1], 1)[0][0] == added
    ann = second._scopes[S].ann
    assert len(ann) == CLAIMS and deleted not in ann and added in ann
    exact = DenseIndex(RandomEmbedder())
    for query in unit(np.random.default_rng(23), 10):
        truth = {cid for cid, _ in exact.search(store, S, query, 10)}
        assert len(truth & {cid for cid, _ in second.search(store, S, query, 10)}) >= 9


def test_a_saved_index_of_another_model_or_a_damaged_one_is_built_again(
    ledger: tuple[Ledger, list[int], np.ndarray], tmp_path: Path
) -> None:
    store, _, vectors = ledger
    DenseIndex(RandomEmbedder(), exact_limit=LOW_LIMIT, index_dir=tmp_path).search(store, S, vectors[0], 1)
    [data] = tmp_path.glob("*.usearch")
    data.write_bytes(b"not an index")
    again = DenseIndex(RandomEmbedder(), exact_limit=LOW_LIMIT, index_dir=tmp_path)
    assert again.search(store, S, vectors[5], 1)[0][0] == again._scopes[S].ids[5]
    assert len(again._scopes[S].ann) == CLAIMS
    assert data.stat().st_size > 1000  # built again, and saved over the damaged file

    class OtherModel(RandomEmbedder):
        model_id = "other-unit-vectors"

    store.vectors.put(S, OtherModel.model_id, zip(again._scopes[S].ids[:CLAIMS].tolist(), vectors, strict=True))
    other = DenseIndex(OtherModel(), exact_limit=LOW_LIMIT, index_dir=tmp_path)
    other.search(store, S, vectors[0], 1)
    assert len(list(tmp_path.glob("*.usearch"))) == 2  # one per model: never mixed


def test_changes_after_loading_are_saved_when_asked(
    ledger: tuple[Ledger, list[int], np.ndarray], tmp_path: Path
) -> None:
    store, _, vectors = ledger
    dense = DenseIndex(RandomEmbedder(), exact_limit=LOW_LIMIT, index_dir=tmp_path)
    dense.search(store, S, vectors[0], 1)
    assert dense.save_indexes() == 0  # nothing changed since it was built and saved
    [added] = add_claims(store, 1)[-1:]
    store.vectors.put(S, RandomEmbedder.model_id, [(added, vectors[3])])
    dense.search(store, S, vectors[3], 2)
    assert dense.save_indexes() == 1
    [record] = tmp_path.glob("*.json")
    assert json.loads(record.read_text())["last_id"] == dense._scopes[S].last_id


def test_where_indexes_are_saved() -> None:
    assert index_dir_for(Path("/srv/ledger.db")) == Path("/srv/ledger.db.ann")
    assert index_dir_for("sqlite:////srv/ledger.db") == Path("/srv/ledger.db.ann")
    assert index_dir_for("postgresql://bot@db/ledger") is None
    assert index_dir_for(":memory:") is None


class RecordingEmbedder(RandomEmbedder):
    def __init__(self) -> None:
        self.asked: list[str] = []

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.asked += texts
        return unit(np.random.default_rng(0), len(texts))


def test_questions_reach_the_model_without_urls_or_discord_markup() -> None:
    embedder = RecordingEmbedder()
    dense = DenseIndex(embedder)
    dense.encode(["did <@123456789012345678> see https://t.co/abc pic.twitter.com/xyz <:pepe:42> this? — Ann (@ann)"])
    dense.encode(["https://example.org/only-a-link"])  # nothing else to read: the link is kept
    assert embedder.asked == ["did see this? — Ann (@ann)", "https://example.org/only-a-link"]
