"""Incidents and their living summaries: /incident create|edit|list|show|pin|unpin.

A pinned summary is edited in place whenever a claim of its incident changes; a burst of changes within
``settings.summary_delay`` seconds makes one edit. Pinned message ids live in the ledger, so summaries stay
tracked across restarts; a summary deleted by hand is noticed (404) and forgotten. Changes other processes write
to a shared (PostgreSQL) ledger arrive as the same ``ledger_change`` events, for this process's servers only
(``LedgerService.follow_changes``, started with this cog).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot, scope_of
from bot.discord.permissions import PIN_MESSAGES, POST_EMBEDS, VIEW_CHANNEL, permissions_problem
from bot.discord.service import runs_server
from bot.rendering.embeds import cut, inert, summary_embed
from bot.rendering.summary import build_summary
from bot.store import Ledger

from .common import (
    THREAD_ARCHIVED,
    THREAD_LOCKED,
    Interaction,
    ModeratorGroup,
    acknowledge,
    actor,
    answer,
    bot_missing,
    incident_choices,
    moderators_only,
    post_audit,
    post_problem,
)

log = logging.getLogger(__name__)

MISSING_PERMISSIONS = 50013
TOO_MANY_PINS = 30003
UNPIN = VIEW_CHANNEL | PIN_MESSAGES


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def pin_problem(error: discord.HTTPException, channel: str) -> str:
    if error.code == MISSING_PERMISSIONS:
        return (
            f"I posted the summary but couldn't pin it: I need the **Pin Messages** permission in {channel}."
            " Ask an admin to grant it, then run `/incident pin` again."
        )
    if error.code == TOO_MANY_PINS:
        return (
            f"I posted the summary but couldn't pin it: {channel} already has 250 pinned messages, Discord's"
            " limit. Unpin an old message, then run `/incident pin` again."
        )
    return f"I posted the summary but couldn't pin it: Discord said {error.text or error.status} (code {error.code})."


def forgetting(scope: str, message_id: int) -> Callable[[Ledger], object]:
    """The write that forgets a pinned summary (deleted, or unpinned)."""
    return lambda ledger: ledger.forget_pinned_summary(scope, message_id)


class IncidentGroup(ModeratorGroup, name="incident", description="Moderators: incidents and pinned summaries"):
    def __init__(self, cog: Incidents) -> None:
        super().__init__(cog.bot)
        self.cog = cog

    @app_commands.command(name="create", description="Start a new incident")
    async def create(
        self,
        interaction: Interaction,
        title: app_commands.Range[str, 1, 200],
        date: app_commands.Range[str, 1, 40] | None = None,
        place: app_commands.Range[str, 1, 200] | None = None,
        summary: app_commands.Range[str, 1, 2000] | None = None,
    ) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)
        incident = await self.bot.ledger.write(
            lambda ledger: ledger.create_incident(
                scope, title=title, date=date, place=place, summary=summary, actor=who
            )
        )
        await answer(interaction, f"Created incident **{inert(incident.title)}** (`{incident.slug}`).")
        self.bot.dispatch("ledger_change", scope, incident.slug)

    @app_commands.command(name="edit", description="Change an incident's title, date, place, summary or aliases")
    @app_commands.describe(aliases="Other names members use, separated by commas")
    async def edit(
        self,
        interaction: Interaction,
        incident: str,
        title: app_commands.Range[str, 1, 200] | None = None,
        date: app_commands.Range[str, 1, 40] | None = None,
        place: app_commands.Range[str, 1, 200] | None = None,
        summary: app_commands.Range[str, 1, 2000] | None = None,
        aliases: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)
        changes: dict = {
            k: v for k, v in {"title": title, "date": date, "place": place, "summary": summary}.items() if v
        }
        if aliases:
            changes["aliases"] = [a for a in aliases.split(",") if a.strip()]
        updated = await self.bot.ledger.write(
            lambda ledger: ledger.update_incident(scope, incident, actor=who, **changes)
        )
        await answer(interaction, f"Updated **{inert(updated.title)}**.")
        self.bot.dispatch("ledger_change", scope, updated.slug)

    @app_commands.command(name="list", description="The incidents in this server's ledger")
    async def list_(self, interaction: Interaction) -> None:
        scope = scope_of(interaction.guild_id)

        def read(ledger: Ledger) -> list[str]:
            return [
                f"`{i.slug}` **{inert(i.title)}** · {len(ledger.list_claims(scope, incident=i.id))} claims"
                for i in ledger.list_incidents(scope)
            ]

        lines = await self.bot.ledger.read(read)
        text = "\n".join(lines) or "No incidents yet: start one with `/incident create`."
        await interaction.response.send_message(cut(text, 2000), ephemeral=True)

    @app_commands.command(name="show", description="Show an incident's summary (not pinned)")
    async def show(self, interaction: Interaction, incident: str) -> None:
        scope = scope_of(interaction.guild_id)
        summary = await self.bot.ledger.read(lambda ledger: build_summary(ledger, scope, incident))
        await interaction.response.send_message(embed=summary_embed(summary, updated_at=now_text()), ephemeral=True)

    @app_commands.command(name="pin", description="Post the incident's summary here (or in a channel) and pin it")
    async def pin(self, interaction: Interaction, incident: str, channel: discord.TextChannel | None = None) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        target = channel or interaction.channel
        if not isinstance(target, discord.abc.Messageable):  # a command is always used in a channel
            await answer(interaction, "I cannot post in this channel: pick one with the `channel` option.")
            return
        mention = getattr(target, "mention", "this channel")
        again = " Then run `/incident pin` again."
        missing = bot_missing(target, POST_EMBEDS)
        if missing:  # without Embed Links Discord would drop the summary's embed and refuse the empty message
            await answer(interaction, permissions_problem(missing, mention, "post the summary") + again)
            return
        summary = await self.bot.ledger.read(lambda ledger: build_summary(ledger, scope, incident))
        try:
            message = await target.send(
                embed=summary_embed(summary, updated_at=now_text()), allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.HTTPException as error:
            in_thread = isinstance(target, discord.Thread)
            private = in_thread and target.type is discord.ChannelType.private_thread
            problem = post_problem(error, mention, "post the summary", thread=in_thread, private_thread=private)
            await answer(interaction, problem + again)
            return
        await self.bot.ledger.write(
            lambda ledger: ledger.add_pinned_summary(scope, summary.incident.id, message.channel.id, message.id)
        )
        try:
            await message.pin(reason=f"Claim Ledger summary of {summary.incident.slug}")
        except discord.HTTPException as error:
            await answer(interaction, pin_problem(error, mention))
            return
        await answer(
            interaction, f"Pinned the summary of **{inert(summary.incident.title)}** in {mention}; I keep it current."
        )

    @app_commands.command(name="unpin", description="Stop keeping an incident's pinned summaries current, and unpin")
    async def unpin(self, interaction: Interaction, incident: str) -> None:
        """Acknowledge first (an unpin per summary follows), then stop tracking every summary of the incident and
        unpin it; a summary Discord would not unpin (an archived thread, a missing permission) is named."""
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        pinned = await self.bot.ledger.read(lambda ledger: ledger.pinned_summaries(scope, incident))
        left: list[str] = []
        for _, channel_id, message_id in pinned:
            # Not cached: an archived thread; Discord's answer says what is wrong.
            channel = self.bot.get_channel(channel_id) or self.bot.get_partial_messageable(channel_id)
            if isinstance(channel, (discord.abc.Messageable, discord.PartialMessageable)):
                try:
                    await channel.get_partial_message(message_id).unpin()
                except discord.NotFound:
                    log.info("summary %s in %s is gone already", message_id, channel_id)
                except discord.HTTPException as error:
                    log.info("could not unpin summary %s in %s: code %s", message_id, channel_id, error.code)
                    where = await self.cog.channel_name(channel_id)
                    thread = error.code in (THREAD_ARCHIVED, THREAD_LOCKED) or isinstance(channel, discord.Thread)
                    problem = post_problem(error, where, "unpin the summary", needed=UNPIN, thread=thread)
                    left.append(f"{problem} It stays pinned there until someone unpins it; I no longer update it.")
            await self.bot.ledger.write(forgetting(scope, message_id))
        done = f"Unpinned {len(pinned) - len(left)} of {len(pinned)}" if left else f"Unpinned {len(pinned)}"
        await answer(interaction, cut("\n".join([f"{done} summary message(s).", *left]), 2000))

    @edit.autocomplete("incident")
    @show.autocomplete("incident")
    @pin.autocomplete("incident")
    @unpin.autocomplete("incident")
    @moderators_only
    async def incident_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await incident_choices(self.bot, interaction, current)


class Incidents(commands.Cog):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.pending: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.reported: set[int] = set()  # summaries whose failed edit the audit channel was told about
        self.bot.tree.add_command(IncidentGroup(self))

    async def cog_load(self) -> None:
        try:
            await self.bot.ledger.follow_changes(self.bot)
        except Exception:
            log.exception("Cannot follow other processes' changes to the ledger; their summaries update at restart")

    async def cog_unload(self) -> None:
        """On shutdown, flush summary edits still waiting out their delay instead of dropping them."""
        self.bot.tree.remove_command("incident")
        await self.bot.ledger.stop_following()
        pending = list(self.pending.items())
        self.pending.clear()
        for (scope, incident), task in pending:
            task.cancel()
            try:
                await asyncio.wait_for(self.refresh(scope, incident), timeout=5)
            except Exception:
                log.exception("flushing the summaries of %s in %s at shutdown failed", incident, scope)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Bring every pinned summary of this process's servers up to date once at start (changes may have landed
        while we were down); the servers of other shards are the other processes' to refresh."""
        tracked = await self.bot.ledger.read(lambda ledger: ledger.all_pinned_summaries())
        for scope, incident_id in sorted(set(tracked)):
            if not runs_server(self.bot, scope):
                continue
            try:
                await self.refresh(scope, incident_id)
            except Exception:
                log.exception("refreshing summaries of incident %s in %s at start failed", incident_id, scope)

    @commands.Cog.listener()
    async def on_ledger_change(self, scope: str, incident: str | None) -> None:
        """Coalesce: the first change schedules one refresh; changes until it runs ride along."""
        if incident is None:
            return
        key = (scope, incident)
        task = self.pending.get(key)
        if task is not None and not task.done():
            return
        self.pending[key] = asyncio.create_task(self._refresh_later(scope, incident))

    async def _refresh_later(self, scope: str, incident: str) -> None:
        await asyncio.sleep(self.bot.settings.summary_delay)
        self.pending.pop((scope, incident), None)
        try:
            await self.refresh(scope, incident)
        except Exception:
            log.exception("refreshing the summaries of %s in %s failed", incident, scope)

    async def refresh(self, scope: str, incident: str | int) -> int:
        """Edit every pinned summary of the incident in place; forget those deleted. Returns edits made."""
        pinned = await self.bot.ledger.read(lambda ledger: ledger.pinned_summaries(scope, incident))
        if not pinned:
            return 0
        summary = await self.bot.ledger.read(lambda ledger: build_summary(ledger, scope, incident))
        embed = summary_embed(summary, updated_at=now_text())
        edits = 0
        for _, channel_id, message_id in pinned:
            # Not cached: an archived thread (discord.py keeps only active threads), a channel gone or out of sight.
            # Try anyway: Discord's answer says which, and the moderators are told.
            channel = self.bot.get_channel(channel_id) or self.bot.get_partial_messageable(channel_id)
            if not isinstance(channel, (discord.abc.Messageable, discord.PartialMessageable)):
                continue
            try:
                await channel.get_partial_message(message_id).edit(embed=embed)
                edits += 1
                self.reported.discard(message_id)  # fixed: a new failure is told again
            except discord.NotFound:
                log.info("summary %s in %s was deleted; forgetting it", message_id, channel_id)
                await self.bot.ledger.write(forgetting(scope, message_id))
            except discord.HTTPException as error:
                log.warning("could not edit summary %s: %s (code %s)", message_id, error.status, error.code)
                await self._report_stale(scope, channel_id, message_id, error)
        return edits

    async def channel_name(self, channel_id: int) -> str:
        """``#name`` for the audit note (whose text is made inert), fetched when not cached (an archived thread)."""
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException:
                return f"<#{channel_id}>"
        return f"#{getattr(channel, 'name', None) or channel_id}"

    async def _report_stale(self, scope: str, channel_id: int, message_id: int, error: discord.HTTPException) -> None:
        """Tell the moderators (in the audit channel, once per summary until an edit succeeds again) that a pinned
        summary can no longer be kept current, and how to fix it."""
        if message_id in self.reported:
            return
        where = await self.channel_name(channel_id)
        in_thread = error.code in (THREAD_ARCHIVED, THREAD_LOCKED) or isinstance(
            self.bot.get_channel(channel_id), discord.Thread
        )
        problem = post_problem(error, where, "keep the pinned summary current", thread=in_thread)
        if in_thread:
            problem += " Or keep it somewhere else: `/incident unpin`, then `/incident pin` in another channel."
        if await post_audit(self.bot, scope, "Pinned summary out of date", problem):
            self.reported.add(message_id)

    @commands.Cog.listener()
    async def on_raw_thread_update(self, payload: discord.RawThreadUpdateEvent) -> None:
        """A thread reopened: bring the summaries pinned in it up to date (edits failed while it was archived)."""
        if payload.data.get("thread_metadata", {}).get("archived", False):
            return
        scope = str(payload.guild_id)
        pinned = await self.bot.ledger.read(lambda ledger: ledger.pinned_summaries(scope))
        for incident_id in sorted({i for i, channel_id, _ in pinned if channel_id == payload.thread_id}):
            try:
                await self.refresh(scope, incident_id)
            except Exception:
                log.exception("refreshing incident %s in %s after its thread reopened failed", incident_id, scope)


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Incidents(bot))
