"""REST routes: channels and their messages, pins, reactions and typing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yarl

from . import rules
from .errors import ApiError, cannot_reply_to_system_message, invalid_form, missing_permissions, unknown_message
from .payloads import Channel, StoredMessage, iso
from .records import RequestContext
from .rest import RestApi


class MessageRoutes(RestApi):
    """``/channels/{id}`` and below: messages, pins, reactions, typing."""

    # ------------------------------------------------------------------ routes: channels and messages

    def _rest_channel(self, channel_id: str) -> Channel:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _require(self, channel: Channel, needed: int) -> None:
        if channel.guild_id is None:
            return
        perms = self.bot_permissions(channel)
        if not perms & rules.VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if perms & needed != needed:
            raise missing_permissions()

    def _check_thread_open(self, channel: Channel, *, sending: bool = False) -> None:
        """Only active threads can be manipulated: editing, pinning or reacting in an archived thread is 400 50083;
        a message sent to an archived thread reopens it, unless it is locked. In a locked thread only members with
        Manage Threads create or edit messages (``topics/threads``; ``topics/opcodes-and-status-codes``)."""
        if not channel.is_thread:
            return
        if channel.archived and (not sending or channel.locked):
            raise ApiError(400, 50083, "Thread is archived")
        if channel.locked and not self._bot_may(channel, rules.MANAGE_THREADS):
            raise ApiError(400, 160005, "Thread is locked")
        if channel.archived:
            self.unarchive_thread(channel)

    def _bot_may(self, channel: Channel, permission: int) -> bool:
        return channel.guild_id is None or bool(self.bot_permissions(channel) & permission)

    def _without_denied_embeds(self, channel: Channel, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Without Embed Links in a guild channel, Discord drops the embeds of the bot's message (create or edit)
        without an error; a message left with nothing is then refused as empty (50006). Interaction responses and
        webhooks are not affected (change-log, June 29, 2022)."""
        if not body.get("embeds") or self._bot_may(channel, rules.EMBED_LINKS):
            return body
        self.dropped_embeds.append((channel.id, len(body["embeds"])))
        return {**body, "embeds": []}

    def _rest_message(self, channel: Channel, message_id: str) -> StoredMessage:
        message = channel.messages.get(int(message_id))
        if message is None:
            raise unknown_message()
        return message

    async def _get_channel(self, ctx: RequestContext, channel_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        if channel.guild_id is None:
            recipient = self.users.get(channel.recipient_id or 0)
            return 200, channel.payload(recipient=recipient)
        self._require(channel, rules.VIEW_CHANNEL)
        if channel.is_thread:  # with the bot's thread member object when it is one (resources/channel: Get Channel)
            return 200, channel.thread_payload(self.bot_user.id)
        return 200, channel.payload()

    async def _create_message(self, ctx: RequestContext, channel_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        body = ctx.body
        send = rules.SEND_MESSAGES_IN_THREADS if channel.is_thread else rules.SEND_MESSAGES  # topics/permissions
        needed = rules.VIEW_CHANNEL | send | (rules.ATTACH_FILES if ctx.files else 0)
        self._require(channel, needed)
        if channel.guild_id is None and channel.recipient_id in self.dm_closed:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        self._validate_message_body(body, ctx.files)
        self._check_thread_open(channel, sending=True)
        reference = None
        if body.get("message_reference"):
            ref = body["message_reference"]
            replying = int(ref.get("type") or 0) == 0  # not a forward (type 1)
            if replying and not self._bot_may(channel, rules.READ_MESSAGE_HISTORY):
                raise ApiError(403, 160002, "Cannot reply without permission to read message history")
            reference = self.find_message(int(ref.get("message_id") or 0))
            if reference is None and ref.get("fail_if_not_exists", True):
                raise invalid_form(
                    self._one_error(("message_reference",), "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
                )
            system = reference is not None and int(reference.get("type") or 0) not in rules.REPLYABLE_MESSAGE_TYPES
            if replying and system:
                raise cannot_reply_to_system_message()
        flags = int(body.get("flags") or 0) & rules.SENDABLE_FLAGS
        message = self._new_message(
            channel,
            self.bot_user,
            self._without_denied_embeds(channel, body),
            files=ctx.files,
            msg_type=19 if reference is not None else 0,
            flags=flags,
            reference=reference,
        )
        self._check_not_empty(message)
        self._apply_mentions(message, channel, body.get("allowed_mentions"))
        self._store(message, channel)
        self._dispatch_message("MESSAGE_CREATE", message, channel)
        return 200, message.wire()

    def _reads_history(self, channel: Channel) -> bool:
        """Listing messages or pins needs only View Channel; without Read Message History Discord answers 200 with
        nothing in it (``resources/message``: Get Channel Messages, Get Channel Pins), not an error."""
        self._require(channel, rules.VIEW_CHANNEL)
        return self._bot_may(channel, rules.READ_MESSAGE_HISTORY)

    async def _get_messages(self, ctx: RequestContext, channel_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        if not self._reads_history(channel):
            return 200, []
        limit = max(1, min(100, int(ctx.query.get("limit", 50))))
        messages = list(channel.messages.values())
        if "before" in ctx.query:
            messages = [m for m in messages if m.id < int(ctx.query["before"])]
        if "after" in ctx.query:
            after = [m for m in messages if m.id > int(ctx.query["after"])]
            return 200, [m.wire() for m in reversed(after[:limit])]
        if "around" in ctx.query:
            around = int(ctx.query["around"])
            older = [m for m in messages if m.id <= around][-((limit + 1) // 2) :]
            newer = [m for m in messages if m.id > around][: limit // 2]
            return 200, [m.wire() for m in reversed(older + newer)]
        return 200, [m.wire() for m in reversed(messages[-limit:])]

    async def _get_message(self, ctx: RequestContext, channel_id: str, message_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        self._require(channel, rules.VIEW_CHANNEL | rules.READ_MESSAGE_HISTORY)
        return 200, self._rest_message(channel, message_id).wire()

    async def _edit_message(self, ctx: RequestContext, channel_id: str, message_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        self._require(channel, rules.VIEW_CHANNEL)
        message = self._rest_message(channel, message_id)
        if int(message["author"]["id"]) != self.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._check_thread_open(channel)
        self._validate_message_body(ctx.body, ctx.files)
        self._edit(message, self._without_denied_embeds(channel, ctx.body), ctx.files, channel)
        return 200, message.wire()

    async def _delete_message(self, ctx: RequestContext, channel_id: str, message_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        message = self._rest_message(channel, message_id)
        if int(message["author"]["id"]) != self.bot_user.id:
            self._require(channel, rules.VIEW_CHANNEL | rules.MANAGE_MESSAGES)
        self._delete(message, channel)
        return 204, None

    async def _pin(self, ctx: RequestContext, channel_id: str, message_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        self._require(channel, rules.VIEW_CHANNEL | rules.PIN_MESSAGES)
        message = self._rest_message(channel, message_id)
        if channel.archived:
            raise ApiError(400, 50083, "Thread is archived")
        if message.id in channel.pins:
            return 204, None
        if len(channel.pins) >= self.max_pins:
            raise ApiError(400, 30003, f"Maximum number of pins reached ({self.max_pins})")
        channel.pins[message.id] = iso()
        message["pinned"] = True
        self._dispatch_message("MESSAGE_UPDATE", message, channel)
        pins_update: dict[str, Any] = {"channel_id": str(channel.id), "last_pin_timestamp": channel.pins[message.id]}
        if channel.guild_id is not None:
            pins_update["guild_id"] = str(channel.guild_id)
        self._dispatch("CHANNEL_PINS_UPDATE", pins_update, intent=rules.INTENT_GUILDS)
        if self.pin_system_messages:
            notice = self._new_message(channel, self.bot_user, {}, msg_type=6, reference=message)
            notice.pop("referenced_message", None)
            self._store(notice, channel)
            self._dispatch_message("MESSAGE_CREATE", notice, channel)
        return 204, None

    async def _unpin(self, ctx: RequestContext, channel_id: str, message_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        self._require(channel, rules.VIEW_CHANNEL | rules.PIN_MESSAGES)
        message = self._rest_message(channel, message_id)
        if channel.archived:
            raise ApiError(400, 50083, "Thread is archived")
        if channel.pins.pop(message.id, None) is not None:
            message["pinned"] = False
            self._dispatch_message("MESSAGE_UPDATE", message, channel)
        return 204, None

    async def _get_pins(self, ctx: RequestContext, channel_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        if not self._reads_history(channel):
            return 200, {"items": [], "has_more": False}
        limit = max(1, min(50, int(ctx.query.get("limit", 50))))
        items = [(pinned_at, channel.messages[mid]) for mid, pinned_at in reversed(channel.pins.items())]
        if "before" in ctx.query:
            before = ctx.query["before"]
            items = [(at, m) for at, m in items if at < before]
        page = items[:limit]
        return 200, {
            "items": [{"pinned_at": at, "message": m.wire()} for at, m in page],
            "has_more": len(items) > limit,
        }

    async def _get_pins_legacy(self, ctx: RequestContext, channel_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        if not self._reads_history(channel):
            return 200, []
        return 200, [channel.messages[mid].wire() for mid in reversed(channel.pins)][:50]

    async def _add_reaction(self, ctx: RequestContext, channel_id: str, message_id: str, emoji: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        self._require(channel, rules.VIEW_CHANNEL | rules.READ_MESSAGE_HISTORY | rules.ADD_REACTIONS)
        message = self._rest_message(channel, message_id)
        if channel.archived:
            raise ApiError(400, 50083, "Thread is archived")
        name = yarl.URL.build(path="/" + emoji, encoded=True).path.lstrip("/")
        reactions = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["emoji"]["name"] == name), None)
        if entry is None:
            reactions.append(
                {
                    "count": 1,
                    "me": True,
                    "emoji": {"id": None, "name": name},
                    "burst_colors": [],
                    "count_details": {"burst": 0, "normal": 1},
                    "me_burst": False,
                    "burst_count": 0,
                }
            )
        elif not entry["me"]:
            entry["me"] = True
            entry["count"] += 1
        self._notify()
        return 204, None

    async def _remove_reaction(
        self, ctx: RequestContext, channel_id: str, message_id: str, emoji: str
    ) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        message = self._rest_message(channel, message_id)
        name = yarl.URL.build(path="/" + emoji, encoded=True).path.lstrip("/")
        for entry in list(message.get("reactions") or []):
            if entry["emoji"]["name"] == name and entry["me"]:
                entry["me"] = False
                entry["count"] -= 1
                if entry["count"] <= 0:
                    message["reactions"].remove(entry)
        return 204, None

    async def _typing(self, ctx: RequestContext, channel_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        self._require(channel, rules.VIEW_CHANNEL | rules.SEND_MESSAGES)
        channel.typing += 1
        return 204, None

    # ------------------------------------------------------------------ routes: thread members

    def _rest_thread(self, channel_id: str) -> Channel:
        """A thread the bot can view (for a private one: as a member or with Manage Threads; else 403 50001)."""
        channel = self._rest_channel(channel_id)
        if not channel.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(channel, rules.VIEW_CHANNEL)
        return channel

    def _thread_member_target(self, channel: Channel, user_id: str) -> int:
        guild = self.guilds[channel.guild_id or 0]
        target = self.bot_user.id if user_id == "@me" else int(user_id)
        if target not in self.users:
            raise ApiError(404, 10013, "Unknown User")
        if target not in guild.members:
            raise ApiError(404, 10007, "Unknown Member")
        return target

    async def _join_thread(self, ctx: RequestContext, channel_id: str, user_id: str) -> tuple[int, Any]:
        """Join Thread (``@me``) or Add Thread Member: the thread must be active (50083); adding someone else needs
        the right to send messages in the thread, and in a private thread that is not ``invitable`` Manage Threads
        (``resources/channel``). THREAD_MEMBERS_UPDATE (and THREAD_CREATE for the bot)."""
        channel = self._rest_thread(channel_id)
        target = self._thread_member_target(channel, user_id)
        if target != self.bot_user.id:
            self._require(channel, rules.VIEW_CHANNEL | rules.SEND_MESSAGES_IN_THREADS)
            if channel.is_private_thread and not channel.invitable:
                self._require(channel, rules.MANAGE_THREADS)
        if channel.archived:
            raise ApiError(400, 50083, "Thread is archived")
        self._add_to_thread(channel, target)
        return 204, None

    async def _leave_thread(self, ctx: RequestContext, channel_id: str, user_id: str) -> tuple[int, Any]:
        """Leave Thread (``@me``) or Remove Thread Member: removing someone else needs Manage Threads, or being the
        creator of a private thread; the thread must be active (50083). THREAD_MEMBERS_UPDATE."""
        channel = self._rest_thread(channel_id)
        target = self._thread_member_target(channel, user_id)
        if target != self.bot_user.id and not (channel.is_private_thread and channel.owner_id == self.bot_user.id):
            self._require(channel, rules.VIEW_CHANNEL | rules.MANAGE_THREADS)
        if channel.archived:
            raise ApiError(400, 50083, "Thread is archived")
        self._remove_from_thread(channel, target)
        return 204, None

    def _thread_member_payload(self, channel: Channel, user_id: int, with_member: bool) -> dict[str, Any]:
        data = channel.thread_member(user_id)
        if with_member:
            data["member"] = self.guilds[channel.guild_id or 0].members[user_id].payload()
        return data

    async def _get_thread_member(self, ctx: RequestContext, channel_id: str, user_id: str) -> tuple[int, Any]:
        channel = self._rest_thread(channel_id)
        if int(user_id) not in channel.thread_members:
            raise ApiError(404, 10007, "Unknown Member")
        with_member = ctx.query.get("with_member") in ("1", "true", "True")
        return 200, self._thread_member_payload(channel, int(user_id), with_member)

    async def _list_thread_members(self, ctx: RequestContext, channel_id: str) -> tuple[int, Any]:
        """List Thread Members: only for an application with the GUILD_MEMBERS privileged intent enabled
        (``resources/channel``); ``with_member`` pages with ``after``/``limit`` (1-100)."""
        channel = self._rest_thread(channel_id)
        if not self.privileged_intents & rules.INTENT_GUILD_MEMBERS:
            raise ApiError(403, 50001, "Missing Access")
        with_member = ctx.query.get("with_member") in ("1", "true", "True")
        members = sorted(channel.thread_members)
        if with_member:
            after = int(ctx.query.get("after", 0))
            limit = max(1, min(100, int(ctx.query.get("limit", 100))))
            members = [m for m in members if m > after][:limit]
        return 200, [self._thread_member_payload(channel, m, with_member) for m in members]
