"""The ledger itself: /ledger import (preview, confirm, progress), /ledger export, /ledger settings
audit-channel|moderator-role."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot, scope_of
from bot.discord.permissions import MODERATOR_ROLE_SETTING, POST_EMBEDS, permissions_problem
from bot.errors import location
from bot.formats import MAX_IMPORT_BYTES, ImportReport, export_bytes, import_bytes
from bot.rendering.audit import AUDIT_CHANNEL_SETTING, AUDIT_LAST_SETTING
from bot.rendering.embeds import cut, inert
from bot.store import Ledger

from .common import (
    AuthorView,
    Interaction,
    ModeratorGroup,
    acknowledge,
    actor,
    answer,
    bot_missing,
    ensure_moderator,
    incident_choices,
    moderators_only,
)

log = logging.getLogger(__name__)

FORMATS = ["native", "csv", "jsonl", "claimreview"]


def preview_embed(name: str, report: ImportReport) -> discord.Embed:
    embed = discord.Embed(title=cut(f"Import preview: {inert(name)}", 256))
    embed.add_field(name="New", value=str(report.created))
    embed.add_field(name="Updated", value=str(report.updated))
    embed.add_field(name="Unchanged", value=str(report.unchanged))
    embed.add_field(name="Invalid", value=str(len(report.problems)))
    if report.problems:
        lines = [f"{location(w)}: {m}" for w, m in report.problems[:15]]
        embed.add_field(name="Fix these first (nothing is imported while any record is invalid)",
                        value=cut(inert("\n".join(lines)), 1024), inline=False)  # fmt: skip
    if report.unmapped:
        lines = [f"{location(w)}: {m}" for w, m in report.unmapped[:10]]
        embed.add_field(name="Not mapped", value=cut(inert("\n".join(lines)), 1024), inline=False)
    return embed


class ConfirmImport(AuthorView):
    """Import or Cancel, for the moderator who started. After ``await view.wait()``, ``confirmed`` is the Import
    click (its fresh 15-minute token carries the progress and the summary) or None (cancelled, timed out)."""

    refusal = "Only the moderator who started this import can answer."

    def __init__(self, author_id: int, *, can_import: bool) -> None:
        super().__init__(author_id, timeout=300)
        self.confirmed: Interaction | None = None
        self.confirm.disabled = not can_import

    @discord.ui.button(label="Import", style=discord.ButtonStyle.success, custom_id="import:confirm")
    async def confirm(self, interaction: Interaction, button: discord.ui.Button) -> None:
        await ensure_moderator(interaction)  # the moderator role may have been taken away since the preview
        await interaction.response.edit_message(content="Importing…", view=None)
        self.confirmed = interaction
        self.stop()

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="import:cancel")
    async def cancel(self, interaction: Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="Import cancelled; nothing changed.", embed=None, view=None)
        self.stop()


async def run_import(bot: ClaimLedgerBot, interaction: Interaction, attachment: discord.Attachment,
                     who: str) -> None:  # fmt: skip
    scope = scope_of(interaction.guild_id)
    if attachment.size > MAX_IMPORT_BYTES:
        await interaction.response.send_message(
            f"{attachment.filename} is {attachment.size / 1024 / 1024:.1f} MB; the import limit is 50 MB.",
            ephemeral=True,
        )
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    data = await attachment.read()
    name = attachment.filename
    preview = await bot.ledger.write(lambda ledger: import_bytes(ledger, scope, name, data, actor=who, dry_run=True))
    view = ConfirmImport(interaction.user.id, can_import=not preview.problems and preview.total > 0)
    await interaction.edit_original_response(embed=preview_embed(name, preview), view=view)
    if await view.wait():  # timed out
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(content="Timed out: nothing was imported.", view=None)
        return
    if view.confirmed is None:
        return
    interaction = view.confirmed  # a fresh token: the slash command's may run out during a long import
    loop = asyncio.get_running_loop()
    progress: dict[str, Any] = {"done": 0, "total": preview.total}

    def report_progress(done: int, total: int) -> None:
        loop.call_soon_threadsafe(progress.update, {"done": done, "total": total})

    async def show_progress() -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await interaction.edit_original_response(
                    content=f"Importing… {progress['done']}/{progress['total']} records", embed=None, view=None
                )
            except discord.HTTPException:
                log.debug("progress update failed")

    ticker = asyncio.create_task(show_progress())
    try:
        report = await bot.ledger.write(
            lambda ledger: import_bytes(ledger, scope, name, data, actor=who, progress=report_progress)
        )
    finally:
        ticker.cancel()
    await interaction.edit_original_response(content=report.summary(), embed=None, view=None)
    incidents = await bot.ledger.read(lambda ledger: [i.slug for i in ledger.list_incidents(scope)])
    for slug in incidents:
        bot.dispatch("ledger_change", scope, slug)


def size_text(size: int) -> str:
    """``10 MB``, ``1.5 MB``, ``12 KB``: sizes as Discord shows them (its MB are MiB)."""
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(size / 1024))} KB"


async def run_export(bot: ClaimLedgerBot, interaction: Interaction, fmt: str, incident: str | None) -> None:
    scope = scope_of(interaction.guild_id)
    await interaction.response.defer(ephemeral=True, thinking=True)
    guild_name = interaction.guild.name if interaction.guild else "Claim Ledger"
    name, data = await bot.ledger.read(
        lambda ledger: export_bytes(ledger, scope, fmt, incident=incident, publisher=guild_name)
    )
    limit = interaction.filesize_limit  # the interaction's attachment_size_limit: the server's boost tier decides
    if len(data) > limit:
        await interaction.edit_original_response(
            content=f"The export is {size_text(len(data))}, over Discord's {size_text(limit)} attachment limit here."
            " Export one incident at a time, or use `claimledger export` on the server."
        )
        return
    await interaction.edit_original_response(
        content=f"The ledger as {fmt} ({len(data) / 1024:.0f} KiB).", attachments=[discord.File(io.BytesIO(data), name)]
    )


class LedgerGroup(ModeratorGroup, name="ledger", description="Moderators: ledger settings and data"):
    settings = app_commands.Group(name="settings", description="Who moderates the ledger, where changes are posted")

    @app_commands.command(name="import", description="Import a file: native JSON, CSV, JSONL or ClaimReview")
    @app_commands.describe(file="The file to import; you see a preview before anything changes")
    async def import_(self, interaction: Interaction, file: discord.Attachment) -> None:
        await run_import(self.bot, interaction, file, actor(interaction.user))

    @app_commands.command(name="export", description="The server's ledger as a file")
    @app_commands.choices(format=[app_commands.Choice(name=f, value=f) for f in FORMATS])
    async def export(
        self,
        interaction: Interaction,
        format: app_commands.Choice[str] | None = None,
        incident: str | None = None,
    ) -> None:
        await run_export(self.bot, interaction, format.value if format else "native", incident)

    @export.autocomplete("incident")
    @moderators_only
    async def export_incident_autocomplete(self, interaction: Interaction, current: str) -> list:
        return await incident_choices(self.bot, interaction, current)

    @settings.command(name="audit-channel", description="Post every ledger change here (leave empty to stop)")
    async def audit_channel(self, interaction: Interaction, channel: discord.TextChannel | None = None) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)

        def save(ledger: Ledger) -> None:
            with ledger.transaction():
                ledger.set_setting(scope, AUDIT_CHANNEL_SETTING, str(channel.id) if channel else None, actor=who)
                ledger.set_setting(scope, AUDIT_LAST_SETTING, str(ledger.last_revision_id(scope)), actor=who)

        await self.bot.ledger.write(save)
        text = f"Ledger changes will be posted in {channel.mention}." if channel else "Audit posting is off."
        missing = bot_missing(channel, POST_EMBEDS) if channel else []
        if channel is not None and missing:
            problem = permissions_problem(missing, channel.mention, "post ledger changes")
            text += f"\n⚠️ {problem} Until then the changes wait, and I post them once I can."
        await answer(interaction, text)

    @settings.command(name="moderator-role", description="Members with this role may change the ledger")
    async def moderator_role(self, interaction: Interaction, role: discord.Role | None = None) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)
        await self.bot.ledger.write(
            lambda ledger: ledger.set_setting(scope, MODERATOR_ROLE_SETTING, str(role.id) if role else None, actor=who)
        )
        text = f"Members with {role.mention} can now change the ledger." if role else "Only Manage Server, now."
        await answer(interaction, text)


class LedgerCog(commands.Cog, name="Ledger"):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.bot.tree.add_command(LedgerGroup(bot))

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command("ledger")


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(LedgerCog(bot))
