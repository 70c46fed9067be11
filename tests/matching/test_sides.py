"""Both sides of a dispute are shown together."""

from __future__ import annotations

from bot.matching import Matcher
from bot.matching.sides import balance, disputed_topics
from bot.models import Match
from bot.store import Ledger

S = "1"


def build(ledger: Ledger) -> dict[str, int]:
    ledger.create_incident(S, title="Bridge collapse", slug="bridge", actor="t")
    ids = {}
    ids["claim"] = ledger.add_claim(
        S,
        text="The agency said saboteurs from Ruritania blew up the bridge.",
        incident="bridge",
        tags=["ruritania-link"],
        actor="t",
    ).id
    ids["filler1"] = ledger.add_claim(
        S, text="The agency said the bridge was blown up at night.", incident="bridge", actor="t"
    ).id
    ids["filler2"] = ledger.add_claim(
        S, text="The agency said the bridge blew up after saboteurs arrived.", incident="bridge", actor="t"
    ).id
    ids["filler3"] = ledger.add_claim(
        S, text="The agency said the bridge saboteurs were arrested.", incident="bridge", actor="t"
    ).id
    ids["denial"] = ledger.add_claim(
        S,
        text="Ruritania's foreign ministry denied any role.",
        incident="bridge",
        tags=["denial", "disputes:ruritania-link"],
        actor="t",
    ).id
    return ids


def test_answer_showing_an_allegation_also_shows_its_denial(ledger: Ledger) -> None:
    ids = build(ledger)
    answer = Matcher(ledger, threshold=0.0).ask(S, "agency saboteurs blew up the bridge", top=5)
    first_page = [m.claim.id for m in answer.matches[:3]]
    assert ids["claim"] in first_page
    assert ids["denial"] in first_page


def test_answer_showing_a_denial_also_shows_the_claim_it_disputes(ledger: Ledger) -> None:
    ids = build(ledger)
    answer = Matcher(ledger, threshold=0.0).ask(S, "foreign ministry denied any role", top=5)
    first_page = [m.claim.id for m in answer.matches[:3]]
    assert first_page[0] == ids["denial"]
    assert ids["claim"] in first_page


def test_balance_leaves_undisputed_answers_alone(ledger: Ledger) -> None:
    ids = build(ledger)
    claims = ledger.get_claims(S, [ids["filler1"], ids["filler2"]])
    matches = [Match(c, 0.5) for c in claims]
    assert balance(matches, lambda tag, inc: ledger.list_claims(S, tag=tag), lambda c: 0.1) == matches


def test_disputed_topics_parses_tags(ledger: Ledger) -> None:
    ids = build(ledger)
    assert disputed_topics(ledger.get_claim(S, ids["denial"])) == {"ruritania-link"}
