"""Moderators keep the ledger: /claim add|edit|remove|restore|show|history|undo, /evidence set; members: /entry."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot, scope_of
from bot.edits import claim_edit
from bot.errors import InvalidInputError, NotFoundError
from bot.models import EvidenceStatus
from bot.rendering.embeds import claim_embed, cut, history_lines, inert
from bot.store import Ledger
from bot.validation import LIMITS, clean_url, looks_like_date, parse_partial_date

from .common import (
    AuthorView,
    Interaction,
    LedgerModal,
    ModeratorGroup,
    acknowledge,
    actor,
    answer,
    claim_choices,
    ensure_moderator,
    incident_choices,
    labelled_input,
    moderators_only,
    speaker_choices,
)

log = logging.getLogger(__name__)

STATUS_CHOICES = [app_commands.Choice(name=s.label, value=s.value) for s in EvidenceStatus]


WHEN_WHERE_MAX = LIMITS["said_where"] + len("YYYY-MM-DD, ")
"""The when/where box holds a date and the venue: room for both, so the edit form's prefill always fits."""


def split_when_where(text: str | None) -> tuple[str | None, str | None]:
    """'2024-03-23, Televised address' → ('2024-03-23', 'Televised address'); 'March 23, 2024, TV' works too;
    text without a date is all venue ('Channel 1 broadcast' too); what starts like a date but cannot be read is an
    error, not a venue."""
    if not text or not text.strip():
        return None, None
    cuts = [m.start() for m in re.finditer(r"[,·|;]", text)]
    for cut_at in [*reversed(cuts), len(text)]:
        try:
            return parse_partial_date(text[:cut_at].strip()), text[cut_at + 1 :].strip() or None
        except InvalidInputError:
            continue
    head = text[: cuts[0]] if cuts else text
    if looks_like_date(head):
        parse_partial_date(head.strip())  # meant as a date: raises the message about the unreadable date
    return None, text.strip()


class ClaimForm(LedgerModal):
    """The claim's text fields, each in a Label. ``on_done`` receives the validated values; ``shown`` is what the
    boxes were prefilled with (never longer than a box allows)."""

    BOXES = ("claim", "quote", "when_where", "source", "details")

    def __init__(self, title: str, on_done: Any, initial: dict[str, str | None] | None = None) -> None:
        super().__init__(title=title, timeout=900)
        self.on_done = on_done
        self.editing = initial is not None
        given = initial or {}
        paragraph = discord.TextStyle.paragraph
        self.claim = labelled_input(
            self,
            "Claim",
            custom_id="claim-form:claim",
            description="As stated, or fairly paraphrased",
            style=paragraph,
            max_length=LIMITS["claim"],
            default=given.get("claim"),
        )
        self.quote = labelled_input(
            self,
            "Verbatim quote",
            custom_id="claim-form:quote",
            description="Optional",
            style=paragraph,
            required=False,
            max_length=LIMITS["quote"],
            default=given.get("quote"),
        )
        self.when_where = labelled_input(
            self,
            "When, where",
            custom_id="claim-form:when_where",
            description="e.g. 2024-03-23, TV address (or just the venue if the date is unknown)",
            required=False,
            max_length=WHEN_WHERE_MAX,
            default=given.get("when_where"),
        )
        self.source = labelled_input(
            self,
            "Source link",
            custom_id="claim-form:source",
            description="https://…",
            required=False,
            max_length=LIMITS["url"],
            default=given.get("source"),
        )
        self.details = labelled_input(
            self,
            "Evidence",
            custom_id="claim-form:details",
            description="What was or was not shown",
            style=paragraph,
            required=False,
            max_length=LIMITS["details"],
            default=given.get("details"),
        )
        self.shown: dict[str, str | None] = {name: getattr(self, name).default for name in self.BOXES}

    def submitted(self) -> dict[str, str | None]:
        """The boxes' text as submitted, keyed like ``initial``."""
        return {name: getattr(self, name).value for name in self.BOXES}

    async def on_submit(self, interaction: discord.Interaction) -> None:
        if self.editing:  # an edit parses only the boxes that were changed (bot.edits.claim_edit)
            await self.on_done(interaction, self.submitted())
            return
        said_at, said_where = split_when_where(self.when_where.value)
        values = {
            "text": self.claim.value,
            "quote": self.quote.value or None,
            "said_at": said_at,
            "said_where": said_where,
            "sources": [{"url": clean_url(self.source.value, "source link"), "title": None}]
            if self.source.value.strip()
            else None,
            "evidence_details": self.details.value or None,
        }
        await self.on_done(interaction, values)


class EvidenceChoice(AuthorView):
    """Pick the evidence status; only the moderator who started can choose. Saving happens on choice."""

    refusal = "Only the moderator adding this claim can choose."

    def __init__(self, author_id: int, on_choice: Any) -> None:
        super().__init__(author_id, timeout=600)
        self.on_choice = on_choice
        self.message_edit: Any = None

    @discord.ui.select(
        custom_id="claim:evidence",
        placeholder="Evidence status, as the source states it",
        options=[discord.SelectOption(label=s.label, value=s.value) for s in EvidenceStatus],
    )
    async def status(self, interaction: Interaction, select: discord.ui.Select) -> None:
        self.stop()
        await self.on_choice(interaction, select.values[0])

    async def on_timeout(self) -> None:
        if self.message_edit is not None:
            try:
                await self.message_edit(content="Timed out: nothing was saved. Run /claim add again.", view=None)
            except discord.HTTPException:
                log.debug("could not mark the evidence picker as timed out")


class ClaimGroup(ModeratorGroup, name="claim", description="Moderators: add, edit and review ledger claims"):
    async def _changed(self, scope: str, claim_incident: str | None) -> None:
        self.bot.dispatch("ledger_change", scope, claim_incident)

    @app_commands.command(name="add", description="Add a claim: who said what, when, where, with what evidence")
    @app_commands.describe(incident="The incident it is about (a new name starts a new incident)",
                           speaker="Who made the claim (new names are created)",
                           speaker_role="Role or affiliation of a new speaker")  # fmt: skip
    async def add(
        self,
        interaction: Interaction,
        speaker: app_commands.Range[str, 1, 100],
        incident: app_commands.Range[str, 1, 100] | None = None,
        speaker_role: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)

        async def chosen(select_interaction: Interaction, status: str, values: dict[str, Any]) -> None:
            def save(ledger: Ledger) -> Any:
                """One transaction: a new speaker or incident named here is created with the claim, or not at all."""
                with ledger.transaction():
                    if ledger.find_speaker(scope, speaker) is None:
                        ledger.create_speaker(scope, name=speaker, role=speaker_role, actor=who)
                    slug = None
                    if incident:
                        try:
                            slug = ledger.get_incident(scope, incident).slug
                        except NotFoundError:
                            slug = ledger.create_incident(scope, title=incident, actor=who).slug
                    return ledger.add_claim(
                        scope, speaker=speaker, incident=slug, evidence_status=status, actor=who, **values
                    )

            await ensure_moderator(select_interaction)  # the role may have been taken away meanwhile
            await select_interaction.response.defer()  # acknowledge before waiting for the writer
            claim = await self.bot.ledger.write(save)
            await select_interaction.edit_original_response(
                content=f"Saved claim #{claim.id}.", embed=claim_embed(claim), view=None
            )
            await self._changed(scope, claim.incident.slug if claim.incident else None)

        async def submitted(modal_interaction: Interaction, values: dict[str, Any]) -> None:
            await ensure_moderator(modal_interaction)
            view = EvidenceChoice(interaction.user.id, lambda i, status: chosen(i, status, values))
            await modal_interaction.response.send_message(
                "Last step: the evidence status, as the source states it.", view=view, ephemeral=True
            )
            view.message_edit = modal_interaction.edit_original_response

        await interaction.response.send_modal(ClaimForm("Add a claim", submitted))

    @app_commands.command(name="edit", description="Edit a claim's text, quote, date, venue, source or evidence")
    async def edit(self, interaction: Interaction, claim: str) -> None:
        scope = scope_of(interaction.guild_id)
        current = await self.bot.ledger.read(lambda ledger: ledger.get_claim(scope, claim))
        when = ", ".join(x for x in (current.said_at, current.said_where) if x)
        initial = {
            "claim": current.text,
            "quote": current.quote,
            "when_where": when or None,
            "source": next((s.url for s in current.sources if s.url), None),
            "details": current.evidence.details,
        }
        who = actor(interaction.user)

        async def submitted(modal_interaction: Interaction, boxes: dict[str, str | None]) -> None:
            await ensure_moderator(modal_interaction)  # the role may have been taken away while the form was open
            changes = claim_edit(current, form.shown, boxes, split_when_where)
            if not changes:
                await modal_interaction.response.send_message(
                    f"Nothing changed in claim #{current.id}.", embed=claim_embed(current), ephemeral=True
                )
                return
            await acknowledge(modal_interaction)
            updated = await self.bot.ledger.write(
                lambda ledger: ledger.update_claim(scope, current.id, actor=who, **changes)
            )
            await answer(modal_interaction, f"Updated claim #{updated.id}.", embed=claim_embed(updated))
            await self._changed(scope, updated.incident.slug if updated.incident else None)

        form = ClaimForm(f"Edit claim #{current.id}", submitted, initial)
        await interaction.response.send_modal(form)

    async def _simple(self, interaction: Interaction, verb: str, action: Any) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        claim = await self.bot.ledger.write(lambda ledger: action(ledger, scope, actor(interaction.user)))
        await answer(interaction, f"{verb} claim #{claim.id}.", embed=claim_embed(claim))
        await self._changed(scope, claim.incident.slug if claim.incident else None)

    @app_commands.command(name="remove", description="Hide a claim from answers (kept in history; restorable)")
    async def remove(self, interaction: Interaction, claim: str, reason: app_commands.Range[str, 1, 300]) -> None:
        await self._simple(
            interaction, "Removed", lambda store, s, a: store.remove_claim(s, claim, reason=reason, actor=a)
        )

    @app_commands.command(name="restore", description="Bring a removed claim back into answers")
    async def restore(self, interaction: Interaction, claim: str) -> None:
        await self._simple(interaction, "Restored", lambda store, s, a: store.restore_claim(s, claim, actor=a))

    @app_commands.command(name="undo", description="Revert the last change to a claim")
    async def undo(self, interaction: Interaction, claim: str) -> None:
        await self._simple(
            interaction, "Reverted the last change to", lambda store, s, a: store.undo_claim(s, claim, actor=a)
        )

    @app_commands.command(name="show", description="Show a claim in full, removed ones included")
    async def show(self, interaction: Interaction, claim: str) -> None:
        scope = scope_of(interaction.guild_id)
        found = await self.bot.ledger.read(lambda ledger: ledger.get_claim(scope, claim))
        await interaction.response.send_message(embed=claim_embed(found), ephemeral=True)

    @app_commands.command(name="history", description="Who changed a claim, what, and when")
    async def history(self, interaction: Interaction, claim: str) -> None:
        scope = scope_of(interaction.guild_id)

        def read(ledger: Ledger) -> tuple[int, list]:
            found = ledger.get_claim(scope, claim)
            return found.id, ledger.history(scope, "claim", found.id)

        claim_id, revisions = await self.bot.ledger.read(read)
        lines = history_lines(revisions[-20:])
        embed = discord.Embed(title=f"History of claim #{claim_id}", description=cut("\n".join(lines), 4096))
        if len(revisions) > 20:
            embed.set_footer(text=f"The last 20 of {len(revisions)} changes.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @edit.autocomplete("claim")
    @remove.autocomplete("claim")
    @restore.autocomplete("claim")
    @undo.autocomplete("claim")
    @show.autocomplete("claim")
    @history.autocomplete("claim")
    @moderators_only
    async def claim_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await claim_choices(self.bot, interaction, current, include_removed=True)

    @add.autocomplete("speaker")
    @moderators_only
    async def speaker_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await speaker_choices(self.bot, interaction, current)

    @add.autocomplete("incident")
    @moderators_only
    async def incident_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await incident_choices(self.bot, interaction, current)


class EvidenceGroup(ModeratorGroup, name="evidence", description="Moderators: record what evidence was shown"):
    @app_commands.command(name="set", description="Set a claim's evidence status and what was or was not shown")
    @app_commands.choices(status=STATUS_CHOICES)
    async def set_(
        self,
        interaction: Interaction,
        claim: str,
        status: app_commands.Choice[str],
        details: app_commands.Range[str, 1, 1000],
        link: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)
        updated = await self.bot.ledger.write(
            lambda ledger: ledger.set_evidence(
                scope, claim, status=status.value, details=details, links=[link] if link else None, actor=who
            )
        )
        await answer(
            interaction, f"Evidence of claim #{updated.id}: {inert(updated.evidence.status.label)}.",
            embed=claim_embed(updated),
        )  # fmt: skip
        self.bot.dispatch("ledger_change", scope, updated.incident.slug if updated.incident else None)

    @set_.autocomplete("claim")
    @moderators_only
    async def claim_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await claim_choices(self.bot, interaction, current, include_removed=True)


class Claims(commands.Cog):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.bot.tree.add_command(ClaimGroup(bot))
        self.bot.tree.add_command(EvidenceGroup(bot))

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command("claim")
        self.bot.tree.remove_command("evidence")

    @app_commands.command(name="entry", description="Show one ledger entry in full, with its evidence and source")
    @app_commands.guild_only()
    @app_commands.describe(claim="The claim number shown in answers, e.g. 12")
    async def entry(self, interaction: Interaction, claim: str) -> None:
        scope = scope_of(interaction.guild_id)
        found = await self.bot.ledger.read(lambda ledger: ledger.get_claim(scope, claim))
        if found.removed:
            raise InvalidInputError(f"Claim #{found.id} was removed by a moderator.")
        await interaction.response.send_message(embed=claim_embed(found), ephemeral=True)

    @entry.autocomplete("claim")
    async def entry_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await claim_choices(self.bot, interaction, current, include_removed=False)


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Claims(bot))
