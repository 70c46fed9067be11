"""Hostile and malformed input: importers and renderers never fail past a typed error, never half-write,
and what they render fits Discord and pings nobody."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import LedgerError
from bot.formats import import_bytes
from bot.formats.transfer import FLAT_COLUMNS, export_document
from bot.matching import Matcher
from bot.models import Answer, Match
from bot.rendering.embeds import answer_embed, claim_embed, embed_problems
from bot.rendering.text import answer_json, render_answer_text
from bot.store import DEFAULT_SCOPE, Ledger

HOSTILE = st.sampled_from(
    [
        "'; DROP TABLE claims; --",
        '" OR 1=1 --',
        "@everyone",
        "@here",
        "<@&123456789012345678>",
        "<@!1>",
        "**bold** __under__ ~~strike~~ `code` ||spoiler||",
        "NEAR(a b) AND OR NOT * ^ :",
        "\x00\x01\x1b[31m",
        '=HYPERLINK("http://evil","x")',
        "😀" * 50,
        "\u202eevil",
        "x" * 5000,
    ]
)
TEXT = st.text(max_size=200) | HOSTILE
MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def snapshot(ledger: Ledger) -> dict:
    return export_document(ledger, DEFAULT_SCOPE)


@SETTINGS
@given(data=st.binary(max_size=2000), name=st.sampled_from(["x.csv", "x.jsonl", "x.json", "x.txt"]))
def test_random_bytes_never_crash_an_import(seeded: Ledger, data: bytes, name: str) -> None:
    before = snapshot(seeded)
    try:
        import_bytes(seeded, DEFAULT_SCOPE, name, data, actor="fuzz")
    except LedgerError:
        assert snapshot(seeded) == before


@SETTINGS
@given(rows=st.lists(st.dictionaries(st.sampled_from(FLAT_COLUMNS), TEXT, max_size=6), min_size=1, max_size=5))
def test_random_flat_rows_import_whole_or_not_at_all(seeded: Ledger, rows: list[dict]) -> None:
    before = snapshot(seeded)
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    try:
        import_bytes(seeded, DEFAULT_SCOPE, "x.jsonl", data, actor="fuzz")
    except LedgerError:
        assert snapshot(seeded) == before


@SETTINGS
@given(claims=st.lists(st.dictionaries(st.sampled_from(["claim", "speaker", "quote", "said_at", "ref", "tags",
                                                        "evidence", "sources", "incident"]),
                                       TEXT | st.lists(TEXT, max_size=3) | st.integers() | st.none(), max_size=6),
                       max_size=4))  # fmt: skip
def test_random_native_documents_import_whole_or_not_at_all(seeded: Ledger, claims: list[dict]) -> None:
    before = snapshot(seeded)
    document = {"format": "claim-ledger", "version": 1, "claims": claims}
    try:
        import_bytes(seeded, DEFAULT_SCOPE, "x.json", json.dumps(document).encode(), actor="fuzz")
    except LedgerError:
        assert snapshot(seeded) == before


@SETTINGS
@given(text=TEXT, quote=TEXT, where=TEXT, question=TEXT)
def test_rendered_claims_fit_and_never_ping(seeded: Ledger, text: str, quote: str, where: str, question: str) -> None:
    try:
        claim = seeded.add_claim(DEFAULT_SCOPE, text=text or "x", quote=quote, said_where=where[:200], actor="fuzz",
                                 speaker="Vladimir Putin")  # fmt: skip
    except LedgerError:
        return
    answer = Answer(question=question or "?", matches=(Match(claim, 0.5),), took_ms=1.0)
    for embed in (answer_embed(answer), claim_embed(claim)):
        assert embed_problems(embed) == []
        assert not MENTION.search(json.dumps(embed.to_dict(), ensure_ascii=False))
    render_answer_text(answer)
    json.dumps(answer_json(answer))


@SETTINGS
@given(question=TEXT)
def test_matcher_takes_any_question(seeded: Ledger, question: str) -> None:
    try:
        answer = Matcher(seeded).ask(DEFAULT_SCOPE, question)
    except LedgerError:
        return
    assert all(0 <= m.score <= 1 for m in answer.matches)
