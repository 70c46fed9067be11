"""Incidents and their living summaries: /incident create|show|list|pin|unpin, /ledger settings moderator-role.

A pinned summary is edited in place whenever a claim of its incident changes; a burst of changes within
``settings.summary_delay`` seconds makes one edit. Pinned message ids live in the ledger, so summaries stay
tracked across restarts; a summary deleted by hand is noticed (404) and forgotten.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot, scope_of
from bot.discord.permissions import MODERATOR_ROLE_SETTING
from bot.rendering.audit import AUDIT_CHANNEL_SETTING, AUDIT_LAST_SETTING
from bot.rendering.embeds import cut, inert, summary_embed
from bot.rendering.summary import build_summary
from bot.store import Ledger

from .claims import actor, ensure_moderator, incident_choices
from .transfer import FORMATS, run_export, run_import

log = logging.getLogger(__name__)

UNKNOWN_MESSAGE = 10008
MISSING_PERMISSIONS = 50013
TOO_MANY_PINS = 30003


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


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class IncidentGroup(app_commands.Group, name="incident", description="Moderators: incidents and pinned summaries"):
    def __init__(self, cog: Incidents) -> None:
        super().__init__()
        self.cog = cog
        self.bot = cog.bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await ensure_moderator(interaction)

    @app_commands.command(name="create", description="Start a new incident")
    async def create(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 200],
        date: app_commands.Range[str, 1, 40] | None = None,
        place: app_commands.Range[str, 1, 200] | None = None,
        summary: app_commands.Range[str, 1, 2000] | None = None,
    ) -> None:
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)
        incident = await self.bot.ledger.write(
            lambda ledger: ledger.create_incident(
                scope, title=title, date=date, place=place, summary=summary, actor=who
            )
        )
        await interaction.response.send_message(
            f"Created incident **{inert(incident.title)}** (`{incident.slug}`).", ephemeral=True
        )
        self.bot.dispatch("ledger_change", scope, incident.slug)

    @app_commands.command(name="edit", description="Change an incident's title, date, place, summary or aliases")
    @app_commands.describe(aliases="Other names members use, separated by commas")
    async def edit(
        self,
        interaction: discord.Interaction,
        incident: str,
        title: app_commands.Range[str, 1, 200] | None = None,
        date: app_commands.Range[str, 1, 40] | None = None,
        place: app_commands.Range[str, 1, 200] | None = None,
        summary: app_commands.Range[str, 1, 2000] | None = None,
        aliases: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
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
        await interaction.response.send_message(f"Updated **{inert(updated.title)}**.", ephemeral=True)
        self.bot.dispatch("ledger_change", scope, updated.slug)

    @app_commands.command(name="list", description="The incidents in this server's ledger")
    async def list_(self, interaction: discord.Interaction) -> None:
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
    async def show(self, interaction: discord.Interaction, incident: str) -> None:
        scope = scope_of(interaction.guild_id)
        summary = await self.bot.ledger.read(lambda ledger: build_summary(ledger, scope, incident))
        await interaction.response.send_message(embed=summary_embed(summary, updated_at=now_text()), ephemeral=True)

    @app_commands.command(name="pin", description="Post the incident's summary here (or in a channel) and pin it")
    async def pin(
        self, interaction: discord.Interaction, incident: str, channel: discord.TextChannel | None = None
    ) -> None:
        scope = scope_of(interaction.guild_id)
        target = channel or interaction.channel
        summary = await self.bot.ledger.read(lambda ledger: build_summary(ledger, scope, incident))
        await interaction.response.defer(ephemeral=True, thinking=True)
        message = await target.send(  # type: ignore[union-attr]
            embed=summary_embed(summary, updated_at=now_text()), allowed_mentions=discord.AllowedMentions.none()
        )
        await self.bot.ledger.write(
            lambda ledger: ledger.add_pinned_summary(scope, summary.incident.id, message.channel.id, message.id)
        )
        mention = getattr(target, "mention", "this channel")
        try:
            await message.pin(reason=f"Claim Ledger summary of {summary.incident.slug}")
        except discord.HTTPException as error:
            await interaction.followup.send(pin_problem(error, mention), ephemeral=True)
            return
        await interaction.followup.send(
            f"Pinned the summary of **{inert(summary.incident.title)}** in {mention}; I keep it current.",
            ephemeral=True,
        )

    @app_commands.command(name="unpin", description="Stop keeping an incident's pinned summaries current, and unpin")
    async def unpin(self, interaction: discord.Interaction, incident: str) -> None:
        scope = scope_of(interaction.guild_id)
        pinned = await self.bot.ledger.read(lambda ledger: ledger.pinned_summaries(scope, incident))
        for _, channel_id, message_id in pinned:
            channel = self.bot.get_channel(channel_id)
            if isinstance(channel, discord.abc.Messageable):
                try:
                    await channel.get_partial_message(message_id).unpin()  # type: ignore[attr-defined]
                except discord.HTTPException:
                    log.info("could not unpin summary %s in %s", message_id, channel_id)
            await self.bot.ledger.write(lambda ledger, m=message_id: ledger.forget_pinned_summary(scope, m))
        await interaction.response.send_message(f"Unpinned {len(pinned)} summary message(s).", ephemeral=True)

    @edit.autocomplete("incident")
    @show.autocomplete("incident")
    @pin.autocomplete("incident")
    @unpin.autocomplete("incident")
    async def incident_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await incident_choices(self.bot, interaction, current)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class LedgerGroup(app_commands.Group, name="ledger", description="Moderators: ledger settings and data"):
    settings = app_commands.Group(name="settings", description="Who moderates the ledger, where changes are posted")

    def __init__(self, bot: ClaimLedgerBot) -> None:
        super().__init__()
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await ensure_moderator(interaction)

    @app_commands.command(name="import", description="Import a file: native JSON, CSV, JSONL or ClaimReview")
    @app_commands.describe(file="The file to import; you see a preview before anything changes")
    async def import_(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        await run_import(self.bot, interaction, file, actor(interaction.user))

    @app_commands.command(name="export", description="The server's ledger as a file")
    @app_commands.choices(format=[app_commands.Choice(name=f, value=f) for f in FORMATS])
    async def export(
        self,
        interaction: discord.Interaction,
        format: app_commands.Choice[str] | None = None,
        incident: str | None = None,
    ) -> None:
        await run_export(self.bot, interaction, format.value if format else "native", incident)

    @export.autocomplete("incident")
    async def export_incident_autocomplete(self, interaction: discord.Interaction, current: str) -> list:
        return await incident_choices(self.bot, interaction, current)

    @settings.command(name="audit-channel", description="Post every ledger change here (leave empty to stop)")
    async def audit_channel(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)

        def save(ledger: Ledger) -> None:
            with ledger.transaction():
                ledger.set_setting(scope, AUDIT_CHANNEL_SETTING, str(channel.id) if channel else None, actor=who)
                ledger.set_setting(scope, AUDIT_LAST_SETTING, str(ledger.last_revision_id(scope)), actor=who)

        await self.bot.ledger.write(save)
        text = f"Ledger changes will be posted in {channel.mention}." if channel else "Audit posting is off."
        await interaction.response.send_message(text, ephemeral=True)

    @settings.command(name="moderator-role", description="Members with this role may change the ledger")
    async def moderator_role(self, interaction: discord.Interaction, role: discord.Role | None = None) -> None:
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)
        await self.bot.ledger.write(
            lambda ledger: ledger.set_setting(scope, MODERATOR_ROLE_SETTING, str(role.id) if role else None, actor=who)
        )
        text = f"Members with {role.mention} can now change the ledger." if role else "Only Manage Server, now."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


class Incidents(commands.Cog):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.pending: dict[tuple[str, str | None], asyncio.Task] = {}
        self.bot.tree.add_command(IncidentGroup(self))
        self.bot.tree.add_command(LedgerGroup(bot))

    async def cog_unload(self) -> None:
        """On shutdown, flush summary edits still waiting out their delay instead of dropping them."""
        self.bot.tree.remove_command("incident")
        self.bot.tree.remove_command("ledger")
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
        """Bring every pinned summary up to date once at start (changes may have landed while we were down)."""
        tracked = await self.bot.ledger.read(lambda ledger: ledger.all_pinned_summaries())
        for scope, incident_id in sorted(set(tracked)):
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
            channel = self.bot.get_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                continue
            try:
                await channel.get_partial_message(message_id).edit(embed=embed)  # type: ignore[attr-defined]
                edits += 1
            except discord.NotFound:
                log.info("summary %s in %s was deleted; forgetting it", message_id, channel_id)
                await self.bot.ledger.write(lambda ledger, m=message_id: ledger.forget_pinned_summary(scope, m))
            except discord.HTTPException as error:
                log.warning("could not edit summary %s: %s (code %s)", message_id, error.status, error.code)
        return edits


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Incidents(bot))
