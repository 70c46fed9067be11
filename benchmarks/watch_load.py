"""Watched channel under load: members chat in a watched channel (20 messages a second for 60 seconds by default),
some messages making claims the bundled seed incident holds (in members' own words) and most of them off-topic chat,
while elsewhere in the same server members ask ``/ask`` a few times a second. The real discord.py client against the
Discord emulator on loopback, a real SQLite file, the default matcher (semantic on, as ``claimledger run`` uses it).

    python benchmarks/watch_load.py [--rate 20] [--seconds 60] [--ask-rate 3] [--share 0.3] [--lexical]
                                    [--no-rate-limit]

With the per-channel reply limit on (3 a minute), a busy channel reaches it within seconds and the messages after
that are not worth checking; ``--no-rate-limit`` lifts it so that every message goes through the matcher.

Prints the messages sent and handled, the outcomes, the replies, the backlog each second (messages posted and not
yet handled: it must not grow), the time from a message to its reply and to its decision (p50 / p95 / max), the
``/ask`` first responses (p50 / p95 / max, and how many took over 3 s) and the worst event-loop stall.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from tests.emulator import MANAGE_GUILD, DiscordEmulator, EmulatedInteraction  # noqa: E402
from tests.harness import running_bot  # noqa: E402
from tests.loadgen import watch_loop  # noqa: E402

# ------------------------------------------------------------------ messages, written for this benchmark

# Members retelling what the seed incident's speakers said, in their own words (never the ledger's text).
ON_TOPIC = """so ISIS-K put out a statement saying they were the ones who did the Crocus shooting
apparently the Islamic State branch in Afghanistan took credit for the concert hall massacre
Amaq released helmet cam videos filmed by the gunmen themselves
the FSB is saying the gunmen had Ukrainian connections and were driving toward the border when caught
Putin went on TV and said the detained suspects were on their way to Ukraine
Putin claims someone prepared a window for the attackers to cross into Ukraine
Medvedev is threatening to destroy everyone if it turns out Kyiv was behind the shooting
Medvedev says even Ukrainian officials won't be safe if Kyiv is found responsible
Ukrainian military intelligence is saying Putin's own security services were involved
HUR says the Moscow killings are Putin signalling he wants to widen the war
Ukraine's intelligence people say Putin has organised attacks like this before to shore up his power
Zelensky said it's classic Putin to pin the blame on somebody else
the Ukrainian intelligence spokesman told Reuters Kyiv had nothing to do with the concert attack
Zelensky says Putin kept quiet for a whole day working out how to blame Ukraine
Zelensky said Russia might have prevented the attack if it wasn't busy fighting in Ukraine
the White House NSC spokeswoman says Islamic State alone is responsible
Adrienne Watson said there is no sign of any Ukrainian involvement in the attack
Simonyan on state TV insists it wasn't ISIS at all, it was Ukrainians
Simonyan says they picked the attackers to make everyone believe Islamic State did it
Putin declared Sunday a national day of mourning after the concert hall attack
Putin promised to punish everyone who organised or ordered the Crocus attack
Putin is now blaming international terrorism for the massacre
analysts think the Islamic State claim is believable because it matches their earlier attacks
the Kremlin keeps saying the shooters were heading to the Ukrainian border
did you see? IS Khorasan officially claimed the Crocus City Hall attack
Russian security service claims the terrorists were linked to Ukraine"""

OFF_TOPIC = """anyone up for a raid tonight? need two more
the new patch nerfed my main again, unbelievable
good morning all, what's everyone having for breakfast
my sourdough finally rose properly this weekend
does anybody know a decent mechanic near the station
we lost the match 3-1, the referee was blind
just adopted a kitten, she's already ruling the flat
what time does the stream start tomorrow
I think the blue theme looked better than this one
can someone explain how the new bot role colours work
lunch was a disaster, the soup was cold and the bread stale
finally finished my thesis draft, sending it tonight
the bus strike means I'm walking to work all week
who else is going to the concert in the park next month
the wifi at my parents' place is from the stone age
recommend me a book, I just finished the last one on my list
I swear my neighbour's dog barks at the moon every night
tried the new ramen place, would not go back
is the meeting still on for Thursday or did it move
my garden tomatoes are finally turning red
somebody left the voice channel music bot on all night lol
the exam was way harder than the practice papers
we should plan a server meetup in the spring
does anyone have a spare charger cable I can borrow tomorrow
the sunset from my balcony tonight was unreal
I spilled coffee on my keyboard and now the E key sticks
how do you all keep track of your to-do lists
the cinema was packed for the new sci-fi film
my landlord finally fixed the heating after two months
thinking of learning guitar, any tips for a total beginner"""

OPENERS = ["", "", "", "wait, ", "ok so ", "honestly ", "lol ", "hmm ", "guys, ", "btw "]
CLOSERS = ["", "", "", "?", "!", " smh", " ...", " tbh", " 🙄", " right?", " lmao"]


def phrasing(rng: random.Random, base: str, n: int) -> str:
    """A varied message: an opener and a closer, and a counter now and then so that repeats are not identical."""
    text = rng.choice(OPENERS) + base + rng.choice(CLOSERS)
    return text if rng.random() < 0.5 else f"{text} ({n})"


# ------------------------------------------------------------------ the run


@dataclass
class Figures:
    sent: int = 0
    posted_at: dict[int, float] = field(default_factory=dict)
    handled_at: dict[int, float] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    replies: list[float] = field(default_factory=list)  # seconds from message to reply
    backlog: list[tuple[int, int, int]] = field(default_factory=list)  # (second, not handled, in the cog's queue)
    asks: list[EmulatedInteraction] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)  # seconds from /ask to its answer (after any "thinking…")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p), len(ordered) - 1)] if ordered else float("nan")


def ms(values: list[float]) -> str:
    if not values:
        return "– / – / –"
    return f"{pct(values, 0.5) * 1000:.0f} / {pct(values, 0.95) * 1000:.0f} / {max(values) * 1000:.0f}"


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    on_topic = [line.strip() for line in ON_TOPIC.splitlines() if line.strip()]
    off_topic = [line.strip() for line in OFF_TOPIC.splitlines() if line.strip()]
    figures = Figures()
    patch = pytest.MonkeyPatch()
    try:
        async with DiscordEmulator() as emu:
            emu.patch(patch)
            guild = emu.add_guild("Breaking news")
            chat = emu.add_channel(guild.id, "claims-chat")
            mod = emu.add_member(guild.id, "load-mod", permissions=MANAGE_GUILD)
            chatters = [emu.add_member(guild.id, f"chatter{i}") for i in range(40)]
            askers = [emu.add_member(guild.id, f"asker{i}") for i in range(60)]
            with tempfile.TemporaryDirectory() as tmp:
                async with running_bot(
                    emu, Path(tmp) / "watch-load.db", guilds=[guild], semantic=not args.lexical, message_content=True
                ) as run:
                    await run.service.embed_pending()  # the server's claims have their vectors, as in production
                    added = await (
                        await emu.slash(guild.id, guild.channel_id, mod.id, "ledger watch add", {"channel": chat})
                    ).wait_message(timeout=10)
                    assert added["content"].startswith("Watching"), added["content"]
                    cog: Any = run.bot.get_cog("Watch")
                    if args.no_rate_limit:  # every message goes through the matcher: its capacity, not the limit's
                        cog.throttle.rate = 1_000_000
                    loop = asyncio.get_running_loop()

                    async def on_watch_checked(message: Any, outcome: str, sent: Any) -> None:
                        if message.channel.id != chat.id or message.id not in figures.posted_at:
                            return
                        now = loop.time()
                        figures.handled_at[message.id] = now
                        figures.outcomes[outcome] += 1
                        if outcome == "replied":
                            figures.replies.append(now - figures.posted_at[message.id])

                    run.bot.add_listener(on_watch_checked, "on_watch_checked")
                    await warm_up(run, guild.id)
                    stop = asyncio.Event()
                    stalls = asyncio.create_task(watch_loop(stop))
                    started = loop.time()

                    async def chat_load() -> None:
                        total = int(args.rate * args.seconds)
                        for n in range(total):
                            await asyncio.sleep(max(0.0, started + n / args.rate - loop.time()))
                            pool = on_topic if rng.random() < args.share else off_topic
                            text = phrasing(rng, rng.choice(pool), n)
                            stamp = loop.time()
                            message = await emu.post_message(chat, chatters[n % len(chatters)], text)
                            figures.posted_at[message.id] = stamp
                            figures.sent += 1

                    async def ask_load() -> None:
                        total = int(args.ask_rate * args.seconds)
                        pool = on_topic + off_topic
                        waiting = []
                        for n in range(total):
                            await asyncio.sleep(max(0.0, started + n / args.ask_rate - loop.time()))
                            question = "what did " + rng.choice(pool)[:80] if n % 3 else rng.choice(on_topic)
                            inter = await emu.slash(
                                guild.id, guild.channel_id, askers[n % len(askers)].id, "ask", {"question": question}
                            )
                            figures.asks.append(inter)
                            waiting.append(asyncio.create_task(answered(inter, loop.time())))
                        await asyncio.gather(*waiting)

                    async def answered(inter: EmulatedInteraction, asked: float) -> None:
                        with contextlib.suppress(TimeoutError):
                            await emu.wait_until(lambda: inter.visible, timeout=args.drain, what="the answer")
                            figures.answers.append(loop.time() - asked)

                    async def sample() -> None:
                        second = 0
                        while not stop.is_set():
                            await asyncio.sleep(max(0.0, started + second + 1 - loop.time()))
                            second += 1
                            waiting = sum(1 for m in figures.posted_at if m not in figures.handled_at)
                            figures.backlog.append((second, waiting, len(cog.backlog)))

                    sampler = asyncio.create_task(sample())
                    await asyncio.gather(chat_load(), ask_load())
                    sending = loop.time() - started
                    try:
                        await emu.wait_until(
                            lambda: (
                                len(figures.handled_at) >= figures.sent
                                and all(a.response or a.errors or a.expired for a in figures.asks)
                            ),
                            timeout=args.drain,
                            what="every message handled and every /ask answered",
                        )
                    except TimeoutError:
                        print(f"(not everything was handled within {args.drain:.0f} s of the last message)")
                    drained = loop.time() - started
                    stop.set()
                    worst_stall = await stalls
                    await sampler
        report(args, figures, sending, drained, worst_stall)
    finally:
        patch.undo()
    return 0


async def warm_up(run: Any, scope: int) -> None:
    """The first question loads the model and the server's vectors: not part of the load."""
    await run.service.ask(str(scope), "who claimed the concert hall attack", top=3)


def report(args: argparse.Namespace, figures: Figures, sending: float, drained: float, worst_stall: float) -> None:
    handled = len(figures.handled_at)
    decisions = [figures.handled_at[m] - figures.posted_at[m] for m in figures.handled_at]
    firsts = [a.latency for a in figures.asks if a.latency is not None]
    errors = [e for a in figures.asks for e in a.errors]
    print(f"matching: {'lexical only' if args.lexical else 'hybrid (semantic on)'};"
          f" per-channel reply limit {'lifted' if args.no_rate_limit else 'on'}")  # fmt: skip
    print(f"watched channel: {args.rate:g} messages/s for {args.seconds:g} s, {args.share:.0%} on-topic;"
          f" /ask {args.ask_rate:g}/s elsewhere")  # fmt: skip
    print(f"sending took {sending:.1f} s; everything handled after {drained:.1f} s")
    print()
    print("| messages sent | handled | replies | message → reply p50 / p95 / max ms | message → decision p50 / p95 /"
          " max ms | /ask | /ask first response p50 / p95 / max ms | /ask over 3 s | /ask answer p50 / p95 / max ms |"
          " /ask errors | worst loop stall ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {figures.sent} | {handled} | {len(figures.replies)} | {ms(figures.replies)} | {ms(decisions)} |"
          f" {len(figures.asks)} | {ms(firsts)} | {sum(1 for x in firsts if x > 3.0)} | {ms(figures.answers)} |"
          f" {len(errors)} | {worst_stall * 1000:.0f} |")  # fmt: skip
    print()
    print("outcomes:", ", ".join(f"{k} {v}" for k, v in figures.outcomes.most_common()))
    print("backlog (not handled) each second:", " ".join(str(w) for _, w, _ in figures.backlog))
    print("in the bot's queue each second:   ", " ".join(str(q) for _, _, q in figures.backlog))
    during = [w for s, w, _ in figures.backlog if s <= args.seconds]
    if during:
        half = len(during) // 2
        first, second = during[:half] or [0], during[half:] or [0]
        print(f"backlog while sending: max {max(during)}, mean first half {sum(first) / len(first):.1f},"
              f" mean second half {sum(second) / len(second):.1f}")  # fmt: skip
    for error in errors[:3]:
        print("error:", str(error)[:300])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="messages a second in the watched channel")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ask-rate", type=float, default=3.0, help="/ask interactions a second elsewhere")
    parser.add_argument("--share", type=float, default=0.3, help="share of messages that make a seed claim")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait for the backlog afterwards")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lexical", action="store_true", help="semantic matching off")
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="lift the per-channel reply limit, so every message is checked"
    )
    raise SystemExit(asyncio.run(main(parser.parse_args())))
