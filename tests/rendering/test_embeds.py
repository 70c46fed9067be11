"""The embed renderer: every answer fits Discord's limits and nothing in it can ping."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Answer, Claim, Evidence, EvidenceStatus, Incident, Match, Source, Speaker
from bot.rendering.embeds import (
    FIELD_VALUE_LIMIT,
    answer_embed,
    claim_embed,
    claim_field_value,
    cut,
    embed_problems,
    inert,
    link_text,
    page_count,
    safe_url,
)
from bot.rendering.text import answer_json, match_label, render_answer_text
from bot.store import DEFAULT_SCOPE, Ledger
from tests.emulator.rules import masked_links

MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>")


def make_claim(i: int, text: str, quote: str | None, details: str | None, name: str, title: str) -> Claim:
    return Claim(
        id=i,
        scope="1",
        text=text or "x",
        quote=quote,
        said_at="2024-03-23",
        said_where="Televised address",
        tags=("a", "b"),
        incident=Incident(id=1, scope="1", slug="inc", title=title or "t"),
        speaker=Speaker(id=1, scope="1", name=name or "n", role="Role " * 40),
        evidence=Evidence(status=EvidenceStatus.NOT_PRESENTED, details=details, links=("https://example.org",)),
        sources=(Source(id=1, title=title or "t", url="https://example.org/" + "p" * 50),),
    )


long_text = st.text(min_size=0, max_size=5000)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.tuples(long_text, st.none() | long_text, st.none() | long_text), min_size=1, max_size=9),
    name=st.text(max_size=400),
    title=st.text(max_size=400),
    question=st.text(max_size=4000),
    speaker_only=st.lists(st.booleans(), min_size=9, max_size=9),
)
def test_answer_embed_always_within_limits(
    texts: list, name: str, title: str, question: str, speaker_only: list[bool]
) -> None:
    matches = tuple(
        Match(make_claim(i, t, q, d, name, title), 0.5, speaker_only=speaker_only[i - 1])
        for i, (t, q, d) in enumerate(texts, start=1)
    )
    answer = Answer(question=question or "?", matches=matches, took_ms=1.0)
    for page in range(page_count(answer)):
        embed = answer_embed(answer, page=page)
        assert embed_problems(embed) == []


def test_long_claim_is_cut_cleanly_with_pointer() -> None:
    claim = make_claim(42, "word " * 600, "quoted " * 300, "detail " * 300, "Speaker", "Incident")
    value = claim_field_value(Match(claim, 0.9), claim)
    assert len(value) <= FIELD_VALUE_LIMIT
    assert "/entry 42" in value
    assert "Evidence:" in value and "Source:" in value and "#42" in value


def test_mentions_are_inert() -> None:
    claim = make_claim(1, "Hey @everyone and @here and <@123> and <@&456> <#789>", None, None, "<@1>", "t")
    embed = claim_embed(claim)
    rendered = str(embed.to_dict())
    assert not MENTION.search(rendered)
    assert inert("mail me at a@b.org") == "mail me at a@b.org"


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_stored_text_never_becomes_a_masked_link(text: str) -> None:
    for candidate in (text, f"[{text}](https://evil.example/{text})", f"\\[a\\](https://evil.example) {text}"):
        assert masked_links(inert(candidate)) == [], candidate
    url = safe_url("https://news.example/" + text)
    if url is not None:
        assert masked_links(f"[{link_text(text)}]({url})") == [(link_text(text), url)]


def test_only_http_links_and_no_breakout() -> None:
    assert safe_url("javascript:alert(1)") is None and safe_url("ftp://x.example/f") is None
    crafted = "https://news.example/a)[VERIFIED_SOURCE](https://evil.example/x"
    assert safe_url(crafted) == "https://news.example/a%29%5BVERIFIED_SOURCE%5D%28https://evil.example/x"
    assert inert("[the official report](https://evil.example/login)") == (
        "\\[the official report\\](https://evil.example/login)"
    )
    assert inert("plain [brackets] stay") == "plain [brackets] stay"


def test_cut_prefers_word_boundary() -> None:
    assert cut("alpha beta gamma", 12) == "alpha beta…"
    assert cut("short", 10) == "short"
    assert len(cut("x" * 100, 10)) == 10


def test_seed_answer_embed_shows_speaker_evidence_and_source(seeded: Ledger) -> None:
    claims = seeded.list_claims(DEFAULT_SCOPE)
    answer = Answer(question="q", matches=tuple(Match(c, 0.8) for c in claims[:9]), took_ms=3.0)
    embed = answer_embed(answer)
    assert len(embed.fields) == 3
    assert embed.footer.text.startswith("9 matching claim(s) · page 1/3")
    first = claims[0]
    assert first.speaker.name in embed.fields[0].name
    assert first.evidence.status.label in embed.fields[0].value
    assert embed_problems(embed) == []


def test_nothing_matched_offers_did_you_mean() -> None:
    embed = answer_embed(Answer(question="medvedv moon", matches=(), took_ms=1.0, suggestions=("Dmitry Medvedev",)))
    assert "No claim in this server's ledger matches" in embed.description
    assert "Did you mean:** Dmitry Medvedev" in embed.description


def test_a_claim_found_through_the_speaker_alone_says_so_in_every_form(seeded: Ledger) -> None:
    """A member who asked about one subject and got the speaker's claims on another is told which is which."""
    first, second = seeded.list_claims(DEFAULT_SCOPE)[:2]
    matches = (Match(first, 0.55, speaker_only=True), Match(second, 0.5))
    answer = Answer(question="q", matches=matches, took_ms=3.0)
    assert match_label(matches[0]) == "good match for the speaker asked about, not clearly for the subject asked"
    assert match_label(matches[1]) == "good match"
    embed = answer_embed(answer)
    assert "not clearly for the subject asked" in embed.fields[0].value
    assert "not clearly for the subject asked" not in embed.fields[1].value
    text = render_answer_text(answer)
    assert text.count("not clearly for the subject asked") == 1
    assert [m["speaker_only"] for m in answer_json(answer)["matches"]] == [True, False]
    assert "not clearly about what it asks" in embed.description  # the best match is found so


def test_an_answer_whose_best_match_is_found_through_the_speaker_alone_says_so_above_its_claims(
    seeded: Ledger,
) -> None:
    first, second, third = seeded.list_claims(DEFAULT_SCOPE)[:3]
    note = "The best match is by the speaker the question names, but not clearly about what it asks."
    matches = (Match(first, 0.0, other_side=True), Match(second, 0.55, speaker_only=True), Match(third, 0.5))
    answer = Answer(question="q", matches=matches, took_ms=3.0)
    assert note in answer_embed(answer).description
    assert render_answer_text(answer).splitlines()[2] == note
    on_subject = Answer(question="q", matches=(matches[2], matches[1]), took_ms=3.0)
    assert note not in answer_embed(on_subject).description
    assert note not in render_answer_text(on_subject)
