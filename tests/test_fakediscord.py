"""The emulator itself enforces Discord's rules, so the end-to-end tests can trust it."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.fakediscord import CommandHiddenError, DiscordEmulator
from tests.fakediscord.rules import command_errors, message_errors, modal_errors

ASK = {"name": "ask", "description": "Ask", "type": 1, "options": [
    {"type": 3, "name": "question", "description": "The question", "required": True}]}  # fmt: skip
HIDDEN = {"name": "claim", "description": "Moderators", "type": 1, "default_member_permissions": "32", "options": []}


def test_limits() -> None:
    assert message_errors({"content": "x" * 2001}) == ["content: at most 2000 characters"]
    assert message_errors({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]})
    assert message_errors({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2500}]})
    assert message_errors({"embeds": [{"title": "ok", "description": "fine"}]}) == []
    assert command_errors([{"name": "Bad Name", "description": "x", "type": 1}])
    assert command_errors([{"name": "ok", "description": "", "type": 1}])
    assert command_errors([{"name": "Find claims", "type": 3}]) == []
    assert modal_errors({"title": "t" * 46, "components": []})


async def test_sync_response_rules_and_hidden_commands() -> None:
    async with DiscordEmulator(interaction_deadline=0.5) as emu:
        guild = emu.add_guild()
        member = emu.add_member(guild.id, "m")
        async with aiohttp.ClientSession() as http:
            url = f"{emu.base_url}/applications/{emu.app_id}/guilds/{guild.id}/commands"
            async with http.put(url, json=[{**ASK, "name": "Not Valid"}]) as bad:
                assert bad.status == 400 and (await bad.json())["code"] == 50035
            async with http.put(url, json=[ASK, HIDDEN]) as good:
                assert good.status == 200 and good.headers["Content-Type"] == "application/json"
            with pytest.raises(CommandHiddenError):
                await emu.slash(guild.id, guild.channel_id, member.id, "claim")
            inter = await emu.slash(guild.id, guild.channel_id, member.id, "ask", {"question": "q"})
            callback = f"{emu.base_url}/interactions/{inter.id}/{inter.token}/callback"
            async with http.post(callback, json={"type": 4, "data": {"content": "x" * 2001}}) as too_long:
                assert (await too_long.json())["code"] == 50035
            async with http.post(callback, json={"type": 4, "data": {"content": "hi"}}) as first:
                assert first.status == 200
            async with http.post(callback, json={"type": 4, "data": {"content": "again"}}) as second:
                assert (await second.json())["code"] == 40060
            late = await emu.slash(guild.id, guild.channel_id, member.id, "ask", {"question": "q"})
            await asyncio.sleep(0.6)
            async with http.post(
                f"{emu.base_url}/interactions/{late.id}/{late.token}/callback", json={"type": 5}
            ) as expired:
                assert expired.status == 404 and (await expired.json())["code"] == 10062
            emu.fill_pins(guild.channel_id)
            async with http.post(f"{emu.base_url}/channels/{guild.channel_id}/messages", json={"content": "s"}) as sent:
                message_id = (await sent.json())["id"]
            async with http.put(f"{emu.base_url}/channels/{guild.channel_id}/messages/pins/{message_id}") as full:
                assert (await full.json())["code"] == 30003
