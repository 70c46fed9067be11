"""The Bot subclass, its command tree, and the one place that turns errors into user messages."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings, read_dotenv
from bot.discord.service import LedgerService
from bot.errors import InvalidInputError, LedgerError

log = logging.getLogger(__name__)

DEFAULT_EXTENSIONS: tuple[str, ...] = (
    "cogs.ask",
    "cogs.admin",
    "cogs.claims",
    "cogs.speakers",
    "cogs.incidents",
    "cogs.ledger",
    "cogs.audit",
    "cogs.watch",
    "cogs.record",
)
MESSAGE_CONTENT_ENV = "CLAIMLEDGER_MESSAGE_CONTENT"
_OFF = ("0", "false", "no", "off")
UNEXPECTED = "Something went wrong on Claim Ledger's side. It has been logged; please try again in a moment."
THREAD_REFUSALS = {50083: "archived", 160005: "locked"}
"""Discord's codes for an answer refused because the thread is archived or locked."""


def scope_of(guild_id: int | None) -> str:
    """The ledger scope of a server (direct messages have none)."""
    if guild_id is None:
        raise LedgerError("Claim Ledger works inside a server; ask me in one of its channels.")
    return str(guild_id)


def user_message(error: BaseException) -> str | None:
    """The message a user sees for an error, or None for an unexpected error (to be logged)."""
    if isinstance(error, app_commands.CommandInvokeError | commands.CommandInvokeError):
        error = error.original
    if isinstance(error, app_commands.TransformerError) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, LedgerError):
        return str(error)
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Easy there: you can ask again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"You need the {needed} permission for that."
    if isinstance(error, app_commands.BotMissingPermissions):
        needed = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"I am missing the {needed} permission in this channel. A server admin can grant it."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "That command works only inside a server."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You can't use that command here."
    if isinstance(error, discord.Forbidden):
        return f"Discord refused: I lack a permission here ({error.text or 'Missing Permissions'}, code {error.code})."
    if isinstance(error, discord.HTTPException):
        return f"Discord returned an error ({error.status}, code {error.code}): {error.text or 'no details'}."
    return None


class LedgerTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError, /) -> None:
        await self.handle_error(interaction, error)

    async def handle_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Map any error from a command, view or modal to one ephemeral message; log the unexpected. When Discord
        refused the answer itself because the thread was archived or locked meanwhile, log and stop: an error
        message would be refused the same way."""
        state = refused_by_thread(interaction, error)
        if state is not None:
            log.info(
                "Interaction %s in channel %s: Discord refused the answer, the thread is %s; nothing more is sent",
                interaction.id,
                interaction.channel_id,
                state,
            )
            return
        message = user_message(error)
        if message is None:
            command = interaction.command.qualified_name if interaction.command else None
            log.error(
                "Unexpected error: command=%s guild=%s channel=%s user=%s data=%s",
                command,
                interaction.guild_id,
                interaction.channel_id,
                interaction.user.id if interaction.user else None,
                interaction.data,
                exc_info=error,
            )
            message = UNEXPECTED
        else:
            log.debug("User error in %s: %s", interaction.command and interaction.command.name, message)
        await send_ephemeral(interaction, message)


def refused_by_thread(interaction: discord.Interaction, error: BaseException) -> str | None:
    """``"archived"`` or ``"locked"`` when ``error`` is Discord refusing an answer to ``interaction`` (its callback,
    a followup or an original-response edit: a request carrying its token) because its thread is archived or locked
    (400 50083 / 160005), else None."""
    if isinstance(error, app_commands.CommandInvokeError | commands.CommandInvokeError):
        error = error.original
    if not isinstance(error, discord.HTTPException) or error.code not in THREAD_REFUSALS:
        return None
    url = getattr(getattr(error, "response", None), "url", None)
    if url is None or interaction.token not in str(url):
        return None
    return THREAD_REFUSALS[error.code]


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Reply ephemerally whether or not the interaction was already answered; never raise."""
    try:
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # Deferred ("thinking…"): the message replaces it (a first followup after a defer is deprecated).
            await interaction.edit_original_response(
                content=message[:2000], embeds=[], attachments=[], view=None,
                allowed_mentions=discord.AllowedMentions.none(),
            )  # fmt: skip
        elif interaction.response.is_done():
            await interaction.followup.send(
                message[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
        else:
            await interaction.response.send_message(
                message[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
    except discord.HTTPException:
        log.warning("Could not deliver an error message to interaction %s", interaction.id, exc_info=True)


def intents(*, message_content: bool = False) -> discord.Intents:
    """Only what the bot uses: guilds and guild messages (for mentions), and the privileged Message Content intent
    only when watched channels are wanted (``CLAIMLEDGER_MESSAGE_CONTENT=1``)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = message_content
    return wanted


def message_content_requested(
    settings: Settings, env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> bool:
    """Whether to ask Discord for the Message Content intent: ``settings.message_content`` when the settings carry
    it, else ``CLAIMLEDGER_MESSAGE_CONTENT`` from the environment (or ``.env``); off by default."""
    explicit = getattr(settings, "message_content", None)
    if explicit is not None:
        return bool(explicit)
    merged: dict[str, str] = dict(read_dotenv(dotenv)) if dotenv else {}
    merged.update(os.environ if env is None else env)
    raw = merged.get(MESSAGE_CONTENT_ENV, "").strip().lower()
    return bool(raw) and raw not in _OFF


def warn_message_content_refused() -> None:
    log.warning(
        "Watched channels are off: Discord refused the Message Content intent. Enable it in the Developer"
        " Portal (Bot → Privileged Gateway Intents → Message Content) and restart, or set"
        " %s=0 to stop asking for it.",
        MESSAGE_CONTENT_ENV,
    )


class ClaimLedgerBot(commands.Bot):
    def __init__(
        self,
        *,
        settings: Settings,
        ledger: LedgerService,
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        message_content: bool | None = None,
        message_content_refused: bool = False,
        **options: Any,
    ) -> None:
        """``message_content``: ask for the Message Content intent (default: :func:`message_content_requested`).
        A client's intents are fixed once it is made: when Discord refuses the intent (4014, not enabled in the
        Developer Portal), :meth:`start` raises :class:`discord.PrivilegedIntentsRequired` and
        :func:`bot.discord.runner.run_bot` makes a new bot without it, ``message_content_refused=True``."""
        if message_content is None:
            message_content = message_content_requested(settings)
        options.setdefault("intents", intents(message_content=message_content))
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(
            command_prefix=commands.when_mentioned,
            tree_cls=LedgerTree,
            help_command=None,
            owner_ids=set(settings.owner_ids) or None,
            **options,
        )
        self.settings = settings
        self.ledger = ledger
        self.initial_extensions = tuple(extensions)
        self.failed_extensions: dict[str, BaseException] = {}
        self.message_content_refused = message_content_refused

    async def handle_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Tell the member what went wrong, from a view, modal or button as from a command: the tree's
        ``handle_error`` is the one place errors are mapped to messages."""
        tree = self.tree
        assert isinstance(tree, LedgerTree)
        await tree.handle_error(interaction, error)

    @property
    def watching(self) -> bool:
        """Watched channels work only with the Message Content intent requested and granted."""
        return self.intents.message_content and not self.message_content_refused

    async def setup_hook(self) -> None:
        for extension in self.initial_extensions:
            try:
                await self.load_extension(extension)
            except Exception as error:
                self.failed_extensions[extension] = error
                log.exception("Failed to load extension %s; the others still load", extension)

    async def on_ready(self) -> None:
        log.info("Ready as %s (%s) in %d server(s)", self.user, self.user and self.user.id, len(self.guilds))

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self._prepare_guild(guild)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._prepare_guild(guild)

    async def _prepare_guild(self, guild: discord.Guild) -> None:
        if not self.settings.seed_new_servers:
            return
        try:
            if await self.ledger.ensure_seeded(scope_of(guild.id), self.settings.seed_dir):
                log.info("Seeded the ledger of %s (%s) with the bundled incidents", guild.name, guild.id)
        except Exception:
            log.exception("Seeding the ledger of guild %s failed", guild.id)

    async def on_command_error(self, context: commands.Context, error: commands.CommandError) -> None:
        if isinstance(error, commands.CommandNotFound | commands.NotOwner | commands.CheckFailure):
            return  # a mention that is a question, not a command: the ask cog answers it
        log.error("Error in prefix command %s", context.command, exc_info=error)

    async def sync_commands(self, guild_id: int | None = None) -> list[app_commands.AppCommand]:
        """Register the commands with Discord: to one server (instant) or globally."""
        if guild_id is None:
            return await self.tree.sync()
        guild = discord.Object(id=guild_id)
        self.tree.copy_global_to(guild=guild)
        return await self.tree.sync(guild=guild)


class ShardedClaimLedgerBot(ClaimLedgerBot, commands.AutoShardedBot):
    """The same bot as a discord.py AutoShardedBot: one gateway connection per shard id given (``shard_ids``, all
    of ``shard_count`` by default); Discord sends each shard the events of its guilds, ``(guild_id >> 22) %
    shard_count``, and direct messages to shard 0.

    Discord refusing the Message Content intent stops it, as it stops the unsharded bot (discord.py closes a sharded
    client before saying so); :func:`bot.discord.runner.run_bot` then starts a new one without the intent."""

    def __init__(
        self,
        *,
        settings: Settings,
        ledger: LedgerService,
        shard_count: int,
        shard_ids: Sequence[int] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            settings=settings,
            ledger=ledger,
            shard_count=shard_count,
            shard_ids=list(shard_ids) if shard_ids is not None else None,
            **options,
        )

    async def on_shard_ready(self, shard_id: int) -> None:
        guilds = sum(1 for guild in self.guilds if guild.shard_id == shard_id)
        log.info("Shard %d of %s ready with %d server(s)", shard_id, self.shard_count, guilds)


def command_label(command: app_commands.AppCommand) -> str:
    """How a user finds a command in Discord: ``/ask``, or a context menu's name and kind."""
    if command.type is discord.AppCommandType.chat_input:
        return f"/{command.name}"
    kind = "message menu" if command.type is discord.AppCommandType.message else "user menu"
    return f"{command.name} ({kind})"


async def clear_commands(token: str, guild_id: int | None = None) -> list[app_commands.AppCommand]:
    """Remove every command of the application from one server, or globally (``guild_id`` None): Discord's bulk
    overwrite with an empty list. Returns the commands that were registered there. Logs in over REST only and needs
    no ledger. Discord's refusals are raised as :class:`LedgerError`, one sentence each."""
    client = discord.Client(intents=discord.Intents.default())  # never connects to the gateway
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)  # empty: syncing it clears
    guild = discord.Object(id=guild_id) if guild_id is not None else None
    try:
        async with client:
            await client.login(token)
            registered = await tree.fetch_commands(guild=guild)
            if registered:
                await tree.sync(guild=guild)
            log.info("Cleared %d commands (guild %s)", len(registered), guild_id)
            return registered
    except discord.LoginFailure:
        raise InvalidInputError(
            "Discord rejected the token (401 Unauthorized); copy a fresh one from the Developer Portal"
            " (Bot → Reset Token) into DISCORD_TOKEN."
        ) from None
    except discord.HTTPException as error:
        details = f"{error.text or 'no details'}, code {error.code}"
        if guild_id is not None and (error.code == 50001 or isinstance(error, discord.NotFound)):
            raise InvalidInputError(
                f"Discord refused server {guild_id} ({details}): the bot is not in that server or the ID is wrong;"
                " copy the ID with Developer Mode on: right-click the server → Copy Server ID."
            ) from None
        raise LedgerError(f"Discord returned an error ({error.status}, {details}).") from None
    except OSError as error:
        raise LedgerError(f"Cannot reach Discord: {error}.") from None
