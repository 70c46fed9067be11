"""The pure rules of watched channels (bot.watching): threshold and suppression, cooling, rate limit, keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.discord.client import intents, message_content_requested
from bot.models import Claim, Match
from bot.watching import (
    NOT_RELEVANT_PREFIX,
    WATCH_THRESHOLD,
    Throttle,
    first_link,
    format_ids,
    normalise,
    not_relevant_key,
    other_sides,
    parse_ids,
    pick,
    text_hash,
    worth_checking,
)


def match(claim_id: int, score: float, *, other_side: bool = False) -> Match:
    return Match(Claim(id=claim_id, scope="1", text=f"claim {claim_id}"), score, other_side)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pick_needs_the_watch_threshold() -> None:
    assert pick([match(1, WATCH_THRESHOLD)]).claim.id == 1
    assert pick([match(1, WATCH_THRESHOLD - 0.01)]) is None
    assert pick([]) is None
    assert pick([match(1, 0.95)], threshold=0.96) is None


def test_pick_skips_other_side_and_suppressed_claims() -> None:
    matches = [match(7, 0.99, other_side=True), match(1, 0.9), match(2, 0.85), match(3, 0.5)]
    assert pick(matches).claim.id == 1
    assert pick(matches, suppressed=[1]).claim.id == 2
    assert pick(matches, suppressed=[1, 2]) is None  # the next one must reach the threshold on its own
    assert [m.claim.id for m in other_sides(matches, pick(matches))] == [7]


def test_same_text_same_hash_whatever_the_case_links_and_mentions() -> None:
    base = text_hash("Ukraine was behind the attack, the FSB proved it")
    assert text_hash("UKRAINE was behind   the attack!! the FSB proved it <@123>") == base
    assert text_hash("Ukraine was behind the attack, the FSB proved it https://t.co/x") == base
    assert text_hash("Ukraine was not behind the attack") != base
    assert len(base) == 32 and normalise("Ａｂｃ, DEF!") == "abc def"


def test_not_relevant_key_fits_a_setting_and_refuses_garbage() -> None:
    key = not_relevant_key(text_hash("anything"))
    assert key.startswith(NOT_RELEVANT_PREFIX) and len(key) <= 64
    with pytest.raises(ValueError):
        not_relevant_key("../../etc")


def test_id_lists() -> None:
    assert parse_ids("12 34,56 x") == [12, 34, 56]
    assert parse_ids(None) == []
    assert format_ids([3, 1, 3]) == "3 1"
    assert format_ids([]) is None


def test_first_link_and_short_messages() -> None:
    assert first_link("see (https://example.org/a?b=1). and http://x.y") == "https://example.org/a?b=1"
    assert first_link("no links here") is None
    assert not worth_checking("lol same <@1> https://x.org/long/path")
    assert worth_checking("the FSB proved it")


def test_cooling_per_claim_per_channel() -> None:
    clock = Clock()
    throttle = Throttle(cooling=1800, rate=100, per=60, clock=clock)
    assert throttle.decide(1, 10) is None
    assert throttle.decide(1, 10) == "cooling"
    assert throttle.decide(2, 10) is None  # another channel
    assert throttle.decide(1, 11) is None  # another claim
    clock.now += 1799
    assert throttle.decide(1, 10) == "cooling"
    clock.now += 1
    assert throttle.decide(1, 10) is None


def test_rate_limit_per_channel_sliding_window() -> None:
    clock = Clock()
    throttle = Throttle(cooling=0, rate=3, per=60, clock=clock)
    assert [throttle.decide(1, n) for n in range(4)] == [None, None, None, "rate limit"]
    assert throttle.decide(2, 99) is None  # the limit is per channel
    clock.now += 30
    assert throttle.decide(1, 5) == "rate limit"
    assert throttle.rate_left(1) == pytest.approx(30)
    clock.now += 30
    assert throttle.decide(1, 5) is None
    # a refused reply (rate limit) does not start a cooling period for its claim
    assert throttle.cooling_left(1, 3) == 0


def test_forget_channel() -> None:
    clock = Clock()
    throttle = Throttle(cooling=1800, rate=1, per=60, clock=clock)
    assert throttle.decide(1, 10) is None
    throttle.forget_channel(1)
    assert throttle.decide(1, 10) is None


def test_message_content_intent_is_asked_for_only_when_set(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "x.db")
    assert not message_content_requested(settings, env={}, dotenv=None)
    assert message_content_requested(settings, env={"CLAIMLEDGER_MESSAGE_CONTENT": "1"}, dotenv=None)
    assert not message_content_requested(settings, env={"CLAIMLEDGER_MESSAGE_CONTENT": "off"}, dotenv=None)
    (tmp_path / ".env").write_text("CLAIMLEDGER_MESSAGE_CONTENT=yes\n")
    assert message_content_requested(settings, env={}, dotenv=tmp_path / ".env")
    assert intents(message_content=True).message_content and not intents().message_content
    assert not intents(message_content=True).members
