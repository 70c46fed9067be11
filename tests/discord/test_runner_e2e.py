"""Starting the bot: a wrong token is one clear line; sync is deliberate (CLI and owner command)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from bot.config import Settings
from bot.discord import runner
from tests.emulator import DiscordEmulator
from tests.harness import running_bot
from tests.paths import REPO_ROOT


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator(token="good-token") as emulator:
        emulator.patch(monkeypatch)
        yield emulator


def settings(db_path: Path, token: str, guild: int | None = None) -> Settings:
    return Settings(db_path=db_path, token=token, seed_dir=REPO_ROOT / "data", dev_guild=guild)


async def test_wrong_token_is_refused(emu: DiscordEmulator, db_path: Path) -> None:
    with pytest.raises(discord.LoginFailure):
        await runner._main(settings(db_path, "bad-token"), db_path, sync_only=True, sync_guild=None)


def test_wrong_token_gives_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, db_path: Path, capsys: pytest.CaptureFixture
) -> None:
    async def refuse(*args: object, **kwargs: object) -> int:
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(runner, "_main", refuse)
    assert runner.run_bot(settings(db_path, "bad"), db_path=db_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Discord rejected the token" in err and "Traceback" not in err


async def test_cli_sync_registers_commands_to_a_guild(
    emu: DiscordEmulator, db_path: Path, capsys: pytest.CaptureFixture
) -> None:
    guild = emu.add_guild("Dev server")
    code = await runner._main(settings(db_path, "good-token"), db_path, sync_only=True, sync_guild=int(guild.id))
    assert code == 0
    names = {c["name"] for c in emu.commands[guild.id]}
    assert {"ask", "claim", "incident", "ledger", "entry", "Find claims"} <= names
    assert "Synced" in capsys.readouterr().out
    assert not emu.identify_payloads, "sync logs in over REST only; it never connects the gateway"


async def test_owner_sync_command_and_never_on_start(emu: DiscordEmulator, db_path: Path) -> None:
    guild = emu.add_guild("Owner's server")
    async with running_bot(emu, db_path, guilds=[guild], sync=False, token="good-token"):
        await asyncio.sleep(0.1)
        assert not emu.requests_to("PUT", r"/commands$"), "no sync at start"
        stranger = emu.add_member(guild.id, "stranger")
        await emu.post_message(guild.channel_id, stranger.id, f"<@{emu.app_id}> sync", mention_bot=True)
        await asyncio.sleep(0.3)
        assert not emu.requests_to("PUT", r"/commands$"), "only the owner can sync"
        await emu.post_message(guild.channel_id, emu.owner.id, f"<@{emu.app_id}> sync", mention_bot=True)
        await emu.wait_for(lambda r: r.method == "PUT" and r.path.endswith(f"/guilds/{guild.id}/commands"))
        reply = await emu.wait_for(lambda r: r.method == "POST" and r.path.endswith("/messages"))
        assert reply.json["content"].startswith("Synced ")
