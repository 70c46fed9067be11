"""The emulator's state: the world, messages, synced commands and interactions, and the clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import discord
from aiohttp import web

from . import rules
from .errors import CommandHiddenError, EmulatorError, UnknownCommandError, invalid_form, too_many_commands
from .gateway import Gateway
from .payloads import Channel, Guild, IdLike, Member, Role, Snowflakes, StoredMessage, User, as_id, iso, permissions_for
from .records import EmulatedInteraction, Fault, RecordedRequest

log = logging.getLogger("tests.emulator")

MENTION_USER_RE = re.compile(r"<@!?(\d+)>")
MENTION_ROLE_RE = re.compile(r"<@&(\d+)>")


Handler = Callable[..., Any]


class EmulatorState:
    """What the emulated Discord holds: the world (users, guilds, roles, members, channels, threads), messages,
    synced commands, interactions and the records of REST requests; how messages are built, stored and dispatched."""

    def __init__(
        self,
        *,
        bot_name: str = "Claim Ledger",
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        """When set, only this bot token is accepted (REST 401 → LoginFailure; gateway close 4004)."""
        self.interaction_deadline = 3.0
        """Seconds from dispatch within which the first response must arrive (else 404 10062)."""
        self.token_lifetime = 15 * 60.0
        """Seconds an interaction token stays valid for followups and original edits."""
        self.privileged_intents = rules.PRIVILEGED_INTENTS
        """Privileged intents 'enabled in the developer portal'; asking for others closes the gateway with 4014."""
        self.max_pins = rules.MAX_PINS
        self.attachment_size_limit = 10 * 1024 * 1024
        self.echo_own_messages = True
        """Dispatch MESSAGE_CREATE/UPDATE/DELETE for the bot's own messages, as Discord does."""
        self.pin_system_messages = True
        """Post the 'pinned a message' system message (type 6) on pin, as Discord does."""
        self.clock_offset = 0.0
        """Seconds added to the event loop's clock by :meth:`advance` (interaction deadlines and token expiry)."""
        self.legacy_followup_edits_original = False
        """Discord still turns the first followup after a deferred response into an edit of the "thinking" message
        "for backwards compatibility" and documents it as deprecated. Off (the default), such a followup is refused
        (400 code 0): answer with ``edit_original_response``. On, the old behaviour."""

        self.ids = Snowflakes()
        self.bot_user = User(self.ids.next(), bot_name, bot=True)
        self.app_id = self.bot_user.id
        self.owner = User(self.ids.next(), "owner")
        """The application owner (also the owner of every guild made by :meth:`add_guild`)."""
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user, self.owner.id: self.owner}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.commands: defaultdict[int | None, list[dict[str, Any]]] = defaultdict(list)
        """Synced commands by guild id (``None`` = global), as Discord returned them (with ids)."""
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.interactions: dict[int, EmulatedInteraction] = {}
        self.ephemeral_messages: dict[int, StoredMessage] = {}
        self.deleted_messages: list[StoredMessage] = []
        self.uploads: dict[int, dict[str, Any]] = {}
        self.dm_closed: set[int] = set()
        self.dropped_embeds: list[tuple[int, int]] = []
        """(channel id, embed count) for each bot message whose embeds were dropped for want of Embed Links."""
        self.internal_errors: list[Exception] = []
        """Exceptions raised inside route handlers (emulator bugs), answered with 400 code 0."""
        self.gateway = Gateway(self)
        self._by_token: dict[str, EmulatedInteraction] = {}
        self._dm_channels: dict[int, int] = {}
        self._change = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._restore: list[tuple[object, str, object]] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._add_routes()

    # ------------------------------------------------------------------ clock

    def now(self) -> float:
        """The emulator's clock: ``loop.time()`` plus :attr:`clock_offset`. Interaction deadlines (3 s), token
        lifetimes (15 min) and ``RecordedRequest.at`` use it."""
        return asyncio.get_running_loop().time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward: ``emu.advance(15 * 60)`` expires every interaction token issued so far
        (followups and original-response edits then get 401 50027); threads idle for their ``auto_archive_duration``
        archive themselves (THREAD_UPDATE). The bot's own timers are not affected."""
        if seconds < 0:
            raise EmulatorError("the clock only moves forward")
        self.clock_offset += seconds
        self._archive_idle_threads()

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``discord.http.Route.BASE`` must be: ``http://127.0.0.1:PORT/api/v10``."""
        return f"{self.root_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/resume"

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    def _dispatch(self, event: str, data: dict[str, Any], *, intent: int | None = None) -> int | None:
        seq = self.gateway.dispatch(event, data, intent=intent)
        self._notify()
        return seq

    # ------------------------------------------------------------------ state: building the world

    def _user(self, user: IdLike) -> User:
        user_id = as_id(user)
        try:
            return self.users[user_id]
        except KeyError:
            raise EmulatorError(f"unknown user {user_id}") from None

    def _guild(self, guild: IdLike) -> Guild:
        guild_id = as_id(guild)
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise EmulatorError(f"unknown guild {guild_id}") from None

    def _channel(self, channel: IdLike) -> Channel:
        channel_id = as_id(channel)
        try:
            return self.channels[channel_id]
        except KeyError:
            raise EmulatorError(f"unknown channel {channel_id}") from None

    def add_user(self, name: str, *, bot: bool = False) -> User:
        user = User(self.ids.next(), name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self, name: str = "OSINT Club", *, owner: IdLike | None = None, channel_name: str = "general"
    ) -> Guild:
        """A guild with @everyone, a 'Moderators' role, the bot's role, a text channel, the owner and the bot.

        Dispatched live (GUILD_CREATE) when a client is connected.
        """
        owner_user = self.owner if owner is None else self._user(owner)
        guild = Guild(id=self.ids.next(), name=name, owner_id=owner_user.id)
        guild.roles[guild.id] = Role(guild.id, guild.id, "@everyone", rules.EVERYONE_PERMISSIONS)
        moderators = Role(self.ids.next(), guild.id, "Moderators", rules.MODERATOR_PERMISSIONS, position=1)
        bot_role = Role(
            self.ids.next(),
            guild.id,
            self.bot_user.name,
            rules.DEFAULT_BOT_PERMISSIONS,
            position=2,
            managed=True,
            tags={"bot_id": str(self.bot_user.id)},
        )
        guild.roles[moderators.id] = moderators
        guild.roles[bot_role.id] = bot_role
        guild.moderator_role_id = moderators.id
        guild.bot_role_id = bot_role.id
        channel = Channel(self.ids.next(), channel_name, guild.id)
        guild.channels[channel.id] = channel
        guild.channel_id = channel.id
        self.channels[channel.id] = channel
        guild.members[owner_user.id] = Member(owner_user, guild.id)
        guild.members[self.bot_user.id] = Member(self.bot_user, guild.id, roles=[bot_role.id])
        self.guilds[guild.id] = guild
        if self.gateway.shard_has(guild.id):
            self._dispatch("GUILD_CREATE", guild.gateway_payload(self.bot_user.id), intent=rules.INTENT_GUILDS)
        return guild

    def add_channel(
        self,
        guild: IdLike,
        name: str,
        *,
        type: int = 0,
        topic: str | None = None,
        overwrites: Sequence[Mapping[str, Any]] = (),
        parent_id: int | None = None,
    ) -> Channel:
        if type in rules.THREAD_TYPES:
            raise EmulatorError("threads are made with add_thread(parent, name)")
        target = self._guild(guild)
        channel = Channel(
            self.ids.next(),
            name,
            target.id,
            type=type,
            position=len(target.channels),
            topic=topic,
            parent_id=parent_id,
            overwrites=[dict(o) for o in overwrites],
        )
        target.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self._dispatch("CHANNEL_CREATE", channel.payload(), intent=rules.INTENT_GUILDS)
        return channel

    def add_thread(
        self,
        parent: IdLike,
        name: str,
        *,
        owner: IdLike | None = None,
        type: int | None = None,
        members: Iterable[IdLike] = (),
        invitable: bool = True,
        auto_archive_duration: int = 1440,
    ) -> Channel:
        """A thread under ``parent`` started by ``owner`` (the guild owner by default), who is its first member;
        ``members`` are added too (the bot among them, if named). The type follows the parent (``topics/threads``):
        a public thread (11) under a text channel, an announcement thread (10) under an announcement channel (5);
        ``type=12`` makes a private thread, in a text channel only. THREAD_CREATE reaches the bot only if it can
        see the thread: the parent's View Channel, and for a private thread membership or Manage Threads."""
        parent_channel = self._channel(parent)
        natural = {0: rules.PUBLIC_THREAD, 5: rules.ANNOUNCEMENT_THREAD}.get(parent_channel.type)
        if parent_channel.guild_id is None or natural is None:
            raise EmulatorError(f"channel {parent_channel.id} (type {parent_channel.type}) cannot hold threads")
        wanted = natural if type is None else type
        private_ok = natural == rules.PUBLIC_THREAD  # private threads only in text channels
        if wanted not in (natural, rules.PRIVATE_THREAD) or (wanted == rules.PRIVATE_THREAD and not private_ok):
            raise EmulatorError(
                f"a channel of type {parent_channel.type} holds threads of type {natural}"
                + (" and private threads (12)" if natural == rules.PUBLIC_THREAD else "")
                + f", not {wanted}"
            )
        if auto_archive_duration not in rules.AUTO_ARCHIVE_DURATIONS:
            raise EmulatorError(f"auto_archive_duration must be one of {sorted(rules.AUTO_ARCHIVE_DURATIONS)}")
        target = self.guilds[parent_channel.guild_id]
        owner_id = target.owner_id if owner is None else as_id(owner)
        thread = Channel(
            self.ids.next(),
            name,
            target.id,
            type=wanted,
            parent_id=parent_channel.id,
            owner_id=owner_id,
            invitable=invitable,
            auto_archive_duration=auto_archive_duration,
            last_activity=self.now(),
        )
        for user_id in dict.fromkeys([owner_id, *(as_id(m) for m in members)]):
            if user_id not in target.members:
                raise EmulatorError(f"user {user_id} is not a member of guild {target.id}")
            thread.thread_members[user_id] = iso()
        target.channels[thread.id] = thread
        self.channels[thread.id] = thread
        self._dispatch_thread("THREAD_CREATE", thread, newly_created=True)
        self._thread_members_update(thread, added=list(thread.thread_members))
        return thread

    def archive_thread(self, thread: IdLike, *, locked: bool = False) -> None:
        """Archive a thread (as a member would; the inactivity timer does it in :meth:`advance`), ``locked`` as a
        moderator would: only active threads can be manipulated (50083), and a locked one is not reopened by a
        message."""
        target = self._thread(thread)
        target.archived, target.locked, target.archive_timestamp = True, locked, iso()
        self._dispatch_thread("THREAD_UPDATE", target)

    def unarchive_thread(self, thread: IdLike) -> None:
        """Unarchive (an activity): THREAD_UPDATE, then THREAD_MEMBER_UPDATE to the bot if it is a member
        (``topics/threads``: Unarchiving a Thread)."""
        target = self._thread(thread)
        target.archived, target.locked, target.archive_timestamp = False, False, iso()
        target.last_activity = self.now()
        self._dispatch_thread("THREAD_UPDATE", target)
        self._thread_member_update(target)

    def add_thread_member(self, thread: IdLike, user: IdLike) -> None:
        """Add ``user`` (a member, or the bot) to a thread, as the thread's members or a moderator would: only an
        active thread (a test asking otherwise gets :class:`EmulatorError`). THREAD_MEMBERS_UPDATE goes to the
        bot when it is the one added, or, with the GUILD_MEMBERS intent, when it sees the thread; an added bot gets
        THREAD_CREATE first (``events/gateway-events``: Thread Create, Thread Members Update)."""
        target = self._thread(thread)
        user_id = as_id(user)
        guild = self.guilds[target.guild_id or 0]
        if user_id not in guild.members:
            raise EmulatorError(f"user {user_id} is not a member of guild {guild.id}")
        if target.archived:
            raise EmulatorError(f"thread {target.id} is archived: nobody can be added to it")
        self._add_to_thread(target, user_id)

    def remove_thread_member(self, thread: IdLike, user: IdLike) -> None:
        """Remove ``user`` from a thread (leaving, or removed by a moderator): THREAD_MEMBERS_UPDATE as for
        :meth:`add_thread_member`. The bot removed from a private thread stops seeing it."""
        target = self._thread(thread)
        user_id = as_id(user)
        if user_id not in target.thread_members:
            raise EmulatorError(f"user {user_id} is not a member of thread {target.id}")
        if target.archived:
            raise EmulatorError(f"thread {target.id} is archived: nobody can be removed from it")
        self._remove_from_thread(target, user_id)

    def _add_to_thread(self, thread: Channel, user_id: int) -> None:
        if user_id in thread.thread_members:
            return
        thread.thread_members[user_id] = iso()
        if user_id == self.bot_user.id:
            self._dispatch_thread("THREAD_CREATE", thread)  # sent on being added to any thread (topics/threads)
        self._thread_members_update(thread, added=[user_id])

    def _remove_from_thread(self, thread: Channel, user_id: int) -> None:
        if thread.thread_members.pop(user_id, None) is None:
            return
        self._thread_members_update(thread, removed=[user_id])

    def _thread(self, thread: IdLike) -> Channel:
        target = self._channel(thread)
        if not target.is_thread:
            raise EmulatorError(f"channel {target.id} is not a thread")
        return target

    def bot_sees(self, channel: Channel) -> bool:
        """Whether the bot can view ``channel`` (for a private thread: as a member or with Manage Threads)."""
        return bool(self.bot_permissions(channel) & rules.VIEW_CHANNEL)

    def _dispatch_thread(self, event: str, thread: Channel, *, newly_created: bool = False) -> None:
        """The gateway tells the bot about threads it can see (``topics/threads``, Gateway Events)."""
        if not self.bot_sees(thread):
            return
        data = thread.thread_payload(self.bot_user.id) | ({"newly_created": True} if newly_created else {})
        self._dispatch(event, data, intent=rules.INTENT_GUILDS)

    def _thread_member_update(self, thread: Channel) -> None:
        """THREAD_MEMBER_UPDATE: the bot's own thread member object, to the bot only when it is a member."""
        if self.bot_user.id not in thread.thread_members or not self.bot_sees(thread):
            return
        data = thread.thread_member(self.bot_user.id) | {"guild_id": str(thread.guild_id)}
        self._dispatch("THREAD_MEMBER_UPDATE", data, intent=rules.INTENT_GUILDS)

    def _thread_members_update(
        self, thread: Channel, *, added: Sequence[int] = (), removed: Sequence[int] = ()
    ) -> None:
        """THREAD_MEMBERS_UPDATE (``events/gateway-events``): always to the bot when it is among those added or
        removed (even from a private thread it no longer sees); about other users only with the GUILD_MEMBERS
        intent, and only for a thread it can see. Added members carry their guild member and a null presence."""
        about_bot = self.bot_user.id in added or self.bot_user.id in removed
        if not about_bot and not self.bot_sees(thread):
            return
        guild = self.guilds[thread.guild_id or 0]
        data: dict[str, Any] = {
            "id": str(thread.id),
            "guild_id": str(guild.id),
            "member_count": min(len(thread.thread_members), 50),
        }
        if added:
            data["added_members"] = [
                thread.thread_member(user_id) | {"member": guild.members[user_id].payload(), "presence": None}
                for user_id in added
            ]
        if removed:
            data["removed_member_ids"] = [str(user_id) for user_id in removed]
        self._dispatch(
            "THREAD_MEMBERS_UPDATE", data, intent=rules.INTENT_GUILDS if about_bot else rules.INTENT_GUILD_MEMBERS
        )

    def _archive_idle_threads(self) -> None:
        """Threads archive themselves after ``auto_archive_duration`` minutes without activity (a message, being
        unarchived; ``topics/threads``: Active & Archived Threads), each with a THREAD_UPDATE."""
        now = self.now()
        for channel in list(self.channels.values()):
            idle = now - channel.last_activity >= channel.auto_archive_duration * 60
            if channel.is_thread and not channel.archived and idle:
                self.archive_thread(channel)

    def _visible_parents(self) -> dict[int, set[int]]:
        """guild id → the ids of the channels that can hold threads the bot can view."""
        parents = rules.THREAD_PARENT_TYPES
        return {
            guild.id: {c.id for c in guild.channels.values() if c.type in parents and self.bot_sees(c)}
            for guild in self.guilds.values()
        }

    def _sync_gained_channels(self, before: Mapping[int, set[int]]) -> None:
        """THREAD_LIST_SYNC when the bot gains access to channels (``events/gateway-events``: Thread List Sync;
        ``topics/threads``: Gaining Access to Channels): their active threads it can see, and its thread members."""
        for guild_id, visible in self._visible_parents().items():
            gained = visible - before.get(guild_id, set())
            if not gained:
                continue
            guild = self.guilds[guild_id]
            threads = [
                c
                for c in guild.channels.values()
                if c.is_thread and c.parent_id in gained and not c.archived and self.bot_sees(c)
            ]
            data = {
                "guild_id": str(guild_id),
                "channel_ids": [str(c) for c in sorted(gained)],
                "threads": [t.thread_payload() for t in threads],
                "members": [t.thread_member(self.bot_user.id) for t in threads if self.bot_user.id in t.thread_members],
            }
            self._dispatch("THREAD_LIST_SYNC", data, intent=rules.INTENT_GUILDS)

    def add_role(
        self, guild: IdLike, name: str, permissions: int | discord.Permissions = 0, *, mentionable: bool = False
    ) -> Role:
        target = self._guild(guild)
        value = permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)
        role = Role(self.ids.next(), target.id, name, value, position=len(target.roles), mentionable=mentionable)
        target.roles[role.id] = role
        self._dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(target.id), "role": role.payload()}, intent=rules.INTENT_GUILDS
        )
        return role

    def add_member(
        self,
        guild: IdLike,
        name: str = "member",
        *,
        permissions: int | discord.Permissions | None = None,
        roles: Iterable[IdLike] = (),
        nick: str | None = None,
        bot: bool = False,
        user: IdLike | None = None,
    ) -> Member:
        """A new user (or ``user``) joins ``guild``. ``permissions`` gives them a role with exactly those bits
        (reused across members asking the same), on top of @everyone; ``roles`` adds existing roles.
        """
        target = self._guild(guild)
        member_user = self._user(user) if user is not None else self.add_user(name, bot=bot)
        role_ids = [as_id(r) for r in roles]
        for role_id in role_ids:
            if role_id not in target.roles:
                raise EmulatorError(f"role {role_id} is not in guild {target.id}")
        if permissions is not None:
            value = permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)
            role = next(
                (r for r in target.roles.values() if r.name == f"perms-{value:x}" and r.permissions == value), None
            )
            if role is None:
                role = self.add_role(target, f"perms-{value:x}", value)
            role_ids.append(role.id)
        member = Member(member_user, target.id, roles=role_ids, nick=nick)
        target.members[member_user.id] = member
        self._dispatch(
            "GUILD_MEMBER_ADD", member.payload() | {"guild_id": str(target.id)}, intent=rules.INTENT_GUILD_MEMBERS
        )
        return member

    def give_role(self, guild: IdLike, user: IdLike, role: IdLike) -> None:
        target = self._guild(guild)
        member = target.members[as_id(user)]
        role_id = as_id(role)
        before = self._visible_parents()
        if role_id not in member.roles:
            member.roles.append(role_id)
        self._dispatch(
            "GUILD_MEMBER_UPDATE", member.payload() | {"guild_id": str(target.id)}, intent=rules.INTENT_GUILD_MEMBERS
        )
        self._sync_gained_channels(before)

    def take_role(self, guild: IdLike, user: IdLike, role: IdLike) -> None:
        """Remove a role from a member (the next interaction carries the member's new roles and permissions)."""
        target = self._guild(guild)
        member = target.members[as_id(user)]
        before = self._visible_parents()
        member.roles = [r for r in member.roles if r != as_id(role)]
        self._dispatch(
            "GUILD_MEMBER_UPDATE", member.payload() | {"guild_id": str(target.id)}, intent=rules.INTENT_GUILD_MEMBERS
        )
        self._sync_gained_channels(before)

    def set_role_permissions(self, guild: IdLike, role: IdLike, permissions: int | discord.Permissions) -> None:
        target = self._guild(guild)
        entry = target.roles[as_id(role)]
        before = self._visible_parents()
        entry.permissions = permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)
        self._dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(target.id), "role": entry.payload()}, intent=rules.INTENT_GUILDS
        )
        self._sync_gained_channels(before)

    def set_bot_permissions(
        self, guild: IdLike, permissions: int | discord.Permissions, *, channel: IdLike | None = None
    ) -> None:
        """Set the bot's role permissions (@everyone still adds its own, as on Discord), or with ``channel``
        set exactly these permissions for the bot in that channel (a member overwrite).
        """
        target = self._guild(guild)
        value = permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)
        if channel is None:
            self.set_role_permissions(target, target.bot_role_id, value)
            return
        entry = self._channel(channel)
        if entry.is_thread:
            raise EmulatorError("threads have no overwrites of their own: set the parent channel's")
        before = self._visible_parents()
        entry.overwrites = [o for o in entry.overwrites if int(o["id"]) != self.bot_user.id]
        entry.overwrites.append(
            {"id": str(self.bot_user.id), "type": 1, "allow": str(value), "deny": str(rules.ALL_PERMISSIONS & ~value)}
        )
        self._dispatch("CHANNEL_UPDATE", entry.payload(), intent=rules.INTENT_GUILDS)
        self._sync_gained_channels(before)

    def permissions(self, guild: IdLike, user: IdLike, channel: IdLike | None = None) -> int:
        """A member's permissions in the guild, or in ``channel`` (overwrites applied)."""
        target = self._guild(guild)
        return permissions_for(target, as_id(user), None if channel is None else self._channel(channel))

    def bot_permissions(self, channel: Channel) -> int:
        if channel.guild_id is None:
            return rules.DEFAULT_BOT_PERMISSIONS
        return permissions_for(self.guilds[channel.guild_id], self.bot_user.id, channel)

    def dm_channel(self, user: IdLike) -> Channel:
        """The DM channel between the bot and ``user`` (created on first use)."""
        target = self._user(user)
        channel_id = self._dm_channels.get(target.id)
        if channel_id is None:
            channel = Channel(self.ids.next(), "", None, type=1, recipient_id=target.id)
            self.channels[channel.id] = channel
            self._dm_channels[target.id] = channel.id
            return channel
        return self.channels[channel_id]

    def close_dms(self, user: IdLike) -> None:
        """The user does not accept DMs: the bot's sends get 403 50007."""
        self.dm_closed.add(as_id(user))

    # ------------------------------------------------------------------ state: reading

    @property
    def messages(self) -> dict[int, dict[int, StoredMessage]]:
        """channel id → {message id → message} (live; ephemeral and deleted messages excluded)."""
        return {channel_id: channel.messages for channel_id, channel in self.channels.items()}

    def channel_messages(self, channel: IdLike) -> list[StoredMessage]:
        """The channel's messages, oldest first."""
        return list(self._channel(channel).messages.values())

    def pins(self, channel: IdLike) -> list[int]:
        """Ids of the channel's pinned messages, most recently pinned first (as Discord lists them)."""
        return list(reversed(self._channel(channel).pins))

    def find_message(self, message: IdLike) -> StoredMessage | None:
        message_id = as_id(message)
        if message_id in self.ephemeral_messages:
            return self.ephemeral_messages[message_id]
        for channel in self.channels.values():
            if message_id in channel.messages:
                return channel.messages[message_id]
        return None

    def attachment_data(self, attachment: IdLike) -> bytes:
        return bytes(self.uploads[as_id(attachment)]["data"])

    def fill_pins(self, channel: IdLike, count: int | None = None) -> list[int]:
        """Pin ``count`` filler messages (default: up to the pin limit). Returns their ids."""
        target = self._channel(channel)
        wanted = self.max_pins - len(target.pins) if count is None else count
        author = self.owner
        added: list[int] = []
        for index in range(max(wanted, 0)):
            message = self._new_message(target, author, {"content": f"filler pin {index + 1}"})
            self._store(message, target)
            target.pins[message.id] = iso()
            message["pinned"] = True
            added.append(message.id)
        return added

    def delete_message(self, channel: IdLike, message: IdLike) -> None:
        """Delete a message as a user or moderator would (dispatches MESSAGE_DELETE)."""
        target = self._channel(channel)
        stored = target.messages.get(as_id(message))
        if stored is None:
            raise EmulatorError(f"no message {as_id(message)} in channel {target.id}")
        self._delete(stored, target)

    # ------------------------------------------------------------------ test-side events: interactions

    def _find_command(self, guild: Guild | None, name: str, types: set[int]) -> tuple[dict[str, Any], int | None]:
        scopes: list[int | None] = [guild.id, None] if guild is not None else [None]
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command["name"] == name and int(command.get("type", 1)) in types:
                    return command, scope
        synced = {scope: [c["name"] for c in commands] for scope, commands in self.commands.items()}
        raise UnknownCommandError(f"no synced command {name!r} of type {sorted(types)}; synced: {synced}")

    def _check_visible(
        self, command: dict[str, Any], guild: Guild | None, channel: Channel, user_id: int, force: bool
    ) -> None:
        contexts = command.get("contexts")
        if guild is None:
            if (contexts is not None and 1 not in contexts) or command.get("dm_permission") is False:
                raise CommandHiddenError(f"{command['name']!r} is not available in DMs")
            return
        if contexts is not None and 0 not in contexts:
            raise CommandHiddenError(f"{command['name']!r} is not available in servers")
        if force:
            return
        required = command.get("default_member_permissions")
        perms = permissions_for(guild, user_id, None)
        if required is not None and not rules.command_permitted(int(required), perms):
            raise CommandHiddenError(
                f"{command['name']!r} needs permissions {int(required):#x}; member {user_id} has {perms:#x}"
            )
        if not permissions_for(guild, user_id, channel) & rules.USE_APPLICATION_COMMANDS:
            raise CommandHiddenError(f"member {user_id} cannot use application commands in channel {channel.id}")

    def _new_attachment(
        self, filename: str, data: bytes, content_type: str | None, description: str | None = None
    ) -> dict[str, Any]:
        attachment_id = self.ids.next()
        url = f"{self.root_url}/attachments/{attachment_id}/{filename}"
        attachment: dict[str, Any] = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type or "application/octet-stream",
        }
        if description:
            attachment["description"] = description
        self.uploads[attachment_id] = {
            "id": attachment_id,
            "filename": filename,
            "content_type": attachment["content_type"],
            "data": data,
            "size": len(data),
        }
        return attachment

    # ------------------------------------------------------------------ messages: building, storing, events

    def _normalize_embeds(self, embeds: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
        normalized = []
        for embed in embeds or []:
            entry = dict(embed)
            entry.setdefault("type", "rich")
            normalized.append(entry)
        return normalized

    def _attachments_from_upload(
        self, body: Mapping[str, Any], files: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        described = {}
        for entry in body.get("attachments") or []:
            with contextlib.suppress(TypeError, ValueError, KeyError):
                described[int(entry["id"])] = entry
        attachments = []
        for index, upload in enumerate(files):
            meta = described.get(index, {})
            attachments.append(
                self._new_attachment(
                    str(meta.get("filename") or upload["filename"]),
                    upload["data"],
                    upload.get("content_type"),
                    meta.get("description"),
                )
            )
        return attachments

    def _new_message(
        self,
        channel: Channel,
        author: User,
        body: Mapping[str, Any],
        *,
        files: Sequence[Mapping[str, Any]] = (),
        msg_type: int = 0,
        flags: int = 0,
        interaction: EmulatedInteraction | None = None,
        reference: StoredMessage | None = None,
    ) -> StoredMessage:
        attachments = self._attachments_from_upload(body, files)
        message = StoredMessage(
            {
                "id": str(self.ids.next()),
                "channel_id": str(channel.id),
                "type": msg_type,
                "content": body.get("content") or "",
                "author": author.payload(),
                "embeds": self._normalize_embeds(body.get("embeds")),
                "components": list(body.get("components") or []),
                "attachments": attachments,
                "mentions": [],
                "mention_roles": [],
                "mention_everyone": False,
                "pinned": False,
                "tts": bool(body.get("tts")),
                "timestamp": iso(),
                "edited_timestamp": None,
                "flags": flags,
                "reactions": [],
                "allowed_mentions": body.get("allowed_mentions"),
                "files": [self.uploads[int(a["id"])] for a in attachments],
            }
        )
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if body.get("poll") is not None:
            message["poll"] = body["poll"]
        if interaction is not None:
            owner_key = "0" if interaction.guild_id is not None else "1"
            owner_value = str(interaction.guild_id if interaction.guild_id is not None else interaction.user_id)
            invoker = self.users[interaction.user_id].payload()
            message["webhook_id"] = str(self.app_id)
            message["application_id"] = str(self.app_id)
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": invoker,
                "authorizing_integration_owners": {owner_key: owner_value},
            }
            if interaction.type == 2:
                message["interaction_metadata"]["name"] = interaction.name
                message["interaction"] = {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "name": interaction.name,
                    "user": invoker,
                }
        if reference is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": str(reference.id),
                "channel_id": str(reference.channel_id),
            }
            if channel.guild_id is not None:
                message["message_reference"]["guild_id"] = str(channel.guild_id)
            message["referenced_message"] = reference.wire()
        return message

    def _apply_mentions(
        self,
        message: StoredMessage,
        channel: Channel,
        allowed: Mapping[str, Any] | None,
        *,
        extra_users: Iterable[int] = (),
    ) -> None:
        """Fill ``mentions``/``mention_roles``/``mention_everyone`` from the content, filtered by allowed_mentions."""
        content = message.get("content") or ""
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        allowed_users = {int(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {int(r) for r in (allowed or {}).get("roles") or []}
        user_ids = [int(u) for u in MENTION_USER_RE.findall(content)]
        user_ids = [u for u in user_ids if "users" in parse or u in allowed_users]
        user_ids.extend(extra_users)
        reference = message.get("referenced_message")
        if reference is not None:
            replied = True if allowed is None else bool(allowed.get("replied_user", False))
            if replied:
                user_ids.append(int(reference["author"]["id"]))
        guild = None if channel.guild_id is None else self.guilds[channel.guild_id]
        mentions = []
        seen: set[int] = set()
        for user_id in user_ids:
            if user_id in seen or user_id not in self.users:
                continue
            seen.add(user_id)
            entry = self.users[user_id].payload()
            if guild is not None and user_id in guild.members:
                entry["member"] = guild.members[user_id].payload(with_user=False)
            mentions.append(entry)
        roles = [int(r) for r in MENTION_ROLE_RE.findall(content)]
        roles = [
            r for r in roles if ("roles" in parse or r in allowed_roles) and guild is not None and r in guild.roles
        ]
        author_id = int(message["author"]["id"])
        can_everyone = guild is None or permissions_for(guild, author_id, channel) & rules.MENTION_EVERYONE
        message["mentions"] = mentions
        message["mention_roles"] = [str(r) for r in dict.fromkeys(roles)]
        message["mention_everyone"] = bool(
            ("@everyone" in content or "@here" in content) and "everyone" in parse and can_everyone
        )

    def _store(self, message: StoredMessage, channel: Channel) -> None:
        if message.ephemeral:
            self.ephemeral_messages[message.id] = message
        else:
            channel.messages[message.id] = message
            if channel.is_thread:
                channel.last_activity = self.now()  # a message is activity (topics/threads)
        self._notify()

    def _bot_sees_content(self, message: StoredMessage, channel: Channel) -> bool:
        if channel.guild_id is None or self.gateway.intents & rules.INTENT_MESSAGE_CONTENT:
            return True
        if int(message["author"]["id"]) == self.bot_user.id:
            return True
        return any(int(m["id"]) == self.bot_user.id for m in message.get("mentions") or [])

    def _event_payload(self, message: StoredMessage, channel: Channel) -> dict[str, Any]:
        data = message.wire()
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            data["guild_id"] = str(guild.id)
            author_id = int(message["author"]["id"])
            if author_id in guild.members and "webhook_id" not in message:
                data["member"] = guild.members[author_id].payload(with_user=False)
        if not self._bot_sees_content(message, channel):
            data.update(content="", embeds=[], attachments=[], components=[])
            data.pop("poll", None)
        return data

    def _dispatch_message(self, event: str, message: StoredMessage, channel: Channel) -> None:
        if message.ephemeral:
            return
        if int(message["author"]["id"]) == self.bot_user.id and not self.echo_own_messages:
            return
        if channel.guild_id is not None and not self.bot_sees(channel):
            return  # the gateway sends nothing about channels (and private threads) the bot cannot view
        intent = rules.INTENT_GUILD_MESSAGES if channel.guild_id is not None else rules.INTENT_DIRECT_MESSAGES
        self._dispatch(event, self._event_payload(message, channel), intent=intent)

    def _delete(self, message: StoredMessage, channel: Channel) -> None:
        if message.ephemeral:
            self.ephemeral_messages.pop(message.id, None)
        else:
            channel.messages.pop(message.id, None)
            channel.pins.pop(message.id, None)
        message["deleted"] = True
        self.deleted_messages.append(message)
        if not message.ephemeral and (int(message["author"]["id"]) != self.bot_user.id or self.echo_own_messages):
            data = {"id": str(message.id), "channel_id": str(channel.id)}
            if channel.guild_id is not None:
                data["guild_id"] = str(channel.guild_id)
            intent = rules.INTENT_GUILD_MESSAGES if channel.guild_id is not None else rules.INTENT_DIRECT_MESSAGES
            self._dispatch("MESSAGE_DELETE", data, intent=intent)
        self._notify()

    def _overwrite_commands(self, scope: int | None, body: Any) -> list[dict[str, Any]]:
        """Bulk overwrite: the list is checked (50035), then the per-type limits (30032); nothing changes on error."""
        errors = rules.validate_commands(body)
        if errors:
            raise invalid_form(errors)
        limit = rules.command_limit_reached(body)
        if limit is not None:
            raise too_many_commands(limit)
        old = {(c["name"], int(c.get("type", 1))): c for c in self.commands.get(scope, [])}
        stored = [self._stored_command(scope, command, old) for command in body]
        self.commands[scope] = stored
        return stored

    def _create_command(self, scope: int | None, body: Any) -> tuple[int, dict[str, Any]]:
        """One command (``POST .../commands``): a command of the same name and type is replaced (200), a new one is
        added (201) unless its type is at its limit (30032)."""
        errors = rules.validate_commands([body])
        if errors:
            unnested = rules.FormErrors()
            unnested.items = [(path[1:], code, message) for path, code, message in errors.items]
            raise invalid_form(unnested)
        current = self.commands.get(scope, [])
        ctype = int(body.get("type", 1) or 1)
        old = {(c["name"], int(c.get("type", 1))): c for c in current}
        entry = self._stored_command(scope, body, old)
        previous = old.get((body["name"], ctype))
        if previous is not None:
            self.commands[scope] = [entry if c is previous else c for c in current]
            return 200, entry
        limit = rules.command_limit_reached([*current, entry])
        if limit is not None:
            raise too_many_commands(limit)
        self.commands[scope] = [*current, entry]
        return 201, entry

    def _stored_command(
        self, scope: int | None, command: Mapping[str, Any], old: Mapping[tuple[str, int], Mapping[str, Any]]
    ) -> dict[str, Any]:
        """The command as Discord stores it; one of the same name and type in ``old`` keeps its id."""
        ctype = int(command.get("type", 1) or 1)
        previous = old.get((command["name"], ctype))
        entry = dict(command)
        permissions = command.get("default_member_permissions")
        entry.update(
            {
                "id": previous["id"] if previous else str(self.ids.next()),
                "application_id": str(self.app_id),
                "type": ctype,
                "description": command.get("description") or "",
                "default_member_permissions": None if permissions is None else str(permissions),
                "version": str(self.ids.next()),
                "nsfw": bool(command.get("nsfw", False)),
            }
        )
        if scope is not None:
            entry["guild_id"] = str(scope)
        return entry

    def _add_routes(self) -> None:
        """Fill ``_routes``; defined by :class:`~.server.DiscordEmulator`, the class with every route group."""
        raise NotImplementedError
