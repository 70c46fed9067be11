"""What the cogs share (no cog imports another): who is a moderator, the base of every moderator command group,
autocomplete lists, and the actor name written into the ledger's history.

The moderator model: moderator groups send no ``default_member_permissions``. Discord would otherwise hide them
from everyone without Manage Server, and a bot cannot add the per-role override that would show them to the
configured moderator role. So every member sees the commands, and the bot decides in code: Manage Server,
Administrator, or the role set with ``/ledger settings moderator-role``. Everyone else gets a clear refusal.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.discord.client import scope_of
from bot.discord.permissions import (
    EMBED_LINKS,
    MODERATOR_ROLE_SETTING,
    POST_EMBEDS,
    READ_MESSAGE_HISTORY,
    in_thread,
    is_moderator,
    missing_permissions,
    permissions_problem,
    refusal,
)
from bot.errors import LedgerError
from bot.rendering.audit import AUDIT_CHANNEL_SETTING
from bot.rendering.embeds import cut, inert

if TYPE_CHECKING:
    from bot.discord.client import ClaimLedgerBot
    from bot.store import Ledger

log = logging.getLogger(__name__)

# An interaction with this bot: ``interaction.client`` is the ClaimLedgerBot. Command callbacks take it; methods
# that override discord.py's (views, modals, groups' checks) take ``discord.Interaction`` and use ``bot_of``.
Interaction = discord.Interaction["ClaimLedgerBot"]


def bot_of(interaction: discord.Interaction) -> ClaimLedgerBot:
    """The bot an interaction came to: every interaction these cogs see is the ClaimLedgerBot's."""
    return cast("ClaimLedgerBot", interaction.client)


GUILD_ONLY = app_commands.AppCommandContext(guild=True, dm_channel=False, private_channel=False)


class NotModerator(app_commands.CheckFailure):
    """A member without Manage Server or the moderator role tried a moderator command."""


def actor(user: discord.abc.User) -> str:
    return f"{user.name} ({user.id})"


async def moderator_role(bot: ClaimLedgerBot, guild_id: int | None) -> int | None:
    scope = scope_of(guild_id)
    raw = await bot.ledger.read(lambda ledger: ledger.get_setting(scope, MODERATOR_ROLE_SETTING))
    return int(raw) if raw and raw.isdigit() else None


async def moderator_refusal(interaction: discord.Interaction) -> str | None:
    """None when the invoker may change the ledger now, else the message that says why not.

    Reads the member's permissions and roles from this interaction (Discord sends them fresh with every
    interaction, modal submits and button clicks included) and the moderator role from the ledger."""
    if interaction.guild_id is None:
        return "That command works only inside a server."
    role = await moderator_role(bot_of(interaction), interaction.guild_id)
    roles = {r.id for r in getattr(interaction.user, "roles", [])}
    if is_moderator(interaction.permissions.value, roles, role):
        return None
    return refusal(role)


class LedgerCheckFailure(app_commands.CheckFailure):
    """A check could not read the ledger (the database unreachable …): its message is the ledger error's.

    discord.py hands only :class:`app_commands.AppCommandError` raised by a check to the tree's error handler; any
    other exception would leave the interaction unanswered."""


async def ensure_moderator(interaction: discord.Interaction) -> bool:
    """App-command check (also called again at modal submit and at confirm): raises NotModerator, or
    LedgerCheckFailure when the moderator role cannot be read."""
    try:
        problem = await moderator_refusal(interaction)
    except LedgerError as error:
        raise LedgerCheckFailure(str(error)) from error
    if problem is not None:
        raise NotModerator(problem)
    return True


async def _is_moderator(interaction: Interaction) -> bool:
    return await moderator_refusal(interaction) is None


moderators_only = app_commands.check(_is_moderator)
"""Decorator for the autocomplete callbacks of moderator commands: discord.py runs an autocomplete's own checks
(not the group's ``interaction_check``) and answers no choices when one fails, so members cannot list
moderator-only data (removed claims, speakers, incidents) by typing into a moderator command."""


class ModeratorGroup(app_commands.Group):
    """Base of every moderator command group: guild only, visible to members, the moderator checked in code.

    discord.py runs ``interaction_check`` for commands, not for autocomplete: decorate every autocomplete of a
    moderator group with :data:`moderators_only`."""

    def __init__(self, bot: ClaimLedgerBot) -> None:
        super().__init__(allowed_contexts=GUILD_ONLY)
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await ensure_moderator(interaction)

    def changed(self, scope: str, incident: str | None) -> None:
        self.bot.dispatch("ledger_change", scope, incident)


async def acknowledge(interaction: discord.Interaction) -> None:
    """Answer within Discord's 3 seconds before any work that may wait (the writer, Discord): an ephemeral
    "thinking…" message that :func:`answer` then replaces."""
    await interaction.response.defer(ephemeral=True, thinking=True)


async def answer(interaction: discord.Interaction, content: str | None = None, *, embed: discord.Embed | None = None,
                 view: discord.ui.View | None = None) -> discord.InteractionMessage:  # fmt: skip
    """Replace the "thinking…" message with the answer (edit the original response; a first followup after a
    defer is deprecated). Stored text inside never pings anyone."""
    kwargs: dict = {"content": content, "embed": embed, "allowed_mentions": discord.AllowedMentions.none()}
    if view is not None:
        kwargs["view"] = view
    return await interaction.edit_original_response(**kwargs)


# ------------------------------------------------------------------ autocomplete lists


async def claim_choices(
    bot: ClaimLedgerBot, interaction: Interaction, current: str, *, include_removed: bool
) -> list[app_commands.Choice[str]]:
    """Claims by number or by text/speaker. Removed claims only when ``include_removed`` (moderator commands,
    behind :data:`moderators_only`), and marked as removed."""
    scope = scope_of(interaction.guild_id)

    def find(ledger: Ledger) -> list[tuple[str, str]]:
        text = current.strip().lstrip("#")
        claims = []
        if text.isdigit():
            claims = ledger.get_claims(scope, [int(text)], include_removed=include_removed)
        if not claims:
            claims = ledger.list_claims(scope, include_removed=include_removed, limit=500)
            folded = text.casefold()
            claims = [
                c for c in claims if folded in c.text.casefold() or (c.speaker and folded in c.speaker.name.casefold())
            ]
        out = []
        for claim in claims[:25]:
            if claim.removed and not include_removed:
                continue
            who = claim.speaker.name if claim.speaker else "?"
            label = f"#{claim.id} {'[removed] ' if claim.removed else ''}{who}: {claim.text}"
            out.append((label if len(label) <= 100 else label[:99] + "…", f"#{claim.id}"))
        return out

    return [app_commands.Choice(name=label, value=value) for label, value in await bot.ledger.read(find)]


async def incident_choices(
    bot: ClaimLedgerBot, interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    scope = scope_of(interaction.guild_id)
    incidents = await bot.ledger.read(lambda ledger: ledger.list_incidents(scope))
    typed = current.casefold()
    found = [i for i in incidents if not typed or any(typed in n.casefold() for n in (i.title, i.slug, *i.aliases))]
    return [app_commands.Choice(name=i.title[:100], value=i.slug) for i in found[:25]]


async def speaker_choices(
    bot: ClaimLedgerBot, interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    scope = scope_of(interaction.guild_id)
    speakers = await bot.ledger.read(lambda ledger: ledger.list_speakers(scope))
    typed = current.casefold()
    found = [s for s in speakers if not typed or any(typed in n.casefold() for n in (s.name, *s.aliases))]
    return [app_commands.Choice(name=s.name[:100], value=s.name[:100]) for s in found[:25]]


def labelled_input(
    modal: discord.ui.Modal, label: str, *, description: str | None = None, default: str | None = None, **options: Any
) -> discord.ui.TextInput:
    """Add a text input to ``modal`` inside a Label (the labelled text input in an action row is deprecated) and
    return it. The prefill is cut to the input's ``max_length``: Discord refuses a modal whose value is longer."""
    box: discord.ui.TextInput = discord.ui.TextInput(**options)
    if default:
        box.default = cut(default, box.max_length) if box.max_length else default
    modal.add_item(discord.ui.Label(text=label, description=description, component=box))
    return box


class LedgerModal(discord.ui.Modal):
    """A form whose errors go to the tree's one error handler, like a command's."""

    async def on_error(self, interaction: discord.Interaction, error: Exception, /, *_: object) -> None:
        await bot_of(interaction).handle_error(interaction, error)


class AuthorView(discord.ui.View):
    """A view only the member who started it may use (others get ``refusal``, ephemerally); its errors go to the
    tree's one error handler, like a command's."""

    refusal = "Only the person who started this can use it."

    def __init__(self, author_id: int, *, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.author_id = author_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.author_id:
            return True
        await interaction.response.send_message(self.refusal, ephemeral=True)
        return False

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        await bot_of(interaction).handle_error(interaction, error)


# ------------------------------------------------------------------ what the bot may do in a channel

MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
EMPTY_MESSAGE = 50006
THREAD_ARCHIVED = 50083
THREAD_LOCKED = 160005
CANNOT_REPLY_WITHOUT_HISTORY = 160002


def bot_missing(channel: object, needed: int) -> list[str]:
    """The permissions in ``needed`` the bot lacks in ``channel``, by name; none outside a server. Read from
    discord.py's cache of roles and overwrites, which the gateway keeps current. In a thread (permissions of its
    parent channel) Send Messages in Threads stands for Send Messages."""
    guild = getattr(channel, "guild", None)
    me = getattr(guild, "me", None)
    if me is None:
        return []
    if isinstance(channel, discord.Thread):
        try:
            perms = channel.permissions_for(me)
        except discord.ClientException:  # the parent channel is not cached: Discord will say if anything is missing
            return []
        granted = perms.value
        if not (perms.send_messages and perms.send_messages_in_threads):
            # discord.py clears Embed Links with either send permission, though Send Messages has no effect in a
            # thread: unknown here, so not named (a missing send permission is; Discord's answer tells the rest).
            granted |= EMBED_LINKS
        return missing_permissions(granted, in_thread(needed))
    if not isinstance(channel, discord.abc.GuildChannel):
        return []
    return missing_permissions(channel.permissions_for(me).value, needed)


def post_problem(
    error: discord.HTTPException,
    channel: str,
    doing: str,
    *,
    needed: int = POST_EMBEDS,
    thread: bool = False,
    private_thread: bool = False,
) -> str:
    """What to tell a moderator when Discord refused a post (or an edit) of ours with an embed: an embed-only
    message comes back as empty (50006) when Embed Links is missing, a refused send as 50013/50001; in a thread,
    50083 when it is archived, 160005 when it is locked. A private thread the bot is not in (and has no Manage
    Threads for) is hidden from it (50001): no permission of its role fixes that, being added does."""
    if error.code == MISSING_ACCESS and private_thread:
        return (
            f"I can't {doing} in {channel}: it is a private thread and I am not in it. Add me to the thread"
            " (mention me there), or give me **Manage Threads**."
        )
    if error.code == EMPTY_MESSAGE:
        return permissions_problem(["Embed Links"], channel, doing)
    if error.code in (MISSING_PERMISSIONS, MISSING_ACCESS):
        return permissions_problem(missing_permissions(0, in_thread(needed) if thread else needed), channel, doing)
    if error.code == THREAD_ARCHIVED:
        return (
            f"I can't {doing} in {channel}: the thread is archived, and Discord allows no changes in an archived"
            " thread. Unarchive it (if it is locked, someone with **Manage Threads** must)."
        )
    if error.code == THREAD_LOCKED:
        return f"I can't {doing} in {channel}: the thread is locked. Unlock it, or give me **Manage Threads** there."
    return f"I can't {doing} in {channel}: Discord said {error.text or error.status} (code {error.code})."


REPLYABLE = frozenset(
    {
        discord.MessageType.default,
        discord.MessageType.reply,
        discord.MessageType.chat_input_command,
        discord.MessageType.context_menu_command,
    }
)
"""The messages Discord lets a bot reply to; any other type is a system message (a thread created, a member joined,
a message pinned...) and a reply to it is refused (400, code 50035 on ``message_reference``)."""


def is_system(message: discord.Message) -> bool:
    """A message Discord wrote for a member's action, not one the member wrote: nothing to answer, nothing to
    reply to. Stricter than discord.py's ``Message.is_system`` (a thread's starter message counts here)."""
    return message.type not in REPLYABLE


async def reply_to(message: discord.Message, *, content: str | None = None, **kwargs: Any) -> discord.Message:
    """Reply to a member's message, quietly (no ping). A reply needs Read Message History (else Discord answers 403,
    code 160002): without it, post in the channel with a link to the message instead."""
    kwargs.setdefault("allowed_mentions", discord.AllowedMentions.none())
    if not bot_missing(message.channel, READ_MESSAGE_HISTORY):
        try:
            return await message.reply(content=content, mention_author=False, **kwargs)
        except discord.Forbidden as error:
            if error.code != CANNOT_REPLY_WITHOUT_HISTORY:
                raise
            log.info("no Read Message History in channel %s: answering without a reply", message.channel.id)
    pointer = f"↪ {message.jump_url}"
    return await message.channel.send(content=f"{pointer}\n{content}" if content else pointer, **kwargs)


# ------------------------------------------------------------------ the audit channel: what is not a revision


async def post_audit(bot: ClaimLedgerBot, scope: str, title: str, text: str) -> bool:
    """Post one note to the server's audit channel (the one set with ``/ledger settings audit-channel``), for what
    the bot did that is not a ledger revision (automatic replies, "not relevant" marks). Stored text in ``text`` is
    made inert here; nothing pings. False when there is no audit channel or Discord refused."""
    channel_id = await bot.ledger.read(lambda ledger: ledger.get_setting(scope, AUDIT_CHANNEL_SETTING))
    if not channel_id or not channel_id.isdigit():
        return False
    channel = bot.get_channel(int(channel_id))
    if not isinstance(channel, discord.abc.Messageable):
        log.warning("audit channel %s of %s is not reachable", channel_id, scope)
        return False
    try:
        await channel.send(
            embed=discord.Embed(title=cut(title, 256), description=cut(inert(text), 4096)),
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.HTTPException as error:
        log.warning("could not post to the audit channel %s: %s (code %s)", channel_id, error.status, error.code)
        return False
    return True
