"""Countries as speakers: "what did the Russians say?", "did Kyiv deny it?", "Что говорит Москва?".

Members ask what a side said by naming its country, its people or its capital. A speaker speaks for a country
when their name, role or aliases name it ("President of Russia", "Ukraine's military intelligence agency",
"Spokeswoman for the US National Security Council"). A question names a country as a speaker only when it asks
what that country said: the country comes before the first word of saying (the nearest one: "did Ukraine
deny…", "what did the Russians claim", "Москва заявила…"), or right after a word of saying that puts the speaker
after it ("Что говорит Москва?", "was sagt Kiew", "according to Washington"). "Was Ukraine involved?" and "who
claimed the Moscow attack?" ask about a country, not what it said.

Offices ("the Kremlin", "the White House") are not countries here: they name whoever the ledger gives them to.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from bot.matching.textnorm import content_words, fold

# country -> the words naming it, its people or its capital as a speaker, in the languages members ask in; a
# trailing * takes any ending (Russian, Ukrainian and German inflect). "US" counts only in capitals (or "the us").
_FORMS: dict[str, tuple[str, ...]] = {
    "russia": (
        "russia", "russian", "russians", "moscow", "russland", "russisch*", "russen", "moskau",
        "росси*", "русски*", "москв*", "росі*", "російськ*", "росіян*",
    ),
    "ukraine": (
        "ukraine", "ukrainian", "ukrainians", "kyiv", "kiev", "ukrainisch*", "ukrainer*", "kiew",
        "украин*", "киев*", "україн*", "київ*", "києв*",
    ),
    "united states": (
        "united states", "usa", "u.s.", "america", "american", "americans", "washington", "amerika*",
        "сша", "америк*", "вашингтон*",
    ),
    "united kingdom": ("united kingdom", "britain", "british", "london", "großbritannien", "британи*", "лондон*"),
    "china": ("china", "chinese", "beijing", "chines*", "peking", "кита*", "пекин*", "пекін*"),
    "belarus": (
        "belarus", "belarusian", "minsk", "weißrussland", "belarussisch*", "беларус*", "білорус*", "минск*", "мінськ*",
    ),
    "israel": ("israel", "israeli", "israelis", "israelisch*", "израил*", "ізраїл*"),
    "iran": ("iran", "iranian", "iranians", "tehran", "iranisch*", "иран*", "тегеран*"),
    "france": ("france", "french", "paris", "frankreich", "französisch*", "франци*", "франці*", "париж*"),
    "germany": (
        "germany", "german", "berlin", "deutschland", "deutsch*", "германи*", "німеччин*", "берлин*", "берлін*",
    ),
    "poland": ("poland", "polish", "warsaw", "polen", "polnisch*", "польш*", "польщ*", "варшав*"),
    "tajikistan": ("tajikistan", "tajik", "tajiks", "dushanbe", "tadschik*", "таджик*", "душанбе"),
    "afghanistan": ("afghanistan", "afghan", "kabul", "afghanisch*", "афган*", "кабул*"),
    "turkey": ("turkey", "turkish", "ankara", "türkei", "türkisch*", "турци*", "туреччин*", "анкар*"),
}  # fmt: skip

# Words of saying: a country right before or after one of them is asked as a speaker
_SAYING = (
    "say", "says", "said", "saying", "claim", "claims", "claimed", "claiming", "deny", "denies", "denied",
    "denying", "denial", "blame", "blames", "blamed", "blaming", "accuse", "accuses", "accused", "accusing",
    "respond", "responds", "responded", "response", "react", "reacts", "reacted", "reaction", "think", "thinks",
    "position", "stance", "version", "statement", "statements", "comment", "comments", "commented", "allege",
    "alleges", "alleged", "insist", "insists", "insisted", "reply", "replied", "answer", "answered", "according",
    "tell", "tells", "told", "stated", "admit", "admits", "admitted", "take", "view",
    "сказ*", "говор*", "заяв*", "ответ*", "отрица*", "обвин*", "счита*", "утвержд*", "верси*", "позици*",
    "реаги*", "реакци*", "словам", "казав", "казала", "казали", "каже", "кажуть", "відпов*", "запереч*",
    "звинув*", "вважа*", "стверджу*", "версі*", "позиці*", "реагу*", "реакці*", "словами",
    "отреаг*", "коммент*", "прокоммент*", "відреаг*", "комент*", "прокомент*",
    "sagt", "sagte", "sagten", "gesagt", "sagen", "behaupt*", "bestreit*", "bestritt*", "erklär*", "reagier*",
    "reaktion", "stellungnahme", "beschuldig*", "vorwurf", "vorwürfe", "wirft", "meint", "laut",
    "antwort*", "dementi*", "leugn*", "kommentier*",
)  # fmt: skip
# ... of them, those a country right after speaks: Russian, Ukrainian and German put the speaker after the verb
# in questions ("Что говорит Москва?", "was sagt Kiew"), English only after "according to"; after "blame" or
# "обвинили" it is the one blamed, after "say" in English the subject of what was said ("did anyone say Ukraine
# helped?")
_SAYING_THEN_SPEAKER = (
    "according", "сказ*", "говор*", "заяв*", "ответ*", "отрица*", "утвержд*", "реаги*", "словам", "казав",
    "казала", "казали", "каже", "кажуть", "відпов*", "запереч*", "стверджу*", "реагу*", "словами", "отреаг*",
    "коммент*", "прокоммент*", "відреаг*", "комент*", "прокомент*", "sagt", "sagte", "sagten", "sagen", "behaupt*",
    "bestreit*", "bestritt*", "erklär*", "reagier*", "meint", "laut", "antwort*", "dementi*", "kommentier*",
)  # fmt: skip


def _alternatives(forms: tuple[str, ...]) -> str:
    parts = [re.escape(f[:-1]) + r"\w*" if f.endswith("*") else re.escape(f) for f in forms]
    return "|".join(sorted(parts, key=len, reverse=True))


_COUNTRY_RES = {
    key: re.compile(r"(?<!\w)(?:" + _alternatives(forms) + r")(?!\w)", re.IGNORECASE) for key, forms in _FORMS.items()
}
_US_RE = re.compile(r"(?<!\w)(?:US|U\.S|[Tt]he\s+us)(?!\w)")  # "us" in lowercase is mostly a pronoun
_SAYING_RE = re.compile(r"(?<!\w)(?:" + _alternatives(_SAYING) + r")(?!\w)", re.IGNORECASE)
_SAYING_THEN_SPEAKER_RE = re.compile(r"(?<!\w)(?:" + _alternatives(_SAYING_THEN_SPEAKER) + r")(?!\w)", re.IGNORECASE)
# adverbs that may stand between a country and its saying ("did Russia really say")
_ADVERBS = frozenset(
    """really actually officially publicly ever even already also first initially now still never just again flat
    immediately quickly formally later then since yet too
    официально публично уже тоже также сразу снова ещё всё всё-таки действительно вообще реально
    офіційно публічно вже теж також одразу знову досі справді взагалі
    offiziell öffentlich schon bereits auch sofort wieder noch dazu damals eigentlich wirklich""".split()  # noqa: SIM905
)
# Words after a country's name that make it a side's ("the Russian government", "Kyiv's spies"): those that name
# the side as a whole (taken with the country's name: "the Russian side" asks Russia's speakers), and those that
# say which of its speakers ("spies", "media": looked for in the claims as any other word)
SIDE_WORDS = frozenset(
    """government govt side authorities officials leadership leaders administration regime state camp politicians
    sources guys people власти власть правительство руководство сторона стороны чиновники влада уряд керівництво
    посадовці regierung seite behörden führung beamte""".split()  # noqa: SIM905
)
_AGENT_WORDS = frozenset(
    """spies spy intelligence intel military army media press diplomats ministry propaganda tv television
    разведка спецслужбы сми военные мид пропаганда розвідка спецслужби змі військові мзс geheimdienst
    geheimdienste medien militär armee""".split()  # noqa: SIM905
)
_SIDE_NOUNS = re.compile(
    r"(?:['’]s)?(?:\s+(?:"
    + "|".join(sorted(map(re.escape, SIDE_WORDS | _AGENT_WORDS), key=len, reverse=True))
    + r"))+",
    re.IGNORECASE,
)
# between a word of saying and the country it is followed by: nothing, "to" ("according to Washington"), a
# German article ("was sagt die Ukraine", "was sagen die Russen") or "in" a capital ("Что говорят в Москве?",
# "Що кажуть у Києві?")
_JUST_AFTER = re.compile(r"\W*(?:(?:to|the|die|der|das|den|в|во|у|in)\s+)?\W*$", re.IGNORECASE)


def _speaks(between: str) -> bool:
    """Whether a country followed by these words and then a word of saying is who says it: the words between are
    function words or adverbs ("did Russia really say", "Ukraine has officially denied", "was hat Kiew dazu
    gesagt"), not a noun it qualifies ("the Ukraine link claim", "Ukraine involvement claims") and not the end of
    a sentence ("Ukraine? what did they say")."""
    if any(mark in between for mark in ".?!;:"):
        return False
    return all(w.endswith("ly") or w in _ADVERBS for w in content_words(between))


def _mentions(text: str) -> list[tuple[int, int, int, str]]:
    """(start, end of the country's name, end, country) of each country a text names, in order; the end takes in
    the words that make it a side's ("Russian government", "Kyiv's spies")."""
    found = [(m.start(), m.end(), key) for key, pattern in _COUNTRY_RES.items() for m in pattern.finditer(text)]
    found += [(m.start(), m.end(), "united states") for m in _US_RE.finditer(text)]
    out = []
    for start, end, key in sorted(found):
        side = _SIDE_NOUNS.match(text, end)
        out.append((start, end, side.end() if side else end, key))
    return out


@functools.lru_cache(maxsize=4_096)
def countries_named(text: str) -> frozenset[str]:
    """The countries a speaker's name, role or alias names ("President of Russia": russia)."""
    return frozenset(key for *_, key in _mentions(fold(text)))


class CountryAsked(NamedTuple):
    country: str
    phrase: str  # the words naming it as a side, as written ("the Russian government" → "Russian government")
    name: str  # the country's own words in it ("Russian")
    # when the country comes before the first word of saying (English order), from where that word starts to where
    # the next one does: whoever is named there is what was said about ("did the Ukrainian side respond to
    # Putin"); None when the country comes after
    said: tuple[int, int] | None


def country_asked(question: str) -> CountryAsked | None:
    """The country a question asks what it said (see the module's docstring); None when it asks no country, or
    about one. Positions are in ``fold(question)``."""
    text = fold(question)
    saying = [m.start() for m in _SAYING_RE.finditer(text)]
    if not saying:
        return None
    mentions = _mentions(text)
    first_saying = saying[0]
    before = [m for m in mentions if m[2] <= first_saying]
    if before:  # the nearest: "was Ukraine involved? what did Russia say"
        start, named, end, key = before[-1]
        if not _speaks(text[end:first_saying]):
            return None
        said = (first_saying, saying[1] if len(saying) > 1 else len(text))
        return CountryAsked(key, text[start:end], text[start:named], said)
    speaker_after = [m.end() for m in _SAYING_THEN_SPEAKER_RE.finditer(text)]
    for start, named, end, key in mentions:
        if any(said_end <= start and _JUST_AFTER.match(text[said_end:start]) for said_end in speaker_after):
            return CountryAsked(key, text[start:end], text[start:named], None)
    return None
