"""``words`` lowercases a text without apostrophes in one pass; with or without them, its words are those of the
word-by-word reading (possessives dropped, curly apostrophes straightened), whatever the text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching.textnorm import _WORD_RE, fold, words

TRICKY = "aAsSİIıΣσς'’＇ʼ`ſK_- .1ﬁ\u00ad\u200b\u0307"


def _word_by_word(text: str) -> list[str]:
    out = []
    for word in _WORD_RE.findall(fold(text)):
        word = word.lower()
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        out.append(word.replace("’", "'"))
    return out


@settings(max_examples=500)
@given(st.text(TRICKY, max_size=40) | st.text(max_size=80))
def test_words_are_those_of_the_word_by_word_reading(text: str) -> None:
    assert words(text) == _word_by_word(text)


def test_apostrophes_still_read_as_before() -> None:
    expected = ["putin", "isis", "k", "claim", "zelenskyy", "o'neill"]
    assert words("Putin’s ＩＳＩＳ-K’s claim, Zelenskyy's O’Neill") == expected
    assert words("ΟΔΟΣ said İstanbul") == ["οδος", "said", "istanbul"]
