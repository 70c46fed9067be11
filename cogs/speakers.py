"""Moderators keep the speakers: /speaker add, /speaker alias add|remove, /speaker merge."""

from __future__ import annotations

from collections.abc import Iterable

from discord import app_commands
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot, scope_of
from bot.models import Speaker, SpeakerKind
from bot.rendering.embeds import inert
from bot.store import Ledger

from .common import Interaction, ModeratorGroup, acknowledge, actor, answer, moderators_only, speaker_choices

KIND_CHOICES = [app_commands.Choice(name=k.value, value=k.value) for k in SpeakerKind]


def incidents_of(ledger: Ledger, scope: str, speaker: Speaker) -> list[str]:
    """The incidents with claims by ``speaker``: the summaries that show its name."""
    return sorted({c.incident.slug for c in ledger.list_claims(scope, speaker=speaker.id) if c.incident})


def describe(speaker: Speaker) -> str:
    aliases = inert(", ".join(speaker.aliases) or "none")
    return f"**{inert(speaker.name)}** ({inert(speaker.role or 'no role')}, {speaker.kind.value}); aliases: {aliases}"


class SpeakerGroup(ModeratorGroup, name="speaker", description="Moderators: who makes claims, and their aliases"):
    alias = app_commands.Group(name="alias", description="Other names of a speaker (transliterations, short names)")

    async def _reply(self, interaction: Interaction, text: str, incidents: Iterable[str] = ()) -> None:
        """Answer, then announce the change: once per incident whose claims it touched (so their pinned summaries,
        which show speakers' names, are refreshed), or once for the server when it touched no incident's claims."""
        await answer(interaction, text)
        scope = scope_of(interaction.guild_id)
        touched = sorted(set(incidents))
        for incident in touched:
            self.changed(scope, incident)
        if not touched:
            self.changed(scope, None)

    @app_commands.command(name="add", description="Add a speaker: a person, organisation, agency, media or group")
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.describe(aliases="Other names, separated by commas (e.g. Zelensky, Zelenskyy)")
    async def add(
        self,
        interaction: Interaction,
        name: app_commands.Range[str, 1, 100],
        role: app_commands.Range[str, 1, 200] | None = None,
        kind: app_commands.Choice[str] | None = None,
        aliases: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)
        names = [a for a in (aliases or "").split(",") if a.strip()]
        speaker = await self.bot.ledger.write(
            lambda ledger: ledger.create_speaker(
                scope, name=name, role=role, kind=kind.value if kind else None, aliases=names, actor=who
            )
        )
        await self._reply(interaction, f"Added {describe(speaker)}.")

    @alias.command(name="add", description="Add another name for a speaker")
    async def alias_add(self, interaction: Interaction, speaker: str, alias: app_commands.Range[str, 1, 100]) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)
        found = await self.bot.ledger.write(lambda ledger: ledger.add_speaker_alias(scope, speaker, alias, actor=who))
        await self._reply(interaction, f"Updated {describe(found)}.")

    @alias.command(name="remove", description="Remove a name from a speaker")
    async def alias_remove(self, interaction: Interaction, speaker: str, alias: str) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)
        found = await self.bot.ledger.write(
            lambda ledger: ledger.remove_speaker_alias(scope, speaker, alias, actor=who)
        )
        await self._reply(interaction, f"Updated {describe(found)}.")

    @app_commands.command(name="merge", description="Merge a duplicate speaker into another (claims move over)")
    async def merge(self, interaction: Interaction, duplicate: str, into: str) -> None:
        await acknowledge(interaction)
        scope = scope_of(interaction.guild_id)
        who = actor(interaction.user)

        def run(ledger: Ledger) -> tuple[Speaker, list[str]]:
            merged = ledger.merge_speakers(scope, duplicate, into, actor=who)
            return merged, incidents_of(ledger, scope, merged)

        merged, incidents = await self.bot.ledger.write(run)
        await self._reply(interaction, f"Merged into {describe(merged)}.", incidents)

    @alias_remove.autocomplete("alias")
    @moderators_only
    async def alias_autocomplete(self, interaction: Interaction, current: str) -> list:
        scope = scope_of(interaction.guild_id)
        chosen = getattr(interaction.namespace, "speaker", None)
        if not chosen:
            return []
        speaker = await self.bot.ledger.read(lambda ledger: ledger.find_speaker(scope, chosen))
        aliases = [a for a in (speaker.aliases if speaker else ()) if current.casefold() in a.casefold()]
        return [app_commands.Choice(name=a[:100], value=a[:100]) for a in aliases[:25]]

    @alias_add.autocomplete("speaker")
    @alias_remove.autocomplete("speaker")
    @merge.autocomplete("duplicate")
    @merge.autocomplete("into")
    @moderators_only
    async def speaker_autocomplete(self, interaction: Interaction, current: str) -> list:
        return await speaker_choices(self.bot, interaction, current)


class Speakers(commands.Cog):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.bot.tree.add_command(SpeakerGroup(bot))

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command("speaker")


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Speakers(bot))
