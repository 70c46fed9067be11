"""Moderators move data in and out from Discord: /ledger import (preview, confirm, progress) and /ledger export."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import discord

from bot.discord.client import ClaimLedgerBot, scope_of
from bot.errors import location
from bot.formats import MAX_IMPORT_BYTES, ImportReport, export_bytes, import_bytes
from bot.rendering.embeds import cut, inert

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


class ConfirmImport(discord.ui.View):
    def __init__(self, author_id: int, *, can_import: bool) -> None:
        super().__init__(timeout=300)
        self.author_id = author_id
        self.choice: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.confirm.disabled = not can_import

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.author_id:
            return True
        await interaction.response.send_message(
            "Only the moderator who started this import can answer.", ephemeral=True
        )
        return False

    @discord.ui.button(label="Import", style=discord.ButtonStyle.success, custom_id="import:confirm")
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="Importing…", view=None)
        if not self.choice.done():
            self.choice.set_result(True)
        self.stop()

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="import:cancel")
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="Import cancelled; nothing changed.", embed=None, view=None)
        if not self.choice.done():
            self.choice.set_result(False)
        self.stop()

    async def on_timeout(self) -> None:
        if not self.choice.done():
            self.choice.set_result(False)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item) -> None:
        await interaction.client.tree.handle_error(interaction, error)  # type: ignore[attr-defined]


async def run_import(bot: ClaimLedgerBot, interaction: discord.Interaction, attachment: discord.Attachment,
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
    await interaction.followup.send(embed=preview_embed(name, preview), view=view, ephemeral=True)
    if not await view.choice:
        return
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


async def run_export(bot: ClaimLedgerBot, interaction: discord.Interaction, fmt: str, incident: str | None) -> None:
    scope = scope_of(interaction.guild_id)
    await interaction.response.defer(ephemeral=True, thinking=True)
    guild_name = interaction.guild.name if interaction.guild else "Claim Ledger"
    name, data = await bot.ledger.read(
        lambda ledger: export_bytes(ledger, scope, fmt, incident=incident, publisher=guild_name)
    )
    limit = getattr(interaction, "filesize_limit", 25 * 1024 * 1024)
    if len(data) > limit:
        await interaction.followup.send(
            f"The export is {len(data) / 1024 / 1024:.1f} MB, over Discord's {limit // 1024 // 1024} MB attachment"
            " limit here. Export one incident at a time, or use `claimledger export` on the server.",
            ephemeral=True,
        )
        return
    await interaction.followup.send(
        f"The ledger as {fmt} ({len(data) / 1024:.0f} KiB).", file=discord.File(io.BytesIO(data), name), ephemeral=True
    )
