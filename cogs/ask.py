"""Asking: /ask, mention answers, the "Find claims" message menu, and autocomplete."""

from __future__ import annotations

import asyncio
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot, scope_of
from bot.discord.permissions import EMBED_LINKS
from bot.errors import LedgerError
from bot.models import Answer
from bot.rendering.embeds import answer_embed, page_count

from .common import GUILD_ONLY, Interaction, bot_missing, reply_to
from .views import AnswerPager

log = logging.getLogger(__name__)

TOP = 9  # three pages of three
FIRST_RESPONSE_BUDGET = 0.5  # seconds to compute before deferring (Discord allows 3; a busy loop needs margin)
QUESTION_MAX = 1000
ASK_RATE, ASK_PER = 5, 30.0
HELP_TEXT = (
    "Ask me about a claim, e.g. `@Claim Ledger did Ukraine have anything to do with the Moscow concert hall attack?`"
    " or use `/ask`."
)

NO_EMBEDS = (
    "I can't show answers in this channel: I need the **Embed Links** permission here. Ask an admin to grant it,"
    " or use `/ask`."
)


def _ask_cooldown_key(interaction: Interaction) -> tuple[int | None, int]:
    return interaction.guild_id, interaction.user.id


class Ask(commands.Cog):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.find_menu = app_commands.ContextMenu(
            name="Find claims", callback=self.find_claims, allowed_contexts=GUILD_ONLY
        )  # guild-only through `contexts`, not the deprecated `dm_permission` that `guild_only` sends
        self.bot.tree.add_command(self.find_menu)
        self.mention_cooldown = commands.CooldownMapping.from_cooldown(ASK_RATE, ASK_PER, commands.BucketType.member)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.find_menu.name, type=self.find_menu.type)

    async def _answer(self, interaction: Interaction, question: str, *, ephemeral: bool) -> None:
        """Compute off the loop; defer if it takes long; respond once; attach a pager when there is more."""
        scope = scope_of(interaction.guild_id)
        task = asyncio.ensure_future(self.bot.ledger.ask(scope, question, top=TOP))
        try:
            answer = await asyncio.wait_for(asyncio.shield(task), timeout=FIRST_RESPONSE_BUDGET)
        except TimeoutError:
            await interaction.response.defer(ephemeral=ephemeral, thinking=True)
            answer = await task
        view = self._pager(answer, interaction.user.id)
        embed, quiet = answer_embed(answer), discord.AllowedMentions.none()
        if interaction.response.is_done():  # replaces "thinking…"
            await interaction.edit_original_response(embed=embed, allowed_mentions=quiet, view=view)
        elif view is not None:
            await interaction.response.send_message(embed=embed, allowed_mentions=quiet, view=view, ephemeral=ephemeral)
        else:
            await interaction.response.send_message(embed=embed, allowed_mentions=quiet, ephemeral=ephemeral)
        if view is not None:
            view.edit_message = lambda v: interaction.edit_original_response(view=v)

    @staticmethod
    def _pager(answer: Answer, author_id: int) -> AnswerPager | None:
        return AnswerPager(answer, author_id) if page_count(answer) > 1 else None

    @app_commands.command(name="ask", description="What has been claimed about an event: who said it, when, evidence")
    @app_commands.describe(question="Your question, e.g. did Ukraine have anything to do with the concert hall attack?")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(ASK_RATE, ASK_PER, key=_ask_cooldown_key)
    async def ask(self, interaction: Interaction, question: app_commands.Range[str, 1, QUESTION_MAX]) -> None:
        await self._answer(interaction, question, ephemeral=False)

    @ask.autocomplete("question")
    async def ask_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None or len(current.strip()) < 2:
            return []
        try:
            suggestions = await asyncio.wait_for(
                self.bot.ledger.autocomplete(scope_of(interaction.guild_id), current, limit=25), timeout=2.0
            )
        except (TimeoutError, LedgerError):
            return []
        return [app_commands.Choice(name=name[:100], value=value[:100]) for name, value in suggestions[:25]]

    @app_commands.checks.cooldown(ASK_RATE, ASK_PER, key=_ask_cooldown_key)  # the same allowance as /ask
    async def find_claims(self, interaction: Interaction, message: discord.Message) -> None:
        text = message.content.strip()
        if not text:
            text = " ".join(filter(None, (e.description or e.title for e in message.embeds))).strip()
        if not text:
            await interaction.response.send_message("That message has no text I can look up.", ephemeral=True)
            return
        await self._answer(interaction, text[: QUESTION_MAX * 4], ephemeral=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or message.guild is None or me is None or me not in message.mentions:
            return
        context = await self.bot.get_context(message)
        if context.valid:
            return  # an owner command such as "@Claim Ledger sync"
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        if not question:
            await self._safe_reply(message, content=HELP_TEXT)
            return
        retry_after = self.mention_cooldown.update_rate_limit(message)
        if retry_after:
            await self._safe_reply(message, content=f"Easy there: you can ask again in {retry_after:.0f} s.")
            return
        try:
            answer = await self.bot.ledger.ask(scope_of(message.guild.id), question, top=TOP)
        except LedgerError as error:
            await self._safe_reply(message, content=str(error))
            return
        view = self._pager(answer, message.author.id)
        sent = await self._safe_reply(message, embed=answer_embed(answer), view=view)
        if view is not None and sent is not None:
            view.edit_message = lambda v: sent.edit(view=v)

    async def _safe_reply(
        self,
        message: discord.Message,
        *,
        content: str | None = None,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
    ) -> discord.Message | None:
        if embed is not None and bot_missing(message.channel, EMBED_LINKS):
            # Discord would drop the answer's embed (and post the pager's buttons alone)
            content, embed, view = NO_EMBEDS, None, None
        extra: dict[str, discord.Embed | discord.ui.View] = {}
        if embed is not None:
            extra["embed"] = embed
        if view is not None:
            extra["view"] = view
        try:
            return await reply_to(message, content=content, **extra)
        except discord.HTTPException as error:
            log.warning(
                "Could not answer a mention in channel %s of guild %s: %s (code %s)",
                message.channel.id,
                message.guild and message.guild.id,
                error.status,
                error.code,
            )
            return None


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Ask(bot))
