"""Every user-supplied field has a size limit, enforced in the core with a message naming it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.errors import InvalidInputError
from bot.ledger import Ledger
from bot.validation import LIMITS, MAX_ALIASES, MAX_LINKS, MAX_SOURCES, MAX_TAGS

S = "1"


def word(n: int) -> str:
    return ("abcdefghij" * (n // 10 + 1))[:n]


CASES: list[tuple[str, str, Callable[[Ledger, str], object]]] = [
    ("claim", "claim", lambda s, v: s.add_claim(S, text=v, actor="t")),
    ("quote", "quote", lambda s, v: s.add_claim(S, text="x", quote=v, actor="t")),
    ("said_where", "said where", lambda s, v: s.add_claim(S, text="x", said_where=v, actor="t")),
    ("ref", "ref", lambda s, v: s.add_claim(S, text="x", ref=v, actor="t")),
    ("tag", "tag", lambda s, v: s.add_claim(S, text="x", tags=[v], actor="t")),
    ("details", "details", lambda s, v: s.add_claim(S, text="x", evidence_details=v, actor="t")),
    ("title", "title", lambda s, v: s.add_claim(S, text="x", sources=[{"title": v}], actor="t")),
    ("publisher", "publisher", lambda s, v: s.add_claim(S, text="x", sources=[{"title": "t", "publisher": v}],
                                                       actor="t")),
    ("url", "url", lambda s, v: s.add_claim(S, text="x", sources=[{"title": "t", "url": "https://e.org/" + v[14:]}],
                                           actor="t")),
    ("name", "name", lambda s, v: s.create_speaker(S, name=v, actor="t")),
    ("role", "role", lambda s, v: s.create_speaker(S, name="n", role=v, actor="t")),
    ("alias", "alias", lambda s, v: s.create_speaker(S, name="n", aliases=[v], actor="t")),
    ("title", "title", lambda s, v: s.create_incident(S, title=v, slug="s", actor="t")),
    ("place", "place", lambda s, v: s.create_incident(S, title="t", place=v, actor="t")),
    ("summary", "summary", lambda s, v: s.create_incident(S, title="t", summary=v, actor="t")),
    ("actor", "actor", lambda s, v: s.add_claim(S, text="x", actor=v)),
    ("setting", "setting", lambda s, v: s.set_setting(S, "k", v, actor="t")),
]  # fmt: skip


@pytest.mark.parametrize(("limit_key", "label", "write"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_field_limit(ledger: Ledger, limit_key: str, label: str, write: Callable[[Ledger, str], object]) -> None:
    limit = LIMITS[limit_key]
    write(ledger, word(limit))  # exactly at the limit is fine
    with Ledger.memory() as fresh:
        with pytest.raises(InvalidInputError) as err:
            write(fresh, word(limit + 1))
        assert label.split()[0] in str(err.value).lower() and str(limit) in str(err.value)
        assert fresh.count_claims(S, include_removed=True) == 0


def test_remove_reason_limit(ledger: Ledger) -> None:
    claim = ledger.add_claim(S, text="x", actor="t")
    with pytest.raises(InvalidInputError, match=f"limit is {LIMITS['reason']}"):
        ledger.remove_claim(S, claim.id, reason=word(LIMITS["reason"] + 1), actor="t")
    assert not ledger.get_claim(S, claim.id).removed


@pytest.mark.parametrize(
    ("count", "write"),
    [
        (MAX_TAGS, lambda s, n: s.add_claim(S, text="x", tags=[f"t{i}" for i in range(n)], actor="t")),
        (MAX_ALIASES, lambda s, n: s.create_speaker(S, name="n", aliases=[f"a{i}" for i in range(n)], actor="t")),
        (MAX_LINKS, lambda s, n: s.add_claim(S, text="x", evidence_links=[f"https://e.org/{i}" for i in range(n)],
                                             actor="t")),
        (MAX_SOURCES, lambda s, n: s.add_claim(S, text="x", sources=[{"title": f"s{i}"} for i in range(n)],
                                               actor="t")),
    ],
)  # fmt: skip
def test_list_count_limits(ledger: Ledger, count: int, write: Callable[[Ledger, int], object]) -> None:
    write(ledger, count)
    with Ledger.memory() as fresh, pytest.raises(InvalidInputError, match=f"{count}"):
        write(fresh, count + 1)
