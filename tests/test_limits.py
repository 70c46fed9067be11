"""Every user-supplied field has a size limit, enforced in the core with a message naming the field and the limit.

For each field of each writing method: exactly at the limit is accepted; one character (or item) over is refused
with InvalidInputError, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bot.errors import InvalidInputError
from bot.matching import Matcher
from bot.store import Ledger
from bot.validation import LIMITS, MAX_ALIASES, MAX_LINKS, MAX_SOURCES, MAX_TAGS

S = "1"
Write = Callable[[Ledger, str], object]


def text_of(key: str, n: int) -> str:
    """A valid value of field ``key`` that is exactly ``n`` characters long."""
    if key == "url":
        return "https://e.org/" + ("abcdefghij" * (n // 10 + 1))[: n - 14]
    if key == "said_at":  # inner spaces count and the date still reads: "23      September 2024"
        return "23" + " " * (n - 2 - len(" September 2024")) + " September 2024"
    return ("abcdefghij" * (n // 10 + 1))[:n]


def prepared() -> Ledger:
    """A ledger with one speaker, one incident and one claim (#1) to update."""
    ledger = Ledger.memory()
    ledger.create_speaker(S, name="Base speaker", actor="t")
    ledger.create_incident(S, title="Base incident", slug="base", actor="t")
    ledger.add_claim(S, text="Base claim", ref="base-ref", actor="t")
    return ledger


@dataclass(frozen=True)
class Case:
    key: str  # the LIMITS key
    label: str  # how the message names the field
    write: Write
    prepare: Write | None = None  # run first (e.g. create the speaker a lookup names)


def source(**fields: str) -> list[dict[str, str]]:
    return [{"title": "t", **fields}]


def speaker_named(ledger: Ledger, value: str) -> object:
    return ledger.create_speaker(S, name=value[: LIMITS["name"]], actor="t")


def incident_titled(ledger: Ledger, value: str) -> object:
    return ledger.create_incident(S, title=value[: LIMITS["incident"]], slug="named", actor="t")


CLAIM_FIELDS: dict[str, tuple[str, str, Callable[[str], dict[str, object]]]] = {
    # name: (LIMITS key, label, keyword arguments)
    "text": ("claim", "claim", lambda v: {"text": v}),
    "quote": ("quote", "quote", lambda v: {"quote": v}),
    "said_where": ("said_where", "said where", lambda v: {"said_where": v}),
    "said_at": ("said_at", "said at", lambda v: {"said_at": v}),
    "ref": ("ref", "ref", lambda v: {"ref": v}),
    "tag": ("tag", "tag", lambda v: {"tags": [v]}),
    "details": ("details", "details", lambda v: {"evidence_details": v}),
    "link": ("url", "url", lambda v: {"evidence_links": [v]}),
    "source_title": ("title", "title", lambda v: {"sources": source(title=v)}),
    "source_url": ("url", "url", lambda v: {"sources": source(url=v)}),
    "source_publisher": ("publisher", "publisher", lambda v: {"sources": source(publisher=v)}),
    "speaker": ("name", "name", lambda v: {"speaker": v}),
    "incident": ("incident", "incident", lambda v: {"incident": v}),
}
PREPARE = {"speaker": speaker_named, "incident": incident_titled}


def _add(kwargs: Callable[[str], dict[str, object]]) -> Write:
    return lambda ledger, v: ledger.add_claim(S, **{"text": "x", **kwargs(v)}, actor="t")  # type: ignore[arg-type]


def _update(kwargs: Callable[[str], dict[str, object]]) -> Write:
    return lambda ledger, v: ledger.update_claim(S, 1, actor="t", **kwargs(v))


CASES: dict[str, Case] = {}
for name, (key, label, kwargs) in CLAIM_FIELDS.items():
    CASES[f"add_claim-{name}"] = Case(key, label, _add(kwargs), PREPARE.get(name))
    CASES[f"update_claim-{name}"] = Case(key, label, _update(kwargs), PREPARE.get(name))
CASES.update(
    {
        "add_claim-actor": Case("actor", "actor", lambda s, v: s.add_claim(S, text="x", actor=v)),
        "update_claim-actor": Case("actor", "actor", lambda s, v: s.update_claim(S, 1, text="y", actor=v)),
        "set_evidence-details": Case(
            "details", "details", lambda s, v: s.set_evidence(S, 1, status="partial", details=v, actor="t")
        ),
        "set_evidence-link": Case(
            "url", "url", lambda s, v: s.set_evidence(S, 1, status="partial", details="d", links=[v], actor="t")
        ),
        "set_evidence-actor": Case(
            "actor", "actor", lambda s, v: s.set_evidence(S, 1, status="partial", details="d", actor=v)
        ),
        "remove_claim-reason": Case("reason", "reason", lambda s, v: s.remove_claim(S, 1, reason=v, actor="t")),
        "remove_claim-actor": Case("actor", "actor", lambda s, v: s.remove_claim(S, 1, reason="r", actor=v)),
        "create_speaker-name": Case("name", "name", lambda s, v: s.create_speaker(S, name=v, actor="t")),
        "create_speaker-role": Case("role", "role", lambda s, v: s.create_speaker(S, name="n", role=v, actor="t")),
        "create_speaker-alias": Case(
            "alias", "alias", lambda s, v: s.create_speaker(S, name="n", aliases=[v], actor="t")
        ),
        "create_speaker-actor": Case("actor", "actor", lambda s, v: s.create_speaker(S, name="n", actor=v)),
        "update_speaker-name": Case(
            "name", "name", lambda s, v: s.update_speaker(S, "Base speaker", name=v, actor="t")
        ),
        "update_speaker-role": Case(
            "role", "role", lambda s, v: s.update_speaker(S, "Base speaker", role=v, actor="t")
        ),
        "add_speaker_alias": Case("alias", "alias", lambda s, v: s.add_speaker_alias(S, "Base speaker", v, actor="t")),
        "create_incident-title": Case(
            "title", "title", lambda s, v: s.create_incident(S, title=v, slug="s", actor="t")
        ),
        "create_incident-slug": Case("slug", "slug", lambda s, v: s.create_incident(S, title="t", slug=v, actor="t")),
        "create_incident-place": Case(
            "place", "place", lambda s, v: s.create_incident(S, title="t", place=v, actor="t")
        ),
        "create_incident-summary": Case(
            "summary", "summary", lambda s, v: s.create_incident(S, title="t", summary=v, actor="t")
        ),
        "create_incident-date": Case(
            "said_at", "said at", lambda s, v: s.create_incident(S, title="t", date=v, actor="t")
        ),
        "create_incident-alias": Case(
            "alias", "alias", lambda s, v: s.create_incident(S, title="t", aliases=[v], actor="t")
        ),
        "update_incident-title": Case("title", "title", lambda s, v: s.update_incident(S, "base", title=v, actor="t")),
        "update_incident-place": Case("place", "place", lambda s, v: s.update_incident(S, "base", place=v, actor="t")),
        "update_incident-summary": Case(
            "summary", "summary", lambda s, v: s.update_incident(S, "base", summary=v, actor="t")
        ),
        "update_incident-alias": Case(
            "alias", "alias", lambda s, v: s.update_incident(S, "base", aliases=[v], actor="t")
        ),
        "set_setting-value": Case("setting", "setting", lambda s, v: s.set_setting(S, "moderator_role", v, actor="t")),
        "set_setting-key": Case("setting_key", "setting key", lambda s, v: s.set_setting(S, v, "1", actor="t")),
        "set_setting-actor": Case("actor", "actor", lambda s, v: s.set_setting(S, "moderator_role", "1", actor=v)),
    }
)


@pytest.mark.parametrize("name", list(CASES))
def test_field_limit(name: str) -> None:
    case = CASES[name]
    limit = LIMITS[case.key]
    at, over = text_of(case.key, limit), text_of(case.key, limit + 1)
    assert (len(at), len(over)) == (limit, limit + 1)
    with prepared() as ledger:
        if case.prepare:
            case.prepare(ledger, at)
        case.write(ledger, at)  # exactly at the limit is fine
    with prepared() as ledger:
        if case.prepare:
            case.prepare(ledger, over)
        revisions = ledger.last_revision_id(S)
        with pytest.raises(InvalidInputError) as err:
            case.write(ledger, over)
        message = str(err.value)
        assert case.label in message.lower(), message
        assert f"{limit + 1} characters long; the limit is {limit}" in message
        assert err.value.field == case.key
        assert ledger.last_revision_id(S) == revisions  # nothing written


def test_every_limit_is_tested() -> None:
    tested = {case.key for case in CASES.values()} | {"question"}
    # "summary" etc. are covered above; only keys nobody writes through these methods may be missing
    assert set(LIMITS) - tested == set()


def test_question_limit() -> None:
    with prepared() as ledger:
        matcher = Matcher(ledger)
        matcher.ask(S, text_of("question", LIMITS["question"]))
        with pytest.raises(InvalidInputError, match=f"limit is {LIMITS['question']}") as err:
            matcher.ask(S, text_of("question", LIMITS["question"] + 1))
        assert err.value.field == "question"


def items(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def titles(n: int) -> list[dict[str, str]]:
    return [{"title": f"s{i}"} for i in range(n)]


COUNTS: dict[str, tuple[int, str, Callable[[Ledger, int], object]]] = {
    "add_claim-tags": (MAX_TAGS, "tag", lambda s, n: s.add_claim(S, text="x", tags=items("t", n), actor="t")),
    "update_claim-tags": (MAX_TAGS, "tag", lambda s, n: s.update_claim(S, 1, tags=items("t", n), actor="t")),
    "create_speaker-aliases": (
        MAX_ALIASES,
        "alias",
        lambda s, n: s.create_speaker(S, name="n", aliases=items("a", n), actor="t"),
    ),
    "update_speaker-aliases": (
        MAX_ALIASES,
        "alias",
        lambda s, n: s.update_speaker(S, "Base speaker", aliases=items("a", n), actor="t"),
    ),
    "create_incident-aliases": (
        MAX_ALIASES,
        "alias",
        lambda s, n: s.create_incident(S, title="t", aliases=items("a", n), actor="t"),
    ),
    "update_incident-aliases": (
        MAX_ALIASES,
        "alias",
        lambda s, n: s.update_incident(S, "base", aliases=items("a", n), actor="t"),
    ),
    "add_claim-links": (
        MAX_LINKS,
        "link",
        lambda s, n: s.add_claim(S, text="x", evidence_links=items("https://e.org/", n), actor="t"),
    ),
    "set_evidence-links": (
        MAX_LINKS,
        "link",
        lambda s, n: s.set_evidence(S, 1, status="presented", details="d", links=items("https://e.org/", n), actor="t"),
    ),
    "add_claim-sources": (MAX_SOURCES, "source", lambda s, n: s.add_claim(S, text="x", sources=titles(n), actor="t")),
    "update_claim-sources": (MAX_SOURCES, "source", lambda s, n: s.update_claim(S, 1, sources=titles(n), actor="t")),
}


@pytest.mark.parametrize("name", list(COUNTS))
def test_list_count_limit(name: str) -> None:
    limit, label, write = COUNTS[name]
    with prepared() as ledger:
        write(ledger, limit)
    with prepared() as ledger:
        revisions = ledger.last_revision_id(S)
        with pytest.raises(InvalidInputError) as err:
            write(ledger, limit + 1)
        assert label in str(err.value).lower() and str(limit) in str(err.value), str(err.value)
        assert ledger.last_revision_id(S) == revisions


def test_speaker_alias_count_holds_one_at_a_time() -> None:
    """Adding aliases one by one stops at the same limit."""
    with prepared() as ledger:
        for i in range(MAX_ALIASES):
            ledger.add_speaker_alias(S, "Base speaker", f"alias {i}", actor="t")
        with pytest.raises(InvalidInputError, match=f"At most {MAX_ALIASES}"):
            ledger.add_speaker_alias(S, "Base speaker", "one too many", actor="t")
        assert len(ledger.get_speaker(S, "Base speaker").aliases) == MAX_ALIASES


@pytest.mark.parametrize("field", ["aliases", "tags"])
def test_list_fields_refuse_non_lists(field: str) -> None:
    with prepared() as ledger:
        write = {
            "aliases": lambda v: ledger.create_speaker(S, name="n", aliases=v, actor="t"),
            "tags": lambda v: ledger.add_claim(S, text="x", tags=v, actor="t"),
        }[field]
        for bad in (5, {"a": 1}, b"bytes"):
            with pytest.raises(InvalidInputError, match="must be a list"):
                write(bad)
        # a string is a comma-separated list, never a list of its letters
        assert len(write("Zelensky, Zelenskyy").__getattribute__(field)) == 2
