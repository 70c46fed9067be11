"""The audit channel: every ledger change posted as a compact diff, with who made it."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot
from bot.rendering.audit import AUDIT_CHANNEL_SETTING, AUDIT_LAST_SETTING, describe
from bot.rendering.embeds import cut, inert
from bot.store import Ledger

log = logging.getLogger(__name__)


class Audit(commands.Cog):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.locks: dict[str, asyncio.Lock] = {}

    @commands.Cog.listener()
    async def on_ledger_change(self, scope: str, incident: str | None) -> None:
        """Post the revisions not yet posted. The marker moves only after the post went out (and is persisted, so
        nothing is posted twice after a restart); one post at a time per server."""
        async with self.locks.setdefault(scope, asyncio.Lock()):
            await self._post_pending(scope)

    async def _post_pending(self, scope: str) -> None:
        def pending(ledger: Ledger) -> tuple[str | None, list]:
            channel = ledger.get_setting(scope, AUDIT_CHANNEL_SETTING)
            if not channel:
                return None, []
            last = int(ledger.get_setting(scope, AUDIT_LAST_SETTING) or 0)
            return channel, [r for r in ledger.revisions_after(scope, last) if r.entity != "setting"]

        channel_id, revisions = await self.bot.ledger.read(pending)
        if not channel_id or not revisions:
            return
        channel = self.bot.get_channel(int(channel_id))
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("audit channel %s of %s is not reachable", channel_id, scope)
            return
        text = "\n".join(describe(r) for r in revisions)
        try:
            await channel.send(
                embed=discord.Embed(title="Ledger changes", description=cut(inert(text), 4096)),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as error:
            log.warning("could not post to the audit channel %s: %s (code %s)", channel_id, error.status, error.code)
            return  # the marker stays: these changes are posted with the next ones
        last = str(revisions[-1].id)
        await self.bot.ledger.write(lambda ledger: ledger.set_marker(scope, AUDIT_LAST_SETTING, last))


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Audit(bot))
