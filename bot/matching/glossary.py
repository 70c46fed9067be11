"""Words of claims about attacks and conflicts, from Russian, Ukrainian and German into English.

The model brings most questions in those languages to the English claims they ask about, but not all: "wer hat
sich zu dem Anschlag bekannt" (who claimed the attack) comes nearer Putin's claims than ISIS-K's, and a word of
the question that the ledger does not hold counts for nothing by words. A question's word that no claim holds
and that this glossary knows is read as the first of its English words that the server's claims hold, as a typo
is read as the word it misspells. Only the vocabulary of claims of responsibility, blame, denial and evidence
is here, not any one incident's names: those are the speakers' and incidents' own aliases.
"""

from __future__ import annotations

import functools

# (stems of the word in Russian, Ukrainian and German; a trailing * takes any ending) -> English words, in order
# of preference
_ENTRIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bekenn* bekannt* bekenner* bekenntnis* verantwortung* ответственност* відповідальн*", ("responsibility",)),
    ("anschlag* anschläg* attentat* теракт* атак* нападени* напад нападу нападом", ("attack", "attacks")),
    ("terrorist* террорист* терорист*", ("terrorists", "terrorist", "terrorism")),
    ("terrorismus терроризм* тероризм*", ("terrorism", "terrorist")),
    (
        "täter* angreifer* schütze* schützen attentäter* стрелк* стрелявш* нападавш* боевик* исполнител* стрільц* "
        "нападник* бойовик* виконавц*",
        ("attackers", "gunmen", "perpetrators", "shooters"),
    ),
    (
        "hintermänner* drahtzieher* auftraggeber* заказчик* организатор* замовник* організатор*",
        ("ordered", "organisers"),
    ),
    ("beweis* доказательств* доказ*", ("evidence", "proof")),
    ("bestreit* bestritt* dementi* leugn* отрица* опроверг* запереч* спростув*", ("denied", "deny", "denial")),
    ("beteilig* причастн* причетн*", ("involved", "involvement")),
    ("beschuldig* vorwurf* vorwürf* vorgeworfen обвин* звинув*", ("blame", "accused", "blamed")),
    ("verbindung* связ* зв'яз* зв’яз*", ("link", "links")),
    ("grenze* границ* кордон*", ("border",)),
    ("festgenommen* festnahme* verhaftet* задержан* задержал* затрима*", ("detained", "detentions", "arrested")),
    ("trauer* staatstrauer* траур* жалоб*", ("mourning",)),
    ("ausgerufen ausrufen ausrief* verkünd* angekündigt ankündig* объяв* оголос*", ("announced", "declared", "called")),
    ("bestraf* strafe* наказ* покара*", ("punished", "punish")),
    ("droh* gedroht угрож* угроз* погрож* погроз*", ("threatened", "threat")),
    ("geheimdienst* разведк* спецслужб* розвідк* спецслужб*", ("intelligence", "services")),
    ("video* aufnahme* видео* відео*", ("footage", "video")),
    ("glaubwürdig* plausib* правдоподоб* достовер* правдоподіб* достовір*", ("plausible", "credible")),
    ("krieg* войн* війн*", ("war",)),
    ("eskalation* eskalier* эскалац* ескалац*", ("escalation",)),
    ("experte* expert* эксперт* аналитик* експерт* аналітик*", ("analysts", "experts")),
)


def _index() -> tuple[dict[str, tuple[str, ...]], list[tuple[str, tuple[str, ...]]]]:
    exact: dict[str, tuple[str, ...]] = {}
    prefixes: list[tuple[str, tuple[str, ...]]] = []
    for stems, english in _ENTRIES:
        for stem in stems.split():
            if stem.endswith("*"):
                prefixes.append((stem[:-1], english))
            else:
                exact[stem] = english
    prefixes.sort(key=lambda entry: -len(entry[0]))  # the longest stem first: "нападавш" before "напад"
    return exact, prefixes


_EXACT, _PREFIXES = _index()


@functools.lru_cache(maxsize=16_384)
def english_words(word: str) -> tuple[str, ...]:
    """The English words a (lowercase) Russian, Ukrainian or German word of this vocabulary is read as; none for
    any other word."""
    if word in _EXACT:
        return _EXACT[word]
    for stem, english in _PREFIXES:
        if word.startswith(stem):
            return english
    return ()
