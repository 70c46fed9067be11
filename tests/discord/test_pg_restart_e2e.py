"""PostgreSQL restarted in the middle of a burst of /ask and moderator writes: every interaction is answered (an
answer, or a message that says the database is unreachable and what became of the write), the bot reconnects by
itself, and no write it reported saved is lost, none it reported failed is half applied.

The database is a private server (tests/private_pg.py) the test may stop; the machine's own server is never touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from bot.discord.client import UNEXPECTED
from bot.errors import NOT_SAVED, UNREACHABLE, UNSURE
from tests.emulator import MANAGE_GUILD, DiscordEmulator, EmulatedInteraction, Guild
from tests.harness import running_bot
from tests.loadgen import burst, burst_writes_found, claims_out_of_step, final_message

pytest_plugins = ["tests.backends"]

WAIT = 30.0  # seconds any one answer may take (generous: a wait, never a timing assertion)
DOWN_FOR = 1.5  # seconds the server stays down, at least
ASKS, WRITES, MEMBERS = 40, 16, 10  # at most 5 questions a member (the /ask cooldown)
SPREAD = 4.0  # seconds over which the burst's interactions are sent
QUESTION = "Who claimed responsibility for the Crocus City Hall attack?"
PROBE_CLAIM = "crocus-2024-020"  # no burst write touches it (the burst's 16 writes: claims 1-16)


def outcome(inter: EmulatedInteraction) -> str:
    """``answered`` (an answer or the saved write's embed), ``refused`` (unreachable, nothing saved), ``unsure`` (the
    connection broke at commit and the outcome could not be learnt), or what else the member got."""
    if inter.errors:
        return f"a refused response: {inter.errors}"
    message = final_message(inter)
    if message is None:
        return "silence"
    content = message.get("content") or ""
    if content in (UNREACHABLE, NOT_SAVED):
        return "refused"
    if content == UNSURE:
        return "unsure"
    if message.get("embeds") and content != UNEXPECTED:
        return "answered"
    return f"another message: {content!r}"


async def settled(emu: DiscordEmulator, inter: EmulatedInteraction) -> str:
    await emu.wait_until(lambda: inter.errors or final_message(inter), WAIT, what=f"the answer to {inter!r}")
    return outcome(inter)


async def evidence(emu: DiscordEmulator, guild: Guild, mod: Any, details: str) -> EmulatedInteraction:
    options = {"claim": PROBE_CLAIM, "status": "disputed", "details": details}
    return await emu.slash(guild.id, guild.channel_id, mod.id, "evidence set", options)


async def until_answered(emu: DiscordEmulator, send: Any) -> EmulatedInteraction:
    """Send (``send()`` makes a new interaction) until one is answered normally: the pool reconnects by itself."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        inter = await send()
        result = await settled(emu, inter)
        if result == "answered":
            return inter
        assert result == "refused", result
        assert asyncio.get_running_loop().time() < deadline, "the bot never reached the restarted database"
        await asyncio.sleep(0.5)  # between attempts, as a member would


def members(emu: DiscordEmulator, guild: Guild, name: str) -> Iterator[Any]:
    for i in range(1000):
        yield emu.add_member(guild.id, f"{name}{i}")


async def test_a_postgres_restart_mid_burst_is_answered_reconnected_and_loses_no_saved_write(
    emu: DiscordEmulator, guild: Guild, bk: Any
) -> None:
    from bot.store.postgres import PostgresLedger

    with bk.private_server() as server:
        url = server.create_database("restart")
        async with running_bot(emu, url, guilds=[guild], summary_delay=0.2) as running:
            probe_mod = emu.add_member(guild.id, "probe-mod", permissions=MANAGE_GUILD)
            askers = members(emu, guild, "asker")
            before = len(emu.interactions)
            load = burst(emu, guild, running, members=MEMBERS, asks=ASKS, writes=WRITES, spread=SPREAD)
            task = asyncio.create_task(load)
            await emu.wait_until(lambda: len(emu.interactions) >= before + 12, WAIT, what="the burst under way")
            loop = asyncio.get_running_loop()
            await asyncio.to_thread(server.stop)
            down_at = loop.time()
            # While the server is down (it stays down until these are answered): a question and a write.
            during = [
                await emu.slash(guild.id, guild.channel_id, next(askers).id, "ask", {"question": QUESTION}),
                await evidence(emu, guild, probe_mod, "written while the database was down"),
            ]
            outcomes_during = [await settled(emu, inter) for inter in during]
            await asyncio.sleep(max(0.0, DOWN_FOR - (loop.time() - down_at)))
            await asyncio.to_thread(server.start)
            result = await task
            # The same bot, never restarted, answers again once its pools have reconnected.
            asked_after = await until_answered(
                emu, lambda: emu.slash(guild.id, guild.channel_id, next(askers).id, "ask", {"question": QUESTION})
            )
            written_after = await until_answered(emu, lambda: evidence(emu, guild, probe_mod, "written after"))
            outcomes = {inter.id: await settled(emu, inter) for inter in [*result.asked, *result.written.values()]}
            assert not running.task.done(), "the bot stopped"
        scope = str(guild.id)

        def inspect() -> tuple[dict[int, int], list[str], list[str]]:
            with PostgresLedger.open(url, min_size=1, max_size=1) as ledger:
                probe = ledger.get_claim(scope, PROBE_CLAIM)
                probe_details = [
                    str((r.new or {}).get("evidence", {}).get("details"))
                    for r in ledger.history(scope, "claim", probe.id)
                    if r.action == "update"
                ]
                return burst_writes_found(ledger, scope, WRITES), claims_out_of_step(ledger, scope), probe_details

        found, out_of_step, probe_details = await asyncio.to_thread(inspect)

    print({name: list(outcomes.values()).count(name) for name in set(outcomes.values())})
    assert outcomes_during == ["refused", "refused"], "while the database is down, both are told to try again"
    assert all(o in ("answered", "refused", "unsure") for o in outcomes.values()), sorted(set(outcomes.values()))
    assert final_message(asked_after) and final_message(written_after)
    for i, inter in result.written.items():
        if outcomes[inter.id] == "answered":
            assert found[i] == 1, f"write {i} was reported saved but is not in the database once"
        elif outcomes[inter.id] == "refused":
            assert found[i] == 0, f"write {i} was reported not saved but is in the database"
        else:
            assert found[i] in (0, 1)
    assert probe_details == ["written after"], "the write refused while down is not there; the one after is, once"
    assert out_of_step == [], "every claim's row is what its last revision says"
