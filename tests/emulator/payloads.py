"""The emulator's state objects (users, guilds, roles, channels, members, messages) and their Discord payloads.

Ids are ``int`` in Python and strings on the wire, as Discord sends them. Snowflakes carry a real timestamp, so
``discord.utils.snowflake_time`` gives sensible answers.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import rules

DISCORD_EPOCH_MS = 1420070400000
LOCAL_KEYS = ("allowed_mentions", "files")
"""Keys a :class:`StoredMessage` carries for tests only; never sent to the bot."""


class HasId(Protocol):
    id: int


IdLike = int | str | HasId | Mapping[str, Any]


def as_id(value: IdLike) -> int:
    """An id from an int, a numeric string, an object with ``.id`` or a payload dict with ``"id"``."""
    if isinstance(value, bool):
        raise TypeError(f"not an id: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value)
    if isinstance(value, Mapping):
        return int(value["id"])
    return int(value.id)


def iso(at: float | None = None) -> str:
    moment = datetime.datetime.fromtimestamp(time.time() if at is None else at, datetime.UTC)
    return moment.isoformat()


class Snowflakes:
    """Strictly increasing snowflakes whose timestamp part is the current time."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate


@dataclass(eq=False)
class User:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def __getitem__(self, key: str) -> Any:
        """``user["id"]``: a user reads like its payload too."""
        return self.payload()[key]

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    tags: dict[str, Any] | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.tags is not None:
            data["tags"] = self.tags
        return data


class StoredMessage(dict[str, Any]):
    """A message as the emulator stores it: the Discord payload, live (edits update it in place).

    Two keys exist for tests only and are stripped from everything sent to the bot:
    ``allowed_mentions`` (what the sender asked for, ``None`` if nothing) and ``files``
    (uploads: ``[{"filename", "content_type", "data", "size", "id"}]``).
    """

    @property
    def id(self) -> int:
        return int(self["id"])

    @property
    def channel_id(self) -> int:
        return int(self["channel_id"])

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.get("flags") or 0) & rules.FLAG_EPHEMERAL)

    def wire(self) -> dict[str, Any]:
        """The payload exactly as Discord would send it."""
        return {k: v for k, v in self.items() if k not in LOCAL_KEYS}

    def components_flat(self) -> list[dict[str, Any]]:
        """Every component, depth first (rows, buttons, selects, section accessories...)."""
        found: list[dict[str, Any]] = []

        def walk(items: Iterable[Mapping[str, Any]]) -> None:
            for item in items:
                found.append(dict(item))
                walk(item.get("components") or [])
                for key in ("accessory", "component"):
                    child = item.get(key)
                    if isinstance(child, Mapping):
                        walk([child])

        walk(self.get("components") or [])
        return found

    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.components_flat() if c.get("custom_id")]


@dataclass(eq=False)
class Channel:
    id: int
    name: str
    guild_id: int | None
    type: int = 0
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    overwrites: list[dict[str, Any]] = field(default_factory=list)
    recipient_id: int | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    pins: dict[int, str] = field(default_factory=dict)
    """message id → pinned_at (ISO), in pin order."""
    typing: int = 0
    owner_id: int | None = None
    """Threads: who started it."""
    archived: bool = False
    locked: bool = False
    archive_timestamp: str = field(default_factory=iso)
    """Threads: set at creation and whenever the thread is archived or unarchived (``topics/threads``)."""
    created_at: str = field(default_factory=iso)
    auto_archive_duration: int = 1440
    """Threads: minutes without activity after which the thread archives itself (60, 1440, 4320 or 10080)."""
    last_activity: float = 0.0
    """Threads: the emulator's clock (``emu.now()``) at the last activity: creation, a message, unarchiving."""
    thread_members: dict[int, str] = field(default_factory=dict)
    """Threads: user id → join timestamp (ISO) of each thread member (``resources/channel``: Thread Member Object)."""
    invitable: bool = True
    """Private threads: whether non-moderators can add other non-moderators."""

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def is_thread(self) -> bool:
        return self.type in rules.THREAD_TYPES

    @property
    def is_private_thread(self) -> bool:
        return self.type == rules.PRIVATE_THREAD

    def thread_member(self, user_id: int, *, guild_create: bool = False) -> dict[str, Any]:
        """The thread member object of ``user_id``; in GUILD_CREATE without ``id`` and ``user_id``."""
        data: dict[str, Any] = {"join_timestamp": self.thread_members[user_id], "flags": 0}
        if not guild_create:
            data = {"id": str(self.id), "user_id": str(user_id)} | data
        return data

    @property
    def last_message_id(self) -> int | None:
        return next(reversed(self.messages), None) if self.messages else None

    def payload(self, recipient: User | None = None) -> dict[str, Any]:
        last = self.last_message_id
        if self.guild_id is None:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": None if last is None else str(last),
                "recipients": [recipient.payload()] if recipient is not None else [],
                "flags": 0,
            }
        if self.is_thread:
            return self.thread_payload()
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [dict(o) for o in self.overwrites],
            "topic": self.topic,
            "nsfw": False,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "last_message_id": None if last is None else str(last),
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    def thread_payload(self, member_of: int | None = None, *, guild_create: bool = False) -> dict[str, Any]:
        """A thread channel (``resources/channel``: thread-specific fields, ``thread_metadata``); threads have no
        overwrites or position of their own: permissions come from the parent channel. With ``member_of`` (the
        bot's id) the bot's thread member object rides along as ``member`` when it is one (``topics/threads``:
        Syncing for the current user)."""
        last = self.last_message_id
        metadata: dict[str, Any] = {
            "archived": self.archived,
            "auto_archive_duration": self.auto_archive_duration,
            "archive_timestamp": self.archive_timestamp,
            "locked": self.locked,
            "create_timestamp": self.created_at,
        }
        if self.is_private_thread:
            metadata["invitable"] = self.invitable
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "parent_id": str(self.parent_id),
            "owner_id": str(self.owner_id),
            "name": self.name,
            "last_message_id": None if last is None else str(last),
            "rate_limit_per_user": 0,
            "message_count": len(self.messages),
            "total_message_sent": len(self.messages),
            "member_count": min(len(self.thread_members), 50),
            "flags": 0,
            "thread_metadata": metadata,
        }
        if member_of is not None and member_of in self.thread_members:
            data["member"] = self.thread_member(member_of, guild_create=guild_create)
        return data


@dataclass(eq=False)
class Member:
    user: User
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def mention(self) -> str:
        return self.user.mention

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class Guild:
    id: int
    name: str
    owner_id: int
    channels: dict[int, Channel] = field(default_factory=dict)
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_id: int = 0
    """The default text channel ('general')."""
    moderator_role_id: int = 0
    bot_role_id: int = 0
    joined_at: str = field(default_factory=iso)

    @property
    def everyone_role_id(self) -> int:
        return self.id

    @property
    def channel(self) -> Channel:
        return self.channels[self.channel_id]

    @property
    def moderator_role(self) -> Role:
        return self.roles[self.moderator_role_id]

    def base_payload(self) -> dict[str, Any]:
        """The REST guild object (no channels or members)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.channel_id) if self.channel_id else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def gateway_payload(self, viewer: int) -> dict[str, Any]:
        """GUILD_CREATE for ``viewer`` (the bot): everything, ``member_count`` equal to the members sent (so no
        chunking follows), and the active threads the viewer can see, with its thread member object in those it
        is a member of (``topics/threads``: Gateway Events)."""
        threads = [
            c.thread_payload(viewer, guild_create=True)
            for c in self.channels.values()
            if c.is_thread and not c.archived and permissions_for(self, viewer, c) & rules.VIEW_CHANNEL
        ]
        data = self.base_payload()
        data.update(
            {
                "unavailable": False,
                "large": False,
                "joined_at": self.joined_at,
                "member_count": len(self.members),
                "channels": [c.payload() for c in self.channels.values() if not c.is_thread],
                "members": [m.payload() for m in self.members.values()],
                "threads": threads,
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return data


def permissions_for(guild: Guild, member_id: int, channel: Channel | None = None) -> int:
    """Discord's permission algorithm: owner and administrator get everything; then channel overwrites."""
    if member_id == guild.owner_id:
        return rules.ALL_PERMISSIONS
    member = guild.members.get(member_id)
    if member is None:
        return 0
    everyone = guild.roles[guild.everyone_role_id]
    base = everyone.permissions
    for role_id in member.roles:
        role = guild.roles.get(role_id)
        if role is not None:
            base |= role.permissions
    if base & rules.ADMINISTRATOR:
        return rules.ALL_PERMISSIONS
    if channel is None:
        return base
    thread = channel if channel.is_thread else None
    if thread is not None and thread.parent_id in guild.channels:
        channel = guild.channels[thread.parent_id]  # threads inherit the parent's permissions (topics/permissions)
    overwrites = {int(o["id"]): o for o in channel.overwrites}
    if (everyone_ow := overwrites.get(guild.id)) is not None:
        base = (base & ~int(everyone_ow["deny"])) | int(everyone_ow["allow"])
    allow = deny = 0
    for role_id in member.roles:
        if (role_ow := overwrites.get(role_id)) is not None and int(role_ow.get("type", 0)) == 0:
            allow |= int(role_ow["allow"])
            deny |= int(role_ow["deny"])
    base = (base & ~deny) | allow
    if (member_ow := overwrites.get(member_id)) is not None and int(member_ow.get("type", 1)) == 1:
        base = (base & ~int(member_ow["deny"])) | int(member_ow["allow"])
    if not base & rules.VIEW_CHANNEL:
        return 0
    private = thread is not None and thread.is_private_thread and member_id not in thread.thread_members
    if private and not base & rules.MANAGE_THREADS:
        return 0  # private threads: members and moderators only (topics/threads, Permissions)
    return base
