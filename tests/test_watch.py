"""The pure rules of watched channels (bot.watching): threshold and suppression, cooling, rate limit, keys."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.config import Settings
from bot.discord.client import intents, message_content_requested
from bot.matching.matcher import HYBRID_THRESHOLD
from bot.models import Answer, Claim, Match
from bot.watching import (
    BATCH_MAX,
    EMBED_CHUNK,
    MAX_AGE,
    NOT_RELEVANT_PREFIX,
    WATCH_THRESHOLD,
    WATCH_THRESHOLD_LEXICAL,
    Backlog,
    Throttle,
    first_link,
    format_ids,
    normalise,
    not_relevant_key,
    other_sides,
    parse_ids,
    pick,
    text_hash,
    watch_threshold,
    worth_checking,
)
from cogs.watch import Watch


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


def test_the_watch_threshold_follows_the_matching_in_use() -> None:
    """Semantic and lexical scores run on different scales; each has its threshold tuned by benchmarks/watch.py,
    and an unasked reply needs more than an answer to /ask."""
    assert watch_threshold(True) == WATCH_THRESHOLD
    assert watch_threshold(False) == WATCH_THRESHOLD_LEXICAL
    assert min(WATCH_THRESHOLD, WATCH_THRESHOLD_LEXICAL) > HYBRID_THRESHOLD


def test_pick_skips_other_side_and_suppressed_claims() -> None:
    matches = [match(7, 0.99, other_side=True), match(1, 0.97), match(2, 0.95), match(3, 0.5)]
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


def test_backlog_hands_out_batches_oldest_first() -> None:
    backlog: Backlog[int] = Backlog(clock=Clock())
    for n in range(5):
        assert backlog.add(n) is None
    assert backlog.take(3) == ([0, 1, 2], [])
    assert len(backlog) == 2
    assert backlog.take(3) == ([3, 4], [])
    assert backlog.take(3) == ([], [])


def test_backlog_full_drops_the_oldest_waiting_message() -> None:
    backlog: Backlog[int] = Backlog(limit=3, clock=Clock())
    assert [backlog.add(n) for n in range(5)] == [None, None, None, 0, 1]
    assert len(backlog) == 3
    assert backlog.take(10) == ([2, 3, 4], [])


def test_backlog_drops_messages_that_waited_too_long() -> None:
    clock = Clock()
    backlog: Backlog[str] = Backlog(max_age=10, clock=clock)
    backlog.add("old-1")
    backlog.add("old-2")
    clock.now += 6
    backlog.add("recent")
    clock.now += 5  # the first two waited 11 s, the last one 5 s
    assert backlog.take(5) == (["recent"], ["old-1", "old-2"])
    clock.now += 10  # exactly max_age: still fresh
    backlog.add("edge")
    clock.now += 10
    assert backlog.take(5) == (["edge"], [])


# ------------------------------------------------------------------ the cog's worker, with a fake bot and ledger


class FakeDense:
    def __init__(self, *, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def encode(self, texts: list[str]) -> None:
        self.calls.append(list(texts))
        if self.fail:
            raise RuntimeError("model broke")


class FakeLedger:
    def __init__(self, dense: FakeDense | None) -> None:
        self.dense = dense
        self.asked: list[str] = []

    async def ask(self, scope: str, text: str, *, top: int) -> Answer:
        self.asked.append(text)
        return Answer(question=text, matches=(), took_ms=0.0)


class FakeBot:
    """What the Watch cog uses of the bot when a message matches nothing: the ledger, dispatch, the switch."""

    def __init__(self, dense: FakeDense | None) -> None:
        self.ledger = FakeLedger(dense)
        self.watching = True
        self.events: list[tuple[int, str]] = []
        self.changed = asyncio.Event()

    def dispatch(self, event: str, message: Any, outcome: str, sent: object) -> None:
        assert event == "watch_checked"
        self.events.append((message.id, outcome))
        self.changed.set()


def message(n: int, channel: int = 5) -> Any:
    return SimpleNamespace(
        id=n,
        content=f"message number {n} says the FSB proved it",
        guild=SimpleNamespace(id=1),
        channel=SimpleNamespace(id=channel),
        author=SimpleNamespace(bot=False),
        webhook_id=None,
        type=discord.MessageType.default,  # a member's own message (system messages are never answered)
    )


async def watch_cog(dense: FakeDense | None, clock: Clock | None = None) -> tuple[Watch, FakeBot]:
    bot = FakeBot(dense)
    cog = Watch(bot)  # type: ignore[arg-type]
    cog.watched["1"] = {5, 6}
    if clock is not None:
        cog.backlog = Backlog(clock=clock)
    return cog, bot


async def run_worker(cog: Watch, bot: FakeBot, expected: int) -> None:
    """Run the cog's worker until ``expected`` messages have their outcome (a hang guard, not a timing check)."""
    worker = asyncio.create_task(cog._work())
    try:
        async with asyncio.timeout(30):
            while len(bot.events) < expected:
                bot.changed.clear()
                await bot.changed.wait()
    finally:
        worker.cancel()


async def test_waiting_messages_are_embedded_together_then_each_checked_once() -> None:
    dense = FakeDense()
    cog, bot = await watch_cog(dense)
    messages = [message(n) for n in range(40)]
    for m in messages:
        await cog.on_message(m)
    assert cog.pending == 40 and bot.events == []  # nothing is checked on the event loop's message handler
    await run_worker(cog, bot, 40)
    texts = [m.content for m in messages]
    # two batches (32, then 8), each embedded a chunk per call: far fewer model calls than messages
    assert BATCH_MAX == 32 and EMBED_CHUNK == 16
    assert dense.calls == [texts[:16], texts[16:32], texts[32:]]
    assert bot.ledger.asked == texts  # every message asked about once, in arrival order
    assert bot.events == [(n, "no match") for n in range(40)]
    assert cog.pending == 0 and cog.skipped == 0


async def test_messages_that_waited_too_long_are_dropped_unchecked() -> None:
    clock = Clock()
    dense = FakeDense()
    cog, bot = await watch_cog(dense, clock)
    for n in range(3):
        await cog.on_message(message(n))
    clock.now += MAX_AGE + 1
    for n in range(3, 5):
        await cog.on_message(message(n))
    await run_worker(cog, bot, 5)
    assert sorted(bot.events) == [(0, "backlog"), (1, "backlog"), (2, "backlog"), (3, "no match"), (4, "no match")]
    assert dense.calls == [[message(3).content, message(4).content]]
    assert bot.ledger.asked == [message(3).content, message(4).content]
    assert cog.skipped == 3


async def test_a_full_backlog_reports_the_message_it_dropped() -> None:
    cog, bot = await watch_cog(FakeDense())
    cog.backlog = Backlog(limit=2)
    for n in range(4):
        await cog.on_message(message(n))
    assert bot.events == [(0, "backlog"), (1, "backlog")]  # the oldest go; the newest still wait
    assert len(cog.backlog) == 2 and cog.skipped == 2


async def test_rate_limited_channel_is_not_asked_about() -> None:
    dense = FakeDense()
    cog, bot = await watch_cog(dense)
    cog.throttle = Throttle(rate=1, per=60, clock=Clock())
    assert cog.throttle.decide(5, 99) is None  # channel 5 has had its one reply of the minute
    await cog.on_message(message(1, channel=5))
    await cog.on_message(message(2, channel=6))
    await run_worker(cog, bot, 2)
    assert bot.events == [(1, "rate limit"), (2, "no match")]
    assert bot.ledger.asked == [message(2).content]
    assert dense.calls == [[message(2).content]]


async def test_checks_go_on_when_embedding_together_fails_or_is_off() -> None:
    dense = FakeDense(fail=True)
    cog, bot = await watch_cog(dense)
    for n in range(3):
        await cog.on_message(message(n))
    await run_worker(cog, bot, 3)
    assert len(dense.calls) == 1
    assert bot.events == [(0, "no match"), (1, "no match"), (2, "no match")]
    lexical, bot2 = await watch_cog(None)  # semantic matching off: nothing to embed, every message still checked
    await lexical.on_message(message(7))
    await run_worker(lexical, bot2, 1)
    assert bot2.events == [(7, "no match")] and bot2.ledger.asked == [message(7).content]
