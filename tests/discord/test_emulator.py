"""The Discord emulator itself, driven by a tiny discord.py bot defined here (not Claim Ledger's bot)."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.emulator import (
    MANAGE_GUILD,
    PIN_MESSAGES,
    CommandHiddenError,
    DiscordEmulator,
    EmulatedInteraction,
    EmulatorError,
    Guild,
    Member,
    StoredMessage,
    rules,
)

TOPICS = ["Zelensky speech", "Zelenograd fire", "Crocus City Hall", "Kerch bridge"]

# ------------------------------------------------------------------ the tiny bot


@app_commands.command(name="ping", description="Reply with an embed")
async def ping(interaction: discord.Interaction) -> None:
    embed = discord.Embed(title="Pong", description=f"<@{interaction.user.id}> asked")
    await interaction.response.send_message(embed=embed, allowed_mentions=discord.AllowedMentions.none())


@app_commands.command(name="slow", description="Defer, then answer")
@app_commands.describe(legacy="Answer with the deprecated first followup instead of editing the original")
async def slow(interaction: discord.Interaction, legacy: bool = False) -> None:
    await interaction.response.defer(thinking=True)
    await asyncio.sleep(0.05)
    if legacy:
        await interaction.followup.send("done slowly")
    else:
        await interaction.edit_original_response(content="done slowly")


async def topic_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=t, value=t) for t in TOPICS if current.lower() in t.lower()]


async def too_many_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=f"{current} {i}", value=str(i)) for i in range(30)]


@app_commands.command(name="search", description="Search topics")
@app_commands.autocomplete(topic=topic_choices)
async def search(interaction: discord.Interaction, topic: str, limit: int = 5) -> None:
    await interaction.response.send_message(f"searched {topic} (limit {limit})")


@app_commands.command(name="greedy", description="Autocomplete with too many choices")
@app_commands.autocomplete(term=too_many_choices)
async def greedy(interaction: discord.Interaction, term: str) -> None:
    await interaction.response.send_message(term)


@app_commands.context_menu(name="Find claims")
async def find_claims(interaction: discord.Interaction, message: discord.Message) -> None:
    await interaction.response.send_message(f"claims in: {message.content}", ephemeral=True)


@app_commands.command(name="admin", description="Moderators only")
@app_commands.default_permissions(manage_guild=True)
async def admin(interaction: discord.Interaction) -> None:
    if not interaction.permissions.manage_guild:
        await interaction.response.send_message("Only moderators can do that.", ephemeral=True)
        return
    await interaction.response.send_message("admin ok")


@app_commands.command(name="huge", description="Reply with an over-long embed")
async def huge(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(embed=discord.Embed(title="x" * 300))


@app_commands.command(name="whois", description="Describe a member")
async def whois(interaction: discord.Interaction, member: discord.Member, role: discord.Role | None = None) -> None:
    has = "" if role is None else f", has {role.name}: {role in member.roles}"
    await interaction.response.send_message(f"{member.display_name}{has}")


@app_commands.command(name="reverse", description="Reverse an uploaded file")
async def reverse(interaction: discord.Interaction, file: discord.Attachment) -> None:
    data = await file.read()
    await interaction.response.send_message("reversed", file=discord.File(io.BytesIO(data[::-1]), "reversed.txt"))


class Counter(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.count = 0

    @discord.ui.button(label="+1", custom_id="counter:inc", style=discord.ButtonStyle.primary)
    async def inc(self, interaction: discord.Interaction, button: discord.ui.Button[Counter]) -> None:
        self.count += 1
        await interaction.response.edit_message(content=f"count {self.count}", view=self)

    @discord.ui.button(label="off", custom_id="counter:off", disabled=True)
    async def off(self, interaction: discord.Interaction, button: discord.ui.Button[Counter]) -> None:
        raise AssertionError("a disabled button cannot be pressed")


@app_commands.command(name="counter", description="A message with buttons")
async def counter(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("count 0", view=Counter())


class ClaimModal(discord.ui.Modal, title="Add a claim"):
    claim: discord.ui.TextInput[ClaimModal] = discord.ui.TextInput(
        label="Claim", custom_id="claim:text", max_length=200
    )
    source: discord.ui.TextInput[ClaimModal] = discord.ui.TextInput(
        label="Source", custom_id="claim:source", required=False
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"saved: {self.claim.value} ({self.source.value or 'no source'})")


claim_group = app_commands.Group(name="claim", description="Claims")


@claim_group.command(name="add", description="Add a claim")
async def claim_add(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(ClaimModal())


claim_settings = app_commands.Group(name="settings", description="Claim settings", parent=claim_group)


@claim_settings.command(name="show", description="Show one setting")
async def settings_show(interaction: discord.Interaction, key: str) -> None:
    await interaction.response.send_message(f"{key}=on", ephemeral=True)


@app_commands.command(name="hold", description="Defer, wait for the test, then answer")
async def hold(interaction: discord.Interaction) -> None:
    client = interaction.client
    assert isinstance(client, TinyBot)
    await interaction.response.defer(thinking=True)
    await client.gate.wait()
    for answer in (interaction.edit_original_response(content="held"), interaction.followup.send("and more")):
        try:
            await answer
        except discord.HTTPException as error:
            client.refused.append(error)


class TinyBot(commands.Bot):
    def __init__(self, intents: discord.Intents | None = None) -> None:
        super().__init__(command_prefix="!", intents=intents or discord.Intents.default(), guild_ready_timeout=0.05)
        self.seen: list[discord.Message] = []
        self.gate = asyncio.Event()
        """``/hold`` answers once the test sets it."""
        self.refused: list[discord.HTTPException] = []

    async def setup_hook(self) -> None:
        commands_ = (ping, slow, search, greedy, find_claims, admin, huge, counter, claim_group, whois, reverse, hold)
        for command in commands_:
            self.tree.add_command(command)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every re-IDENTIFY; not against the emulator."""

    async def on_message(self, message: discord.Message) -> None:
        if message.author.id != self.user.id:  # type: ignore[union-attr]
            self.seen.append(message)


# ------------------------------------------------------------------ fixtures


@dataclass
class World:
    guild: Guild
    mod: Member
    alice: Member


@pytest.fixture
async def emulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator() as emu:
        emu.patch(monkeypatch)
        yield emu
        assert emu.internal_errors == []


@pytest.fixture
def world(emulator: DiscordEmulator) -> World:
    guild = emulator.add_guild("OSINT Club")
    mod = emulator.add_member(guild.id, "mod", permissions=discord.Permissions(manage_guild=True))
    alice = emulator.add_member(guild.id, "alice")
    return World(guild, mod, alice)


@pytest.fixture
async def bot(emulator: DiscordEmulator, world: World) -> AsyncIterator[TinyBot]:
    client = TinyBot()
    async with emulator.run_client(client) as running:
        print(f"bot ready in {running.ready_seconds:.3f} s")
        target = discord.Object(world.guild.id)
        client.tree.copy_global_to(guild=target)
        await client.tree.sync(guild=target)
        yield client


async def raw(emu: DiscordEmulator, method: str, path: str, **kwargs: object) -> tuple[int, str, object]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": "Bot raw"}) as session,
        session.request(method, emu.base_url + path, **kwargs) as response,  # type: ignore[arg-type]
    ):
        body = await response.json(content_type=None) if response.status != 204 else None
        return response.status, response.headers.get("Content-Type", ""), body


# ------------------------------------------------------------------ login and sync


async def test_login_reaches_ready_with_the_guild(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    assert bot.user is not None and bot.user.id == emulator.app_id
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "OSINT Club"
    assert guild.me is not None and guild.me.guild_permissions.pin_messages
    assert guild.member_count == len(world.guild.members) == 4, "owner, bot, mod, alice"
    assert emulator.identify_count == 1
    assert emulator.identify_payloads[0]["intents"] == discord.Intents.default().value
    assert [f["op"] for f in emulator.gateway.received if f["op"] == 8] == [], "no member chunk request"
    ready = emulator.gateway_events("READY")[0]["d"]
    assert ready["resume_gateway_url"] == emulator.resume_gateway_url
    assert [r.path for r in emulator.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]


async def test_sync_records_commands_and_enforces_rules(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    synced = {c["name"]: c for c in emulator.commands[world.guild.id]}
    assert set(synced) == {
        *("ping", "slow", "search", "greedy", "Find claims", "admin", "huge", "counter", "claim", "whois", "reverse"),
        "hold",
    }
    assert synced["Find claims"]["type"] == 3
    assert synced["admin"]["default_member_permissions"] == str(MANAGE_GUILD)
    assert synced["claim"]["options"][0]["type"] == 1
    assert emulator.requests_to("PUT", rf"/guilds/{world.guild.id}/commands$")[0].status == 200

    bad = [
        {"name": "Ask", "description": "capitalised", "type": 1},
        {"name": "ok", "description": "d" * 101, "type": 1},
        {"name": "a" * 33, "type": 3},
    ]
    status, content_type, body = await raw(
        emulator, "PUT", f"/applications/{emulator.app_id}/guilds/{world.guild.id}/commands", json=bad
    )
    assert (status, content_type) == (400, "application/json")
    assert isinstance(body, dict) and body["code"] == 50035
    errors = body["errors"]
    assert errors["0"]["name"]["_errors"][0]["code"] == "APPLICATION_COMMAND_INVALID_NAME"
    assert "description" in errors["1"] and "name" in errors["2"]
    assert len(emulator.commands[world.guild.id]) == 12, "a rejected sync changes nothing"


# ------------------------------------------------------------------ interactions


async def test_slash_reply_is_recorded_with_embed(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "ping")
    first = await inter.wait_response()
    assert first["type"] == 4 and first.status == 200
    assert first.latency is not None and first.latency < emulator.interaction_deadline
    message = await inter.wait_message()
    assert message["embeds"][0]["title"] == "Pong"
    assert message["allowed_mentions"] == {"parse": []}
    assert message["mentions"] == [], "AllowedMentions.none() pings nobody"
    assert message in emulator.channel_messages(world.guild.channel_id)
    assert message["interaction_metadata"]["user"]["id"] == str(world.alice.id)


async def test_defer_then_edit_original_replaces_the_thinking_message(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "slow")
    first = await inter.wait_response()
    assert first["type"] == 5
    message = await inter.wait_message()
    assert message["content"] == "done slowly"
    assert inter.original is not None and message.id == inter.original.id
    assert not message["flags"] & rules.FLAG_LOADING
    assert inter.errors == []


async def test_deprecated_first_followup_after_defer_is_refused_unless_opted_in(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    g, c, u = world.guild.id, world.guild.channel_id, world.alice.id
    refused = await emulator.slash(g, c, u, "slow", {"legacy": True})
    error = await emulator.wait_until(lambda: refused.errors[0] if refused.errors else None, what="the refusal")
    assert error.status == 400 and "Deprecated" in error.response["message"]
    assert int(refused.original["flags"]) & rules.FLAG_LOADING, "still thinking: nothing replaced it"
    emulator.legacy_followup_edits_original = True
    legacy = await emulator.slash(g, c, u, "slow", {"legacy": True})
    message = await legacy.wait_message()
    assert message["content"] == "done slowly" and legacy.original is not None and message.id == legacy.original.id


async def test_autocomplete_returns_choices_and_limits_them(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    g, c, u = world.guild.id, world.guild.channel_id, world.alice.id
    choices = await emulator.autocomplete(g, c, u, "search", {"topic": "zel"}, "topic")
    assert [choice["name"] for choice in choices] == ["Zelensky speech", "Zelenograd fire"]
    with pytest.raises(EmulatorError, match="50035"):
        await emulator.autocomplete(g, c, u, "greedy", {"term": "x"}, "term")
    with pytest.raises(EmulatorError, match="missing required option"):
        await emulator.slash(g, c, u, "search", {"limit": 3})
    inter = await emulator.slash(g, c, u, "search", {"topic": "Kerch bridge", "limit": 2})
    assert (await inter.wait_message())["content"] == "searched Kerch bridge (limit 2)"


async def test_message_context_menu_gets_the_target(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    target = await emulator.post_message(world.guild.channel_id, world.alice.id, "Ukraine did it, says TV")
    inter = await emulator.context_menu(world.guild.id, world.guild.channel_id, world.mod.id, "Find claims", target)
    assert inter.payload["data"]["resolved"]["messages"][str(target.id)]["content"] == "Ukraine did it, says TV"
    message = await inter.wait_message()
    assert message["content"] == "claims in: Ukraine did it, says TV"
    assert message.ephemeral and message not in emulator.channel_messages(world.guild.channel_id)


async def test_member_role_and_attachment_options_are_resolved(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    g, c = world.guild.id, world.guild.channel_id
    checkers = emulator.add_role(g, "Fact-checkers")
    emulator.give_role(g, world.alice.id, checkers)
    inter = await emulator.slash(g, c, world.mod.id, "whois", {"member": world.alice, "role": checkers})
    assert str(world.alice.id) in inter.payload["data"]["resolved"]["members"]
    assert (await inter.wait_message())["content"] == "alice, has Fact-checkers: True"
    upload = await emulator.slash(g, c, world.alice.id, "reverse", {"file": ("claims.txt", b"abc", "text/plain")})
    message = await upload.wait_message()
    assert message["attachments"][0]["filename"] == "reversed.txt"
    assert message["files"][0]["data"] == b"cba"
    assert "files" not in emulator.requests_to("POST", r"/callback$")[-1].response["resource"]["message"]


async def test_button_click_edits_the_message(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "counter")
    message = await inter.wait_message()
    assert message.custom_ids() == ["counter:inc", "counter:off"]
    click = await emulator.click(message, "counter:inc", world.mod.id)
    assert (await click.wait_response())["type"] == 7
    assert message["content"] == "count 1", "the stored message is edited in place"
    await (await emulator.click(message, "counter:inc", world.alice.id)).wait_response()
    assert message["content"] == "count 2"
    with pytest.raises(EmulatorError, match="disabled"):
        await emulator.click(message, "counter:off", world.alice.id)
    with pytest.raises(EmulatorError, match="no component"):
        await emulator.click(message, "counter:nope", world.alice.id)


async def test_modal_submit_uses_the_modal_custom_ids(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.mod.id, "claim add")
    assert inter.payload["data"]["options"] == [{"name": "add", "type": 1, "options": []}]
    modal = await inter.wait_modal()
    assert modal["title"] == "Add a claim"
    assert inter.modal_custom_ids() == ["claim:text", "claim:source"]
    with pytest.raises(EmulatorError, match="required"):
        await emulator.submit_modal(inter, world.mod.id, {"claim:source": "TASS"})
    submitted = await emulator.submit_modal(
        inter, world.mod.id, {"claim:text": "The bridge was hit", "claim:source": ""}
    )
    message = await submitted.wait_message()
    assert message["content"] == "saved: The bridge was hit (no source)"


async def test_subcommand_groups_nest_options(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    g, c = world.guild.id, world.guild.channel_id
    inter = await emulator.slash(g, c, world.mod.id, "claim settings show", {"key": "pins"})
    show = {"name": "show", "type": 1, "options": [{"name": "key", "type": 3, "value": "pins"}]}
    assert inter.payload["data"]["options"] == [{"name": "settings", "type": 2, "options": [show]}]
    assert (await inter.wait_message())["content"] == "pins=on"
    with pytest.raises(EmulatorError, match="needs a subcommand"):
        await emulator.slash(g, c, world.mod.id, "claim settings")
    with pytest.raises(EmulatorError, match="no subcommand"):
        await emulator.slash(g, c, world.mod.id, "claim remove")


async def test_second_and_late_responses_are_rejected(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "ping")
    await inter.wait_message()
    status, content_type, body = await raw(
        emulator, "POST", f"/interactions/{inter.id}/{inter.token}/callback", json={"type": 4, "data": {"content": "2"}}
    )
    assert (status, content_type) == (400, "application/json")
    assert isinstance(body, dict) and body["code"] == 40060
    assert [r.status for r in inter.responses] == [200, 400]

    emulator.interaction_deadline = 0.0
    late = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "ping")
    attempt = await late.wait_response(accepted_only=False)
    assert attempt.status == 404 and attempt.error is not None and attempt.error["code"] == 10062
    assert late.response is None and late.errors[0].code == 10062


async def test_followups_need_a_live_token(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    emulator.token_lifetime = 0.01
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "slow")
    assert (await inter.wait_response())["type"] == 5
    await emulator.wait_until(lambda: inter.errors, what="the rejected followup")
    assert (inter.errors[0].status, inter.errors[0].code) == (401, 50027)
    status, _, body = await raw(
        emulator, "POST", f"/webhooks/{emulator.app_id}/not-a-token?wait=1", json={"content": "x"}
    )
    assert status == 404 and isinstance(body, dict) and body["code"] == 10015


async def test_tokens_expire_after_fifteen_minutes_on_the_emulator_clock(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "ping")
    await inter.wait_message()
    webhook = f"/webhooks/{emulator.app_id}/{inter.token}"
    emulator.advance(15 * 60 - 5)
    status, _, _ = await raw(emulator, "PATCH", f"{webhook}/messages/@original", json={"content": "still mine"})
    assert status == 200
    emulator.advance(10)
    status, _, body = await raw(emulator, "POST", f"{webhook}?wait=1", json={"content": "too late"})
    assert status == 401 and isinstance(body, dict) and body["code"] == 50027
    status, _, body = await raw(emulator, "PATCH", f"{webhook}/messages/@original", json={"content": "too late"})
    assert status == 401 and isinstance(body, dict) and body["code"] == 50027
    fresh = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "ping")
    await fresh.wait_message()
    assert fresh.errors == [], "a new interaction has a new token"
    with pytest.raises(EmulatorError):
        emulator.advance(-1)


async def test_overlong_embed_is_invalid_form_body(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    channel = bot.get_channel(world.guild.channel_id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(embed=discord.Embed(title="t" * 257))
    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert "embeds.0.title" in str(caught.value)
    fields = discord.Embed(title="many")
    for index in range(26):
        fields.add_field(name=f"f{index}", value="v")
    with pytest.raises(discord.HTTPException, match="fields"):
        await channel.send(embed=fields)
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "huge")
    await emulator.wait_until(lambda: inter.errors, what="the rejected reply")
    assert inter.errors[0].code == 50035 and inter.response is None
    assert emulator.channel_messages(world.guild.channel_id) == []


async def test_the_upload_limit_applies_to_each_file_of_a_message(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    channel = bot.get_channel(world.guild.channel_id)
    assert isinstance(channel, discord.TextChannel)
    emulator.attachment_size_limit = 1000
    two = [discord.File(io.BytesIO(b"a" * 800), f"part{n}.txt") for n in range(2)]
    sent = await channel.send(files=two)  # 1,600 bytes together, each under the limit
    assert len(sent.attachments) == 2
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send(file=discord.File(io.BytesIO(b"a" * 1001), "big.txt"))
    assert (refused.value.status, refused.value.code) == (413, 40005)


async def test_rate_limit_is_retried_transparently(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    emulator.rate_limit_next("POST", r"/interactions/\d+/[^/]+/callback", retry_after=0.05)
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "ping")
    message = await inter.wait_message()
    assert message["embeds"][0]["title"] == "Pong"
    callbacks = emulator.requests_to("POST", r"/callback$")
    assert [r.status for r in callbacks] == [429, 200]
    assert callbacks[1].at - callbacks[0].at >= 0.04, "discord.py waited retry_after"


async def test_pin_faults_and_rules(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    channel = bot.get_channel(world.guild.channel_id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("summary")
    emulator.fail_next("PUT", r"/channels/\d+/messages/pins/\d+", status=403, code=50013, message="Missing Permissions")
    with pytest.raises(discord.Forbidden) as forbidden:
        await sent.pin()
    assert forbidden.value.code == 50013 and emulator.pins(channel.id) == []
    await sent.pin()
    assert emulator.pins(channel.id) == [sent.id]
    assert [p.id async for p in channel.pins()] == [sent.id]

    emulator.set_bot_permissions(world.guild.id, rules.DEFAULT_BOT_PERMISSIONS & ~PIN_MESSAGES)
    other = await channel.send("another")
    with pytest.raises(discord.Forbidden):
        await other.pin()
    emulator.set_bot_permissions(world.guild.id, rules.DEFAULT_BOT_PERMISSIONS)
    emulator.fill_pins(channel.id)
    assert len(emulator.pins(channel.id)) == 250
    with pytest.raises(discord.HTTPException) as full:
        await other.pin()
    assert full.value.code == 30003


async def test_embeds_are_dropped_without_embed_links(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    quiet = emulator.add_channel(world.guild.id, "no-embeds")
    emulator.set_bot_permissions(world.guild.id, rules.DEFAULT_BOT_PERMISSIONS & ~rules.EMBED_LINKS, channel=quiet)
    channel = await emulator.wait_until(lambda: bot.get_channel(quiet.id), what="the new channel in the cache")
    assert isinstance(channel, discord.TextChannel)
    summary = discord.Embed(title="Summary", description="three claims")
    with pytest.raises(discord.HTTPException) as empty:
        await channel.send(embed=summary)
    assert empty.value.status == 400 and empty.value.code == 50006
    assert emulator.channel_messages(quiet) == []
    sent = await channel.send("see the summary", embed=summary)
    assert sent.embeds == [] and emulator.channel_messages(quiet)[0]["embeds"] == []
    edited = await sent.edit(content="still here", embed=summary)
    assert edited.embeds == [] and edited.content == "still here"
    with pytest.raises(discord.HTTPException) as emptied:
        await sent.edit(content="", embed=summary)
    assert emptied.value.code == 50006 and emulator.channel_messages(quiet)[0]["content"] == "still here"
    assert emulator.dropped_embeds == [(quiet.id, 1)] * 4
    general = bot.get_channel(world.guild.channel_id)
    assert isinstance(general, discord.TextChannel)
    assert (await general.send(embed=summary)).embeds[0].title == "Summary"


async def test_replies_need_read_message_history(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    quiet = emulator.add_channel(world.guild.id, "no-history")
    asked = await emulator.post_message(quiet, world.alice, "is this claim in the ledger?")
    emulator.set_bot_permissions(
        world.guild.id, rules.DEFAULT_BOT_PERMISSIONS & ~rules.READ_MESSAGE_HISTORY, channel=quiet
    )
    channel = await emulator.wait_until(lambda: bot.get_channel(quiet.id), what="the new channel in the cache")
    assert isinstance(channel, discord.TextChannel)
    target = channel.get_partial_message(asked.id)
    with pytest.raises(discord.Forbidden) as refused:
        await target.reply("yes")
    assert refused.value.code == 160002 and "read message history" in refused.value.text
    assert [m["content"] for m in emulator.channel_messages(quiet)] == ["is this claim in the ledger?"]
    plain = await channel.send("yes, without the reply")
    assert plain.reference is None
    emulator.set_bot_permissions(world.guild.id, rules.DEFAULT_BOT_PERMISSIONS, channel=quiet)
    replied = await target.reply("yes")
    assert replied.reference is not None and replied.reference.message_id == asked.id


async def test_threads_take_send_messages_in_threads_and_refuse_work_once_archived(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    general = world.guild.channel_id
    made = emulator.add_thread(general, "crocus follow-up")
    thread = await emulator.wait_until(lambda: bot.get_channel(made.id), what="the thread in the cache")
    assert isinstance(thread, discord.Thread) and thread.parent_id == general and not thread.archived
    _, _, listed = await raw(emulator, "GET", f"/guilds/{world.guild.id}/channels")
    assert isinstance(listed, list) and made.id not in [int(c["id"]) for c in listed]

    # Send Messages has no effect in threads: Send Messages in Threads does, from the parent (topics/permissions).
    without = rules.DEFAULT_BOT_PERMISSIONS & ~rules.SEND_MESSAGES_IN_THREADS
    emulator.set_bot_permissions(world.guild.id, without, channel=general)
    with pytest.raises(discord.Forbidden) as refused:
        await thread.send("summary")
    assert refused.value.code == 50013 and emulator.channel_messages(made) == []
    emulator.set_bot_permissions(world.guild.id, rules.DEFAULT_BOT_PERMISSIONS & ~rules.SEND_MESSAGES, channel=general)
    sent = await thread.send("summary")
    await sent.pin()
    assert emulator.pins(made) == [sent.id]
    with pytest.raises(discord.Forbidden):
        await bot.get_partial_messageable(general).send("not in the parent")
    emulator.set_bot_permissions(world.guild.id, rules.DEFAULT_BOT_PERMISSIONS | rules.ADD_REACTIONS, channel=general)

    # Archived: the bot's cache drops the thread; edits, pins and reactions are 400 50083.
    emulator.archive_thread(made)
    await emulator.wait_until(lambda: bot.get_channel(made.id) is None, what="the archived thread leaving the cache")
    stale = bot.get_partial_messageable(made.id).get_partial_message(sent.id)
    for action in (stale.edit(content="updated"), stale.pin(), stale.unpin(), stale.add_reaction("👍")):
        with pytest.raises(discord.HTTPException) as archived:
            await action
        assert (archived.value.status, archived.value.code) == (400, 50083)
        assert archived.value.text == "Thread is archived"
    assert emulator.find_message(sent.id)["content"] == "summary" and emulator.pins(made) == [sent.id]
    with pytest.raises(EmulatorError, match="archived"):
        await emulator.slash(world.guild.id, made.id, world.alice.id, "ping")

    # A message reopens an archived thread (THREAD_UPDATE), unless it is locked.
    await bot.get_partial_messageable(made.id).send("reopening")
    reopened = await emulator.wait_until(lambda: bot.get_channel(made.id), what="the thread back in the cache")
    assert isinstance(reopened, discord.Thread) and not reopened.archived and not made.archived
    await stale.edit(content="updated")
    assert emulator.find_message(sent.id)["content"] == "updated"
    emulator.archive_thread(made, locked=True)
    await emulator.wait_until(lambda: bot.get_channel(made.id) is None, what="the locked thread leaving the cache")
    with pytest.raises(discord.HTTPException) as locked:
        await bot.get_partial_messageable(made.id).send("let me in")
    assert locked.value.code == 50083 and made.archived
    with pytest.raises(EmulatorError, match="locked"):
        await emulator.post_message(made, world.alice, "reopen?")


async def test_private_threads_show_to_their_members_and_to_moderators_only(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    """A private thread (type 12) is for its members and members with Manage Threads (topics/threads): the bot gets
    no THREAD_CREATE, no GUILD_CREATE entry, no messages and 403 50001 on REST until it is added; being added sends
    THREAD_CREATE (with its thread member) then THREAD_MEMBERS_UPDATE; with Manage Threads it sees them all."""
    general = world.guild.channel_id
    hidden = emulator.add_thread(general, "mods only", type=12, owner=world.mod, members=[world.alice])
    await emulator.post_message(hidden, world.alice, "who said it first?")
    public = emulator.add_thread(general, "open")  # sent after: the bot has had every event about the private one
    await emulator.wait_until(lambda: bot.get_channel(public.id), what="the public thread in the cache")
    assert bot.get_channel(hidden.id) is None and bot.seen == []
    assert [e["d"]["id"] for e in emulator.gateway_events("THREAD_CREATE")] == [str(public.id)]
    with pytest.raises(discord.Forbidden) as refused:
        await bot.get_partial_messageable(hidden.id).send("let me in")
    assert (refused.value.status, refused.value.code, refused.value.text) == (403, 50001, "Missing Access")
    with pytest.raises(discord.Forbidden):
        await bot.fetch_channel(hidden.id)
    bob = emulator.add_member(world.guild.id, "bob")
    with pytest.raises(EmulatorError, match="cannot send"):
        await emulator.post_message(hidden, bob, "not invited")
    owner_post = await emulator.post_message(hidden, emulator.owner, "the owner has Manage Threads")
    assert owner_post["channel_id"] == str(hidden.id)

    emulator.add_thread_member(hidden, emulator.bot_user)
    thread = await emulator.wait_until(lambda: bot.get_channel(hidden.id), what="the private thread in the cache")
    assert isinstance(thread, discord.Thread) and thread.type is discord.ChannelType.private_thread
    created = emulator.gateway_events("THREAD_CREATE")[-1]["d"]
    assert created["member"]["user_id"] == str(emulator.app_id) and "newly_created" not in created
    assert created["thread_metadata"]["invitable"] is True and created["member_count"] == 3
    update = emulator.gateway_events("THREAD_MEMBERS_UPDATE")[-1]
    assert update["s"] > emulator.gateway_events("THREAD_CREATE")[-1]["s"]
    assert [m["user_id"] for m in update["d"]["added_members"]] == [str(emulator.app_id)]
    await emulator.wait_until(lambda: thread.me is not None, what="the bot's thread member")
    await thread.send("hello")
    fetched = await bot.fetch_channel(hidden.id)
    assert isinstance(fetched, discord.Thread) and fetched.me is not None
    # Unarchived: THREAD_UPDATE, then THREAD_MEMBER_UPDATE to each member, the bot included (topics/threads).
    emulator.archive_thread(hidden)
    assert emulator.gateway_events("THREAD_MEMBER_UPDATE") == []
    emulator.unarchive_thread(hidden)
    (mine,) = await emulator.wait_until(lambda: emulator.gateway_events("THREAD_MEMBER_UPDATE"), what="the update")
    assert mine["s"] > emulator.gateway_events("THREAD_UPDATE")[-1]["s"]
    assert (mine["d"]["user_id"], mine["d"]["guild_id"]) == (str(emulator.app_id), str(world.guild.id))

    # GUILD_CREATE lists the active threads the bot can see, with its thread member in those it belongs to.
    emulator.remove_thread_member(hidden, world.alice)  # others' membership: no event without GUILD_MEMBERS
    assert emulator.gateway_events("THREAD_MEMBERS_UPDATE")[-1] is update
    emulator.remove_thread_member(hidden, emulator.bot_user)
    removed = await emulator.wait_until(
        lambda: [e for e in emulator.gateway_events("THREAD_MEMBERS_UPDATE") if "removed_member_ids" in e["d"]],
        what="the bot's removal",
    )
    assert removed[0]["d"]["removed_member_ids"] == [str(emulator.app_id)]
    with pytest.raises(discord.Forbidden):
        await bot.get_partial_messageable(hidden.id).send("still here?")
    await emulator.disconnect_gateway(resume=False)
    await emulator.wait_until(lambda: len(emulator.gateway_events("GUILD_CREATE")) == 2, what="GUILD_CREATE again")
    listed = emulator.gateway_events("GUILD_CREATE")[-1]["d"]["threads"]
    assert [t["id"] for t in listed] == [str(public.id)] and "member" not in listed[0]
    emulator.add_thread_member(public, emulator.bot_user)
    await emulator.disconnect_gateway(resume=False)
    await emulator.wait_until(lambda: len(emulator.gateway_events("GUILD_CREATE")) == 3, what="GUILD_CREATE again")
    (listed_public,) = emulator.gateway_events("GUILD_CREATE")[-1]["d"]["threads"]
    assert set(listed_public["member"]) == {"join_timestamp", "flags"}, "no id/user_id inside GUILD_CREATE"

    # With Manage Threads the bot sees private threads it is not in; THREAD_CREATE tells it of new ones.
    emulator.set_bot_permissions(world.guild.id, rules.DEFAULT_BOT_PERMISSIONS | rules.MANAGE_THREADS)
    second = emulator.add_thread(general, "mods again", type=12, owner=world.mod)
    moderated = await emulator.wait_until(lambda: bot.get_channel(second.id), what="the second private thread")
    assert isinstance(moderated, discord.Thread) and moderated.me is None
    await moderated.send("as a moderator")
    await bot.get_partial_messageable(hidden.id).send("and here too")
    assert [m["content"] for m in emulator.channel_messages(hidden)][-1] == "and here too"


async def test_announcement_threads_and_where_threads_may_be(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    """Threads follow the parent's type: announcement threads (10) in announcement channels (5), public threads
    (11) in text channels; private threads (12) only in text channels (topics/threads)."""
    news = emulator.add_channel(world.guild.id, "announcements", type=5)
    made = emulator.add_thread(news, "statement thread")
    thread = await emulator.wait_until(lambda: bot.get_channel(made.id), what="the announcement thread")
    assert isinstance(thread, discord.Thread) and thread.type is discord.ChannelType.news_thread
    assert made.type == rules.ANNOUNCEMENT_THREAD and thread.parent_id == news.id
    await thread.send("follow-up")
    for wrong in (11, 12):
        with pytest.raises(EmulatorError, match="holds threads of type 10"):
            emulator.add_thread(news, "wrong", type=wrong)
    with pytest.raises(EmulatorError, match="holds threads of type 11"):
        emulator.add_thread(world.guild.channel_id, "wrong", type=10)
    with pytest.raises(EmulatorError, match="cannot hold threads"):
        emulator.add_thread(made, "a thread in a thread")
    with pytest.raises(EmulatorError, match="auto_archive_duration"):
        emulator.add_thread(world.guild.channel_id, "wrong", auto_archive_duration=30)


async def test_thread_list_sync_when_the_bot_gains_access_to_a_channel(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    """Threads of a channel the bot cannot view are not sent; gaining access sends THREAD_LIST_SYNC with the
    channel's active threads (and the bot's thread members)."""
    hidden = {"id": str(emulator.app_id), "type": 1, "allow": "0", "deny": str(rules.VIEW_CHANNEL)}
    backroom = emulator.add_channel(world.guild.id, "backroom", overwrites=[hidden])
    thread = emulator.add_thread(backroom, "plans")
    archived = emulator.add_thread(backroom, "old plans")
    emulator.archive_thread(archived)
    await emulator.post_message(thread, world.alice, "psst")
    await emulator.wait_until(lambda: bot.get_channel(backroom.id), what="the channel in the cache")
    assert emulator.gateway_events("THREAD_CREATE") == [] and bot.seen == []
    emulator.set_bot_permissions(world.guild.id, rules.DEFAULT_BOT_PERMISSIONS, channel=backroom)
    synced = await emulator.wait_until(lambda: bot.get_channel(thread.id), what="the synced thread")
    assert isinstance(synced, discord.Thread) and bot.get_channel(archived.id) is None
    (sync,) = emulator.gateway_events("THREAD_LIST_SYNC")
    assert sync["d"]["channel_ids"] == [str(backroom.id)] and [t["id"] for t in sync["d"]["threads"]] == [
        str(thread.id)
    ]
    assert sync["d"]["members"] == []
    assert sync["s"] > emulator.gateway_events("CHANNEL_UPDATE")[-1]["s"], "after the change that caused it"


async def test_thread_members_join_leave_add_and_remove_over_rest(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    """``PUT``/``DELETE /channels/{id}/thread-members/@me`` and ``/{user.id}`` (resources/channel): only in an
    active thread (50083); removing someone else needs Manage Threads; the bot gets THREAD_MEMBERS_UPDATE about
    itself only (no GUILD_MEMBERS intent)."""
    made = emulator.add_thread(world.guild.channel_id, "crocus follow-up")
    thread = await emulator.wait_until(lambda: bot.get_channel(made.id), what="the thread in the cache")
    assert isinstance(thread, discord.Thread)
    await thread.join()
    assert emulator.app_id in made.thread_members
    joined = await emulator.wait_until(
        lambda: getattr(bot.get_channel(made.id), "me", None) and bot.get_channel(made.id),
        what="THREAD_MEMBERS_UPDATE for the bot",
    )
    assert isinstance(joined, discord.Thread)
    thread = joined  # THREAD_CREATE replaced the cached object
    assert [e["t"] for e in emulator.gateway_events() if e["t"].startswith("THREAD_")][-2:] == [
        "THREAD_CREATE",
        "THREAD_MEMBERS_UPDATE",
    ]
    seen = len(emulator.gateway_events("THREAD_MEMBERS_UPDATE"))
    await thread.add_user(world.alice)  # Send Messages in Threads is enough to add someone
    assert world.alice.id in made.thread_members
    assert len(emulator.gateway_events("THREAD_MEMBERS_UPDATE")) == seen, "others' updates need GUILD_MEMBERS"
    with pytest.raises(discord.Forbidden) as refused:
        await thread.remove_user(world.alice)
    assert refused.value.code == 50013 and world.alice.id in made.thread_members
    member = await thread.fetch_member(world.alice.id)
    assert member.id == world.alice.id
    with pytest.raises(discord.NotFound):
        await thread.fetch_member(world.mod.id)
    await thread.leave()
    assert emulator.app_id not in made.thread_members
    left = emulator.gateway_events("THREAD_MEMBERS_UPDATE")[-1]["d"]
    assert left["removed_member_ids"] == [str(emulator.app_id)] and left["member_count"] == 2
    emulator.archive_thread(made)
    stale = bot.get_partial_messageable(made.id, type=discord.ChannelType.public_thread)
    for path in ("@me", str(world.mod.id)):
        with pytest.raises(discord.HTTPException) as archived:
            await bot.http.request(
                discord.http.Route("PUT", "/channels/{channel_id}/thread-members/" + path, channel_id=stale.id)
            )
        assert (archived.value.status, archived.value.code) == (400, 50083)
    with pytest.raises(EmulatorError, match="archived"):
        emulator.add_thread_member(made, world.mod)


async def test_thread_members_update_about_others_needs_the_members_intent(
    emulator: DiscordEmulator, world: World
) -> None:
    intents = discord.Intents.default()
    intents.members = True
    client = TinyBot(intents)
    async with emulator.run_client(client):
        made = emulator.add_thread(world.guild.channel_id, "crocus follow-up", owner=world.mod)
        thread = await emulator.wait_until(lambda: client.get_channel(made.id), what="the thread in the cache")
        assert isinstance(thread, discord.Thread)
        (created,) = emulator.gateway_events("THREAD_MEMBERS_UPDATE")  # the creator joined it
        assert [m["user_id"] for m in created["d"]["added_members"]] == [str(world.mod.id)]
        emulator.add_thread_member(made, world.alice)
        await emulator.wait_until(lambda: thread._members.get(world.alice.id), what="alice in the thread's members")
        added = emulator.gateway_events("THREAD_MEMBERS_UPDATE")[-1]["d"]
        assert added["added_members"][0]["member"]["user"]["id"] == str(world.alice.id)
        assert added["added_members"][0]["presence"] is None and added["member_count"] == 2
        emulator.remove_thread_member(made, world.alice)
        await emulator.wait_until(lambda: world.alice.id not in thread._members, what="alice gone")


async def test_threads_archive_after_their_auto_archive_duration_without_activity(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    """``auto_archive_duration`` minutes without a message (or unarchiving) archive a thread: THREAD_UPDATE, on the
    emulator's clock (``emu.advance``)."""
    made = emulator.add_thread(world.guild.channel_id, "crocus follow-up", auto_archive_duration=60)
    thread = await emulator.wait_until(lambda: bot.get_channel(made.id), what="the thread in the cache")
    assert isinstance(thread, discord.Thread) and thread.auto_archive_duration == 60
    emulator.advance(59 * 60)
    await thread.send("still talking")  # activity: the hour starts again
    emulator.advance(59 * 60)
    assert not made.archived and emulator.gateway_events("THREAD_UPDATE") == []
    emulator.advance(60)
    assert made.archived and not made.locked
    (update,) = await emulator.wait_until(lambda: emulator.gateway_events("THREAD_UPDATE"), what="THREAD_UPDATE")
    assert update["d"]["thread_metadata"]["archived"] is True
    await emulator.wait_until(lambda: bot.get_channel(made.id) is None, what="the thread leaving the cache")
    with pytest.raises(discord.HTTPException) as archived:
        await bot.get_partial_messageable(made.id).get_partial_message(thread.last_message_id or 0).edit(content="x")
    assert archived.value.code == 50083
    await emulator.post_message(made, world.alice, "back again")  # a message reopens it, and is activity
    assert not made.archived
    emulator.advance(59 * 60)
    assert not made.archived


async def test_interaction_answers_in_a_thread_archived_after_the_interaction_are_refused(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    """A thread archived after the command was used takes no initial response, followup or original-response edit
    (400 50083), and none of them reopens it."""
    made = emulator.add_thread(world.guild.channel_id, "crocus follow-up")
    await emulator.wait_until(lambda: bot.get_channel(made.id), what="the thread in the cache")
    held = await emulator.slash(world.guild.id, made.id, world.alice.id, "hold")
    deferred = await held.wait_response()
    assert deferred.type == 5
    emulator.archive_thread(made)
    bot.gate.set()
    await emulator.wait_until(lambda: len(bot.refused) == 2, what="the edit and the followup refused")
    assert [(e.status, e.code, e.text) for e in bot.refused] == [(400, 50083, "Thread is archived")] * 2
    assert made.archived and held.followups == [] and held.original is not None
    assert held.original["content"] == "" and len(held.errors) == 2
    emulator.unarchive_thread(made)
    ping_inter = await emulator.slash(world.guild.id, made.id, world.alice.id, "ping")
    emulator.archive_thread(made)  # before the bot's answer arrives
    refused = await ping_inter.wait_response(accepted_only=False)
    assert (refused.status, refused.error) == (400, {"message": "Thread is archived", "code": 50083})
    assert ping_inter.response is None and made.archived


async def test_hidden_command_is_refused_unless_forced(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    g, c = world.guild.id, world.guild.channel_id
    with pytest.raises(CommandHiddenError):
        await emulator.slash(g, c, world.alice.id, "admin")
    allowed = await emulator.slash(g, c, world.mod.id, "admin")
    assert (await allowed.wait_message())["content"] == "admin ok"
    owner = await emulator.slash(g, c, emulator.owner.id, "admin")
    assert (await owner.wait_message())["content"] == "admin ok", "the owner is an administrator"
    forced = await emulator.slash(g, c, world.alice.id, "admin", force=True)
    refusal = await forced.wait_message()
    assert refusal["content"] == "Only moderators can do that." and refusal.ephemeral


async def test_default_member_permissions_zero_is_administrators_only(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    """Discord: "0" disables the command for everyone but administrators (Manage Server is not enough)."""
    g, c = world.guild.id, world.guild.channel_id
    admins_only = {"name": "nuke", "description": "Administrators only", "type": 1, "default_member_permissions": "0"}
    path = f"/applications/{emulator.app_id}/guilds/{g}/commands"
    status, _, _ = await raw(emulator, "PUT", path, json=[admins_only])
    assert status == 200
    with pytest.raises(CommandHiddenError):
        await emulator.slash(g, c, world.mod.id, "nuke")
    with pytest.raises(CommandHiddenError):
        await emulator.autocomplete(g, c, world.mod.id, "nuke", {}, "x")
    admin = emulator.add_member(g, "admin", permissions=discord.Permissions(administrator=True))
    await emulator.slash(g, c, admin.id, "nuke")
    await emulator.slash(g, c, emulator.owner.id, "nuke")
    assert rules.command_permitted(MANAGE_GUILD, MANAGE_GUILD) and not rules.command_permitted(MANAGE_GUILD, 0)


async def test_content_is_hidden_without_intent_unless_mentioned(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    channel_id = world.guild.channel_id
    await emulator.post_message(channel_id, world.alice.id, "did ukraine do it?")
    await emulator.post_message(
        channel_id, world.alice.id, f"<@{emulator.app_id}> did ukraine do it?", mentions=[emulator.bot_user]
    )
    dm = emulator.dm_channel(world.alice.id)
    await emulator.post_message(dm.id, world.alice.id, "private question")
    await emulator.wait_until(lambda: len(bot.seen) == 3, what="three messages")
    assert [m.content for m in bot.seen] == ["", f"<@{emulator.app_id}> did ukraine do it?", "private question"]
    assert bot.user in bot.seen[1].mentions
    assert emulator.channel_messages(channel_id)[0]["content"] == "did ukraine do it?", "stored in full"


async def test_gateway_resume_replays_missed_events(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    await emulator.disconnect_gateway(resume=True, hold=True)
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "ping")
    await asyncio.sleep(0.05)
    assert inter.response is None, "not delivered while the gateway is down"
    emulator.release_gateway()
    message = await inter.wait_message()
    assert message["embeds"][0]["title"] == "Pong"
    assert (emulator.identify_count, emulator.resume_count) == (1, 1)
    assert emulator.gateway.connections[-1].path == "/resume"
    assert emulator.gateway.replayed >= 1
    assert emulator.gateway_events("RESUMED")


async def test_invalid_session_makes_the_client_identify_again(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    await emulator.disconnect_gateway(resume=False)
    await emulator.wait_until(lambda: emulator.identify_count == 2, what="a second IDENTIFY")
    await emulator.wait_connected()
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "ping")
    assert (await inter.wait_message())["embeds"][0]["title"] == "Pong"


async def test_live_guild_and_unknown_routes(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    later = emulator.add_guild("Late Guild")
    await emulator.wait_until(lambda: bot.get_guild(later.id), what="the live GUILD_CREATE")
    status, content_type, body = await raw(emulator, "GET", "/no/such/route")
    assert (status, content_type, body) == (404, "application/json", {"message": "404: Not Found", "code": 0})
    assert [r.path for r in emulator.unknown_routes] == ["/no/such/route"]
    with pytest.raises(EmulatorError, match="no synced command"):
        await emulator.slash(world.guild.id, world.guild.channel_id, world.alice.id, "nope")


def test_stored_message_wire_strips_test_keys() -> None:
    message = StoredMessage({"id": "1", "channel_id": "2", "content": "x", "allowed_mentions": None, "files": []})
    assert message.wire() == {"id": "1", "channel_id": "2", "content": "x"}


def test_rules_match_discord_limits() -> None:
    def flat(errors: rules.FormErrors) -> set[str]:
        return set(errors.flat())

    assert not rules.validate_message({"content": "x" * 2000, "embeds": [{"title": "t" * 256}]})
    assert flat(rules.validate_message({"content": "x" * 2001})) == {"content"}
    assert flat(rules.validate_message({"embeds": [{"title": "t"}] * 11})) == {"embeds"}
    big = {"description": "d" * 4096, "footer": {"text": "f" * 2048}}
    assert flat(rules.validate_message({"embeds": [big]})) == {"embeds"}, "6,000 across all embeds"
    field = {"name": "", "value": "v" * 1025}
    assert flat(rules.validate_message({"embeds": [{"fields": [field]}]})) == {
        "embeds.0.fields.0.name",
        "embeds.0.fields.0.value",
    }
    assert flat(rules.validate_message({"embeds": [{"author": {"name": "a" * 257}}]})) == {"embeds.0.author.name"}
    button = {"type": 2, "style": 1, "label": "b", "custom_id": "x"}
    row = {"type": 1, "components": [dict(button, custom_id=f"b{i}") for i in range(6)]}
    assert flat(rules.validate_message({"components": [row]})) == {"components.0.components"}
    rows = [{"type": 1, "components": [dict(button, custom_id=f"r{i}")]} for i in range(6)]
    assert flat(rules.validate_message({"components": rows})) == {"components"}
    text_input = {"type": 4, "custom_id": "t", "style": 1, "label": "l" * 46}
    modal = {"title": "m" * 46, "custom_id": "m", "components": [{"type": 1, "components": [text_input]}] * 6}
    assert {"title", "components", "components.0.components.0.label"} <= flat(rules.validate_modal(modal))
    choices = [{"name": "n", "value": "v" * 101}] + [{"name": "n", "value": "v"}] * 25
    assert flat(rules.validate_choices(choices)) == {"choices", "choices.0.value"}
    command = {
        "name": "ok",
        "description": "d",
        "options": [{"type": 3, "name": f"o{i}", "description": "d"} for i in range(26)],
    }
    assert flat(rules.validate_commands([command])) == {"0.options"}
    assert flat(rules.validate_commands([{"name": f"c{i}", "description": "d"} for i in range(131)])) == {"_"}
    assert rules.command_limit_reached([{"name": f"c{i}", "description": "d"} for i in range(101)]) == 100
    assert rules.command_limit_reached([{"name": f"C{i}", "type": 3} for i in range(16)]) == 15
    assert rules.command_limit_reached([{"name": "c", "type": t} for t in (1, 2, 3) for _ in range(15)]) is None


def test_text_input_prefill_and_lengths_are_checked_in_rows_and_labels() -> None:
    def modal(*inputs: dict) -> dict:
        rows = [{"type": 1, "components": [dict(i, label="Venue")]} for i in inputs[:1]]
        labels = [{"type": 18, "label": "Venue", "component": i} for i in inputs[1:]]
        return {"title": "Edit", "custom_id": "m", "components": rows + labels}

    fits = {"type": 4, "custom_id": "a", "style": 1, "max_length": 200, "value": "v" * 200}
    assert not rules.validate_modal(modal(fits, dict(fits, custom_id="b", min_length=200)))
    over = dict(fits, value="v" * 212)
    errors = rules.validate_modal(modal(over, dict(over, custom_id="b")))
    assert errors.flat() == {
        "components.0.components.0.value": "Must be 200 or fewer in length.",
        "components.1.component.value": "Must be 200 or fewer in length.",
    }
    crossed = dict(fits, custom_id="b", min_length=300, value="")
    assert set(rules.validate_modal(modal(fits, crossed)).flat()) == {"components.1.component.min_length"}
    wide = dict(fits, custom_id="b", max_length=4001, min_length=-1, value="")
    assert set(rules.validate_modal(modal(fits, wide)).flat()) == {
        "components.1.component.max_length",
        "components.1.component.min_length",
    }


class VenueModal(discord.ui.Modal, title="Edit the venue"):
    def __init__(self, venue: str) -> None:
        super().__init__()
        self.venue: discord.ui.TextInput[VenueModal] = discord.ui.TextInput(
            custom_id="venue", max_length=200, default=venue
        )
        self.add_item(discord.ui.Label(text="When, where", component=self.venue))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"venue: {self.venue.value}")


async def test_label_modal_round_trip_and_overlong_prefill_refused(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    @app_commands.command(name="venue", description="Edit a venue in a modal")
    async def venue(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_modal(VenueModal(text))

    target = discord.Object(world.guild.id)
    bot.tree.add_command(venue, guild=target)
    await bot.tree.sync(guild=target)
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.mod.id, "venue", {"text": "Channel 1"})
    modal = await inter.wait_modal()
    assert modal["components"][0]["type"] == 18 and modal["components"][0]["label"] == "When, where"
    assert inter.modal_custom_ids() == ["venue"]
    submitted = await emulator.submit_modal(inter, world.mod.id, {"venue": "Channel 1 broadcast"})
    assert (await submitted.wait_message())["content"] == "venue: Channel 1 broadcast"
    long_text = "2024-03-23, " + "v" * 200
    inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.mod.id, "venue", {"text": long_text})
    refused = await inter.wait_response(accepted_only=False)
    assert refused.status == 400 and refused.error is not None and refused.error["code"] == 50035
    assert refused.error["errors"]["data"]["components"]["0"]["component"]["value"]["_errors"][0]["code"] == (
        "BASE_TYPE_MAX_LENGTH"
    )
    assert inter.modal is None


def test_bot_role_is_exactly_the_readme_invite_permissions() -> None:
    from tests.paths import REPO_ROOT

    invite = re.search(r"permissions=(\d+)", (REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    assert invite is not None and int(invite.group(1)) == rules.DEFAULT_BOT_PERMISSIONS


# ------------------------------------------------------------------ reading without Read Message History


async def test_history_and_pins_read_empty_without_read_message_history(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    quiet = emulator.add_channel(world.guild.id, "no-history")
    channel = await emulator.wait_until(lambda: bot.get_channel(quiet.id), what="the new channel in the cache")
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("summary")
    await sent.pin()
    assert sent.id in [m.id async for m in channel.history()]
    emulator.set_bot_permissions(
        world.guild.id, rules.DEFAULT_BOT_PERMISSIONS & ~rules.READ_MESSAGE_HISTORY, channel=quiet
    )
    assert [m.id async for m in channel.history()] == [], "200 with nothing in it, not an error"
    assert [m.id async for m in channel.pins()] == []
    status, _, legacy = await raw(emulator, "GET", f"/channels/{quiet.id}/pins")
    assert (status, legacy) == (200, [])
    assert emulator.pins(quiet) == [sent.id], "the pin is still there"
    with pytest.raises(discord.Forbidden) as refused:
        await channel.fetch_message(sent.id)  # one message by id still needs the permission
    assert refused.value.code == 50013
    emulator.set_bot_permissions(world.guild.id, rules.DEFAULT_BOT_PERMISSIONS & ~rules.VIEW_CHANNEL, channel=quiet)
    with pytest.raises(discord.Forbidden) as hidden:
        [m async for m in channel.pins()]
    assert hidden.value.code == 50001, "without View Channel it is an error"


# ------------------------------------------------------------------ command limits


def commands_of(kind: int, count: int, prefix: str = "c") -> list[dict]:
    return [{"name": f"{prefix}{i}", "type": kind, **({"description": "d"} if kind == 1 else {})} for i in range(count)]


async def test_command_limits_per_type(emulator: DiscordEmulator, world: World) -> None:
    app = emulator.app_id
    for scope in (f"/applications/{app}/guilds/{world.guild.id}/commands", f"/applications/{app}/commands"):
        full = commands_of(1, 100) + commands_of(2, 15, "User ") + commands_of(3, 15, "Message ")
        status, _, body = await raw(emulator, "PUT", scope, json=full)
        assert status == 200 and isinstance(body, list) and len(body) == 130
        for extra in (commands_of(3, 16, "M "), commands_of(2, 16, "U "), commands_of(1, 101)):
            status, _, body = await raw(emulator, "PUT", scope, json=extra)
            limit = 100 if extra[0]["type"] == 1 else 15
            assert (status, body) == (
                400,
                {"code": 30032, "message": f"Maximum number of application commands reached ({limit})"},
            )
        status, _, body = await raw(emulator, "PUT", scope, json=full + commands_of(4, 1, "x"))
        assert status == 400 and isinstance(body, dict) and body["code"] == 50035
        assert body["errors"]["_errors"][0] == {
            "code": "BASE_TYPE_MAX_LENGTH",
            "message": "Must be 130 or fewer in length.",
        }
        status, _, body = await raw(emulator, "POST", scope, json={"name": "one-more", "description": "d"})
        assert (status, body) == (
            400,
            {"code": 30032, "message": "Maximum number of application commands reached (100)"},
        )
        status, _, body = await raw(emulator, "POST", scope, json={"name": "c7", "description": "new text"})
        assert status == 200 and isinstance(body, dict) and body["description"] == "new text", "same name: replaced"
        status, _, _ = await raw(emulator, "POST", scope, json={"name": "Message 15", "type": 3})
        assert status == 400
        status, _, body = await raw(emulator, "PUT", scope, json=commands_of(3, 14, "Message "))
        assert status == 200
        status, _, body = await raw(emulator, "POST", scope, json={"name": "Message 14", "type": 3})
        assert status == 201 and isinstance(body, dict) and body["type"] == 3
    assert len(emulator.commands[world.guild.id]) == 15 and len(emulator.commands[None]) == 15


def command_of_size(choices: int, *, localized: bool = False) -> dict:
    """A slash command with ``choices`` choices of 100 characters each (10 of name, 90 of value); with
    ``localized``, each choice's name also has a 100-character German name."""
    made = []
    for n in range(choices):
        choice: dict = {"name": f"{n:010d}", "value": "v" * 90}
        if localized:
            choice["name_localizations"] = {"de": "l" * 100}
        made.append(choice)
    options = [
        {"type": 3, "name": f"o{n // 25}", "description": "d", "choices": made[n : n + 25]}
        for n in range(0, len(made), 25)
    ]
    return {"name": "big", "description": "d" * 100, "options": options}


async def test_a_command_may_count_8000_characters_and_its_longest_localization_counts(
    emulator: DiscordEmulator, world: World
) -> None:
    scope = f"/applications/{emulator.app_id}/guilds/{world.guild.id}/commands"
    fits = command_of_size(60)
    assert 6_000 < rules._command_text_size(fits) < 6_200
    status, _, _ = await raw(emulator, "PUT", scope, json=[fits])
    assert status == 200, "4,000 was the old limit; the docs now say 8,000"
    too_big = command_of_size(60, localized=True)  # the longer German names count: 60 x 190 characters
    assert rules._command_text_size(too_big) > 11_000
    status, _, body = await raw(emulator, "PUT", scope, json=[too_big])
    assert status == 400 and isinstance(body, dict) and body["code"] == 50035
    assert "Command exceeds maximum size (8000)" in str(body["errors"])


# ------------------------------------------------------------------ selects in modals


class PickModal(discord.ui.Modal, title="Pick"):
    def __init__(self, default_user: int) -> None:
        super().__init__()
        options = [discord.SelectOption(label=v, value=v, default=v == "b") for v in ("a", "b", "c")]
        self.topic: discord.ui.Select[PickModal] = discord.ui.Select(
            custom_id="pick:topic", options=options, min_values=1, max_values=2, required=True
        )
        self.who: discord.ui.UserSelect[PickModal] = discord.ui.UserSelect(
            custom_id="pick:who", default_values=[discord.Object(default_user, type=discord.User)], required=False
        )
        self.add_item(discord.ui.Label(text="Topic", component=self.topic))
        self.add_item(discord.ui.Label(text="Who", component=self.who))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        who = ",".join(str(u.id) for u in self.who.values)
        await interaction.response.send_message(f"topic {','.join(self.topic.values)}; who {who or 'nobody'}")


async def test_modal_selects_submit_only_what_the_client_can(
    emulator: DiscordEmulator, world: World, bot: TinyBot
) -> None:
    @app_commands.command(name="pick", description="A modal with selects")
    async def pick(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(PickModal(world.alice.id))

    target = discord.Object(world.guild.id)
    bot.tree.add_command(pick, guild=target)
    await bot.tree.sync(guild=target)

    async def open_modal() -> EmulatedInteraction:
        inter = await emulator.slash(world.guild.id, world.guild.channel_id, world.mod.id, "pick")
        await inter.wait_modal()
        return inter

    inter = await open_modal()
    with pytest.raises(EmulatorError, match="no options"):
        await emulator.submit_modal(inter, world.mod.id, {"pick:topic": ["z"]})
    with pytest.raises(EmulatorError, match=r"1\.\.2 values, got 3"):
        await emulator.submit_modal(inter, world.mod.id, {"pick:topic": ["a", "b", "c"]})
    with pytest.raises(EmulatorError, match=r"1\.\.2 values, got 0"):
        await emulator.submit_modal(inter, world.mod.id, {"pick:topic": []})
    untouched = await emulator.submit_modal(inter, world.mod.id, {})
    assert (await untouched.wait_message())["content"] == f"topic b; who {world.alice.id}", "the defaults"
    inter = await open_modal()
    chosen = await emulator.submit_modal(inter, world.mod.id, {"pick:topic": ["a", "c"], "pick:who": []})
    assert (await chosen.wait_message())["content"] == "topic a,c; who nobody", "an optional select may be emptied"


# ------------------------------------------------------------------ replies to system messages


async def test_replies_to_system_messages_are_refused(emulator: DiscordEmulator, world: World, bot: TinyBot) -> None:
    channel = bot.get_channel(world.guild.channel_id)
    assert isinstance(channel, discord.TextChannel)
    started = await emulator.post_message(channel.id, world.alice, "Crocus City Hall", type=18)  # THREAD_CREATED
    emulator.pin_system_messages = True
    pinned = await channel.send("summary")
    await pinned.pin()
    notice = emulator.channel_messages(channel.id)[-1]
    assert notice["type"] == 6
    for system in (started, notice):
        with pytest.raises(discord.HTTPException) as refused:
            await channel.get_partial_message(system.id).reply("answer")
        assert (refused.value.status, refused.value.code) == (400, 50035)
        errors = emulator.requests[-1].response["errors"]
        assert errors["message_reference"]["_errors"] == [
            {"code": "REPLIES_CANNOT_REPLY_TO_SYSTEM_MESSAGE", "message": "Cannot reply to a system message"}
        ]
    asked = await emulator.post_message(channel.id, world.alice, "is this in the ledger?")
    replied = await channel.get_partial_message(asked.id).reply("yes")
    assert replied.reference is not None and replied.reference.message_id == asked.id
    with pytest.raises(EmulatorError, match="not a system message"):
        await emulator.post_message(channel.id, world.alice, "x", type=19)
