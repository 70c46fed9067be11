"""Owner-only maintenance: command sync on demand (never at start)."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot

log = logging.getLogger(__name__)


class Admin(commands.Cog):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot

    @commands.command(name="sync")
    @commands.is_owner()
    @commands.guild_only()
    async def sync(self, context: commands.Context, where: str = "here") -> None:
        """Mention the bot: "@Claim Ledger sync" (this server) or "@Claim Ledger sync global"."""
        assert context.guild is not None  # guild_only
        guild_id = None if where == "global" else context.guild.id
        synced = await self.bot.sync_commands(guild_id)
        target = "globally" if guild_id is None else "to this server"
        log.info("Owner %s synced %d commands %s", context.author.id, len(synced), target)
        await context.reply(
            f"Synced {len(synced)} commands {target}.",
            mention_author=False,
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Admin(bot))
