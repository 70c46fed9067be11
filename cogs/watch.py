"""Watched channels: ``/ledger watch add|remove|list`` (moderators), and the compact automatic reply to a message
that makes a claim the ledger holds, with "Not relevant" (moderators) and "Show more" (anyone) buttons.

Needs the privileged Message Content intent (``CLAIMLEDGER_MESSAGE_CONTENT=1`` and the switch in the Developer
Portal); without it the bot runs with watching off. The decisions (threshold, cooling, rate limit, the "not
relevant" key) are in :mod:`bot.watching`; this module is the Discord side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import MESSAGE_CONTENT_ENV, ClaimLedgerBot, scope_of
from bot.discord.permissions import POST_EMBEDS, REPLY_WITH_EMBEDS, permissions_problem
from bot.errors import LedgerError
from bot.models import Answer, Claim, Match
from bot.rendering.embeds import COLOUR, claim_embed, cut, evidence_at_a_glance, inert
from bot.rendering.text import who
from bot.store import Ledger
from bot.validation import format_partial_date
from bot.watching import (
    BATCH_MAX,
    EMBED_CHUNK,
    MAX_WATCHED_CHANNELS,
    WATCH_CHANNELS_SETTING,
    Backlog,
    Throttle,
    format_ids,
    not_relevant_key,
    other_sides,
    parse_ids,
    pick,
    text_hash,
    watch_threshold,
    worth_checking,
)

from .common import (
    GUILD_ONLY,
    Interaction,
    ModeratorGroup,
    acknowledge,
    actor,
    answer,
    bot_missing,
    bot_of,
    is_system,
    moderator_refusal,
    post_audit,
    reply_to,
)

log = logging.getLogger(__name__)

TEXT_MAX = 4000
ATTRIBUTION = "Claim Ledger attributes claims to who made them; it does not rule on whether they are true."
TOP = 3


# ------------------------------------------------------------------ the reply and its buttons


def reply_embed(match: Match, others: list[Match]) -> discord.Embed:
    """Who said it, when, the evidence, the other side if disputed, the pointer to the full entry. Stored text is
    inert (no mentions, no masked links)."""
    claim = match.claim
    when = format_partial_date(claim.said_at) if claim.said_at else "date not recorded"
    if claim.said_where:
        when += f" · {claim.said_where}"
    lines = [
        f"**{cut(inert(who(claim)), 200)}** — {cut(inert(when), 200)}",
        f"> {cut(inert(claim.text.replace(chr(10), ' ')), 400)}",
        f"**Evidence:** {evidence_at_a_glance(claim)}",
    ]
    for other in others[:2]:
        lines.append(f"**Other side:** {cut(inert(who(other.claim)), 100)}: {cut(inert(other.claim.text), 250)}")
    lines.append(f"Full entry: `/entry {claim.id}`")
    embed = discord.Embed(
        title=f"This claim is in the ledger (#{claim.id})", description="\n".join(lines), colour=COLOUR
    )
    embed.set_footer(text=f"{ATTRIBUTION} Match {match.score:.2f}.")
    return embed


class NotRelevantButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"watch:nr:(?P<claim>\d+):(?P<digest>[0-9a-f]{32})",
):
    """Moderators: delete the reply and record that this text is not about this claim (in this server)."""

    def __init__(self, claim_id: int, digest: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Not relevant", style=discord.ButtonStyle.secondary, custom_id=f"watch:nr:{claim_id}:{digest}"
            )
        )
        self.claim_id = claim_id
        self.digest = digest

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> NotRelevantButton:
        return cls(int(match["claim"]), match["digest"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await watch_cog(interaction).not_relevant(interaction, self.claim_id, self.digest)
        except Exception as error:
            await bot_of(interaction).handle_error(interaction, error)


class ShowMoreButton(discord.ui.DynamicItem[discord.ui.Button], template=r"watch:more:(?P<claim>\d+)"):
    """Anyone: the full claim, ephemerally."""

    def __init__(self, claim_id: int) -> None:
        super().__init__(
            discord.ui.Button(label="Show more", style=discord.ButtonStyle.primary, custom_id=f"watch:more:{claim_id}")
        )
        self.claim_id = claim_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ShowMoreButton:
        return cls(int(match["claim"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await watch_cog(interaction).show_more(interaction, self.claim_id)
        except Exception as error:
            await bot_of(interaction).handle_error(interaction, error)


def watch_cog(interaction: discord.Interaction) -> Watch:
    """The Watch cog of the bot a button was clicked on (the buttons outlive any one view)."""
    cog = bot_of(interaction).get_cog("Watch")
    if not isinstance(cog, Watch):
        raise LedgerError("Watching is not running on this bot right now.")
    return cog


def reply_view(claim_id: int, digest: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ShowMoreButton(claim_id))
    view.add_item(NotRelevantButton(claim_id, digest))
    return view


# ------------------------------------------------------------------ /ledger watch


class WatchGroup(ModeratorGroup, name="watch", description="Moderators: channels where the bot replies to claims"):
    """A subgroup of /ledger; moderators only (checked in code, as every moderator group)."""

    def __init__(self, cog: Watch) -> None:
        super().__init__(cog.bot)
        self.cog = cog

    @app_commands.command(name="add", description="Reply when a message makes a claim the ledger holds")
    @app_commands.describe(channel="The channel to watch (this one if left empty)")
    async def add(self, interaction: Interaction, channel: discord.TextChannel | None = None) -> None:
        await self.cog.change_watch(interaction, channel, watch=True)

    @app_commands.command(name="remove", description="Stop replying to messages in a channel")
    @app_commands.describe(channel="The channel to stop watching (this one if left empty)")
    async def remove(self, interaction: Interaction, channel: discord.TextChannel | None = None) -> None:
        await self.cog.change_watch(interaction, channel, watch=False)

    @app_commands.command(name="list", description="The watched channels of this server")
    async def list_(self, interaction: Interaction) -> None:
        await self.cog.list_watched(interaction)


# ------------------------------------------------------------------ the cog


class Watch(commands.Cog):
    """Every guild message from a member ends in one ``watch_checked(message, outcome, reply)`` event: outcome is
    "replied" (reply is the bot's message), "no match", "not relevant", "cooling", "rate limit", "too short",
    "not watched", "watching off", "system message", "backlog", "refused" or "error". Tests and benchmarks wait on
    it."""

    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.threshold: float | None = None  # None: the threshold of the matching in use (see watch_threshold)
        self.throttle = Throttle()
        self.backlog: Backlog[discord.Message] = Backlog()
        self.batch_max = BATCH_MAX
        self.checking = 0  # messages taken from the backlog and not yet decided
        self._arrived = asyncio.Event()
        self.worker: asyncio.Task | None = None
        self.watched: dict[str, set[int]] = {}  # scope → channel ids (cache of the setting)
        self.group = WatchGroup(self)
        self.skipped = 0  # messages dropped unchecked because the bot was behind
        self.reported: set[int] = set()  # watched channels where a missing permission was told to the audit channel

    async def cog_load(self) -> None:
        parent = self.bot.tree.get_command("ledger")
        if isinstance(parent, app_commands.Group):
            parent.add_command(self.group)
        else:  # the ledger cog did not load: the commands stand on their own
            self.group.name = "watch"
            self.group.allowed_contexts = GUILD_ONLY
            self.bot.tree.add_command(self.group)
        self.bot.add_dynamic_items(NotRelevantButton, ShowMoreButton)
        self.worker = asyncio.create_task(self._work(), name="watch-worker")
        if not self.bot.intents.message_content:
            log.info(
                "Watched channels are off: the Message Content intent is not requested (set %s=1 and enable it in"
                " the Developer Portal to turn them on).",
                MESSAGE_CONTENT_ENV,
            )

    async def cog_unload(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        parent = self.bot.tree.get_command("ledger")
        if isinstance(parent, app_commands.Group) and parent.get_command("watch") is self.group:
            parent.remove_command("watch")
        else:
            self.bot.tree.remove_command("watch")
        self.bot.remove_dynamic_items(NotRelevantButton, ShowMoreButton)

    # -------------------------------------------------------------- watched channels

    async def watched_channels(self, scope: str) -> set[int]:
        cached = self.watched.get(scope)
        if cached is None:
            raw = await self.bot.ledger.read(lambda ledger: ledger.get_setting(scope, WATCH_CHANNELS_SETTING))
            cached = self.watched[scope] = set(parse_ids(raw))
        return cached

    async def change_watch(self, interaction: Interaction, channel: discord.TextChannel | None, *, watch: bool) -> None:
        scope = scope_of(interaction.guild_id)
        if channel is None:
            if not isinstance(interaction.channel, discord.TextChannel):
                raise LedgerError("Name a text channel, or run this inside one.")
            channel = interaction.channel
        if channel.guild.id != interaction.guild_id:
            raise LedgerError("That channel is not in this server.")
        await acknowledge(interaction)
        who_ = actor(interaction.user)

        def save(ledger: Ledger) -> tuple[list[int], bool]:
            ids = parse_ids(ledger.get_setting(scope, WATCH_CHANNELS_SETTING))
            before = list(ids)
            if watch and channel.id not in ids:
                if len(ids) >= MAX_WATCHED_CHANNELS:
                    raise LedgerError(f"This server already watches {MAX_WATCHED_CHANNELS} channels; remove one first.")
                ids.append(channel.id)
            elif not watch and channel.id in ids:
                ids.remove(channel.id)
            if ids != before:
                ledger.set_setting(scope, WATCH_CHANNELS_SETTING, format_ids(ids), actor=who_)
            return ids, ids != before

        ids, changed = await self.bot.ledger.write(save)
        self.watched[scope] = set(ids)
        if watch:
            self.throttle.forget_channel(channel.id)
            text = f"Watching {channel.mention}." if changed else f"{channel.mention} was already watched."
            text += " When a message there makes a claim the ledger holds, I reply with who said it and the evidence."
            missing = bot_missing(channel, REPLY_WITH_EMBEDS)
            if missing:
                text += "\n⚠️ " + permissions_problem(missing, channel.mention, "reply to messages")
                if missing == ["Read Message History"]:
                    text += " Until then I post my note in the channel with a link to the message, not as a reply."
            if not self.bot.watching:
                text += (
                    "\n⚠️ Watching is off on this bot: it does not have the Message Content intent. The bot's"
                    " operator can turn it on (see the README, 'Watched channels')."
                )
        else:
            text = f"Stopped watching {channel.mention}." if changed else f"{channel.mention} was not watched."
        await answer(interaction, text)
        if changed:
            verb = "started" if watch else "stopped"
            await post_audit(self.bot, scope, "Watched channels", f"{who_} {verb} watching <#{channel.id}>.")

    async def list_watched(self, interaction: Interaction) -> None:
        scope = scope_of(interaction.guild_id)
        ids = sorted(await self.watched_channels(scope))
        if not ids:
            text = "No channel is watched. Add one with `/ledger watch add`."
        else:
            text = "Watched: " + ", ".join(f"<#{i}>" for i in ids)
        if not self.bot.watching:
            text += "\n⚠️ Watching is off on this bot (no Message Content intent)."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())

    # -------------------------------------------------------------- messages

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or message.author.bot or message.webhook_id:
            return
        if is_system(message):  # e.g. "started a thread" (its content is the thread's name): Discord takes no reply
            self.bot.dispatch("watch_checked", message, "system message", None)
            return
        if not self.bot.watching:
            self.bot.dispatch("watch_checked", message, "watching off", None)
            return
        channel = message.channel
        ids = await self.watched_channels(scope_of(message.guild.id))
        parent = getattr(channel, "parent_id", None)
        if channel.id not in ids and (parent is None or parent not in ids):
            self.bot.dispatch("watch_checked", message, "not watched", None)
            return
        if not worth_checking(message.content):
            self.bot.dispatch("watch_checked", message, "too short", None)
            return
        dropped = self.backlog.add(message)
        self._arrived.set()
        if dropped is not None:
            self._drop([dropped], "full")

    @property
    def pending(self) -> int:
        """Messages received and not yet decided (waiting, or being checked)."""
        return len(self.backlog) + self.checking

    def _drop(self, messages: list[discord.Message], why: str) -> None:
        self.skipped += len(messages)
        log.warning("Watch backlog %s: skipped %d message(s), %d still waiting", why, len(messages), len(self.backlog))
        for message in messages:
            self.bot.dispatch("watch_checked", message, "backlog", None)

    async def _work(self) -> None:
        """One worker: take the messages waiting (at most ``batch_max``), drop the stale ones, embed the texts of
        the rest together off the event loop, then decide each in arrival order."""
        while True:
            await self._arrived.wait()
            batch, stale = self.backlog.take(self.batch_max)
            if stale:
                self._drop(stale, "too old")
            if not batch:
                self._arrived.clear()
                continue
            self.checking = len(batch)
            try:
                await self.check_batch(batch)
            finally:
                self.checking = 0

    async def check_batch(self, messages: list[discord.Message]) -> None:
        """Decide each message; every one ends in a ``watch_checked`` event, whatever fails."""
        todo = [m for m in messages if self.throttle.rate_left(m.channel.id) <= 0]
        try:
            await self.prepare([m.content[:TEXT_MAX] for m in todo])
        except Exception:  # the checks below embed one by one instead
            log.exception("Embedding %d watched messages together failed", len(todo))
        for message in messages:
            try:
                outcome, sent = await self.check(message)
            except Exception:
                log.exception("Checking message %s in a watched channel failed", message.id)
                outcome, sent = "error", None
            self.checking -= 1
            self.bot.dispatch("watch_checked", message, outcome, sent)

    async def prepare(self, texts: list[str]) -> None:
        """Embed the texts a chunk per call on a worker thread; the ledger's question cache keeps the vectors, so
        the checks that follow do not embed again. Nothing to do without semantic matching."""
        dense = getattr(self.bot.ledger, "dense", None)
        if dense is None:
            return
        for start in range(0, len(texts), EMBED_CHUNK):
            await asyncio.to_thread(dense.encode, texts[start : start + EMBED_CHUNK])

    async def check(self, message: discord.Message) -> tuple[str, discord.Message | None]:
        """Ask the ledger about one message and reply when every rule allows; returns (outcome, reply)."""
        assert message.guild is not None
        if self.throttle.rate_left(message.channel.id) > 0:
            return "rate limit", None  # no reply can go in this channel now: not worth asking the ledger
        scope = scope_of(message.guild.id)
        text = message.content[:TEXT_MAX]
        result: Answer = await self.bot.ledger.ask(scope, text, top=TOP)
        threshold = self.threshold
        if threshold is None:
            threshold = watch_threshold(getattr(self.bot.ledger, "dense", None) is not None)
        chosen = pick(result.matches, threshold=threshold)
        if chosen is None:
            return "no match", None
        digest = text_hash(text)
        raw = await self.bot.ledger.read(lambda ledger: ledger.get_setting(scope, not_relevant_key(digest)))
        suppressed = parse_ids(raw)
        if suppressed:
            chosen = pick(result.matches, threshold=threshold, suppressed=suppressed)
            if chosen is None:
                return "not relevant", None
        reason = self.throttle.decide(message.channel.id, chosen.claim.id)
        if reason is not None:
            return reason, None
        missing = bot_missing(message.channel, POST_EMBEDS)
        if missing:  # without Embed Links Discord would post the buttons alone
            log.warning("Cannot reply in watched channel %s: missing %s", message.channel.id, ", ".join(missing))
            if message.channel.id not in self.reported:
                where = f"#{getattr(message.channel, 'name', message.channel.id)}"  # the audit text is made inert
                problem = permissions_problem(missing, where, "reply to claims")
                if await post_audit(self.bot, scope, "Watched channel", problem):
                    self.reported.add(message.channel.id)
            return "refused", None
        self.reported.discard(message.channel.id)
        embed = reply_embed(chosen, other_sides(result.matches, chosen))
        try:
            sent = await reply_to(message, embed=embed, view=reply_view(chosen.claim.id, digest))
        except discord.HTTPException as error:
            log.warning(
                "Could not reply in watched channel %s: %s (code %s)", message.channel.id, error.status, error.code
            )
            return "refused", None
        await post_audit(
            self.bot,
            scope,
            "Automatic reply",
            f"Replied in <#{message.channel.id}> to a message by {actor(message.author)} with claim #{chosen.claim.id}"
            f" (match {chosen.score:.2f}): {sent.jump_url}\nMessage: {cut(text, 300)}",
        )
        return "replied", sent

    # -------------------------------------------------------------- buttons

    async def not_relevant(self, interaction: discord.Interaction, claim_id: int, digest: str) -> None:
        problem = await moderator_refusal(interaction)
        if problem is not None:
            await interaction.response.send_message(
                problem, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who_ = actor(interaction.user)
        key = not_relevant_key(digest)

        def save(ledger: Ledger) -> None:
            ids = parse_ids(ledger.get_setting(scope, key))
            if claim_id not in ids:
                ledger.set_setting(scope, key, format_ids([*ids, claim_id]), actor=who_)

        await self.bot.ledger.write(save)
        where = interaction.channel_id
        if interaction.message is not None:
            with contextlib.suppress(discord.NotFound):
                await interaction.message.delete()
        await answer(
            interaction,
            f"Removed the reply. This text will not bring up claim #{claim_id} again in this server.",
        )
        await post_audit(
            self.bot,
            scope,
            "Marked not relevant",
            f"{who_} marked claim #{claim_id} not relevant to a message in <#{where}> (text {digest}); the reply"
            " was deleted.",
        )

    async def show_more(self, interaction: discord.Interaction, claim_id: int) -> None:
        scope = scope_of(interaction.guild_id)
        claim: Claim = await self.bot.ledger.read(lambda ledger: ledger.get_claim(scope, claim_id))
        if claim.removed:
            raise LedgerError(f"Claim #{claim.id} was removed by a moderator.")
        await interaction.response.send_message(
            embed=claim_embed(claim), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Watch(bot))
