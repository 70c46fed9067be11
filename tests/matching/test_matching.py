"""The matcher: safe queries, typos and transliterations, abstention, intents, determinism, caching."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import InvalidInputError
from bot.matching import DEFAULT_THRESHOLD, Matcher
from bot.matching import matcher as matcher_module
from bot.matching.matcher import topic_incident
from bot.matching.textnorm import (
    DateAsked,
    asks_for_group,
    content_words,
    dates_asked,
    language_family,
    latin,
    names_word,
    names_written,
    role_names,
    same_language,
    strip_noise,
)
from bot.store import DEFAULT_SCOPE, Ledger
from tests.paths import REPO_ROOT

S = DEFAULT_SCOPE
QUESTIONS = [json.loads(line) for line in (REPO_ROOT / "tests" / "seed_questions.jsonl").read_text().splitlines()]


@pytest.fixture
def matcher(seeded: Ledger) -> Matcher:
    return Matcher(seeded)


def refs(matcher: Matcher, question: str, top: int = 5) -> list[str | None]:
    return [m.claim.ref for m in matcher.ask(S, question, top=top).matches]


def speakers(matcher: Matcher, question: str) -> list[str]:
    return [m.claim.speaker.name for m in matcher.ask(S, question).matches if m.claim.speaker]


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [("zelenskyy", "zelenskiy"), ("zelensky", "zelenskiy"), ("medvedv", "medvedev"), ("kiev regime", "kyiv regime")],
)
def test_typos_and_transliterations_find_the_same_claims(matcher: Matcher, variant: str, canonical: str) -> None:
    got = refs(matcher, f"what did {variant} say")
    assert got, variant
    assert got[0] in refs(matcher, f"what did {canonical} say")


def test_incident_alias_finds_the_incident(matcher: Matcher) -> None:
    answer = matcher.ask(S, "Moscow concert hall attack Ukraine involvement")
    assert answer.matches
    assert all(m.claim.incident and m.claim.incident.slug == "crocus-city-hall-attack-2024" for m in answer.matches)


@pytest.mark.parametrize("question", [q["q"] for q in QUESTIONS if q["expect"] == "abstain"])
def test_off_topic_questions_abstain(matcher: Matcher, question: str) -> None:
    assert refs(matcher, question) == []


def test_short_on_topic_question_answers(matcher: Matcher) -> None:
    assert refs(matcher, "FSB link to ukraine")[0] == "crocus-2024-010"


def test_seed_quality_does_not_regress(matcher: Matcher) -> None:
    on_topic = [q for q in QUESTIONS if q["expect"] != "abstain"]
    hits = sum(1 for q in on_topic if (got := refs(matcher, q["q"])) and got[0] in q["expect"])
    assert hits / len(on_topic) >= 0.9, f"hit@1 {hits}/{len(on_topic)}"


def test_speaker_question_ranks_that_speaker_first(matcher: Matcher) -> None:
    assert speakers(matcher, "what did Simonyan say")[0] == "Margarita Simonyan"
    assert speakers(matcher, "Yusov")[0] == "Andriy Yusov"


def test_evidence_question_ranks_unproven_allegations_first(matcher: Matcher) -> None:
    first = matcher.ask(S, "what proof did Russia give that Ukraine was involved?").matches[0].claim
    assert first.evidence.status.value == "not_presented"
    assert "ukraine-link" in first.tags


def test_time_question_ranks_claims_of_that_day(matcher: Matcher) -> None:
    matches = matcher.ask(S, "what was said on March 23").matches
    assert matches and all(m.claim.said_at == "2024-03-23" for m in matches if not m.other_side)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300) | st.sampled_from(['"', "*", "-x", "NEAR(a b)", "a AND OR NOT b", "(((", "^", ":", "'"]))
def test_any_text_is_a_safe_question(matcher: Matcher, question: str) -> None:
    answer = matcher.ask(S, question)
    assert answer.question == question
    assert all(0.0 <= m.score <= 1.0 for m in answer.matches)


def test_fts_operators_are_words_not_syntax(matcher: Matcher) -> None:
    plain = refs(matcher, "putin ukraine window")
    assert refs(matcher, 'putin AND "ukraine" NOT window*') == plain
    assert refs(matcher, "putin NEAR(ukraine) OR window") == refs(matcher, "putin near ukraine or window")


def test_deterministic_order(matcher: Matcher) -> None:
    first = refs(matcher, "did ukraine have anything to do with it", top=9)
    assert all(refs(matcher, "did ukraine have anything to do with it", top=9) == first for _ in range(3))


def test_over_long_question_is_refused(matcher: Matcher) -> None:
    with pytest.raises(InvalidInputError, match="limit is 4000"):
        matcher.ask(S, "x" * 4001)


def test_cache_notices_new_speaker_and_claim(seeded: Ledger) -> None:
    matcher = Matcher(seeded)
    assert refs(matcher, "what did Grzegorz Brzeczyszczykiewicz say") == []
    seeded.create_speaker(S, name="Grzegorz Brzeczyszczykiewicz", aliases=["Brzeczyszczykiewicz"], actor="t")
    seeded.add_claim(
        S,
        text="Brzeczyszczykiewicz said the hall had no fire exits.",
        speaker="Brzeczyszczykiewicz",
        ref="new-1",
        actor="t",
    )
    assert refs(matcher, "what did Brzeczyszczykiewic say")[0] == "new-1"


def test_claims_read_for_one_question_serve_the_next_until_the_ledger_changes(
    seeded: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    matcher = Matcher(seeded)
    read: list[int] = []
    get_claims = seeded.get_claims

    def counting(scope: str, ids: list[int], **kwargs: object) -> list:
        read.extend(ids)
        return get_claims(scope, ids, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(seeded, "get_claims", counting)
    first = matcher.ask(S, "what did medvedev say").matches[0].claim
    assert read and first.id in read
    read.clear()
    assert matcher.ask(S, "what did medvedev say").matches[0].claim == first and first.id not in read
    seeded.update_claim(S, first.id, text="Medvedev said something else entirely.", actor="t")
    assert matcher.ask(S, "what did medvedev say").matches[0].claim.text == "Medvedev said something else entirely."
    seeded.remove_claim(S, first.id, reason="test", actor="t")
    assert first.ref not in refs(matcher, "what did medvedev say")


def test_claims_kept_between_questions_are_bounded(seeded: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher_module, "CLAIMS_KEPT", 3)
    matcher = Matcher(seeded)
    for question in ("what did medvedev say", "who claimed responsibility", "did ukraine deny involvement"):
        assert matcher.ask(S, question).matches
    assert len(matcher._claims_kept) == 3


def test_threshold_is_a_setting(seeded: Ledger) -> None:
    assert Matcher(seeded).threshold == DEFAULT_THRESHOLD
    strict = Matcher(seeded, threshold=0.99)
    assert strict.ask(S, "what did medvedev say").matches == ()


def test_did_you_mean_for_near_misses(matcher: Matcher) -> None:
    answer = matcher.ask(S, "medvedv moon landing")
    if not answer.matches:
        assert "Dmitry Medvedev" in answer.suggestions


def test_autocomplete_within_discord_limits(matcher: Matcher) -> None:
    choices = matcher.autocomplete(S, "zelen")
    assert choices and len(choices) <= 25
    assert choices[0][0] == "What did Volodymyr Zelenskiy say?"
    assert all(len(label) <= 100 and len(value) <= 100 for label, value in choices)
    assert matcher.autocomplete(S, "x") == []


def test_text_helpers() -> None:
    assert strip_noise("Look https://t.co/x <@123> #AustralianFires — Bob (@bob) January 14, 2020").split() == [
        "Look", "Australian", "Fires",
    ]  # fmt: skip
    assert content_words("What did Putin's FSB say?") == ["putin", "fsb"]
    assert dates_asked("statements from 22 March 2024") == [DateAsked(2024, 3, 22)]
    assert dates_asked("what happened on March 23rd?") == [DateAsked(None, 3, 23)]


PLAIN = "Who claimed responsibility for the Crocus City Hall attack?"


@pytest.mark.parametrize(
    "question",
    [
        "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in PLAIN),  # fullwidth letters
        "Who claimed respon\u200bsibility for the Cro\u200dcus City Hall attack?",  # zero-width inside words
        "Who claİmed responsİbİlİty for the Crocus Cİty Hall attack?",  # Turkish dotted capital I
    ],
)
def test_odd_unicode_matches_like_the_plain_text(seeded: Ledger, question: str) -> None:
    plain = Matcher(seeded).ask(DEFAULT_SCOPE, PLAIN)
    odd = Matcher(seeded).ask(DEFAULT_SCOPE, question)
    assert odd.matches and odd.matches[0].claim.ref == plain.matches[0].claim.ref


def test_names_written_in_cyrillic_are_read_as_the_latin_names() -> None:
    assert latin("Медведеву") == "medvedevu" and latin("Зеленського") == "zelenskogo" and latin("ФСБ") == "fsb"
    assert latin("putin") == "putin"
    assert names_word("путина", "putin") and names_word("зеленському", "zelenskiy")
    assert names_word("симоньян", "simonyan") and names_word("putins", "putin")
    assert not names_word("путешествие", "putin")  # too long to be an inflection of the name
    assert not names_word("рт", "rt")  # short names must match whole


def test_a_question_naming_a_speaker_in_cyrillic_finds_their_claims_lexically(matcher: Matcher) -> None:
    answer = matcher.ask(S, "Что говорил Медведев?")
    theirs = [m.claim.ref for m in answer.matches if not m.other_side]
    assert theirs and all(ref in {"crocus-2024-005", "crocus-2024-006"} for ref in theirs), theirs


def test_an_organisation_asked_about_answers_with_its_spokespeoples_claims(matcher: Matcher) -> None:
    # no claim says "White House": the NSC (aliased so) has no claims; its spokeswoman's role names it
    answer = matcher.ask(S, "what did the white house say")
    first = [m.claim for m in answer.matches if not m.other_side]
    assert first and all(c.speaker is not None and c.speaker.name == "Adrienne Watson" for c in first)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("who said they did the moscow concert massacre", "concert"),
        ("who said they did the las vegas massacre", "vegas"),
    ],
)
def test_a_question_naming_an_incident_ranks_its_claims_first(question: str, expected: str) -> None:
    """Two incidents with claims worded alike: the incident the question names (by a distinctive word of its title
    or aliases, also in Cyrillic) comes first; words every incident shares ("massacre", "attack") name none."""
    with Ledger.memory() as ledger:
        aliases = ["Moscow concert hall attack", "Крокус Сити Холл"]
        ledger.create_incident(S, title="Crocus City Hall attack", slug="concert", aliases=aliases, actor="t")
        ledger.create_incident(S, title="Las Vegas shooting", slug="vegas", actor="t")
        # the other incident's claim shares more of each question's words
        ledger.add_claim(S, text="A group said it carried out the concert massacre.", incident="vegas", actor="t")
        ledger.add_claim(S, text="A group said it carried out the massacre in Las Vegas.", incident="concert",
                         actor="t")  # fmt: skip
        matcher = Matcher(ledger, threshold=0.0)
        matches = matcher.ask(S, question).matches
        assert [m.claim.incident.slug for m in matches if m.claim.incident][:1] == [expected]
        # named in Cyrillic and inflected ("в Крокусе"), the incident is the same (its claims rank first once found)
        [crocus] = [i.id for i in ledger.list_incidents(S) if i.slug == "concert"]
        assert matcher._parse(S, "Кто взял ответственность за теракт в Крокусе?").incidents == {crocus}
        assert matcher._parse(S, "who did the massacre").incidents == set()


def test_a_claim_attributed_to_no_one_is_not_what_a_named_speaker_said() -> None:
    """ "What did the White House say…" in a server that also holds unattributed claims mentioning the White
    House: the claim of the speaker named ranks above an unattributed one that shares more words."""
    with Ledger.memory() as ledger:
        ledger.create_speaker(S, name="White House", actor="t")
        ledger.add_claim(S, text="The White House phone line blamed the other party.", actor="t")
        ledger.add_claim(S, text="The phone line blamed nobody in particular.", speaker="White House", actor="t")
        matches = Matcher(ledger, threshold=0.0).ask(S, "what did the white house say about the phone line").matches
        assert [m.claim.speaker.name if m.claim.speaker else None for m in matches][:1] == ["White House"]


def test_the_topic_incident_needs_a_share_of_the_closest_claims_well_above_its_share_of_the_server() -> None:
    # 27 claims of incident 1 among 10,000: 4 of the 20 closest is 75 times its share
    assert topic_incident({1: 4, 0: 16}, {1: 27}, 10_000) == 1
    assert topic_incident({1: 1, 0: 19}, {1: 27}, 10_000) is None  # one claim is not a gathering
    # incidents of like size, the closest claims spread over them: none stands out
    assert topic_incident({1: 7, 2: 6, 3: 7}, {1: 30, 2: 30, 3: 30}, 90) is None
    # one of three like incidents holds all the closest claims: three times its share
    assert topic_incident({2: 20}, {1: 30, 2: 30, 3: 30}, 90) == 2
    # claims of no incident are never the topic, and a server of one incident has none to prefer
    assert topic_incident({0: 20}, {1: 27}, 10_000) is None
    assert topic_incident({1: 20}, {1: 27}, 27) is None
    assert topic_incident({}, {1: 27, 2: 3}, 30) is None


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("Putin said the attackers were heading for Ukraine.", "english"),
        ("did ukraine deny involvement", "english"),
        ("Что сказал Путин про Украину?", "cyrillic"),
        ("Що сказав Зеленський про теракт у Москві?", "cyrillic"),
        ("Wann ist Putin geboren?", "latin"),
        ("hat das weiße haus die ukraine entlastet", "latin"),
        ("Qui a revendiqué l'attentat de Moscou ?", "latin"),
        ("Yusov Reuters", ""),  # names only: no language to tell
        ("🍕🍕", ""),
    ],
)
def test_the_language_of_a_question_or_claim_is_told_by_script_and_function_words(text: str, family: str) -> None:
    assert language_family(text) == family


def test_texts_whose_language_cannot_be_told_count_as_the_same_language() -> None:
    assert same_language("Yusov Reuters", "Что сказал Юсов?")
    assert same_language("did ukraine deny it", "Yusov told Reuters that Ukraine was not involved.")
    assert not same_language("Что сказал Юсов?", "Yusov told Reuters that Ukraine was not involved.")
    assert not same_language("Was hat Jussow gesagt?", "Yusov told Reuters that Ukraine was not involved.")


@pytest.mark.parametrize("question", ["чим медвєдєв погрожував?", "Что сказал Медвидев?", "що казав зєлєнський"])
def test_a_name_written_in_cyrillic_another_way_still_names_the_speaker(matcher: Matcher, question: str) -> None:
    named = {s.name for s in matcher.ledger.list_speakers(S) if s.id in matcher._parse(S, question).speakers}
    assert named & {"Dmitry Medvedev", "Volodymyr Zelenskiy"}, named


def test_a_cyrillic_word_is_not_taken_for_a_name_it_only_resembles(matcher: Matcher) -> None:
    assert matcher._parse(S, "зелёный путешественник в Москве").speakers == set()


def test_chat_fillers_are_not_what_a_question_is_about(matcher: Matcher) -> None:
    query = matcher._parse(S, "tbh what did zelensky actually say about putin ngl")
    assert {t.word for t in query.terms} == {"zelensky", "putin"}


@pytest.mark.parametrize(
    ("question", "event"),
    [
        ("did isis-k claim the kerman bombing", "kerman bombing"),
        ("what did HUR say about the crimean bridge attack last year", "bridge attack"),
        ("did isis-k claim the concert hall attack", None),  # the ledger knows "concert" and "hall"
        ("does putin have a history of staging attacks", None),  # what was done, not which attack
        ("what did putin say about the attack", None),
    ],
)
def test_an_event_the_ledger_never_heard_of_is_told_apart(matcher: Matcher, question: str, event: str) -> None:
    assert matcher._parse(S, question).other_event == event


def test_a_question_about_another_event_is_not_answered_with_this_ones_claims(matcher: Matcher) -> None:
    assert refs(matcher, "did isis-k claim the kerman bombing") == []
    assert refs(matcher, "did isis-k claim the concert hall attack")[:1] == ["crocus-2024-002"]


def test_a_speaker_is_named_by_what_their_role_names() -> None:
    assert role_names("Editor-in-chief of RT (Russia Today), Russian state media") == ["RT", "Russia Today"]
    assert role_names("Author of the source article (opinion)") == []  # a remark in brackets is no name
    assert role_names("President of Russia") == []


def test_a_question_naming_a_speaker_by_their_post_finds_their_claims(matcher: Matcher) -> None:
    # "RT" is in Simonyan's role only; "boss" points at the post's holder and asks nothing more
    theirs = [m.claim for m in matcher.ask(S, "what did the RT boss say").matches if not m.other_side]
    assert theirs and all(c.speaker is not None and c.speaker.name == "Margarita Simonyan" for c in theirs)


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("what did the rt boss say", {"Margarita Simonyan"}),  # "rt" is no word: any case names RT
        ("what did the fsb say", {"Federal Security Service of Russia"}),
        ("tell us what the fsb said", {"Federal Security Service of Russia"}),  # "us" is a word: only "US" names
        ("did the US rule it out", {"Adrienne Watson"}),
        ("is it true", set()),  # "is", not "IS"
    ],
)
def test_short_names_count_in_any_case_unless_they_spell_a_word(
    matcher: Matcher, question: str, named: set[str]
) -> None:
    speakers = {s.id: s.name for s in matcher.ledger.list_speakers(S)}
    assert {speakers[sid] for sid in matcher._parse(S, question).speakers} == named


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("who is the coach of ukraine's national football team", set()),  # "national": one word of the NSC's name
        ("is the white house open to visitors", {"US National Security Council", "Adrienne Watson"}),
        ("what did the national security council say", {"US National Security Council", "Adrienne Watson"}),
        ("what did military intelligence say", set()),
        (
            "what did ukrainian military intelligence say",
            {"Main Directorate of Intelligence of Ukraine", "Andriy Yusov"},
        ),
    ],
)
def test_a_word_that_institutions_are_named_with_names_no_one_alone(
    matcher: Matcher, question: str, named: set[str]
) -> None:
    speakers = {s.id: s.name for s in matcher.ledger.list_speakers(S)}
    assert {speakers[sid] for sid in matcher._parse(S, question).speakers} == named


def test_a_post_spelling_a_word_names_its_holder_only_in_capitals() -> None:
    with Ledger.memory() as ledger:
        ledger.create_speaker(S, name="Dana Moss", role="TV presenter (Channel Nine)", actor="t")
        ledger.add_claim(S, text="The bridge was closed for repairs.", speaker="Dana Moss", actor="t")
        matcher = Matcher(ledger)
        assert matcher._parse(S, "what did the TV host say").speakers
        assert matcher._parse(S, "what did channel nine say").speakers
        assert not matcher._parse(S, "i saw it on tv at 5 pm").speakers


def test_the_names_a_text_writes_are_its_capitalised_words_inside_sentences() -> None:
    written = names_written("Putin said on Sunday that Ukraine's HUR lied. «Ukraine did nothing», Yusov told Reuters.")
    assert written == {"sunday": "Sunday", "ukraine": "Ukraine", "hur": "HUR", "yusov": "Yusov", "reuter": "Reuters"}
    assert names_written("Украина тут ни при чём, сказал Юсов.") == {"юсов": "Юсов"}


RUSSIAN_SIDE = {"Vladimir Putin", "Federal Security Service of Russia", "Dmitry Medvedev", "Margarita Simonyan"}
UKRAINIAN_SIDE = {"Main Directorate of Intelligence of Ukraine", "Andriy Yusov", "Volodymyr Zelenskiy"}
US_SIDE = {"Adrienne Watson", "US National Security Council"}


@pytest.mark.parametrize(
    ("question", "side"),
    [
        ("what did the ukrainians say", UKRAINIAN_SIDE),  # not Simonyan's claim that Ukrainians did it
        ("what did the russians say", RUSSIAN_SIDE),
        ("what did the americans say", US_SIDE),
        ("Что говорит Москва?", RUSSIAN_SIDE),
        ("what did moscow say", RUSSIAN_SIDE),  # not HUR's claim about the killings in Moscow
        ("Was sagen die Russen?", RUSSIAN_SIDE),
        ("did the ukrainian side respond to putin", UKRAINIAN_SIDE),  # Putin is what they responded to
        ("what did zelensky say about russia", {"Volodymyr Zelenskiy"}),  # a person named: not the country
    ],
)
def test_a_country_asked_as_a_speaker_is_answered_by_those_who_speak_for_it(
    matcher: Matcher, question: str, side: set[str]
) -> None:
    answer = matcher.ask(S, question)
    speakers = [m.claim.speaker.name for m in answer.matches if not m.other_side][:3]
    assert speakers and set(speakers) <= side


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("which group said they did it", True),
        ("What terrorist organisation claimed the attack?", True),
        ("Какая группировка взяла ответственность?", True),
        ("Яке угруповання стоїть за терактом?", True),
        ("Welche Gruppe steckt hinter dem Anschlag?", True),
        ("who did it", False),  # anyone
        ("could ukrainian nationalist groups have helped isis-k", False),  # groups asked about, not for
        ("which country was behind it", False),
    ],
)
def test_a_question_asking_which_group_is_told(question: str, asks: bool) -> None:
    assert asks_for_group(question) is asks
