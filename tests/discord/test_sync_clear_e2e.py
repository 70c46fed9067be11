"""``claimledger sync --clear [--guild ID]``: the real CLI, in a thread with its own event loop, against the emulator.

Discord removes commands with a bulk overwrite (PUT) of an empty list, globally or in one server."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import pytest

from bot.cli import main
from tests.emulator import DiscordEmulator, Guild

TOKEN = "good-token"
MENU = "Find claims"


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator(token=TOKEN) as emulator:
        emulator.patch(monkeypatch)
        yield emulator


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)


async def cli(db_path: Path, *args: str) -> tuple[int, str]:
    """Run ``claimledger ARGS --db DB_PATH`` as an operator would: its own event loop, in a thread."""
    out = io.StringIO()
    code = await asyncio.to_thread(main, [*args, "--db", str(db_path)], out)
    return code, out.getvalue()


async def synced_both_ways(emu: DiscordEmulator, db_path: Path, guild: Guild) -> set[str]:
    """What an operator who ran ``sync`` and ``sync --guild`` has: every command twice in ``guild``."""
    assert (await cli(db_path, "sync", "--guild", str(guild.id)))[0] == 0
    assert (await cli(db_path, "sync"))[0] == 0
    names = {c["name"] for c in emu.commands[guild.id]}
    assert names == {c["name"] for c in emu.commands[None]} and {"ask", "claim", MENU} <= names
    return names


def clearing_puts(emu: DiscordEmulator, path: str, since: int = 0) -> list[object]:
    return [r.json for r in emu.requests_to("PUT", rf"{path}$", since=since)]


async def test_clear_one_guild_then_global(
    emu: DiscordEmulator, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    guild = emu.add_guild("Dev server")
    names = await synced_both_ways(emu, db_path, guild)
    guild_path = f"/applications/{emu.app_id}/guilds/{guild.id}/commands"
    global_path = f"/applications/{emu.app_id}/commands"
    mark = emu.mark()

    code, out = await cli(db_path, "sync", "--clear", "--guild", str(guild.id))
    assert code == 0
    assert out.startswith(f"Removed {len(names)} commands from server {guild.id}: ")
    assert "/ask" in out and f"{MENU} (message menu)" in out and out.count("\n") == 1
    assert emu.commands[guild.id] == []
    assert clearing_puts(emu, guild_path, mark) == [[]] and clearing_puts(emu, global_path, mark) == []
    assert {c["name"] for c in emu.commands[None]} == names, "the global commands stay"
    listener = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with emu.run_client(listener, token=TOKEN):  # members can run commands only while a bot is connected
        inter = await emu.slash(guild.id, guild.channel_id, guild.owner_id, "ask", {"question": "who"})
    global_ask = next(c for c in emu.commands[None] if c["name"] == "ask")
    assert inter.payload["data"]["id"] == global_ask["id"] and "guild_id" not in inter.payload["data"]

    mark = emu.mark()
    code, out = await cli(db_path, "sync", "--clear")
    assert code == 0
    assert out.startswith(f"Removed {len(names)} global commands: /") and "up to an hour" in out
    assert emu.commands[None] == [] and clearing_puts(emu, global_path, mark) == [[]]

    mark = emu.mark()
    assert await cli(db_path, "sync", "--clear") == (0, "Nothing to remove: the bot has no global commands.\n")
    code, out = await cli(db_path, "sync", "--clear", "--guild", str(guild.id))
    assert (code, out) == (0, f"Nothing to remove: the bot has no commands in server {guild.id}.\n")
    assert emu.requests_to("PUT", r"/commands$", since=mark) == [], "nothing registered: nothing overwritten"
    assert "Traceback" not in capsys.readouterr().err


async def test_clear_without_guild_clears_the_dev_guild(
    emu: DiscordEmulator, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sync`` without --guild syncs to CLAIMLEDGER_DEV_GUILD when set; ``sync --clear`` clears the same place."""
    guild = emu.add_guild("Dev server")
    names = await synced_both_ways(emu, db_path, guild)
    monkeypatch.setenv("CLAIMLEDGER_DEV_GUILD", str(guild.id))
    code, out = await cli(db_path, "sync", "--clear")
    assert code == 0 and out.startswith(f"Removed {len(names)} commands from server {guild.id} (CLAIMLEDGER_DEV_GUILD)")
    assert emu.commands[guild.id] == [] and {c["name"] for c in emu.commands[None]} == names


@pytest.mark.parametrize("given", ["abc", "12.5", "-5", "0", "99999999999999999999", "١٢٣"])
async def test_a_bad_guild_id_is_one_sentence_and_nothing_is_sent(
    emu: DiscordEmulator, db_path: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    for args in (["sync", "--clear", "--guild", given], ["sync", "--guild", given]):
        assert await cli(db_path, *args) == (1, "")
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("claimledger sync: --guild takes a server ID"), err
        assert repr(given) in err and "Copy Server ID" in err
    assert emu.requests == []


async def test_a_server_the_bot_is_not_in_is_one_sentence(
    emu: DiscordEmulator, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = 123456789012345678
    assert stranger not in emu.guilds
    assert await cli(db_path, "sync", "--clear", "--guild", str(stranger)) == (1, "")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"claimledger sync: Discord refused server {stranger} (Missing Access, code 50001)")
    assert "the bot is not in that server" in err
    assert emu.requests_to("PUT", r"/commands$") == []


async def test_no_token_and_a_wrong_token(
    emu: DiscordEmulator, db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN")
    assert await cli(db_path, "sync", "--clear") == (2, "")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("claimledger sync: DISCORD_TOKEN is not set")
    assert emu.requests == []

    monkeypatch.setenv("DISCORD_TOKEN", "stale-token")
    assert await cli(db_path, "sync", "--clear") == (1, "")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("claimledger sync: Discord rejected the token (401 Unauthorized)")
    assert emu.requests_to("PUT", r"/commands$") == []


async def test_the_emulator_overwrites_like_discord(emu: DiscordEmulator) -> None:
    """Both bulk-overwrite routes replace the whole list (empty clears), keep the ids of commands that stay, and
    refuse a server the application is not in, reading or writing."""
    guild = emu.add_guild("Dev server")
    app = f"/applications/{emu.app_id}"
    ask = {"name": "ask", "description": "Ask", "type": 1}
    entry = {"name": "entry", "description": "One claim", "type": 1}
    headers = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def call(method: str, path: str, body: object = None) -> tuple[int, object]:
            async with session.request(method, emu.base_url + path, json=body) as response:
                return response.status, await response.json(content_type=None)

        for path in (f"{app}/commands", f"{app}/guilds/{guild.id}/commands"):
            status, first = await call("PUT", path, [ask, entry])
            assert status == 200 and isinstance(first, list) and [c["name"] for c in first] == ["ask", "entry"]
            status, second = await call("PUT", path, [ask])
            assert status == 200 and isinstance(second, list) and [c["id"] for c in second] == [first[0]["id"]]
            assert await call("GET", path) == (200, second)
            assert await call("PUT", path, []) == (200, [])
            assert await call("GET", path) == (200, [])
        for method in ("GET", "PUT"):
            status, body = await call(method, f"{app}/guilds/42/commands", [] if method == "PUT" else None)
            assert status == 403 and isinstance(body, dict) and body["code"] == 50001
    assert emu.commands[None] == [] and emu.commands[guild.id] == []
