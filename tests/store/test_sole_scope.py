"""A server that holds every claim of the ledger is searched without its token in the full-text expression: the
rows, their order and their BM25 scores are those the token would give; once another server has a claim, the
token is back (nothing remembered from before the write)."""

from __future__ import annotations

from bot.store import Ledger
from bot.store.search import FTS_WEIGHTS, _quoted, scope_token

A, B = "111", "222"
TEXTS = [
    "The governor said a drone strike hit the refinery at night.",
    "The ministry said the refinery fire after the strike was put out.",
    "Kyiv said its drones struck the refinery in response.",
    "The owner said the drone strike damaged one refinery unit.",
    "Residents heard the drone before the strike on the depot.",
]


def _with_token(ledger: Ledger, scope: str, words: list[str], *, join: str = " OR ") -> list[tuple[int, float]]:
    """The ranked search as it reads with the scope's token."""
    expression = f"{scope_token(scope)} AND ({join.join(_quoted(w) for w in words)})"
    rows = ledger.conn.execute(
        f"SELECT f.rowid, bm25(claims_fts, {FTS_WEIGHTS}) AS rank FROM claims_fts f JOIN claims c ON c.id = f.rowid"
        " WHERE claims_fts MATCH ? AND c.scope = ? AND c.removed_reason IS NULL ORDER BY rank, f.rowid LIMIT 100",
        [expression, scope],
    ).fetchall()
    return [(row[0], -row[1]) for row in rows]


def _fill(ledger: Ledger) -> list[int]:
    ids = [ledger.add_claim(A, text=text, actor="t").id for text in TEXTS]
    ledger.remove_claim(A, ids[1], reason="duplicate", actor="t")
    return ids


def test_a_sole_server_finds_and_scores_as_with_its_token(ledger: Ledger) -> None:
    ids = _fill(ledger)
    for words in (["refinery"], ["drone", "depot"], ["governor", "strike", "night"]):
        found = ledger.search.match(A, words)
        assert found == _with_token(ledger, A, words)
        assert ids[1] not in {cid for cid, _ in found}
    assert ledger.search.match(A, ["drone", "strike"], mode="all") == _with_token(
        ledger, A, ["drone", "strike"], join=" AND "
    )
    unranked = ledger.search.match(A, ["strike"], ranked=False)
    assert sorted(unranked) == sorted(_with_token(ledger, A, ["strike"]))
    assert ledger.search.doc_freqs(A, ["refinery", "depot", "nothing"]) == {"refinery": 4, "depot": 1}


def test_another_servers_claim_brings_the_token_back(ledger: Ledger) -> None:
    _fill(ledger)
    assert ledger.search.doc_freqs(A, ["depot"]) == {"depot": 1}
    assert ledger.search.match(B, ["depot"]) == []
    other = ledger.add_claim(B, text="A second depot burned after the strike.", actor="t").id
    assert ledger.search.doc_freqs(A, ["depot"]) == {"depot": 1}
    assert ledger.search.doc_freqs(B, ["depot", "refinery"]) == {"depot": 1}
    assert ledger.search.doc_freqs(A, ["strike"]) == {"strike": 4}  # the removed claim's words count too
    assert [cid for cid, _ in ledger.search.match(B, ["depot"])] == [other]
    assert other not in {cid for cid, _ in ledger.search.match(A, ["depot"], ranked=False)}
    assert ledger.search.match(A, ["depot", "strike"]) == _with_token(ledger, A, ["depot", "strike"])


def test_a_server_without_removed_claims_is_searched_without_reading_claim_rows(ledger: Ledger) -> None:
    """With no removed claim in the server, every row the index finds is a live claim of it: the same rows and
    scores as the search that reads each claim's row; a removal is seen at the next search; another server's
    removed claims change nothing for this one."""
    ids = [ledger.add_claim(A, text=text, actor="t").id for text in TEXTS]
    other = ledger.add_claim(B, text="A second depot burned after the strike.", actor="t").id
    gone = ledger.add_claim(B, text="The depot strike was a drill.", actor="t").id
    ledger.remove_claim(B, gone, reason="duplicate", actor="t")
    for words in (["refinery"], ["drone", "depot"], ["strike"]):
        found = ledger.search.match(A, words)
        assert found and found == _with_token(ledger, A, words)
        assert sorted(ledger.search.match(A, words, ranked=False)) == sorted(found)
    assert [cid for cid, _ in ledger.search.match(B, ["depot"])] == [other]
    ledger.remove_claim(A, ids[0], reason="duplicate", actor="t")
    found = ledger.search.match(A, ["refinery"])
    assert found == _with_token(ledger, A, ["refinery"]) and ids[0] not in {cid for cid, _ in found}
    assert ids[0] not in {cid for cid, _ in ledger.search.match(A, ["refinery"], ranked=False)}
