"""Pure parts of moderation: who is a moderator, summary positions, audit diffs."""

from __future__ import annotations

from bot.discord.permissions import (
    ADMINISTRATOR,
    EMBED_LINKS,
    MANAGE_GUILD,
    POST_SUMMARY,
    REPLY_WITH_EMBEDS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    is_moderator,
    missing_permissions,
    permissions_problem,
    refusal,
)
from bot.models import EvidenceStatus
from bot.rendering.audit import describe, diff_lines
from bot.rendering.embeds import embed_problems, summary_embed
from bot.rendering.summary import build_summary
from bot.store import DEFAULT_SCOPE, Ledger


def test_is_moderator() -> None:
    assert is_moderator(MANAGE_GUILD, set(), None)
    assert is_moderator(ADMINISTRATOR, set(), None)
    assert not is_moderator(0, {5}, None)
    assert is_moderator(0, {5}, 5)
    assert not is_moderator(0, {6}, 5)
    assert "<@&5>" in refusal(5) and "Manage Server" in refusal(None)


def test_missing_channel_permissions_are_named() -> None:
    assert missing_permissions(VIEW_CHANNEL | SEND_MESSAGES, POST_SUMMARY) == ["Embed Links", "Pin Messages"]
    assert missing_permissions(VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS, REPLY_WITH_EMBEDS) == [
        "Read Message History"
    ]
    assert missing_permissions(ADMINISTRATOR, POST_SUMMARY) == []
    assert permissions_problem(["Embed Links"], "#news", "post the summary").startswith(
        "I can't post the summary in #news: I need the **Embed Links** permission there."
    )
    assert "**View Channel**, **Send Messages** and **Embed Links** permissions" in permissions_problem(
        ["View Channel", "Send Messages", "Embed Links"], "#news", "post"
    )


def test_summary_positions_from_seed(seeded: Ledger) -> None:
    summary = build_summary(seeded, DEFAULT_SCOPE, "crocus-city-hall-attack-2024")
    by_label = {p.label: p for p in summary.positions}
    assert by_label["Responsibility"].status is EvidenceStatus.PRESENTED
    assert "Islamic State Khorasan" in by_label["Responsibility"].speakers
    link = by_label["Ukraine link"]
    assert link.status is EvidenceStatus.NOT_PRESENTED
    assert "Federal Security Service of Russia" in link.speakers
    assert summary.claim_count == seeded.count_claims(DEFAULT_SCOPE)
    embed = summary_embed(summary, updated_at="2024-03-24 10:00 UTC")
    assert embed_problems(embed) == []
    assert embed.footer.text.startswith("Last updated 2024-03-24 10:00 UTC")


def test_summary_lists_newest_changes(seeded: Ledger) -> None:
    claim = seeded.get_claim(DEFAULT_SCOPE, "crocus-2024-010")
    seeded.set_evidence(DEFAULT_SCOPE, claim.id, status="disputed", details="x", actor="mod")
    summary = build_summary(seeded, DEFAULT_SCOPE, "crocus-city-hall-attack-2024")
    assert summary.changes[0].split(" · ")[1] == f"update #{claim.id}"


def test_diff_lines_and_describe(seeded: Ledger) -> None:
    claim = seeded.get_claim(DEFAULT_SCOPE, "crocus-2024-010")
    seeded.set_evidence(DEFAULT_SCOPE, claim.id, status="partial", details="Some", actor="alice (1)")
    revision = seeded.history(DEFAULT_SCOPE, "claim", claim.id)[-1]
    lines = diff_lines(revision.old, revision.new)
    assert "evidence.status: not_presented → partial" in lines
    assert any(line.startswith("evidence.details: ") and line.endswith("→ Some") for line in lines)
    assert describe(revision).startswith(f"alice (1) updated claim #{claim.id}")
    assert diff_lines({"a": 1}, {"a": 1}) == []


def test_split_when_where() -> None:
    import pytest

    from bot.errors import InvalidInputError
    from cogs.claims import split_when_where

    assert split_when_where("2024-03-23, Televised address") == ("2024-03-23", "Televised address")
    assert split_when_where("March 23, 2024, TV") == ("2024-03-23", "TV")
    assert split_when_where("March 2024") == ("2024-03", None)
    assert split_when_where("Televised address, BBC") == (None, "Televised address, BBC")
    assert split_when_where("  ") == (None, None)
    with pytest.raises(InvalidInputError, match="not a month"):
        split_when_where("2024-13-01, Town hall")
    assert split_when_where("Channel 1 broadcast") == (None, "Channel 1 broadcast")
    assert split_when_where("Channel 1, evening news") == (None, "Channel 1, evening news")
    with pytest.raises(InvalidInputError, match="Could not read the date"):
        split_when_where("March 2O24, Town hall 3")
