"""Watched channels, end to end: the real discord.py client against the emulator ("Record as claim" is in
tests/test_record_e2e.py).

Every guild message ends in one ``watch_checked`` event (see cogs/watch.py); the tests wait on it, never sleep."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.discord import runner
from bot.discord.client import ClaimLedgerBot
from bot.watching import not_relevant_key, parse_ids, text_hash
from tests.emulator import MANAGE_GUILD, Channel, DiscordEmulator, Guild, Member, StoredMessage, rules
from tests.harness import Running, running_bot
from tests.paths import REPO_ROOT

ISIS = "ISIS claimed responsibility for the Crocus City Hall attack"
REFS = ["crocus-2024-002", "crocus-2024-003", "crocus-2024-005", "crocus-2024-010", "crocus-2024-012"]


class Checks:
    """Collects ``watch_checked`` events by message id."""

    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.results: dict[int, asyncio.Future] = {}
        bot.add_listener(self.on_watch_checked, "on_watch_checked")

    def _future(self, message_id: int) -> asyncio.Future:
        return self.results.setdefault(message_id, asyncio.get_running_loop().create_future())

    async def on_watch_checked(self, message, outcome: str, sent) -> None:
        future = self._future(message.id)
        if not future.done():
            future.set_result((outcome, sent))

    async def wait(self, message: StoredMessage, timeout: float = 5.0) -> tuple[str, object]:
        return await asyncio.wait_for(asyncio.shield(self._future(message.id)), timeout)


@dataclass
class World:
    emu: DiscordEmulator
    guild: Guild
    chat: Channel
    mod: Member
    member: Member
    run: Running
    checks: Checks

    async def say(self, text: str, *, author: Member | None = None, channel: Channel | None = None) -> tuple:
        message = await self.emu.post_message(channel or self.chat, author or self.member, text)
        outcome, sent = await self.checks.wait(message)
        return message, outcome, sent

    async def slash(self, name: str, options: dict | None = None, *, user: Member | None = None) -> StoredMessage:
        inter = await self.emu.slash(self.guild.id, self.guild.channel_id, (user or self.mod).id, name, options or {})
        return await inter.wait_message()

    async def claim_text(self, ref: str) -> str:
        claim = await self.run.service.read(lambda ledger: ledger.get_claim(self.guild.id, ref))
        return claim.text

    def bot_messages(self, channel: Channel) -> list[StoredMessage]:
        return [m for m in self.emu.channel_messages(channel) if int(m["author"]["id"]) == self.emu.bot_user.id]


async def start_world(emu: DiscordEmulator, guild: Guild, mod: Member, member: Member, db_path: Path,
                      **options: object) -> AsyncIterator[World]:  # fmt: skip
    chat = emu.add_channel(guild.id, "claims-chat")
    async with running_bot(emu, db_path, guilds=[guild], summary_delay=0.2, **options) as run:  # type: ignore[arg-type]
        world = World(emu, guild, chat, mod, member, run, Checks(run.bot))
        added = await world.slash("ledger watch add", {"channel": chat})
        assert added["content"].startswith(f"Watching <#{chat.id}>"), added["content"]
        yield world


@pytest.fixture
async def world(emu: DiscordEmulator, guild: Guild, mod: Member, member: Member, db_path: Path) -> AsyncIterator[World]:
    async for made in start_world(emu, guild, mod, member, db_path, message_content=True):
        yield made


async def test_one_reply_per_matching_message_and_none_for_others(world: World) -> None:
    for text in ("lol anyone watching the game tonight?", "the Crocus attack was horrible", "ok"):
        _, outcome, sent = await world.say(text)
        assert sent is None and outcome in ("no match", "too short"), (text, outcome)
    message, outcome, sent = await world.say(ISIS)
    assert outcome == "replied"
    replies = world.bot_messages(world.chat)
    assert len(replies) == 1
    reply = replies[0]
    assert reply["message_reference"]["message_id"] == str(message.id)
    assert reply["allowed_mentions"]["parse"] == [] and not reply["allowed_mentions"].get("replied_user")
    embed = reply["embeds"][0]
    assert "Islamic State Khorasan" in embed["description"]
    assert "/entry" in embed["description"] and "does not rule" in embed["footer"]["text"]
    assert "Evidence" in embed["description"]
    assert {"watch:more:", "watch:nr:"} <= {c[: c.index(":", 6) + 1] for c in reply.custom_ids()}
    # The bot's own reply (echoed back by the gateway) and other bots never trigger anything.
    bot_user = world.emu.add_member(world.guild.id, "otherbot", bot=True)
    other = await world.emu.post_message(world.chat, bot_user, await world.claim_text(REFS[1]))
    _, outcome, _ = await world.say("still nothing about any claim here, friends")
    assert outcome == "no match"
    assert other.id not in world.checks.results
    assert len(world.bot_messages(world.chat)) == 1


async def watch_new_channel(world: World, name: str, denied: int) -> tuple[Channel, str]:
    """A new channel where the bot is denied ``denied``, watched; returns it and what the moderator was told."""
    overwrite = {"id": str(world.emu.bot_user.id), "type": 1, "allow": "0", "deny": str(denied)}
    channel = world.emu.add_channel(world.guild.id, name, overwrites=[overwrite])
    await world.emu.wait_until(lambda: world.run.bot.get_channel(channel.id), what="the channel in the bot's cache")
    told = await world.slash("ledger watch add", {"channel": channel})
    return channel, told["content"]


async def test_without_read_message_history_the_note_links_the_message(world: World) -> None:
    quiet, told = await watch_new_channel(world, "no-history", rules.READ_MESSAGE_HISTORY)
    assert told.startswith(f"Watching <#{quiet.id}>.")
    assert f"⚠️ I can't reply to messages in <#{quiet.id}>: I need the **Read Message History** permission" in told
    assert "link to the message, not as a reply" in told
    message, outcome, sent = await world.say(ISIS, channel=quiet)
    assert outcome == "replied" and sent is not None
    note = world.emu.find_message(sent.id)
    assert "message_reference" not in note and note["type"] == 0
    assert note["content"] == f"↪ https://discord.com/channels/{world.guild.id}/{quiet.id}/{message.id}"
    assert "Islamic State Khorasan" in note["embeds"][0]["description"]
    assert not world.emu.requests_to("POST", rf"/channels/{quiet.id}/messages$")[0].json.get("message_reference")


async def test_reply_refused_for_history_falls_back_to_a_linked_note(world: World) -> None:
    """The bot's cache said it could reply; Discord said 160002: the note is posted without the reply."""
    world.emu.fail_next(
        "POST", rf"/channels/{world.chat.id}/messages$", status=403, code=160002,
        message="Cannot reply without permission to read message history",
    )  # fmt: skip
    message, outcome, sent = await world.say(ISIS)
    assert outcome == "replied" and sent is not None
    note = world.emu.find_message(sent.id)
    assert "message_reference" not in note and note["content"].endswith(f"/{world.chat.id}/{message.id}")
    assert [r.status for r in world.emu.requests_to("POST", rf"/channels/{world.chat.id}/messages$")] == [403, 200]


async def test_system_messages_are_not_answered(world: World) -> None:
    """A thread named after a claim leaves a THREAD_CREATED message holding the name in the channel: Discord takes
    no reply to a system message (400, 50035 on message_reference), so the bot does not try."""
    started = await world.emu.post_message(world.chat, world.member, ISIS, type=18)
    assert await world.checks.wait(started) == ("system message", None)
    _, outcome, _ = await world.say(ISIS)
    assert outcome == "replied"
    assert [r.status for r in world.emu.requests_to("POST", rf"/channels/{world.chat.id}/messages$")] == [200]


async def test_without_embed_links_no_reply_and_the_audit_channel_is_told_once(world: World) -> None:
    audit = world.emu.add_channel(world.guild.id, "ledger-audit")
    await world.emu.wait_until(lambda: world.run.bot.get_channel(audit.id), what="the channel in the bot's cache")
    await world.slash("ledger settings audit-channel", {"channel": audit})
    plain, told = await watch_new_channel(world, "plain-text", rules.EMBED_LINKS)
    assert f"⚠️ I can't reply to messages in <#{plain.id}>: I need the **Embed Links** permission there." in told
    assert "not as a reply" not in told
    for text in (ISIS, await world.claim_text(REFS[3])):
        _, outcome, sent = await world.say(text, channel=plain)
        assert (outcome, sent) == ("refused", None)
    assert world.bot_messages(plain) == []
    notes = [m for m in world.emu.channel_messages(audit) if m["embeds"][0]["title"] == "Watched channel"]
    assert [n["embeds"][0]["description"] for n in notes] == [
        "I can't reply to claims in #plain-text: I need the **Embed Links** permission there. Ask an admin to grant"
        " it to my role or in that channel's settings."
    ]


async def test_cooling_period_per_claim_and_channel(world: World) -> None:
    _, first, _ = await world.say(ISIS)
    _, second, _ = await world.say("Yes: " + ISIS)
    assert (first, second) == ("replied", "cooling")
    other_text = await world.claim_text(REFS[3])
    _, other, _ = await world.say(other_text)
    assert other == "replied"  # another claim is not cooling
    cog = world.run.bot.get_cog("Watch")
    now = cog.throttle.clock()
    cog.throttle.clock = lambda: now + 31 * 60  # the cooling period (30 min) has passed
    _, again, _ = await world.say(ISIS)
    assert again == "replied"
    assert len(world.bot_messages(world.chat)) == 3


async def test_rate_limit_per_channel(world: World) -> None:
    texts = [await world.claim_text(ref) for ref in REFS[:4]]
    messages = [await world.emu.post_message(world.chat, world.member, text) for text in texts]
    outcomes = [(await world.checks.wait(m))[0] for m in messages]
    assert sorted(outcomes) == ["rate limit", "replied", "replied", "replied"]
    assert len(world.bot_messages(world.chat)) == 3
    # Another watched channel has its own limit.
    second = world.emu.add_channel(world.guild.id, "more-chat")
    await world.emu.wait_until(lambda: world.run.bot.get_channel(second.id) is not None)
    await world.slash("ledger watch add", {"channel": second})
    _, outcome, _ = await world.say(texts[0], channel=second)
    assert outcome == "replied"


async def test_not_relevant_only_moderators_and_it_sticks(world: World) -> None:
    _, outcome, sent = await world.say(ISIS)
    assert outcome == "replied"
    reply = world.emu.find_message(sent.id)
    nr = next(c for c in reply.custom_ids() if c.startswith("watch:nr:"))
    # A member cannot mark it; the reply stays.
    refused = await (await world.emu.click(reply, nr, world.member.id)).wait_message()
    assert "Only moderators" in refused["content"] and refused.ephemeral
    assert world.emu.find_message(sent.id) is not None
    # Anyone can see more, privately.
    more = next(c for c in reply.custom_ids() if c.startswith("watch:more:"))
    shown = await (await world.emu.click(reply, more, world.member.id)).wait_message()
    assert shown.ephemeral and shown["embeds"][0]["title"].startswith("Claim #")
    # A moderator marks it: the reply is deleted, the mark is stored per text and claim.
    done = await (await world.emu.click(reply, nr, world.mod.id)).wait_message()
    assert "will not bring up claim" in done["content"]
    await world.emu.wait_until(lambda: world.emu.find_message(sent.id) is None, what="the reply deleted")
    claim_id = int(nr.split(":")[2])
    key = not_relevant_key(text_hash(ISIS))
    stored = await world.run.service.read(lambda ledger: ledger.get_setting(world.guild.id, key))
    assert parse_ids(stored) == [claim_id]
    # The same text (case and punctuation aside) never triggers that claim again, cooling or not.
    world.run.bot.get_cog("Watch").throttle.forget_channel(world.chat.id)
    for text in (ISIS, ISIS.upper() + "!!"):
        _, outcome, _ = await world.say(text)
        assert outcome == "not relevant"
    assert world.bot_messages(world.chat) == []


async def test_audit_channel_gets_replies_and_marks(world: World) -> None:
    audit = world.emu.add_channel(world.guild.id, "ledger-audit")
    await world.emu.wait_until(lambda: world.run.bot.get_channel(audit.id) is not None)
    await world.slash("ledger settings audit-channel", {"channel": audit})
    _, outcome, sent = await world.say(ISIS)
    assert outcome == "replied"
    titles = await world.emu.wait_until(
        lambda: [m["embeds"][0]["title"] for m in world.emu.channel_messages(audit) if m.get("embeds")] or None
    )
    assert titles == ["Automatic reply"]
    reply = world.emu.find_message(sent.id)
    nr = next(c for c in reply.custom_ids() if c.startswith("watch:nr:"))
    await (await world.emu.click(reply, nr, world.mod.id)).wait_message()
    posts = await world.emu.wait_until(lambda: (m := world.emu.channel_messages(audit)) and len(m) >= 2 and m)
    assert posts[-1]["embeds"][0]["title"] == "Marked not relevant"
    assert all(m["allowed_mentions"]["parse"] == [] for m in posts)


async def test_watch_list_remove_and_members_refused(world: World) -> None:
    listed = await world.slash("ledger watch list")
    assert f"<#{world.chat.id}>" in listed["content"]
    refused = await world.slash("ledger watch add", {"channel": world.chat}, user=world.member)
    assert "Only moderators" in refused["content"]
    removed = await world.slash("ledger watch remove", {"channel": world.chat})
    assert removed["content"].startswith("Stopped watching")
    _, outcome, _ = await world.say(ISIS)
    assert outcome == "not watched"
    assert world.bot_messages(world.chat) == []
    here = await world.slash("ledger watch add")  # no channel: the one the command runs in
    assert here["content"].startswith(f"Watching <#{world.guild.channel_id}>")
    listed = await world.slash("ledger watch list")
    assert f"<#{world.guild.channel_id}>" in listed["content"] and f"<#{world.chat.id}>" not in listed["content"]


async def test_no_reply_without_the_intent(
    emu: DiscordEmulator, guild: Guild, mod: Member, member: Member, db_path: Path
) -> None:
    async for world in start_world(emu, guild, mod, member, db_path, message_content=False):
        assert not world.run.bot.watching
        assert "Watching is off" in (await world.slash("ledger watch list"))["content"]
        _, outcome, _ = await world.say(ISIS)
        assert outcome == "watching off"
        assert world.bot_messages(world.chat) == []


async def test_intent_refused_by_discord_runs_with_watching_off(
    emu: DiscordEmulator,
    guild: Guild,
    mod: Member,
    member: Member,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client's intents are fixed when it is made: the runner makes a second bot without the intent."""
    made: list[ClaimLedgerBot] = []
    real = runner.make_bot

    def recording(*args: Any, **kwargs: Any) -> ClaimLedgerBot:
        made.append(real(*args, **kwargs, guild_ready_timeout=0.05))
        return made[-1]

    monkeypatch.setattr(runner, "make_bot", recording)
    emu.privileged_intents = 0  # Message Content not enabled in the Developer Portal: IDENTIFY closes with 4014
    caplog.set_level(logging.INFO, logger="bot.discord.client")
    settings = Settings(
        db_path=db_path, token="emulated-token", seed_dir=REPO_ROOT / "data", message_content=True, semantic=False
    )
    task = asyncio.create_task(runner._main(settings, db_path, sync_only=False, sync_guild=None))
    try:
        bot = await emu.wait_until(lambda: len(made) == 2 and made[1].is_ready() and made[1], 10, "a second bot")
        assert made[0].intents.message_content and made[0].is_closed() and not made[0].message_content_refused
        assert bot.message_content_refused and not bot.watching
        assert not emu.identify_payloads[-1]["intents"] & rules.INTENT_MESSAGE_CONTENT
        lines = [r.getMessage() for r in caplog.records if "Message Content intent" in r.getMessage()]
        assert len(lines) == 1 and "Watched channels are off" in lines[0]
        await bot.ledger.ensure_seeded(guild.id, settings.seed_dir)
        await bot.sync_commands(guild.id)
        chat, checks = emu.add_channel(guild.id, "claims-chat"), Checks(bot)
        adding = await emu.slash(guild.id, guild.channel_id, mod.id, "ledger watch add", {"channel": chat})
        added = await adding.wait_message()
        assert added["content"].startswith(f"Watching <#{chat.id}>") and "Watching is off" in added["content"]
        outcome, _ = await checks.wait(await emu.post_message(chat, member, ISIS))
        assert outcome == "watching off"
        assert not [m for m in emu.channel_messages(chat) if int(m["author"]["id"]) == emu.bot_user.id]
        # the rest of the bot works
        inter = await emu.slash(guild.id, guild.channel_id, member.id, "ask", {"question": "who claimed the attack"})
        assert (await inter.wait_message())["embeds"]
    finally:
        for made_bot in made:
            await made_bot.close()
        assert await asyncio.wait_for(task, timeout=10) == 0


async def test_nothing_crosses_servers(world: World, emu: DiscordEmulator) -> None:
    other = emu.add_guild("Other Club")
    other_mod = emu.add_member(other.id, "othermod", permissions=MANAGE_GUILD)
    other_member = emu.add_member(other.id, "othermember")
    other_chat = emu.add_channel(other.id, "their-chat")
    bot = world.run.bot
    await emu.wait_until(lambda: bot.get_channel(other_chat.id) is not None)
    await world.run.service.ensure_seeded(other.id, world.run.bot.settings.seed_dir)
    await bot.sync_commands(other.id)
    # A claim only this server's ledger holds.
    only_here = "The Zorbington mayor said the bridge was closed by sabotage of the main cables"

    def add(ledger):
        ledger.create_speaker(world.guild.id, name="Jane Mayor", actor="test")
        return ledger.add_claim(world.guild.id, text=only_here, speaker="Jane Mayor", actor="test")

    await world.run.service.write(add)
    # Not watched in the other server, whatever this one watches.
    message = await emu.post_message(other_chat, other_member, ISIS)
    assert (await world.checks.wait(message))[0] == "not watched"
    inter = await emu.slash(other.id, other.channel_id, other_mod.id, "ledger watch list", {})
    assert f"<#{world.chat.id}>" not in (await inter.wait_message())["content"]
    inter = await emu.slash(other.id, other.channel_id, other_mod.id, "ledger watch add", {"channel": other_chat})
    await inter.wait_message()
    # Marked "not relevant" here; the other server still gets its reply, and its own cooling.
    _, outcome, sent = await world.say(ISIS)
    reply = emu.find_message(sent.id)
    nr = next(c for c in reply.custom_ids() if c.startswith("watch:nr:"))
    await (await emu.click(reply, nr, world.mod.id)).wait_message()
    message = await emu.post_message(other_chat, other_member, ISIS)
    assert (await world.checks.wait(message))[0] == "replied"
    # This server's own claim answers here only.
    message = await emu.post_message(other_chat, other_member, only_here)
    assert (await world.checks.wait(message))[0] == "no match"
    _, outcome, _ = await world.say(only_here)
    assert outcome == "replied"
    # The other server's moderator cannot mark this server's reply (not a member here).
    assert other_mod.id not in world.guild.members
