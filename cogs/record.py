"""The "Record as claim" message menu (moderators): a claim form prefilled from a message — its text as the quote,
its link and the first link in it as sources, the date it was sent — then the evidence status, as in /claim add.

The speaker is asked for in the form (the Discord author is usually not who made the claim); an existing speaker
is found by name or alias, a new name creates one. The form is this module's own (cogs do not import each other).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot, scope_of
from bot.errors import InvalidInputError
from bot.models import EvidenceStatus
from bot.rendering.embeds import claim_embed, cut, inert
from bot.store import Ledger
from bot.validation import LIMITS, clean_url, parse_partial_date
from bot.watching import first_link

from .common import GUILD_ONLY, AuthorView, actor, ensure_moderator, labelled_input

log = logging.getLogger(__name__)

MENU_NAME = "Record as claim"
WHEN_WHERE_MAX = LIMITS["said_where"] + len("YYYY-MM-DD, ")
DISCORD_SOURCE_TITLE = "Discord message"

Done = Callable[[discord.Interaction, dict[str, Any]], Awaitable[None]]


def prefill(message: discord.Message) -> dict[str, str]:
    """The form's boxes from a message: its text as claim and quote, the date it was sent, its link and the first
    link in it as sources (one per line)."""
    text = message.content.strip()
    sources = [message.jump_url]
    link = first_link(text)
    if link and len(link) <= LIMITS["url"]:
        sources.append(link)
    return {
        "claim": cut(text, LIMITS["claim"]),
        "quote": cut(text, LIMITS["quote"]),
        "when_where": message.created_at.strftime("%Y-%m-%d"),
        "sources": "\n".join(sources),
    }


def parse_when_where(text: str | None) -> tuple[str | None, str | None]:
    """'2024-03-23' or '2024-03-23, TV address': the date before the first comma, the rest as the venue."""
    if not text or not text.strip():
        return None, None
    head, _, rest = text.partition(",")
    return parse_partial_date(head.strip()), rest.strip() or None


def parse_sources(text: str | None, message_link: str) -> list[dict[str, str | None]]:
    """One http(s) link per line (blank lines skipped); the message's own link is titled as a Discord message."""
    out: list[dict[str, str | None]] = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        url = clean_url(line.strip(), "source link")
        if url and all(s["url"] != url for s in out):
            out.append({"url": url, "title": DISCORD_SOURCE_TITLE if url == message_link else None})
    return out[:5]


class RecordForm(discord.ui.Modal):
    """The claim, prefilled from the message, each box in a Label (prefills cut to what a box allows)."""

    def __init__(self, initial: dict[str, str], message_link: str, on_done: Done) -> None:
        super().__init__(title="Record as claim", timeout=900)
        self.on_done = on_done
        self.message_link = message_link
        paragraph = discord.TextStyle.paragraph
        self.speaker = labelled_input(
            self,
            "Speaker",
            custom_id="record-form:speaker",
            description="Who made the claim (not who posted it)",
            max_length=LIMITS["name"],
            default=initial.get("speaker"),
        )
        self.claim = labelled_input(
            self,
            "Claim",
            custom_id="record-form:claim",
            description="As stated, or fairly paraphrased",
            style=paragraph,
            max_length=LIMITS["claim"],
            default=initial.get("claim"),
        )
        self.quote = labelled_input(
            self,
            "Verbatim quote",
            custom_id="record-form:quote",
            description="Optional",
            style=paragraph,
            required=False,
            max_length=LIMITS["quote"],
            default=initial.get("quote"),
        )
        self.when_where = labelled_input(
            self,
            "When, where",
            custom_id="record-form:when_where",
            description="e.g. 2024-03-23, TV address",
            required=False,
            max_length=WHEN_WHERE_MAX,
            default=initial.get("when_where"),
        )
        self.sources = labelled_input(
            self,
            "Source links",
            custom_id="record-form:sources",
            description="One per line",
            style=paragraph,
            required=False,
            max_length=1200,
            default=initial.get("sources"),
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        said_at, said_where = parse_when_where(self.when_where.value)
        speaker = " ".join(self.speaker.value.split())
        if not speaker:
            raise InvalidInputError("Name the speaker: who made the claim.")
        values = {
            "speaker": speaker,
            "text": self.claim.value,
            "quote": self.quote.value or None,
            "said_at": said_at,
            "said_where": said_where,
            "sources": parse_sources(self.sources.value, self.message_link) or None,
        }
        await self.on_done(interaction, values)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await interaction.client.tree.handle_error(interaction, error)  # type: ignore[attr-defined]


class StatusChoice(AuthorView):
    """The evidence status, as in /claim add; saving happens on choice."""

    refusal = "Only the moderator recording this claim can choose."

    def __init__(self, author_id: int, on_choice: Callable[[discord.Interaction, str], Awaitable[None]]) -> None:
        super().__init__(author_id, timeout=600)
        self.on_choice = on_choice

    @discord.ui.select(
        custom_id="record:evidence",
        placeholder="Evidence status, as the source states it",
        options=[discord.SelectOption(label=s.label, value=s.value) for s in EvidenceStatus],
    )
    async def status(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        self.stop()
        await self.on_choice(interaction, select.values[0])


class Record(commands.Cog):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=MENU_NAME, callback=self.record, allowed_contexts=GUILD_ONLY)
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def record(self, interaction: discord.Interaction, message: discord.Message) -> None:
        await ensure_moderator(interaction)
        scope = scope_of(interaction.guild_id)
        if not message.content.strip():
            raise InvalidInputError("That message has no text to record.")
        who = actor(interaction.user)
        link = message.jump_url

        async def chosen(select_interaction: discord.Interaction, status: str, values: dict[str, Any]) -> None:
            speaker = values.pop("speaker")

            def save(ledger: Ledger) -> Any:
                with ledger.transaction():
                    if ledger.find_speaker(scope, speaker) is None:
                        ledger.create_speaker(scope, name=speaker, actor=who)
                    return ledger.add_claim(scope, speaker=speaker, evidence_status=status, actor=who, **values)

            await ensure_moderator(select_interaction)
            await select_interaction.response.defer()
            claim = await self.bot.ledger.write(save)
            await select_interaction.edit_original_response(
                content=f"Saved claim #{claim.id}.", embed=claim_embed(claim), view=None
            )
            self.bot.dispatch("ledger_change", scope, claim.incident.slug if claim.incident else None)

        async def submitted(modal_interaction: discord.Interaction, values: dict[str, Any]) -> None:
            await ensure_moderator(modal_interaction)
            name = values["speaker"]
            known = await self.bot.ledger.read(lambda ledger: ledger.find_speaker(scope, name))
            said = (
                f"Speaker: **{inert(known.name)}** (in the ledger)."
                if known
                else f"Speaker: **{inert(cut(name, 100))}** (new: will be created)."
            )
            view = StatusChoice(interaction.user.id, lambda i, status: chosen(i, status, values))
            await modal_interaction.response.send_message(
                f"{said}\nLast step: the evidence status, as the source states it.",
                view=view,
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )

        await interaction.response.send_modal(RecordForm(prefill(message), link, submitted))


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Record(bot))
