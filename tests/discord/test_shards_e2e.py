"""Shards: ``claimledger run --shard-count N --shard-ids …`` runs the bot as a discord.py AutoShardedBot, and the
emulator routes each guild's events to the shard ``(guild_id >> 22) % num_shards`` as Discord does."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from bot.cli import build_parser, main
from bot.config import Settings, parse_shards
from bot.discord import runner
from bot.discord.client import ClaimLedgerBot, ShardedClaimLedgerBot
from bot.discord.service import LedgerService
from tests.emulator import DiscordEmulator, Guild
from tests.emulator.gateway import guild_of
from tests.paths import REPO_ROOT

QUESTION = "Who claimed responsibility for the Crocus City Hall attack?"


def shard_of(guild_id: int, count: int) -> int:
    return (guild_id >> 22) % count


async def guilds_on_every_shard(emu: DiscordEmulator, count: int) -> dict[int, Guild]:
    """Add guilds until each shard has one (a guild's shard follows the millisecond of its id)."""
    found: dict[int, Guild] = {}
    for attempt in range(200):
        guild = emu.add_guild(f"Server {attempt}")
        found.setdefault(shard_of(guild.id, count), guild)
        if len(found) == count:
            return found
        await asyncio.sleep(0.001)
    raise AssertionError("no guild landed on every shard")


def guild_ids(frames: list[dict[str, Any]], event: str | None = None) -> set[int]:
    """The guilds of the dispatches (of one ``event``, or all of them) that belong to a guild."""
    found = {guild_of(f["t"], f["d"]) for f in frames if f.get("op") == 0 and event in (None, f["t"])}
    return {g for g in found if g is not None}


@contextlib.asynccontextmanager
async def started(bot: discord.Client, token: str = "emulated-token") -> AsyncIterator[asyncio.Task[None]]:
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    bot.add_listener(on_ready, "on_ready")  # type: ignore[attr-defined]
    task = asyncio.create_task(bot.start(token))
    waiter = asyncio.create_task(ready.wait())
    try:
        done, _ = await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
            raise AssertionError("the bot stopped before it was ready")
        assert waiter in done, "the bot was not ready within 30 s"
        yield task
    finally:
        waiter.cancel()
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=5)


# --------------------------------------------------------------------------------------- one process, two shards


async def test_one_process_with_two_shards_gets_each_guilds_events_on_its_shard_and_answers_in_both(
    emu: DiscordEmulator, db_path: Path
) -> None:
    guilds = await guilds_on_every_shard(emu, 2)
    args = build_parser().parse_args(["run", "--shard-count", "2", "--shard-ids", "0,1"])
    settings = Settings(db_path=db_path, token="emulated-token", seed_dir=REPO_ROOT / "data")
    settings = settings.with_shards(args.shard_count, args.shard_ids)
    assert (settings.shard_count, settings.shard_ids) == (2, (0, 1))
    service = LedgerService(db_path)
    bot = runner.make_bot(settings, service, guild_ready_timeout=0.05)
    try:
        assert isinstance(bot, ShardedClaimLedgerBot) and isinstance(bot, commands.AutoShardedBot)
        async with started(bot):
            shards = sorted(tuple(p["shard"]) for p in emu.identify_payloads)
            assert shards == [(0, 2), (1, 2)]
            assert sorted(bot.shards) == [0, 1]
            every = {shard: {g.id for g in emu.guilds.values() if shard_of(g.id, 2) == shard} for shard in (0, 1)}
            for shard in (0, 1):
                frames = emu.gateway.events(shard_id=shard)
                ready = [f["d"] for f in frames if f["t"] == "READY"]
                assert len(ready) == 1 and ready[0]["shard"] == [shard, 2]
                assert {int(g["id"]) for g in ready[0]["guilds"]} == every[shard]
                assert guild_ids(frames, "GUILD_CREATE") == every[shard]
                found = bot.get_guild(guilds[shard].id)
                assert found is not None and found.shard_id == shard
            members = {}
            for shard, guild in guilds.items():
                await service.ensure_seeded(str(guild.id), settings.seed_dir)
                await bot.sync_commands(guild.id)
                members[shard] = emu.add_member(guild.id, f"member {shard}")
            for shard, guild in guilds.items():
                inter = await emu.slash(guild.id, guild.channel_id, members[shard].id, "ask", {"question": QUESTION})
                message = await inter.wait_message(timeout=10)
                assert "Islamic State Khorasan" in message["embeds"][0]["fields"][0]["name"]
            for shard, guild in guilds.items():
                frames = emu.gateway.events(shard_id=shard)
                # each shard got the interaction of its own guild, and nothing of the other's
                assert guild_ids(frames, "INTERACTION_CREATE") == {guild.id}
                assert guild_ids(frames) == every[shard]  # every event with a guild, of this shard's guilds only
            # a guild added while both shards run reaches only its own shard
            before = {shard: len(emu.gateway.events("GUILD_CREATE", shard_id=shard)) for shard in (0, 1)}
            late = emu.add_guild("Joined later")
            home = shard_of(late.id, 2)
            await emu.wait_until(lambda: bot.get_guild(late.id) is not None, 5, what="the late guild")
            after = {shard: len(emu.gateway.events("GUILD_CREATE", shard_id=shard)) for shard in (0, 1)}
            assert after[home] == before[home] + 1 and after[1 - home] == before[1 - home]
            assert bot.get_guild(late.id).shard_id == home  # type: ignore[union-attr]
    finally:
        service.close()


async def test_a_process_running_one_shard_of_two_sees_only_that_shards_guilds(
    emu: DiscordEmulator, db_path: Path
) -> None:
    guilds = await guilds_on_every_shard(emu, 2)
    settings = Settings(db_path=db_path, token="emulated-token", seed_dir=REPO_ROOT / "data", seed_new_servers=False)
    settings = settings.with_shards("2", "1")
    service = LedgerService(db_path)
    bot = runner.make_bot(settings, service, guild_ready_timeout=0.05)
    try:
        async with started(bot):
            assert [p["shard"] for p in emu.identify_payloads] == [[1, 2]]
            assert bot.get_guild(guilds[1].id) is not None
            assert bot.get_guild(guilds[0].id) is None
            assert all(shard_of(g.id, 2) == 1 for g in bot.guilds)
            member = emu.add_member(guilds[0].id, "unseen")
            await emu.post_message(guilds[0].channel_id, member.id, "hello", mention_bot=True)
            assert guild_ids(emu.gateway.events(), "MESSAGE_CREATE") == set()  # shard 0 is not connected
    finally:
        service.close()


# ------------------------------------------------------------------------------------------- the emulator alone


async def test_get_gateway_bot_recommends_the_shard_count_an_autosharded_client_uses(emu: DiscordEmulator) -> None:
    emu.gateway.recommended_shards = 3

    class Quick(commands.AutoShardedBot):
        async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
            return None  # the emulator does not enforce the identify rate limit

    bot = Quick(command_prefix="!", intents=discord.Intents.none(), guild_ready_timeout=0.05)
    async with started(bot):
        assert bot.shard_count == 3
        assert sorted(p["shard"][0] for p in emu.identify_payloads) == [0, 1, 2]
        assert {p["shard"][1] for p in emu.identify_payloads} == {3}
    url = f"{emu.base_url}/gateway/bot"
    async with aiohttp.ClientSession() as http, http.get(url, headers={"Authorization": "Bot x"}) as response:
        body = await response.json()
    assert body["shards"] == 3 and body["session_start_limit"]["max_concurrency"] == 1


async def identify(emu: DiscordEmulator, shard: Any) -> tuple[list[dict[str, Any]], int | None]:
    """A raw client: IDENTIFY with ``shard``; the dispatches received (until a short quiet) and the close code."""
    frames: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(emu.gateway_url) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["op"] == 10
        data: dict[str, Any] = {"token": "emulated-token", "intents": 1, "properties": {}}
        if shard is not None:
            data["shard"] = shard
        await ws.send_str(json.dumps({"op": 2, "d": data}))
        while True:
            try:
                message = await ws.receive(timeout=0.5)
            except TimeoutError:
                break
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            frames.append(json.loads(message.data))
        return frames, ws.close_code


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], [0], ["0", "2"]])
async def test_an_invalid_shard_closes_with_4010(emu: DiscordEmulator, shard: Any) -> None:
    frames, code = await identify(emu, shard)
    assert code == 4010
    assert [f for f in frames if f.get("op") == 0] == []


async def test_a_raw_shard_session_gets_its_guilds_and_guildless_events_go_to_shard_zero(emu: DiscordEmulator) -> None:
    guilds = await guilds_on_every_shard(emu, 2)
    frames, code = await identify(emu, [1, 2])
    assert code is None or code < 4000
    ready = next(f["d"] for f in frames if f.get("t") == "READY")
    assert ready["shard"] == [1, 2]
    assert {int(g["id"]) for g in ready["guilds"]} == {g.id for g in emu.guilds.values() if shard_of(g.id, 2) == 1}
    assert guilds[1].id in guild_ids(frames, "GUILD_CREATE") and guilds[0].id not in guild_ids(frames, "GUILD_CREATE")
    session = emu.gateway.session_of(1)
    assert session is not None and session.routes(guilds[1].id) and not session.routes(guilds[0].id)
    assert not session.routes(None), "events without a guild (DMs) go to shard 0 only"
    assert emu.gateway.session_of(0) is None


# ------------------------------------------------------------------------------------------------ settings


def test_shard_settings_from_the_environment_and_the_flags() -> None:
    env = {"CLAIMLEDGER_SHARD_COUNT": "4", "CLAIMLEDGER_SHARD_IDS": "0-1, 3"}
    settings = Settings.from_env(env=env, dotenv=None)
    assert (settings.shard_count, settings.shard_ids, settings.sharded) == (4, (0, 1, 3), True)
    assert Settings.from_env(env={}, dotenv=None).sharded is False
    assert parse_shards("2", None) == (2, None)
    flags = settings.with_shards("8", None)
    assert (flags.shard_count, flags.shard_ids) == (8, None)


@pytest.mark.parametrize(
    ("count", "ids", "message"),
    [
        (None, "0,1", "needs CLAIMLEDGER_SHARD_COUNT too"),
        ("0", None, "a whole number of 1 or more"),
        ("two", None, "a whole number of 1 or more"),
        ("2", "0,2", "names shard 2, but with CLAIMLEDGER_SHARD_COUNT=2 the shards are 0 to 1"),
        ("4", "1,1", "names a shard twice"),
        ("4", "3-1", "backwards"),
        ("4", "a", "such as 0,1 or 0-3"),
    ],
)
def test_bad_shard_settings_are_one_sentence(count: str | None, ids: str | None, message: str) -> None:
    env = {k: v for k, v in (("CLAIMLEDGER_SHARD_COUNT", count), ("CLAIMLEDGER_SHARD_IDS", ids)) if v is not None}
    with pytest.raises(Exception, match=message):
        Settings.from_env(env=env, dotenv=None)


def test_bad_shard_flags_exit_1_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def never(*args: object, **kwargs: object) -> int:
        raise AssertionError("the bot must not start")

    monkeypatch.setattr(runner, "run_bot", never)
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    assert main(["run", "--shard-ids", "0,1"]) == 1
    assert "--shard-ids needs --shard-count too" in capsys.readouterr().err
    assert main(["run", "--shard-count", "2", "--shard-ids", "5"]) == 1
    assert "--shard-ids names shard 5" in capsys.readouterr().err


def test_the_runner_makes_a_sharded_bot_only_when_asked(db_path: Path) -> None:
    service = LedgerService(db_path)
    try:
        plain = runner.make_bot(Settings(db_path=db_path), service)
        assert type(plain) is ClaimLedgerBot
        sharded = runner.make_bot(Settings(db_path=db_path, shard_count=3, shard_ids=(2,)), service)
        assert isinstance(sharded, discord.AutoShardedClient)
        assert (sharded.shard_count, sharded.shard_ids) == (3, [2])
        syncing = runner.make_bot(Settings(db_path=db_path, shard_count=3), service, sync_only=True)
        assert not isinstance(syncing, discord.AutoShardedClient)
    finally:
        service.close()


async def test_a_sharded_bot_refused_the_message_content_intent_runs_on_without_it(
    emu: DiscordEmulator, db_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    made: list[ClaimLedgerBot] = []
    real = runner.make_bot

    def recording(*args: Any, **kwargs: Any) -> ClaimLedgerBot:
        bot = real(*args, **kwargs, guild_ready_timeout=0.05)
        made.append(bot)
        return bot

    monkeypatch.setattr(runner, "make_bot", recording)
    emu.privileged_intents = 0  # Message Content not enabled in the Developer Portal: IDENTIFY closes with 4014
    emu.add_guild("Watchers")
    settings = Settings(
        db_path=db_path, token="emulated-token", seed_dir=REPO_ROOT / "data", message_content=True, semantic=False
    ).with_shards("1", None)
    task = asyncio.create_task(runner._main(settings, db_path, sync_only=False, sync_guild=None))
    try:
        for _ in range(400):  # is_ready() changes without an emulator event: poll
            if len(made) == 2 and made[1].is_ready():
                break
            await asyncio.sleep(0.05)
        assert len(made) == 2 and made[1].is_ready(), f"{len(made)} bot(s), {emu.identify_payloads}"
        first, second = made
        assert isinstance(second, ShardedClaimLedgerBot) and first.is_closed()
        assert first.intents.message_content and not second.intents.message_content and not second.watching
        intents = [f["d"]["intents"] for f in emu.gateway.received if f.get("op") == 2]  # refused ones too
        assert len(intents) == 2 and len(emu.identify_payloads) == 1
        assert intents[0] & discord.Intents(message_content=True).value
        assert not intents[-1] & discord.Intents(message_content=True).value
        assert "Discord refused the Message Content intent" in caplog.text
    finally:
        for bot in made:
            await bot.close()
        assert await asyncio.wait_for(task, timeout=10) == 0
