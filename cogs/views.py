"""Reusable views: a paginator for answers that only the asker can turn, disabling itself on timeout."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import discord

from bot.models import Answer
from bot.rendering.embeds import answer_embed, page_count

from .common import AuthorView, Interaction

EditFn = Callable[[discord.ui.View], Awaitable[object]]


class AnswerPager(AuthorView):
    refusal = "Only the person who asked can page through this answer. Ask your own with `/ask`."

    def __init__(self, answer: Answer, author_id: int, *, timeout: float = 300.0) -> None:
        super().__init__(author_id, timeout=timeout)
        self.answer = answer
        self.page = 0
        self.pages = page_count(answer)
        self.edit_message: EditFn | None = None  # set by whoever sent the message, used on timeout
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1
        self.counter.label = f"{self.page + 1}/{self.pages}"

    async def _show(self, interaction: Interaction) -> None:
        self._sync_buttons()
        await interaction.response.edit_message(embed=answer_embed(self.answer, page=self.page), view=self)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary, custom_id="pager:previous")
    async def previous(self, interaction: Interaction, button: discord.ui.Button) -> None:
        self.page = max(self.page - 1, 0)
        await self._show(interaction)

    @discord.ui.button(label="1/1", style=discord.ButtonStyle.secondary, disabled=True, custom_id="pager:counter")
    async def counter(self, interaction: Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.primary, custom_id="pager:next")
    async def next(self, interaction: Interaction, button: discord.ui.Button) -> None:
        self.page = min(self.page + 1, self.pages - 1)
        await self._show(interaction)

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.edit_message is not None:
            # The message may be gone or the token expired: then there is nothing left to disable.
            with contextlib.suppress(discord.HTTPException):
                await self.edit_message(self)
