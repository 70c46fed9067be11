"""Countries asked as speakers ("what did the Russians say?"): which questions ask one, and whose claims answer."""

from __future__ import annotations

import pytest

from bot.matching.countries import countries_named, country_asked


@pytest.mark.parametrize(
    ("question", "country", "phrase"),
    [
        ("what did the russians say", "russia", "russians"),
        ("did kyiv deny it", "ukraine", "kyiv"),
        ("what did the American government say?", "united states", "American government"),
        ("what did US officials say", "united states", "US officials"),
        ("according to washington, who did it", "united states", "washington"),
        ("Что говорит Москва про теракт?", "russia", "Москва"),
        ("по словам Москвы кто виноват", "russia", "Москвы"),
        ("Україна заперечує причетність?", "ukraine", "Україна"),
        ("Що каже Київ?", "ukraine", "Київ"),
        ("was sagt Kiew dazu", "ukraine", "Kiew"),
        ("Was sagen die Russen?", "russia", "Russen"),
        ("Что говорят в Москве о теракте?", "russia", "Москве"),  # "in" a capital
        ("Що кажуть у Києві?", "ukraine", "Києві"),
        ("was ukraine involved? what did russia say", "russia", "russia"),  # the nearest before the saying
        ("Россия обвинила Украину?", "russia", "Россия"),  # the one blamed comes after
        ("did russia really say that", "russia", "russia"),
        ("did kyiv's spies blame the russian secret services", "ukraine", "kyiv's spies"),
        ("ukrainian spies blame putins ppl for it?", "ukraine", "ukrainian spies"),
        ("did anyone from the ukrainian side flat out say they had nothing to do with it", "ukraine", "ukrainian side"),
        ("Was hat Kiew dazu gesagt?", "ukraine", "Kiew"),
    ],
)
def test_a_question_asking_what_a_country_said_names_it(question: str, country: str, phrase: str) -> None:
    asked = country_asked(question)
    assert asked is not None and (asked.country, asked.phrase) == (country, phrase)


@pytest.mark.parametrize(
    "question",
    [
        "was ukraine involved?",  # about a country, nothing said
        "who claimed the moscow attack?",  # the country is not the one claiming
        "did putin blame ukraine",  # the one blamed
        "did anyone say ukraine helped them",  # what was said, not who said it
        "Кто сказал, что Украина причастна?",
        "tell us what happened",  # "us" in lowercase is a pronoun
        "what did they say",
        "ukraine involvement claims, any proof?",  # a noun it qualifies: the claims are about Ukraine
        "is the ukraine link claim true",
        "ukraine? what did they say about it",
    ],
)
def test_a_question_about_a_country_or_naming_none_asks_no_country(question: str) -> None:
    assert country_asked(question) is None


def test_what_a_country_before_its_saying_said_is_known() -> None:
    """Whoever is named from the saying to the next one is what was said about ("respond to Putin"); a country
    after its saying has no such span."""
    assert country_asked("did the ukrainian side respond to putin") == (
        "ukraine",
        "ukrainian side",
        "ukrainian",
        (23, 39),
    )
    assert country_asked("russia says one thing, did analysts think so").said == (7, 36)  # to "think"
    assert country_asked("Что ответил Киев?") == ("ukraine", "Киев", "Киев", None)


def test_a_speaker_speaks_for_the_countries_their_name_role_or_aliases_name() -> None:
    assert countries_named("Vladimir Putin ; President of Russia ; Kremlin") == {"russia"}
    assert countries_named("Adrienne Watson ; Spokeswoman for the US National Security Council") == {"united states"}
    assert countries_named("Main Directorate of Intelligence of Ukraine ; HUR") == {"ukraine"}
    assert countries_named("Security analysts ; Security analysts cited in the article") == frozenset()
    assert countries_named("Islamic State Khorasan ; Militant group affiliated with Islamic State") == frozenset()
