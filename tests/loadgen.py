"""A burst of /ask interactions from many members while moderators write, through the emulator."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from bot.store.core import claim_record
from tests.emulator import MANAGE_GUILD, DiscordEmulator, EmulatedInteraction, Guild, StoredMessage
from tests.emulator.rules import FLAG_LOADING
from tests.harness import Running

QUESTIONS = [
    "did Ukraine have anything to do with the Moscow concert hall attack?",
    "Who claimed responsibility for the Crocus City Hall attack?",
    "what did medvedev say",
    "FSB link to ukraine",
    "what proof did Russia give that Ukraine was involved?",
    "zelenskyy response",
    "how do I bake sourdough bread?",
    "what was said on March 23",
]


@dataclass
class BurstResult:
    interactions: int
    seconds: float
    latencies: list[float]
    errors: list[dict]
    late: int
    writes: int
    worst_stall: float
    answers: list[float]  # seconds from each /ask to its final answer (the "thinking…" message replaced)
    asked: list[EmulatedInteraction] = field(default_factory=list)  # each /ask
    written: dict[int, EmulatedInteraction] = field(default_factory=dict)  # write i (details "burst edit i")

    @property
    def throughput(self) -> float:
        return self.interactions / self.seconds if self.seconds else 0.0

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.latencies if values is None else values)
        return ordered[min(int(len(ordered) * p), len(ordered) - 1)] if ordered else 0.0

    def table(self) -> str:
        return (
            "| interactions | writes | seconds | per second | first response median / p95 / max ms |"
            " late (>3 s) | errors | worst loop stall ms |\n|---|---|---|---|---|---|---|---|\n"
            f"| {self.interactions} | {self.writes} | {self.seconds:.2f} | {self.throughput:.0f} |"
            f" {statistics.median(self.latencies) * 1000:.0f} / {self.percentile(0.95) * 1000:.0f} /"
            f" {max(self.latencies) * 1000:.0f} | {self.late} | {len(self.errors)} | {self.worst_stall * 1000:.0f} |"
            "\n\n| /ask answered | final answer median / p95 / max ms |\n|---|---|\n"
            f"| {len(self.answers)} | {self.percentile(0.5, self.answers) * 1000:.0f} /"
            f" {self.percentile(0.95, self.answers) * 1000:.0f} / {max(self.answers, default=0) * 1000:.0f} |"
        )


def final_message(inter: EmulatedInteraction) -> StoredMessage | None:
    """The message a member sees last from an interaction, once it is no longer "thinking…" (None before)."""
    shown = inter.original or (inter.visible[0] if inter.visible else None)
    if shown is None or int(shown.get("flags") or 0) & FLAG_LOADING:
        return None
    return shown


def burst_ref(i: int) -> str:
    """The seeded claim that moderator write ``i`` of a burst sets the evidence of (27 claims, in turn)."""
    return f"crocus-2024-{i % 27 + 1:03d}"


def burst_details(i: int) -> str:
    """The evidence details moderator write ``i`` of a burst sets: each write's own."""
    return f"burst edit {i}"


async def watch_loop(stop: asyncio.Event, interval: float = 0.005) -> float:
    """The worst delay of a short sleep on this event loop: how long the loop was blocked."""
    worst = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(interval)
        worst = max(worst, loop.time() - started - interval)
    return worst


async def burst(
    emu: DiscordEmulator, guild: Guild, run: Running, *, members: int, asks: int, writes: int, spread: float
) -> BurstResult:
    rng = random.Random(5)
    users = [emu.add_member(guild.id, f"user{i}") for i in range(members)]
    mod = emu.add_member(guild.id, "burst-mod", permissions=MANAGE_GUILD)
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_loop(stop))
    records = []
    asked: list[EmulatedInteraction] = []
    written: dict[int, EmulatedInteraction] = {}
    answers: list[float] = []
    started = time.perf_counter()

    async def one_ask(i: int) -> None:
        await asyncio.sleep(rng.random() * spread)
        user = users[i % members]
        inter = await emu.slash(guild.id, guild.channel_id, user.id, "ask", {"question": rng.choice(QUESTIONS)})
        records.append(inter)
        asked.append(inter)
        done = await emu.wait_until(
            lambda: final_message(inter) is not None or inter.errors, timeout=30, what="the final answer"
        )
        if done is True:
            answers.append(emu.now() - inter.dispatched_at)

    async def one_write(i: int) -> None:
        await asyncio.sleep(rng.random() * spread)
        inter = await emu.slash(
            guild.id,
            guild.channel_id,
            mod.id,
            "evidence set",
            {"claim": burst_ref(i), "status": "disputed", "details": burst_details(i)},
        )
        records.append(inter)
        written[i] = inter

    await asyncio.gather(*(one_ask(i) for i in range(asks)), *(one_write(i) for i in range(writes)))
    # Writes acknowledge first ("thinking…") and answer when the write landed: wait for every final answer.
    await emu.wait_until(lambda: all(r.visible or r.errors for r in records), timeout=30, what="every answer")
    seconds = time.perf_counter() - started
    stop.set()
    worst = await watcher
    latencies = [r.latency for r in records if r.latency is not None]
    errors = [e for r in records for e in r.errors]
    late = sum(1 for x in latencies if x > 3.0)
    return BurstResult(len(records), seconds, latencies, errors, late, writes, worst, answers, asked, written)


def claims_out_of_step(ledger: Any, scope: str) -> list[str]:
    """The claims of ``scope`` whose row is not what their last revision says it is: a write half applied (the row
    changed without its revision, or a revision without the row's change). Empty for a consistent ledger."""
    wrong = []
    for claim in ledger.list_claims(scope, include_removed=True):
        history = ledger.history(scope, "claim", claim.id)
        if not history or history[-1].new != claim_record(claim):
            wrong.append(claim.ref or str(claim.id))
    return wrong


def burst_writes_found(ledger: Any, scope: str, writes: int) -> dict[int, int]:
    """For each moderator write ``i`` of a burst, how many revisions carry it (1: landed once, 0: not at all)."""
    found = {}
    for i in range(writes):
        claim = ledger.get_claim(scope, burst_ref(i))
        details = [(r.new or {}).get("evidence", {}).get("details") for r in ledger.history(scope, "claim", claim.id)]
        found[i] = details.count(burst_details(i))
    return found
