"""Every ranking statistic stays within the asking server: another server's claims can neither starve its
answers nor shift its scores (which would let a moderator probe what other servers hold)."""

from __future__ import annotations

from bot.matching import Matcher
from bot.store import Ledger

A, B = "111", "222"
QUESTION = "ukraine drone strike refinery"


def _own_claims(ledger: Ledger) -> list[int]:
    texts = [
        "The governor said a Ukrainian drone strike hit the refinery at night.",
        "The ministry said the refinery fire after the drone strike was put out.",
        "Kyiv's military said its drones struck the refinery in response.",
        "The plant's owner said the drone strike damaged one refinery unit.",
        "Residents said they heard the drone before the refinery strike.",
    ]
    return [ledger.add_claim(B, text=text, actor="t").id for text in texts]


def _crowd(ledger: Ledger, count: int) -> None:
    with ledger.transaction():
        for n in range(count):
            ledger.add_claim(A, text=f"Report {n}: a Ukraine drone strike on the refinery, source {n}.", actor="t")


def test_a_crowded_server_does_not_starve_another(ledger: Ledger) -> None:
    own = _own_claims(ledger)
    _crowd(ledger, 3000)
    answer = Matcher(ledger).ask(B, QUESTION, top=5)
    assert answer.matches, "the server's own matching claims must be found"
    assert {m.claim.id for m in answer.matches} <= set(own)
    assert all(m.claim.scope == B for m in answer.matches)


def test_another_servers_claims_do_not_shift_the_scores(ledger: Ledger) -> None:
    _own_claims(ledger)
    before = [(m.claim.id, m.score) for m in Matcher(ledger).ask(B, QUESTION, top=5).matches]
    _crowd(ledger, 500)
    after = [(m.claim.id, m.score) for m in Matcher(ledger).ask(B, QUESTION, top=5).matches]
    assert before and after == before


def test_document_frequencies_are_counted_per_server(ledger: Ledger) -> None:
    _own_claims(ledger)
    _crowd(ledger, 50)
    assert ledger.search.doc_freqs(B, ["refinery", "governor"]) == {"refinery": 5, "governor": 1}
    assert ledger.search.doc_freqs(A, ["refinery", "governor"]) == {"refinery": 50}
    assert ledger.search.total_claims(B) == 5
