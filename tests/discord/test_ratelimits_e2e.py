"""Discord's rate limits in the emulator, over loopback: a raw HTTP client reads the headers and meets the 429s, and
the real bot (discord.py honours the headers) gets through bursts past lowered per-channel limits."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from functools import partial

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.emulator import MANAGE_GUILD, DiscordEmulator, Guild
from tests.emulator.ratelimits import RATE_LIMITED_MESSAGE, RateLimitHit, bucket_hash
from tests.harness import Running, running_bot

BUCKET_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
)


@pytest.fixture
async def http(emu: DiscordEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(emu.root_url + "/", headers={"Authorization": "Bot raw-client"}) as session:
        yield session


async def send(http: aiohttp.ClientSession, channel_id: int, content: str) -> aiohttp.ClientResponse:
    async with http.post(f"api/v10/channels/{channel_id}/messages", json={"content": content}) as response:
        await response.read()
        return response


async def test_headers_then_a_429_past_a_lowered_limit(
    emu: DiscordEmulator, guild: Guild, http: aiohttp.ClientSession
) -> None:
    emu.rate_limits.set("message_create", limit=2, per=60.0)
    first = await send(http, guild.channel_id, "one")
    second = await send(http, guild.channel_id, "two")
    assert (first.status, second.status) == (200, 200)
    for response in (first, second):
        assert all(name in response.headers for name in BUCKET_HEADERS)
        assert response.headers["X-RateLimit-Limit"] == "2"
        assert response.headers["X-RateLimit-Bucket"] == bucket_hash("message_create")
        assert "X-RateLimit-Scope" not in response.headers and "Retry-After" not in response.headers
    assert (first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]) == ("1", "0")
    assert 0 < float(second.headers["X-RateLimit-Reset-After"]) <= 60.0
    reset = float(second.headers["X-RateLimit-Reset"])
    assert reset > 1e9, "epoch seconds"

    async with http.post(f"api/v10/channels/{guild.channel_id}/messages", json={"content": "three"}) as limited:
        body = await limited.json()
    assert limited.status == 429 and limited.headers["Content-Type"] == "application/json"
    assert body["message"] == RATE_LIMITED_MESSAGE and body["global"] is False
    assert 0 < body["retry_after"] <= 60.0
    assert limited.headers["X-RateLimit-Scope"] == "user" and "X-RateLimit-Global" not in limited.headers
    assert limited.headers["Retry-After"] == "60" and limited.headers["Via"]
    assert limited.headers["X-RateLimit-Bucket"] == bucket_hash("message_create")
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert float(limited.headers["X-RateLimit-Reset-After"]) == pytest.approx(body["retry_after"])
    assert float(limited.headers["X-RateLimit-Reset"]) == pytest.approx(reset, abs=0.5)
    assert [m["content"] for m in emu.channel_messages(guild.channel_id)] == ["one", "two"], "nothing stored"
    [hit] = emu.rate_limits.hits
    assert (hit.bucket, hit.major, hit.is_global) == ("message_create", f"channel:{guild.channel_id}", False)
    assert emu.requests[-1].status == 429

    # Another channel counts apart (the same bucket hash: it does not include the channel)...
    other = emu.add_channel(guild.id, "other")
    elsewhere = await send(http, other.id, "elsewhere")
    assert elsewhere.status == 200 and elsewhere.headers["X-RateLimit-Remaining"] == "1"
    assert elsewhere.headers["X-RateLimit-Bucket"] == bucket_hash("message_create")
    # ...and so does another route in the same channel.
    async with http.get(f"api/v10/channels/{guild.channel_id}/messages") as listing:
        assert listing.status == 200 and listing.headers["X-RateLimit-Bucket"] != bucket_hash("message_create")
    # The window ends on the emulator's clock.
    emu.advance(60)
    again = await send(http, guild.channel_id, "again")
    assert again.status == 200 and again.headers["X-RateLimit-Remaining"] == "1"


async def test_errors_carry_the_headers_and_injected_faults_still_come_first(
    emu: DiscordEmulator, guild: Guild, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"api/v10/channels/{guild.channel_id}/messages/12345") as missing:
        assert missing.status == 404 and (await missing.json())["code"] == 10008
        assert missing.headers["X-RateLimit-Limit"] == str(emu.rate_limits.default_limit)
    emu.rate_limits.set("message_create", limit=1, per=60.0)
    emu.rate_limit_next("POST", r"/messages$", retry_after=0.5)
    injected = await send(http, guild.channel_id, "one")
    assert injected.status == 429 and emu.requests[-1].fault == "rate_limit"
    assert (await send(http, guild.channel_id, "one")).status == 200, "the injected 429 used no room in the bucket"
    assert emu.rate_limits.hits == []


async def test_global_limit_spans_routes_but_not_interaction_endpoints(
    emu: DiscordEmulator, guild: Guild, http: aiohttp.ClientSession
) -> None:
    emu.rate_limits.global_limit, emu.rate_limits.global_per = 3, 60.0
    for path in ("users/@me", f"channels/{guild.channel_id}", f"guilds/{guild.id}"):
        async with http.get(f"api/v10/{path}") as response:
            assert response.status == 200
    async with http.get(f"api/v10/guilds/{guild.id}/roles") as limited:
        body = await limited.json()
    assert limited.status == 429 and body["global"] is True and body["message"] == RATE_LIMITED_MESSAGE
    assert 0 < body["retry_after"] <= 60.0
    assert limited.headers["X-RateLimit-Global"] == "true" and limited.headers["X-RateLimit-Scope"] == "global"
    assert limited.headers["Retry-After"] == "60" and limited.headers["Via"]
    assert emu.rate_limits.hits[-1].is_global
    # interaction endpoints are not bound to the global limit: these get the route's own answer
    async with http.post("api/v10/interactions/1/no-such-token/callback", json={"type": 4}) as callback:
        assert callback.status != 429
    async with http.post(f"api/v10/webhooks/{emu.app_id}/no-such-token", json={"content": "x"}) as followup:
        assert followup.status != 429
    emu.advance(60)
    async with http.get("api/v10/users/@me") as response:
        assert response.status == 200


def assert_waited(limited: list[RateLimitHit], *, per: float, windows: int) -> None:
    """discord.py waits out a window it knows is spent. A request sent as a new window opens can still meet a 429
    when the client's idea of the reset and the emulator's differ by a few milliseconds (seen on a loaded machine),
    at most once a window; hammering would be several 429s in one window."""
    assert len(limited) <= windows, f"discord.py should wait out the bucket, not hammer it: {limited}"
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(limited)]
    assert all(gap >= 0.9 * per for gap in gaps), f"two 429s in one window: {limited}"


async def test_the_bot_waits_out_a_lowered_message_limit_and_every_reply_arrives_once(
    emu: DiscordEmulator, guild: Guild, running: Running
) -> None:
    """Mentions from several members in one channel: every answer is a reply (POST .../messages), more of them
    than the lowered bucket holds per window. discord.py reads the headers and waits instead of hammering."""
    emu.rate_limits.set("message_create", limit=2, per=1.0)
    members = [emu.add_member(guild.id, f"asker{i}") for i in range(7)]
    question = "Who claimed responsibility for the Crocus City Hall attack?"
    posted = [
        await emu.post_message(guild.channel_id, m.id, f"<@{emu.app_id}> {question}", mention_bot=True) for m in members
    ]
    asked = {p["id"] for p in posted}

    def replies() -> list[dict]:
        return [
            m
            for m in emu.channel_messages(guild.channel_id)
            if m["author"]["id"] == str(emu.app_id) and (m.get("message_reference") or {}).get("message_id") in asked
        ]

    await emu.wait_until(lambda: len(replies()) >= len(posted), timeout=30, what="a reply to every mention")
    # every reply's request has come back 200, so no retry of one is still under way: a reply sent twice would be
    # a second successful request, counted below
    answered = [r["message_reference"]["message_id"] for r in replies()]
    assert sorted(answered) == sorted(asked), "one reply per mention, none twice"
    assert all(r["embeds"] and "Islamic State Khorasan" in r["embeds"][0]["fields"][0]["name"] for r in replies())
    creates = emu.requests_to("POST", rf"/channels/{guild.channel_id}/messages$")
    limited = emu.rate_limits.hits_in("message_create", f"channel:{guild.channel_id}")
    assert [r.status for r in creates].count(200) == len(posted)
    assert len(creates) == len(posted) + len(limited)
    assert_waited(limited, per=1.0, windows=-(-len(posted) // 2))
    # the bucket did bind: some replies had to wait for a new window
    sent_at = sorted(r.at for r in creates if r.status == 200)
    assert sent_at[-1] - sent_at[0] >= 1.0 * (len(posted) // 2 - 1)
    assert emu.internal_errors == []


async def test_summary_edits_past_a_lowered_edit_limit_all_land(
    emu: DiscordEmulator, guild: Guild, db_path: object
) -> None:
    """A pinned summary kept current through several changes, each edit past the lowered edit bucket's room."""
    mod = emu.add_member(guild.id, "moderator", permissions=MANAGE_GUILD)
    async with running_bot(emu, db_path, guilds=[guild], summary_delay=0.05):  # type: ignore[arg-type]
        emu.rate_limits.set("message_edit", limit=1, per=1.0)
        inter = await emu.slash(
            guild.id, guild.channel_id, mod.id, "incident pin", {"incident": "crocus-city-hall-attack-2024"}
        )
        assert "Pinned the summary" in (await inter.wait_message())["content"]
        [summary_id] = emu.pins(guild.channel_id)
        summary = emu.messages[guild.channel_id][summary_id]
        edits = rf"/channels/{guild.channel_id}/messages/{summary_id}$"
        changes = 3

        def edited_past(done: int) -> bool:
            return len(emu.requests_to("PATCH", edits)) > done

        for i in range(changes):
            done = len(emu.requests_to("PATCH", edits))
            change = await emu.slash(
                guild.id,
                guild.channel_id,
                mod.id,
                "evidence set",
                {"claim": f"crocus-2024-01{i}", "status": "disputed", "details": f"rate-limited change {i}"},
            )
            await change.wait_message()
            await emu.wait_until(partial(edited_past, done), timeout=10, what=f"edit {i}")
        last = f"update #{10 + changes - 1}"  # crocus-2024-012, as the summary's newest changes name it
        await emu.wait_until(lambda: last in str(summary["embeds"]), timeout=10, what="the last change shown")
        patches = emu.requests_to("PATCH", edits)
        limited = emu.rate_limits.hits_in("message_edit")
        assert [p.status for p in patches].count(200) >= changes
        assert_waited(limited, per=1.0, windows=changes)
        assert emu.channel_messages(guild.channel_id).count(summary) == 1, "edited in place, not reposted"
        assert emu.internal_errors == []


async def test_followups_past_a_lowered_webhook_limit_all_land_once(emu: DiscordEmulator, guild: Guild) -> None:
    """discord.py's webhook adapter (followups, original-response edits) reads the headers too: one interaction
    token's burst of followups waits out the lowered webhook bucket."""
    followups = 5

    finished = asyncio.Event()  # the command has sent everything it will send

    @app_commands.command(name="burst", description="Defer, then several followups")
    async def burst(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer()
            await interaction.edit_original_response(content="starting")
            for i in range(followups):
                await interaction.followup.send(f"part {i}")
        finally:
            finished.set()

    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    bot.tree.add_command(burst, guild=discord.Object(guild.id))
    member = emu.add_member(guild.id, "asker")
    async with emu.run_client(bot):
        await bot.tree.sync(guild=discord.Object(guild.id))
        emu.rate_limits.set("webhook", limit=2, per=1.0)
        inter = await emu.slash(guild.id, guild.channel_id, member.id, "burst")
        await asyncio.wait_for(finished.wait(), timeout=15)  # anything sent twice was sent by now
        assert [m["content"] for m in inter.followups] == [f"part {i}" for i in range(followups)]
        assert inter.original is not None and inter.original["content"] == "starting"
        token = f"webhook:{emu.app_id}+{inter.token}"
        limited = emu.rate_limits.hits_in("webhook", token)
        assert_waited(limited, per=1.0, windows=-(-(followups + 1) // 2))
        assert [r.status for r in emu.requests_to("POST", rf"/webhooks/\d+/{inter.token}$")].count(200) == followups
        assert emu.rate_limits.hits_in("interaction_callback") == [] and emu.internal_errors == []
