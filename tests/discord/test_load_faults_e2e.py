"""Load and faults through the emulator: a burst with writes, gateway resume, Discord refusing to send."""

from __future__ import annotations

import asyncio

from tests.emulator import MANAGE_GUILD, DiscordEmulator, Guild
from tests.harness import Running
from tests.loadgen import burst


async def test_burst_of_questions_while_moderators_write(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    result = await burst(emu, guild, running, members=20, asks=120, writes=12, spread=1.0)
    print(result.table())
    assert result.errors == []
    assert result.late == 0
    assert len(result.latencies) == result.interactions
    assert len(result.answers) == 120, "every /ask got its final answer"
    revisions = await running.service.read(
        lambda ledger: [r for r in ledger.recent_revisions(guild.id, limit=500) if r.actor.startswith("burst-mod")]
    )
    assert len(revisions) == 12, "every moderator write landed exactly once"


async def test_gateway_resume_mid_burst_loses_nothing(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    task = asyncio.create_task(burst(emu, guild, running, members=10, asks=40, writes=5, spread=0.6))
    await asyncio.sleep(0.25)
    await emu.disconnect_gateway()
    result = await task
    await emu.wait_until(lambda: emu.resume_count >= 1, timeout=5, what="a RESUME")
    assert result.errors == [] and result.late == 0
    assert len(emu.identify_payloads) == 1, "resumed, not re-identified"
    revisions = await running.service.read(
        lambda ledger: [r for r in ledger.recent_revisions(guild.id, limit=200) if r.actor.startswith("burst-mod")]
    )
    assert len(revisions) == 5


async def test_forbidden_reply_to_mention_is_logged_not_fatal(
    emu: DiscordEmulator, guild: Guild, running: Running
) -> None:
    member = emu.add_member(guild.id, "asker")
    emu.fail_next("POST", rf"/channels/{guild.channel_id}/messages$", status=403, code=50013)
    await emu.post_message(guild.channel_id, member.id, f"<@{emu.app_id}> what did medvedev say", mention_bot=True)
    await emu.wait_for(lambda r: r.status == 403)
    # The bot keeps answering.
    await emu.post_message(guild.channel_id, member.id, f"<@{emu.app_id}> what did medvedev say", mention_bot=True)
    await emu.wait_for(lambda r: r.method == "POST" and r.path.endswith("/messages") and r.status == 200)


async def test_identify_asks_for_no_privileged_intents(emu: DiscordEmulator, running: Running) -> None:
    intents = emu.identify_payloads[0]["intents"]
    message_content, members, presences = 1 << 15, 1 << 1, 1 << 8
    assert intents & (message_content | members | presences) == 0
    assert intents & (1 << 0) and intents & (1 << 9)  # guilds, guild messages


async def test_moderator_write_during_rate_limit_is_not_doubled(
    emu: DiscordEmulator, guild: Guild, running: Running
) -> None:
    mod = emu.add_member(guild.id, "mod", permissions=MANAGE_GUILD)
    emu.rate_limit_next("POST", r"/interactions/\d+/[^/]+/callback", retry_after=0.05)
    inter = await emu.slash(
        guild.id,
        guild.channel_id,
        mod.id,
        "evidence set",
        {"claim": "crocus-2024-005", "status": "partial", "details": "once"},
    )
    await inter.wait_message()
    history = await running.service.read(
        lambda ledger: ledger.history(guild.id, "claim", ledger.get_claim(guild.id, "crocus-2024-005").id)
    )
    assert [r.new["evidence"]["details"] for r in history if r.action == "update"] == ["once"]
