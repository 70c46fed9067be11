"""The glossary of claims' words in Russian, Ukrainian and German, and the matcher reading unknown words by it."""

from __future__ import annotations

import pytest

from bot.matching import Matcher
from bot.matching import matcher as matcher_module
from bot.matching.glossary import english_words
from bot.store import DEFAULT_SCOPE, Ledger


@pytest.mark.parametrize(
    ("word", "english"),
    [
        ("anschlag", ("attack", "attacks")),
        ("bekannt", ("responsibility",)),
        ("траур", ("mourning",)),
        ("причетність", ("involved", "involvement")),
        ("нападавшие", ("attackers", "gunmen", "perpetrators", "shooters")),  # the longest stem: not "напад"
        ("напад", ("attack", "attacks")),
        ("погрожував", ("threatened", "threat")),
        ("объявили", ("announced", "declared", "called")),
    ],
)
def test_a_word_of_the_glossary_reads_as_its_english(word: str, english: tuple[str, ...]) -> None:
    assert english_words(word) == english


@pytest.mark.parametrize("word", ["moskau", "weather", "погода", "наполеон", ""])
def test_any_other_word_reads_as_nothing(word: str) -> None:
    assert english_words(word) == ()


def test_a_question_in_russian_finds_the_claim_by_its_translated_word(
    seeded: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By words alone: "траур" is in no claim; read as "mourning", it finds Putin's day of mourning."""
    question = "Путин объявил траур?"
    assert Matcher(seeded).ask(DEFAULT_SCOPE, question).matches[0].claim.ref == "crocus-2024-001"
    monkeypatch.setattr(matcher_module, "english_words", lambda word: ())
    refs = [m.claim.ref for m in Matcher(seeded).ask(DEFAULT_SCOPE, question).matches]
    assert refs[:1] != ["crocus-2024-001"]


def test_every_english_word_of_a_translation_the_server_holds_covers_it(seeded: Ledger) -> None:
    """ "Täter" reads as "attackers" (Putin's claim), and the FSB's "gunmen" and "shooters" cover it too: asked what
    the FSB claimed about the attackers, in German, its claim is found by words."""
    matcher = Matcher(seeded)
    terms = {t.word: t for t in matcher._parse(DEFAULT_SCOPE, "Täter?").terms}
    assert terms["täter"].correction == "attackers"
    assert set(terms["täter"].alternatives) == {"gunmen", "perpetrators", "shooters"}
    answer = matcher.ask(DEFAULT_SCOPE, "was behauptet der fsb über die täter")
    assert answer.matches and answer.matches[0].claim.ref == "crocus-2024-010"


def test_a_translation_is_read_only_as_a_word_the_server_holds(seeded: Ledger) -> None:
    """ "Beweise" reads as "evidence" (held) before "proof"; a server that holds neither reads it as nothing."""
    matcher = Matcher(seeded)
    terms = {t.word: t for t in matcher._parse(DEFAULT_SCOPE, "Gab es Beweise?").terms}
    assert terms["beweise"].correction == "evidence"
    with Ledger.memory() as empty:
        other = Matcher(empty)
        terms = {t.word: t for t in other._parse(DEFAULT_SCOPE, "Gab es Beweise?").terms}
        assert terms["beweise"].correction is None
