"""A word's closest key word is remembered between questions, and forgotten when the ledger changes: a typo asked
before a speaker exists finds the speaker once they do."""

from __future__ import annotations

import pytest

from bot.matching import Matcher
from bot.matching import matcher as matching
from bot.store import DEFAULT_SCOPE as S
from bot.store import Ledger

TYPO = "what did Brzeczyszczykiewic say"


def test_a_remembered_typo_finds_a_speaker_added_later(seeded: Ledger) -> None:
    matcher = Matcher(seeded)
    assert [m.claim.ref for m in matcher.ask(S, TYPO).matches] == []
    assert "brzeczyszczykiewic" in matcher._vocab[S].closest
    seeded.create_speaker(S, name="Grzegorz Brzeczyszczykiewicz", aliases=["Brzeczyszczykiewicz"], actor="t")
    seeded.add_claim(
        S, text="Brzeczyszczykiewicz said the hall had no fire exits.", speaker="Brzeczyszczykiewicz", ref="new-1",
        actor="t",
    )  # fmt: skip
    assert [m.claim.ref for m in matcher.ask(S, TYPO).matches][:1] == ["new-1"]
    assert matcher._vocab[S].closest["brzeczyszczykiewic"] == ("brzeczyszczykiewicz", pytest.approx(97.3, abs=0.1))


def test_the_remembered_words_are_bounded(seeded: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching, "CLOSEST_KEPT", 3)
    matcher = Matcher(seeded)
    first = matcher.ask(S, "medvedv zelenskyi kremlinn").matches
    matcher.ask(S, "sheltering bombardment evacuations aftermath")
    assert len(matcher._vocab[S].closest) <= 3
    assert matcher.ask(S, "medvedv zelenskyi kremlinn").matches == first
