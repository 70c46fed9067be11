"""The one pattern for all speakers' names finds a name wherever the name's own pattern would, so the matcher may
skip the names one by one when it finds nothing: same case rules (short all-caps aliases only in capitals), same
word boundaries, same case-insensitive letters (the long s, the Kelvin sign, the dotless i)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching.matcher import _any_phrase

LETTERS = "sSſkKKiIıİσςΣab .-'’(_1"
NAMES = st.lists(st.text(LETTERS, min_size=1, max_size=6), min_size=1, max_size=6)


def _own_patterns(names: list[str]) -> tuple[list[re.Pattern[str]], tuple[tuple[str, bool], ...]]:
    """Each name's pattern as the matcher compiles it, and the (text, exact_case) pairs of the one pattern."""
    patterns, phrases = [], []
    for name in names:
        exact_case = len(name) <= 3 and name.isupper()
        text = name if exact_case else name.lower()
        flags = 0 if exact_case else re.IGNORECASE
        patterns.append(re.compile(r"(?<!\w)" + re.escape(text) + r"(?!\w)", flags))
        phrases.append((text, exact_case))
    return patterns, tuple(phrases)


@settings(max_examples=400)
@given(NAMES, st.text(LETTERS, max_size=30))
def test_the_one_pattern_finds_a_name_where_its_own_pattern_does(names: list[str], text: str) -> None:
    patterns, phrases = _own_patterns(names)
    anyone = _any_phrase(phrases)
    assert anyone is not None
    assert (anyone.search(text) is not None) == any(p.search(text) for p in patterns)


def test_the_one_pattern_keeps_each_names_case_rule() -> None:
    patterns, phrases = _own_patterns(["IS", "RT", "Maria Zakharova", "ſergei"])
    anyone = _any_phrase(phrases)
    assert anyone is not None
    for text in ["what is this", "IS claimed it", "rt said", "MARIA ZAKHAROVA said", "Sergei said", "zakharova"]:
        assert (anyone.search(text) is not None) == any(p.search(text) for p in patterns)
    assert _any_phrase(()) is None
