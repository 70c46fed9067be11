"""The bot end to end: the real discord.py client against the emulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakediscord import DiscordEmulator, Guild
from tests.harness import Running, running_bot


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator() as emulator:
        emulator.patch(monkeypatch)
        yield emulator


@pytest.fixture
def guild(emu: DiscordEmulator) -> Guild:
    return emu.add_guild("OSINT Club")


@pytest.fixture
async def running(emu: DiscordEmulator, guild: Guild, db_path: Path) -> AsyncIterator[Running]:
    async with running_bot(emu, db_path, guilds=[guild]) as run:
        yield run


async def test_starts_syncs_and_answers_ask(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    print(f"start to ready: {running.ready_seconds * 1000:.0f} ms")
    assert {c["name"] for c in emu.commands[guild.id]} >= {"ask", "Find claims"}
    member = emu.add_member(guild.id, "alice")
    inter = await emu.slash(
        guild.id,
        guild.channel_id,
        member.id,
        "ask",
        {"question": "Who claimed responsibility for the Crocus City Hall attack?"},
    )
    message = await inter.wait_message()
    embed = message["embeds"][0]
    first = embed["fields"][0]
    assert "Islamic State Khorasan" in first["name"]
    assert "Evidence presented" in first["value"]
    assert message["allowed_mentions"] == {"parse": []}
    assert inter.latency is not None and inter.latency < 3.0
