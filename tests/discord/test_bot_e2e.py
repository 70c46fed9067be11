"""The bot end to end: the real discord.py client against the emulator over loopback."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from tests.emulator import DiscordEmulator, Guild, rules
from tests.harness import Running


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


async def test_the_command_tree_fits_discords_limits_per_type(
    emu: DiscordEmulator, guild: Guild, running: Running
) -> None:
    """Discord refuses a whole sync with one slash (100), user (15) or message (15) command too many (30032)."""
    assert [r.status for r in emu.requests_to("PUT", rf"/guilds/{guild.id}/commands$")] == [200]
    counts = Counter(int(c["type"]) for c in emu.commands[guild.id])
    assert set(counts) <= set(rules.MAX_COMMANDS_BY_TYPE)
    assert all(count <= rules.MAX_COMMANDS_BY_TYPE[kind] for kind, count in counts.items()), counts


async def ask(emu: DiscordEmulator, guild: Guild, user_id: str, question: str) -> dict:
    inter = await emu.slash(guild.id, guild.channel_id, user_id, "ask", {"question": question})
    return await inter.wait_message()


async def test_nothing_matched(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    member = emu.add_member(guild.id, "bob")
    message = await ask(emu, guild, member.id, "How do I bake sourdough bread?")
    embed = message["embeds"][0]
    assert "No claim in this server's ledger matches" in embed["description"]
    assert not embed.get("fields")


async def test_paging_only_for_the_asker(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    alice = emu.add_member(guild.id, "alice")
    carol = emu.add_member(guild.id, "carol")
    message = await ask(emu, guild, alice.id, "What did Putin and the FSB say about Ukraine?")
    first_page = message["embeds"][0]
    assert "page 1/" in first_page["footer"]["text"]
    assert message["components"], "more matches than fit: a pager is attached"
    # Someone else cannot page.
    other = await emu.click(message, "pager:next", carol.id)
    refusal = await other.wait_message()
    assert "Only the person who asked" in refusal["content"] and refusal["flags"] & 64
    assert message["embeds"][0] == first_page
    # The asker can.
    turn = await emu.click(message, "pager:next", alice.id)
    await turn.wait_response()
    assert turn.response_type == 7
    assert "page 2/" in message["embeds"][0]["footer"]["text"]
    assert message["embeds"][0]["fields"][0]["name"].startswith("4. ")


async def test_pager_times_out_cleanly(
    emu: DiscordEmulator, guild: Guild, running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cogs import views

    original_init = views.AnswerPager.__init__

    def short(self, answer, author_id, *, timeout=300.0):
        original_init(self, answer, author_id, timeout=0.2)

    monkeypatch.setattr(views.AnswerPager, "__init__", short)
    alice = emu.add_member(guild.id, "alice")
    message = await ask(emu, guild, alice.id, "What did Putin and the FSB say about Ukraine?")
    await emu.wait_until(
        lambda: all(c.get("disabled") for row in message["components"] for c in row["components"]),
        timeout=3,
        what="the pager to disable itself",
    )


async def test_mention_gets_the_same_answer_as_a_reply(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    member = emu.add_member(guild.id, "dave")
    question = "Who claimed responsibility for the Crocus City Hall attack?"
    slash = await ask(emu, guild, member.id, question)
    posted = await emu.post_message(guild.channel_id, member.id, f"<@{emu.app_id}> {question}", mention_bot=True)
    request = await emu.wait_for(
        lambda r: r.method == "POST" and r.path.endswith(f"/channels/{guild.channel_id}/messages")
    )
    body = request.json
    assert str(body["message_reference"]["message_id"]) == posted["id"]
    assert body["allowed_mentions"]["parse"] == [] and body["allowed_mentions"]["replied_user"] is False
    assert body["embeds"][0]["fields"] == slash["embeds"][0]["fields"]


async def test_mention_answers_without_reply_or_embed_permissions(
    emu: DiscordEmulator, guild: Guild, running: Running
) -> None:
    member = emu.add_member(guild.id, "erin")
    question = "Who claimed responsibility for the Crocus City Hall attack?"
    no_history = [{"id": str(emu.bot_user.id), "type": 1, "allow": "0", "deny": str(rules.READ_MESSAGE_HISTORY)}]
    quiet = emu.add_channel(guild.id, "no-history", overwrites=no_history)
    no_embeds = [{"id": str(emu.bot_user.id), "type": 1, "allow": "0", "deny": str(rules.EMBED_LINKS)}]
    plain = emu.add_channel(guild.id, "plain-text", overwrites=no_embeds)
    await emu.wait_until(lambda: running.bot.get_channel(plain.id), what="the channels in the bot's cache")
    for channel in (quiet, plain):
        await emu.post_message(channel, member.id, f"<@{emu.app_id}> {question}", mention_bot=True)
    answered = await emu.wait_until(lambda: emu.channel_messages(quiet)[1:], what="the answer without history")
    assert "message_reference" not in answered[0] and answered[0]["embeds"][0]["fields"]
    assert answered[0]["content"].startswith(f"↪ https://discord.com/channels/{guild.id}/{quiet.id}/")
    told = await emu.wait_until(lambda: emu.channel_messages(plain)[1:], what="the answer without embeds")
    assert told[0]["content"].startswith("I can't show answers in this channel: I need the **Embed Links**")
    assert told[0]["embeds"] == [] and told[0]["message_reference"]["channel_id"] == str(plain.id)
    assert emu.dropped_embeds == []


async def test_message_without_mention_is_ignored(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    member = emu.add_member(guild.id, "erin")
    ignored = await emu.post_message(guild.channel_id, member.id, "did ukraine do it?")
    # a barrier: a mention after it, answered; the bot handles messages in the order they come
    asked = await emu.post_message(guild.channel_id, member.id, f"<@{emu.app_id}> did ukraine do it?", mention_bot=True)
    await emu.wait_until(
        lambda: bool(emu.requests_to("POST", rf"/channels/{guild.channel_id}/messages$")), timeout=10, what="a reply"
    )
    replies = [m for m in emu.channel_messages(guild.channel_id) if m["author"]["id"] == str(emu.app_id)]
    assert [(m.get("message_reference") or {}).get("message_id") for m in replies] == [asked["id"]]
    assert ignored["id"] != asked["id"]


async def test_context_menu_answers_ephemerally(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    member = emu.add_member(guild.id, "frank")
    target = await emu.post_message(
        guild.channel_id, member.id, "BREAKING: Russia's FSB says the gunmen had a link to Ukraine!!"
    )
    inter = await emu.context_menu(guild.id, guild.channel_id, member.id, "Find claims", target)
    message = await inter.wait_message()
    assert message["flags"] & 64
    names = " ".join(f["name"] for f in message["embeds"][0]["fields"])
    assert "Federal Security Service" in names


async def test_autocomplete_suggests_within_limits(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    member = emu.add_member(guild.id, "gina")
    choices = await emu.autocomplete(guild.id, guild.channel_id, member.id, "ask", {"question": "medvedev"}, "question")
    assert choices and len(choices) <= 25
    assert any("Medvedev" in c["name"] for c in choices)
    assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)


async def test_long_claim_and_mentions_are_safe(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    role_id = emu.add_role(guild.id, "Everyone-ish")
    text = f"@everyone <@&{role_id}> the mayor of Testville said the bridge collapse was sabotage. " + "word " * 400
    await running.service.write(
        lambda ledger: ledger.add_claim(
            guild.id,
            text=text[:1500],
            quote="q " * 700,
            actor="test",
            evidence_status="not presented",
            evidence_details="none " * 190,
        )
    )
    member = emu.add_member(guild.id, "hank")
    message = await ask(emu, guild, member.id, "testville bridge collapse sabotage mayor")
    field = message["embeds"][0]["fields"][0]
    assert len(field["value"]) <= 1024
    assert "/entry" in field["value"]
    assert message["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in field["value"]


async def test_rate_limited_response_is_retried(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    emu.rate_limit_next("POST", r"/interactions/\d+/[^/]+/callback", retry_after=0.05)
    member = emu.add_member(guild.id, "ivy")
    message = await ask(emu, guild, member.id, "What did Medvedev say?")
    assert message["embeds"][0]["fields"]
    statuses = [r.status for r in emu.requests_to("POST", r"/callback")]
    assert statuses[:2] == [429, 204] or statuses[:2] == [429, 200]


async def test_cooldown_is_friendly(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    member = emu.add_member(guild.id, "jack")
    for _ in range(5):
        await ask(emu, guild, member.id, "What did Medvedev say?")
    inter = await emu.slash(guild.id, guild.channel_id, member.id, "ask", {"question": "again?"})
    message = await inter.wait_message()
    assert "Easy there" in message["content"] and message["flags"] & 64


async def test_find_claims_is_guild_only_by_contexts_and_has_the_ask_cooldown(
    emu: DiscordEmulator, guild: Guild, running: Running
) -> None:
    synced = next(c for c in emu.commands[guild.id] if c["name"] == "Find claims")
    assert synced["type"] == 3 and synced["contexts"] == [0]
    member = emu.add_member(guild.id, "kate")
    target = await emu.post_message(guild.channel_id, member.id, "The FSB says the gunmen had a link to Ukraine")
    for _ in range(5):
        inter = await emu.context_menu(guild.id, guild.channel_id, member.id, "Find claims", target)
        assert (await inter.wait_message())["embeds"][0]["fields"]
    inter = await emu.context_menu(guild.id, guild.channel_id, member.id, "Find claims", target)
    message = await inter.wait_message()
    assert message["content"].startswith("Easy there: you can ask again in") and message["flags"] & 64
    assert message["embeds"] == []
    other = emu.add_member(guild.id, "liam")  # the allowance is per member
    inter = await emu.context_menu(guild.id, guild.channel_id, other.id, "Find claims", target)
    assert (await inter.wait_message())["embeds"][0]["fields"]


async def test_slow_answer_defers_first_then_follows_up(
    emu: DiscordEmulator, guild: Guild, running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cogs import ask as ask_cog

    monkeypatch.setattr(ask_cog, "FIRST_RESPONSE_BUDGET", 0.05)
    original = running.service.ask

    async def slow(*args: object, **kwargs: object) -> object:
        await asyncio.sleep(0.3)
        return await original(*args, **kwargs)

    monkeypatch.setattr(running.service, "ask", slow)
    member = emu.add_member(guild.id, "patient")
    inter = await emu.slash(guild.id, guild.channel_id, member.id, "ask", {"question": "what did medvedev say"})
    first = await inter.wait_response()
    assert first["type"] == 5, "deferred before the answer was ready"
    message = await inter.wait_message()
    assert "Medvedev" in message["embeds"][0]["fields"][0]["name"]
    assert inter.errors == []


@pytest.mark.parametrize("locked", [False, True])
async def test_commands_in_a_thread_archived_before_the_answer_log_and_move_on(
    emu: DiscordEmulator, guild: Guild, running: Running, locked: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A thread archived (or locked) while the bot works on a command refuses the answer (400 50083, discord-api-docs
    #6884, #7707). The bot logs it and moves on: no second attempt to tell the user about an error Discord would
    refuse the same way, for /ask as for a moderator's command."""
    caplog.set_level(logging.INFO, logger="bot.discord.client")
    alice = emu.add_member(guild.id, "alice")
    mod = emu.add_member(guild.id, "mod", permissions=rules.MANAGE_GUILD)
    thread = emu.add_thread(guild.channel_id, "crocus-follow-up")
    await emu.wait_until(lambda: running.bot.get_channel(thread.id), what="the thread in the bot's cache")
    asked = await emu.slash(guild.id, thread.id, alice.id, "ask", {"question": "Crocus City Hall attack"})
    emu.archive_thread(thread, locked=locked)  # before the bot's answer arrives
    pinned = await emu.slash(
        guild.id, guild.channel_id, mod.id, "incident pin", {"incident": "crocus-city-hall-attack-2024"}
    )
    await pinned.wait_message()  # a later command: the bot carried on
    emu.unarchive_thread(thread)
    late = await emu.slash(guild.id, thread.id, mod.id, "incident pin", {"incident": "crocus-city-hall-attack-2024"})
    emu.archive_thread(thread, locked=locked)
    for inter in (asked, late):
        refused = await inter.wait_response(accepted_only=False)
        assert (refused.status, refused.error) == (400, {"message": "Thread is archived", "code": 50083})
        await emu.wait_until(
            lambda inter=inter: any(
                "archived" in r.getMessage() and str(inter.id) in r.getMessage() for r in caplog.records
            ),
            what="the log line",
        )
    later = await emu.slash(guild.id, guild.channel_id, alice.id, "ask", {"question": "Crocus City Hall attack"})
    await later.wait_message()
    for inter in (asked, late):
        assert inter.response is None and len(inter.responses) == 1, "no second answer Discord would refuse too"
        assert inter.followups == [] and [r.code for r in inter.errors] == [50083]
    assert emu.channel_messages(thread) == [] and thread.archived
