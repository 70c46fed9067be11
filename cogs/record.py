"""The "Record as claim" message menu (moderators): a claim form prefilled from a message — its text as the quote,
its link and the first link in it as sources, the date it was sent — then the evidence status, as in /claim add.

The speaker is chosen in the form (the Discord author is usually not who made the claim) from a list of the
server's speakers, those named in the message first; "New speaker" and a typed name create one (or use the
speaker with that name or alias). A modal holds at most five components, so the date/venue and the source links
share one box. A form that cannot be read is answered with the reason and a button that reopens it as typed. The
form is this module's own (cogs do not import each other).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import ClaimLedgerBot, scope_of
from bot.errors import InvalidInputError
from bot.models import EvidenceStatus, Speaker
from bot.rendering.embeds import claim_embed, cut, inert
from bot.store import Ledger
from bot.validation import LIMITS, clean_url, parse_partial_date
from bot.watching import first_link

from .common import GUILD_ONLY, AuthorView, Interaction, LedgerModal, actor, ensure_moderator, labelled_input

log = logging.getLogger(__name__)

MENU_NAME = "Record as claim"
WHEN_WHERE_MAX = LIMITS["said_where"] + len("YYYY-MM-DD, ")
SOURCES_MAX = 1200
DISCORD_SOURCE_TITLE = "Discord message"
NEW_SPEAKER = "new"
NEW_SPEAKER_LABEL = "New speaker (type the name below)"
MAX_LISTED = 24  # with "New speaker", the 25 options a select allows
NO_NEW_NAME = "You chose New speaker but left the new speaker's name empty: type it in the box under the list."

Done = Callable[[discord.Interaction, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SpeakerOption:
    """A speaker the form lists: its names (name, then aliases), its claims, whether the message names it."""

    id: int
    names: tuple[str, ...]
    claims: int
    named: bool

    @property
    def name(self) -> str:
        return self.names[0]

    def option(self, *, chosen: bool = False) -> discord.SelectOption:
        plural = "" if self.claims == 1 else "s"
        note = f"{self.claims} claim{plural}" + (" · named in the message" if self.named else "")
        return discord.SelectOption(label=cut(self.name, 100), value=str(self.id), description=note, default=chosen)


def names_in(text: str, names: Sequence[str]) -> bool:
    """Whether any of ``names`` appears in ``text`` as whole words (case-insensitive)."""
    folded = text.casefold()
    return any(re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", folded) for name in names if name.strip())


def rank_speakers(speakers: Sequence[Speaker], claims: Mapping[int, int], text: str) -> list[SpeakerOption]:
    """Up to ``MAX_LISTED`` speakers: those whose name or alias appears in ``text`` first, then by claims, then
    by name."""
    options = [
        SpeakerOption(sp.id, (sp.name, *sp.aliases), claims.get(sp.id, 0), names_in(text, (sp.name, *sp.aliases)))
        for sp in speakers
    ]
    options.sort(key=lambda o: (not o.named, -o.claims, o.name.casefold(), o.id))
    return options[:MAX_LISTED]


def speaker_options(ledger: Ledger, scope: str, text: str) -> list[SpeakerOption]:
    """The form's speaker list, read from the ledger (run it on a reader thread)."""
    return rank_speakers(ledger.list_speakers(scope), ledger.claims_by_speaker(scope), text)


def prefill(message: discord.Message) -> dict[str, str]:
    """The form's boxes from a message: its text as claim and quote; the date it was sent, then its link and the
    first link in it as sources (one per line)."""
    text = message.content.strip()
    lines = [message.created_at.strftime("%Y-%m-%d"), message.jump_url]
    link = first_link(text)
    if link and len(link) <= LIMITS["url"]:
        lines.append(link)
    return {
        "claim": cut(text, LIMITS["claim"]),
        "quote": cut(text, LIMITS["quote"]),
        "when_sources": "\n".join(lines),
    }


def is_link(line: str) -> bool:
    return line.strip().lower().startswith(("http://", "https://"))


def split_when_sources(text: str | None) -> tuple[str | None, str]:
    """The shared box: its first line is when/where unless it is a link; the other lines are source links."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if lines and not is_link(lines[0]):
        return lines[0], "\n".join(lines[1:])
    return None, "\n".join(lines)


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


class RecordForm(LedgerModal):
    """The claim, prefilled from the message, each input in a Label (prefills cut to what a box allows): the
    speaker list, a new speaker's name, the claim, the quote, and when/where with the source links."""

    BOXES = ("new_speaker", "claim", "quote", "when_sources")

    def __init__(
        self,
        initial: dict[str, str],
        speakers: Sequence[SpeakerOption],
        message_link: str,
        on_done: Done,
        *,
        chosen: str | None = None,
    ) -> None:
        super().__init__(title="Record as claim", timeout=900)
        self.on_done = on_done
        self.message_link = message_link
        self.speakers = list(speakers)
        paragraph = discord.TextStyle.paragraph
        options = [s.option(chosen=chosen == str(s.id)) for s in self.speakers]
        options.append(discord.SelectOption(label=NEW_SPEAKER_LABEL, value=NEW_SPEAKER, default=chosen == NEW_SPEAKER))
        self.speaker: discord.ui.Select[RecordForm] = discord.ui.Select(
            custom_id="record-form:speaker", placeholder="Who made the claim?", options=options, required=True
        )
        self.add_item(
            discord.ui.Label(
                text="Speaker",
                description="Who made the claim (not who posted it); those named in the message come first",
                component=self.speaker,
            )
        )
        self.new_speaker = labelled_input(
            self,
            "New speaker's name",
            custom_id="record-form:new_speaker",
            description="Only with New speaker: a name or alias already in the ledger uses that speaker",
            required=False,
            max_length=LIMITS["name"],
            default=initial.get("new_speaker"),
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
        self.when_sources = labelled_input(
            self,
            "When, where; source links",
            custom_id="record-form:when_sources",
            description="First line: date, venue (e.g. 2024-03-23, TV address); then one link per line",
            style=paragraph,
            required=False,
            max_length=WHEN_WHERE_MAX + 1 + SOURCES_MAX,
            default=initial.get("when_sources"),
        )

    def typed(self) -> dict[str, str]:
        """What the moderator submitted, keyed like ``initial``."""
        return {name: getattr(self, name).value for name in self.BOXES}

    def chosen_speaker(self) -> int | str:
        """The chosen speaker's id, or the typed name of a new one."""
        picked = self.speaker.values[0] if self.speaker.values else None
        name = " ".join(self.new_speaker.value.split())
        if picked == NEW_SPEAKER:
            if not name:
                raise InvalidInputError(NO_NEW_NAME)
            return name
        option = next((s for s in self.speakers if str(s.id) == picked), None)
        if option is None:
            raise InvalidInputError("Choose the speaker from the list, or New speaker.")
        if name and name.casefold() not in (n.casefold() for n in option.names):
            raise InvalidInputError(
                f"You chose {option.name} and typed another name: choose New speaker for that name, or clear it."
            )
        return option.id

    def read(self) -> dict[str, Any]:
        """The claim's values; :class:`InvalidInputError` for what cannot be read."""
        speaker = self.chosen_speaker()
        when_where, sources = split_when_sources(self.when_sources.value)
        said_at, said_where = parse_when_where(when_where)
        return {
            "speaker": speaker,
            "text": self.claim.value,
            "quote": self.quote.value or None,
            "said_at": said_at,
            "said_where": said_where,
            "sources": parse_sources(sources, self.message_link) or None,
        }

    async def on_submit(self, interaction: discord.Interaction) -> None:
        try:
            values = self.read()
        except InvalidInputError as error:
            chosen = self.speaker.values[0] if self.speaker.values else None
            again = RecordForm(self.typed(), self.speakers, self.message_link, self.on_done, chosen=chosen)
            await interaction.response.send_message(
                str(error),
                view=BackToForm(interaction.user.id, again),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        await self.on_done(interaction, values)


class BackToForm(AuthorView):
    """Reopens a form that could not be read, with everything as the moderator typed it."""

    refusal = "Only the moderator recording this claim can reopen the form."

    def __init__(self, author_id: int, form: RecordForm) -> None:
        super().__init__(author_id, timeout=900)
        self.form = form

    @discord.ui.button(label="Back to the form (as you left it)", custom_id="record:reopen")
    async def reopen(self, interaction: Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_modal(self.form)


class StatusChoice(AuthorView):
    """The evidence status, as in /claim add; saving happens on choice."""

    refusal = "Only the moderator recording this claim can choose."

    def __init__(self, author_id: int, on_choice: Callable[[Interaction, str], Awaitable[None]]) -> None:
        super().__init__(author_id, timeout=600)
        self.on_choice = on_choice

    @discord.ui.select(
        custom_id="record:evidence",
        placeholder="Evidence status, as the source states it",
        options=[discord.SelectOption(label=s.label, value=s.value) for s in EvidenceStatus],
    )
    async def status(self, interaction: Interaction, select: discord.ui.Select) -> None:
        self.stop()
        await self.on_choice(interaction, select.values[0])


class Record(commands.Cog):
    def __init__(self, bot: ClaimLedgerBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=MENU_NAME, callback=self.record, allowed_contexts=GUILD_ONLY)
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def record(self, interaction: Interaction, message: discord.Message) -> None:
        await ensure_moderator(interaction)
        scope = scope_of(interaction.guild_id)
        if not message.content.strip():
            raise InvalidInputError("That message has no text to record.")
        who = actor(interaction.user)
        link = message.jump_url

        async def chosen(select_interaction: Interaction, status: str, values: dict[str, Any]) -> None:
            speaker = values.pop("speaker")

            def save(ledger: Ledger) -> Any:
                with ledger.transaction():
                    if isinstance(speaker, int):  # chosen from the list: by id, whatever it is called now
                        name = ledger.get_speaker(scope, speaker).name
                    else:
                        name = speaker
                        if ledger.find_speaker(scope, name) is None:
                            ledger.create_speaker(scope, name=name, actor=who)
                    return ledger.add_claim(scope, speaker=name, evidence_status=status, actor=who, **values)

            await ensure_moderator(select_interaction)
            await select_interaction.response.defer()
            claim = await self.bot.ledger.write(save)
            await select_interaction.edit_original_response(
                content=f"Saved claim #{claim.id}.", embed=claim_embed(claim), view=None
            )
            self.bot.dispatch("ledger_change", scope, claim.incident.slug if claim.incident else None)

        async def submitted(modal_interaction: discord.Interaction, values: dict[str, Any]) -> None:
            await ensure_moderator(modal_interaction)
            speaker = values["speaker"]
            if isinstance(speaker, int):
                listed = next(s for s in speakers if s.id == speaker)
                said = f"Speaker: **{inert(listed.name)}** (in the ledger)."
            else:
                known = await self.bot.ledger.read(lambda ledger: ledger.find_speaker(scope, speaker))
                said = (
                    f"Speaker: **{inert(known.name)}** (in the ledger)."
                    if known
                    else f"Speaker: **{inert(cut(speaker, 100))}** (new: will be created)."
                )
            view = StatusChoice(interaction.user.id, lambda i, status: chosen(i, status, values))
            await modal_interaction.response.send_message(
                f"{said}\nLast step: the evidence status, as the source states it.",
                view=view,
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )

        text = message.content
        speakers = await self.bot.ledger.read(lambda ledger: speaker_options(ledger, scope, text))
        await interaction.response.send_modal(RecordForm(prefill(message), speakers, link, submitted))


async def setup(bot: ClaimLedgerBot) -> None:
    await bot.add_cog(Record(bot))
