"""The test driver: what tests call to start clients, act as users (messages, slash commands, autocomplete, context
menus, clicks, modals), wait, inject faults and read the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import discord
import discord.gateway
import discord.http
import yarl

from . import rules
from .errors import EmulatorError, EmulatorTimeout, UnknownCommandError
from .payloads import Channel, Guild, IdLike, StoredMessage, User, as_id, permissions_for
from .records import CallbackType, EmulatedInteraction, Fault, RecordedRequest, RunningClient
from .state import EmulatorState

if TYPE_CHECKING:
    import pytest

T = TypeVar("T")


class EmulatorDriver(EmulatorState):
    """The test-side API of :class:`~.server.DiscordEmulator` (see the package docstring)."""

    def patch(self, monkeypatch: pytest.MonkeyPatch | None = None) -> None:
        """Point discord.py (process-wide) at the emulator: ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``.

        With pytest's ``monkeypatch`` the change is undone after the test; without, when the emulator closes.
        """
        targets: list[tuple[object, str, object]] = [
            (discord.http.Route, "BASE", self.base_url),
            (discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url)),
        ]
        for owner, name, value in targets:
            if monkeypatch is not None:
                monkeypatch.setattr(owner, name, value)
            else:
                self._restore.append((owner, name, getattr(owner, name)))
                setattr(owner, name, value)

    @contextlib.asynccontextmanager
    async def run_client(
        self, client: discord.Client, *, token: str = "emulated-token", timeout: float = 10.0
    ) -> AsyncIterator[RunningClient]:
        """Start ``client`` against the emulator, wait for on_ready, yield; close the client on exit.

        Give the client ``guild_ready_timeout=0.05`` or on_ready waits 2 s for guilds.
        """
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()

        async def on_ready() -> None:
            ready.set()

        add_listener = getattr(client, "add_listener", None)
        if add_listener is not None:
            add_listener(on_ready, "on_ready")
        started = loop.time()
        task: asyncio.Task[None] = asyncio.create_task(client.start(token))
        try:
            waiter = asyncio.create_task(
                ready.wait() if add_listener is not None else self.wait_until(client.is_ready, timeout)
            )
            done, _ = await asyncio.wait({waiter, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                if task in done:
                    task.result()
                    raise EmulatorError("the client stopped before it was ready")
                raise EmulatorTimeout(f"the client was not ready after {timeout} s")
            yield RunningClient(client, task, loop.time() - started)
        finally:
            if not client.is_closed():
                await client.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=5)
            remove_listener = getattr(client, "remove_listener", None)
            if remove_listener is not None:
                remove_listener(on_ready, "on_ready")

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 2.0, what: str | None = None) -> T:
        """Wait until ``predicate()`` is truthy and return its value (re-checked on every emulator event)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EmulatorTimeout(f"timed out after {timeout} s waiting for {what or predicate!r}")
            change = self._change
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change.wait(), min(remaining, 0.02))

    async def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 2.0, *, since: int = 0
    ) -> RecordedRequest:
        """The first recorded REST request (from index ``since``, see :meth:`mark`) matching ``predicate``."""

        def check() -> RecordedRequest | None:
            return next((r for r in self.requests[since:] if predicate(r)), None)

        return await self.wait_until(check, timeout, what=f"a request matching {predicate!r}")

    def mark(self) -> int:
        """An index into :attr:`requests`, for ``wait_for(..., since=mark)``."""
        return len(self.requests)

    def requests_to(self, method: str, pattern: str, *, since: int = 0) -> list[RecordedRequest]:
        """Recorded requests with this method (``"*"`` for any) whose path matches ``pattern`` (``re.search``)."""
        regex = re.compile(pattern)
        return [r for r in self.requests[since:] if method in ("*", r.method) and regex.search(r.path)]

    @property
    def unknown_routes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.unknown]

    async def wait_connected(self, timeout: float = 2.0) -> None:
        await self.wait_until(lambda: self.gateway.connected, timeout, what="a live gateway connection")

    # ------------------------------------------------------------------ gateway facade

    @property
    def identify_payloads(self) -> list[dict[str, Any]]:
        return self.gateway.identify_payloads

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    def gateway_events(self, name: str | None = None) -> list[dict[str, Any]]:
        return self.gateway.events(name)

    async def disconnect_gateway(self, resume: bool = True, *, code: int = 4000, hold: bool = False) -> None:
        """Drop the gateway connection. ``resume=True``: close with resumable ``code``; the client reconnects to
        ``resume_gateway_url`` and RESUMEs; missed events are replayed, then RESUMED. ``resume=False``: invalid
        session (op 9, false); the client IDENTIFYs again. ``hold=True`` keeps new connections waiting before
        HELLO until :meth:`release_gateway`, so events dispatched meanwhile must be replayed.
        """
        if hold:
            self.gateway.hold()
        await self.gateway.disconnect(resume=resume, code=code)
        self._notify()

    def release_gateway(self) -> None:
        self.gateway.release()

    def request_reconnect(self) -> None:
        self.gateway.request_reconnect()

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        method: str,
        pattern: str,
        *,
        status: int = 400,
        code: int = 0,
        message: str | None = None,
        times: int = 1,
        errors: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests (``re.search`` on the path) with this error, untouched."""
        text = message or {403: "Missing Permissions", 404: "Not Found", 500: "Internal Server Error"}.get(
            status, "Bad Request"
        )
        body: dict[str, Any] = {"message": text, "code": code}
        if errors:
            body["errors"] = errors
        self.faults.append(Fault(method.upper(), re.compile(pattern), status, body, {}, times, "fail"))

    def rate_limit_next(
        self,
        method: str,
        pattern: str,
        *,
        retry_after: float = 0.05,
        times: int = 1,
        is_global: bool = False,
        scope: str = "user",
    ) -> None:
        """Answer the next ``times`` matching requests with a 429 discord.py retries (``Via`` header,
        ``retry_after`` JSON, ``X-RateLimit-*`` headers)."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": secrets.token_hex(16),
            "X-RateLimit-Scope": "global" if is_global else scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        self.faults.append(Fault(method.upper(), re.compile(pattern), 429, body, headers, times, "rate_limit"))

    def clear_faults(self) -> None:
        self.faults.clear()

    # ------------------------------------------------------------------ test-side events: messages

    async def post_message(
        self,
        channel: IdLike,
        author: IdLike,
        content: str = "",
        *,
        mentions: Iterable[IdLike] = (),
        mention_bot: bool = False,
        embeds: Sequence[Mapping[str, Any]] = (),
        reply_to: IdLike | None = None,
        type: int = 0,
    ) -> StoredMessage:
        """A user posts a message (MESSAGE_CREATE). Mentions come from ``<@id>`` in the content plus ``mentions``
        (and the bot with ``mention_bot``). Without the message_content intent the bot gets empty content, embeds
        and attachments unless it is mentioned, the message is a DM, or the bot wrote it.

        ``type`` makes it a system message Discord writes for that user's action (e.g. 18 THREAD_CREATED, whose
        content is the thread's name; 7 USER_JOIN): the bot cannot reply to it.
        """
        if type != 0 and (reply_to is not None or type in rules.REPLYABLE_MESSAGE_TYPES):
            raise EmulatorError(f"message type {type} is not a system message (replies: use reply_to)")
        target = self._channel(channel)
        user = self._user(author)
        if target.guild_id is not None:
            guild = self.guilds[target.guild_id]
            if user.id not in guild.members:
                raise EmulatorError(f"user {user.id} is not a member of guild {guild.id}")
            needed = rules.VIEW_CHANNEL | (rules.SEND_MESSAGES_IN_THREADS if target.is_thread else rules.SEND_MESSAGES)
            if permissions_for(guild, user.id, target) & needed != needed:
                raise EmulatorError(f"user {user.id} cannot send messages in channel {target.id}")
            if target.is_thread and target.archived:
                if target.locked:
                    raise EmulatorError(f"thread {target.id} is archived and locked")
                self.unarchive_thread(target)  # a message reopens an archived thread
        elif user.id not in (target.recipient_id, self.bot_user.id):
            raise EmulatorError(f"user {user.id} is not in DM channel {target.id}")
        body: dict[str, Any] = {"content": content, "embeds": [dict(e) for e in embeds]}
        reference = None
        if reply_to is not None:
            reference = self.find_message(reply_to)
            if reference is None:
                raise EmulatorError(f"unknown message {as_id(reply_to)} to reply to")
        message = self._new_message(
            target, user, body, msg_type=19 if reference is not None else type, reference=reference
        )
        extra = [as_id(m) for m in mentions]
        if mention_bot:
            extra.append(self.bot_user.id)
        self._apply_mentions(message, target, None, extra_users=extra)
        self._store(message, target)
        self._dispatch_message("MESSAGE_CREATE", message, target)
        await asyncio.sleep(0)
        return message

    def _where(self, guild: IdLike | None, channel: IdLike, user: IdLike) -> tuple[Guild | None, Channel, User]:
        target_channel = self._channel(channel)
        target_user = self._user(user)
        target_guild = None if guild is None else self._guild(guild)
        if target_guild is None and target_channel.guild_id is not None:
            target_guild = self.guilds[target_channel.guild_id]
        if target_guild is not None:
            if target_channel.guild_id != target_guild.id:
                raise EmulatorError(f"channel {target_channel.id} is not in guild {target_guild.id}")
            if target_user.id not in target_guild.members:
                raise EmulatorError(f"user {target_user.id} is not a member of guild {target_guild.id}")
            if not permissions_for(target_guild, target_user.id, target_channel) & rules.VIEW_CHANNEL:
                raise EmulatorError(f"user {target_user.id} cannot see channel {target_channel.id}")
            if target_channel.is_thread and target_channel.archived:
                raise EmulatorError(f"thread {target_channel.id} is archived: users cannot use application commands")
        elif target_channel.recipient_id != target_user.id:
            raise EmulatorError(f"channel {target_channel.id} is not the DM channel of user {target_user.id}")
        return target_guild, target_channel, target_user

    def _interaction(
        self,
        itype: int,
        guild: Guild | None,
        channel: Channel,
        user: User,
        data: dict[str, Any],
        *,
        name: str,
        command: dict[str, Any] | None = None,
        message: StoredMessage | None = None,
        parent: EmulatedInteraction | None = None,
    ) -> EmulatedInteraction:
        if self.gateway.session is None:
            raise EmulatorError("no bot has connected to the gateway yet: start the client first")
        inter = EmulatedInteraction(
            self,
            id=self.ids.next(),
            token=f"aW50ZXJhY3Rpb24{secrets.token_urlsafe(48)}",
            type=itype,
            name=name,
            guild_id=None if guild is None else guild.id,
            channel_id=channel.id,
            user_id=user.id,
            command=command,
            source_message=message,
            parent=parent,
        )
        user_perms = rules.DEFAULT_BOT_PERMISSIONS if guild is None else permissions_for(guild, user.id, channel)
        payload: dict[str, Any] = {
            "id": str(inter.id),
            "application_id": str(self.app_id),
            "type": itype,
            "data": data,
            "token": inter.token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
            "app_permissions": str(self.bot_permissions(channel)),
            "channel_id": str(channel.id),
            "channel": channel.payload(recipient=user) | {"permissions": str(user_perms)},
            "context": 1 if guild is None else 0,
            "authorizing_integration_owners": {"0": str(guild.id)} if guild is not None else {"1": str(user.id)},
        }
        if guild is not None:
            payload["guild_id"] = str(guild.id)
            payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = guild.members[user.id].payload(permissions=user_perms)
        else:
            payload["user"] = user.payload()
        if message is not None:
            payload["message"] = message.wire()
        inter.payload = payload
        self.interactions[inter.id] = inter
        self._by_token[inter.token] = inter
        inter.dispatched_at = self.now()
        inter.seq = self._dispatch("INTERACTION_CREATE", payload)
        return inter

    def _resolve_option(
        self,
        option: Mapping[str, Any],
        raw: Any,
        resolved: dict[str, dict[str, Any]],
        guild: Guild | None,
        channel: Channel,
        user: User,
    ) -> Any:
        otype = int(option["type"])
        name = option["name"]
        if otype == 3:
            value: Any = str(raw)
            low, high = option.get("min_length"), option.get("max_length")
            if (low is not None and len(value) < low) or (high is not None and len(value) > high):
                raise EmulatorError(f"option {name!r}: length must be within {low}..{high}")
        elif otype == 4:
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                raise EmulatorError(f"option {name!r} takes an integer, not {raw!r}")
            value = int(raw)
        elif otype == 10:
            value = float(raw)
        elif otype == 5:
            if not isinstance(raw, bool):
                raise EmulatorError(f"option {name!r} takes a bool, not {raw!r}")
            value = raw
        elif otype in (6, 9) and (otype == 6 or as_id(raw) in self.users):
            target = self._user(raw)
            resolved.setdefault("users", {})[str(target.id)] = target.payload()
            if guild is not None and target.id in guild.members:
                member = guild.members[target.id]
                perms = permissions_for(guild, target.id, channel)
                resolved.setdefault("members", {})[str(target.id)] = member.payload(with_user=False, permissions=perms)
            value = str(target.id)
        elif otype in (8, 9):
            role_id = as_id(raw)
            if guild is None or role_id not in guild.roles:
                raise EmulatorError(f"option {name!r}: no role {role_id} in this guild")
            resolved.setdefault("roles", {})[str(role_id)] = guild.roles[role_id].payload()
            value = str(role_id)
        elif otype == 7:
            target_channel = self._channel(raw)
            allowed = option.get("channel_types")
            if allowed and target_channel.type not in allowed:
                raise EmulatorError(f"option {name!r}: channel type {target_channel.type} not in {allowed}")
            perms = 0 if guild is None else permissions_for(guild, user.id, target_channel)
            resolved.setdefault("channels", {})[str(target_channel.id)] = {
                "id": str(target_channel.id),
                "name": target_channel.name,
                "type": target_channel.type,
                "permissions": str(perms),
                "parent_id": None if target_channel.parent_id is None else str(target_channel.parent_id),
                "guild_id": None if target_channel.guild_id is None else str(target_channel.guild_id),
                "position": target_channel.position,
                "topic": target_channel.topic,
                "flags": 0,
            }
            value = str(target_channel.id)
        elif otype == 11:
            attachment = self._upload_from_test(raw)
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            value = attachment["id"]
        else:
            raise EmulatorError(f"option {name!r} has unsupported type {otype}")
        choices = option.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise EmulatorError(f"option {name!r}: {value!r} is not one of the choices {[c['value'] for c in choices]}")
        if otype in (4, 10):
            low, high = option.get("min_value"), option.get("max_value")
            if (low is not None and value < low) or (high is not None and value > high):
                raise EmulatorError(f"option {name!r}: {value} is outside {low}..{high}")
        return value

    def _upload_from_test(self, raw: Any) -> dict[str, Any]:
        """An attachment the user 'uploads': ``(filename, bytes[, content_type])`` or a dict with those keys."""
        if isinstance(raw, Mapping):
            filename, data, content_type = raw["filename"], raw["data"], raw.get("content_type")
        else:
            filename, data, *rest = raw
            content_type = rest[0] if rest else None
        if isinstance(data, str):
            data = data.encode()
        return self._new_attachment(str(filename), bytes(data), content_type)

    def _build_options(
        self,
        schema: Sequence[Mapping[str, Any]],
        given: Mapping[str, Any],
        resolved: dict[str, dict[str, Any]],
        guild: Guild | None,
        channel: Channel,
        user: User,
        *,
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {o["name"]: o for o in schema}
        unknown = set(given) - set(by_name)
        if unknown:
            raise EmulatorError(f"unknown options {sorted(unknown)}; the command has {sorted(by_name)}")
        values = dict(given)
        if focused is not None:
            if focused not in by_name:
                raise EmulatorError(f"focused option {focused!r} is not an option of the command")
            if not by_name[focused].get("autocomplete"):
                raise EmulatorError(f"option {focused!r} has no autocomplete")
            values.setdefault(focused, "")
        options: list[dict[str, Any]] = []
        for option in schema:
            name = option["name"]
            if name not in values:
                if option.get("required") and focused is None:
                    raise EmulatorError(f"missing required option {name!r}")
                continue
            if name == focused:
                options.append({"name": name, "type": option["type"], "value": str(values[name]), "focused": True})
                continue
            value = self._resolve_option(option, values[name], resolved, guild, channel, user)
            options.append({"name": name, "type": option["type"], "value": value})
        return options

    def _command_data(
        self,
        guild: Guild | None,
        channel: Channel,
        user: User,
        name: str,
        options: Mapping[str, Any] | None,
        *,
        focused: str | None,
        force: bool,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        parts = name.split()
        if not parts:
            raise EmulatorError("empty command name")
        command, scope = self._find_command(guild, parts[0], {1})
        self._check_visible(command, guild, channel, user.id, force)
        schema: list[dict[str, Any]] = command.get("options") or []
        chain: list[dict[str, Any]] = []
        for part in parts[1:]:
            sub = next((o for o in schema if o["name"] == part and o.get("type") in (1, 2)), None)
            if sub is None:
                raise UnknownCommandError(f"{' '.join(parts[: len(chain) + 1])!r} has no subcommand {part!r}")
            chain.append(sub)
            schema = sub.get("options") or []
        if any(o.get("type") in (1, 2) for o in schema):
            names = [o["name"] for o in schema]
            raise EmulatorError(f"{name!r} needs a subcommand: {names}")
        resolved: dict[str, dict[str, Any]] = {}
        built = self._build_options(schema, options or {}, resolved, guild, channel, user, focused=focused)
        for sub in reversed(chain):
            built = [{"name": sub["name"], "type": sub["type"], "options": built}]
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1, "options": built}
        if resolved:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        return data, command

    async def slash(
        self,
        guild: IdLike | None,
        channel: IdLike,
        user: IdLike,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        force: bool = False,
    ) -> EmulatedInteraction:
        """Run a synced slash command (``"claim edit"`` for subcommands) as ``user`` in ``channel``.

        Option values: str/int/float/bool; ids or objects (User, Member, Role, Channel) for user/role/channel/
        mentionable options; ``(filename, bytes[, content_type])`` for attachments. Raises
        :class:`CommandHiddenError` when Discord would hide the command from this member, unless ``force``.
        """
        where_guild, where_channel, where_user = self._where(guild, channel, user)
        data, command = self._command_data(
            where_guild, where_channel, where_user, name, options, focused=None, force=force
        )
        inter = self._interaction(2, where_guild, where_channel, where_user, data, name=name, command=command)
        await asyncio.sleep(0)
        return inter

    async def autocomplete(
        self,
        guild: IdLike | None,
        channel: IdLike,
        user: IdLike,
        name: str,
        options: Mapping[str, Any] | None,
        focused: str,
        *,
        timeout: float = 2.0,
        force: bool = False,
    ) -> list[dict[str, Any]]:
        """Type into an autocomplete option; returns the bot's choices (``[{"name", "value"}]``)."""
        where_guild, where_channel, where_user = self._where(guild, channel, user)
        data, command = self._command_data(
            where_guild, where_channel, where_user, name, options, focused=focused, force=force
        )
        inter = self._interaction(4, where_guild, where_channel, where_user, data, name=name, command=command)
        record = await inter.wait_response(timeout, accepted_only=False)
        if not record.accepted:
            raise EmulatorError(f"the autocomplete answer was rejected: {record.status} {record.error}")
        if record.type != CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            raise EmulatorError(f"autocomplete answered with type {record.type}")
        return list(inter.choices or [])

    async def context_menu(
        self,
        guild: IdLike | None,
        channel: IdLike,
        user: IdLike,
        name: str,
        target: IdLike,
        *,
        force: bool = False,
    ) -> EmulatedInteraction:
        """Run a message (target: a message or its id) or user (target: a user/member or id) context menu."""
        where_guild, where_channel, where_user = self._where(guild, channel, user)
        command, scope = self._find_command(where_guild, name, {2, 3})
        self._check_visible(command, where_guild, where_channel, where_user.id, force)
        ctype = int(command["type"])
        resolved: dict[str, Any] = {}
        if ctype == 3:
            message = self.find_message(target)
            if message is None:
                if isinstance(target, Mapping):
                    message = StoredMessage(target)
                else:
                    raise EmulatorError(f"unknown message {as_id(target)}")
            payload = message.wire()
            if where_guild is not None:
                payload["guild_id"] = str(where_guild.id)
            resolved["messages"] = {str(message.id): payload}
            target_id = message.id
        else:
            target_user = self._user(target)
            resolved["users"] = {str(target_user.id): target_user.payload()}
            if where_guild is not None and target_user.id in where_guild.members:
                perms = permissions_for(where_guild, target_user.id, where_channel)
                resolved["members"] = {
                    str(target_user.id): where_guild.members[target_user.id].payload(with_user=False, permissions=perms)
                }
            target_id = target_user.id
        data: dict[str, Any] = {
            "id": command["id"],
            "name": command["name"],
            "type": ctype,
            "target_id": str(target_id),
            "resolved": resolved,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        inter = self._interaction(2, where_guild, where_channel, where_user, data, name=name, command=command)
        await asyncio.sleep(0)
        return inter

    async def click(
        self, message: IdLike, custom_id: str, user: IdLike, *, values: Sequence[Any] | None = None
    ) -> EmulatedInteraction:
        """Press a button or choose select ``values`` on a message the bot sent (component interaction)."""
        stored = self.find_message(message)
        if stored is None:
            raise EmulatorError(f"unknown or deleted message {as_id(message)}")
        channel = self._channel(stored.channel_id)
        guild = None if channel.guild_id is None else self.guilds[channel.guild_id]
        target_user = self._user(user)
        if stored.ephemeral:
            owner = ((stored.get("interaction_metadata") or {}).get("user") or {}).get("id")
            if owner is not None and int(owner) != target_user.id:
                raise EmulatorError(f"message {stored.id} is ephemeral: only user {owner} can see it")
        if guild is not None and target_user.id not in guild.members:
            raise EmulatorError(f"user {target_user.id} is not a member of guild {guild.id}")
        component = next((c for c in stored.components_flat() if c.get("custom_id") == custom_id), None)
        if component is None:
            raise EmulatorError(f"message {stored.id} has no component {custom_id!r}; it has {stored.custom_ids()}")
        if component.get("disabled"):
            raise EmulatorError(f"component {custom_id!r} is disabled")
        ctype = int(component["type"])
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype in rules.SELECT_TYPES:
            chosen = list(values or [])
            low, high = component.get("min_values", 1), component.get("max_values", 1)
            if not low <= len(chosen) <= high:
                raise EmulatorError(f"select {custom_id!r} takes {low}..{high} values, got {len(chosen)}")
            if ctype == 3:
                allowed = [o["value"] for o in component.get("options") or []]
                bad = [v for v in chosen if v not in allowed]
                if bad:
                    raise EmulatorError(f"select {custom_id!r} has no options {bad}; options: {allowed}")
                data["values"] = [str(v) for v in chosen]
            else:
                resolved: dict[str, dict[str, Any]] = {}
                kind = {5: 6, 6: 8, 7: 9, 8: 7}[ctype]
                data["values"] = [
                    str(
                        self._resolve_option(
                            {"type": kind, "name": custom_id}, v, resolved, guild, channel, target_user
                        )
                    )
                    for v in chosen
                ]
                data["resolved"] = resolved
        elif values:
            raise EmulatorError(f"component {custom_id!r} is a button; it takes no values")
        inter = self._interaction(3, guild, channel, target_user, data, name=custom_id, message=stored)
        await asyncio.sleep(0)
        return inter

    @staticmethod
    def _modal_select_values(select: Mapping[str, Any], values: Mapping[str, Any]) -> list[Any]:
        """What the client submits for a select in a modal: the test's choice, or when the test leaves it untouched,
        what it shows selected (a string select's ``default`` options, an auto-populated select's ``default_values``).
        The client offers only the options shown and keeps the count within ``min_values``..``max_values``; a select
        that is not ``required`` may be left empty (``components/reference``: String Select, User Select)."""
        custom_id = select.get("custom_id")
        if custom_id in values:
            chosen = list(values[custom_id])
        elif int(select["type"]) == 3:
            chosen = [o["value"] for o in select.get("options") or [] if o.get("default")]
        else:
            chosen = [int(d["id"]) for d in select.get("default_values") or []]
        if int(select["type"]) == 3:
            offered = [o["value"] for o in select.get("options") or []]
            missing = [v for v in chosen if str(v) not in offered]
            if missing:
                raise EmulatorError(f"select {custom_id!r} has no options {missing}; options: {offered}")
        low, high = select.get("min_values", 1), select.get("max_values", 1)
        if not chosen and not select.get("required", True):
            return chosen
        if not low <= len(chosen) <= high:
            raise EmulatorError(f"select {custom_id!r} takes {low}..{high} values, got {len(chosen)}")
        return chosen

    def _modal_answer(
        self,
        item: Mapping[str, Any],
        values: Mapping[str, Any],
        resolved: dict[str, dict[str, Any]],
        guild: Guild | None,
        channel: Channel,
        user: User,
    ) -> dict[str, Any]:
        itype = int(item["type"])
        custom_id = item.get("custom_id")
        answer: dict[str, Any] = {"type": itype, "custom_id": custom_id}
        if item.get("id") is not None:
            answer["id"] = item["id"]
        if itype == 4:
            value = str(values.get(custom_id, item.get("value") or ""))
            required = item.get("required", True)
            if required and not value:
                raise EmulatorError(f"text input {custom_id!r} is required")
            low, high = item.get("min_length"), item.get("max_length") or rules.MAX_TEXT_INPUT_VALUE
            if value and ((low is not None and len(value) < low) or len(value) > high):
                raise EmulatorError(f"text input {custom_id!r}: length {len(value)} outside {low}..{high}")
            answer["value"] = value
        elif itype in rules.SELECT_TYPES:
            chosen = self._modal_select_values(item, values)
            if itype == 3:
                answer["values"] = [str(v) for v in chosen]
            else:
                kind = {5: 6, 6: 8, 7: 9, 8: 7}[itype]
                answer["values"] = [
                    str(self._resolve_option({"type": kind, "name": custom_id}, v, resolved, guild, channel, user))
                    for v in chosen
                ]
        elif itype == 19:
            ids = []
            for raw in values.get(custom_id, []):
                attachment = self._upload_from_test(raw)
                resolved.setdefault("attachments", {})[attachment["id"]] = attachment
                ids.append(attachment["id"])
            answer["values"] = ids
        elif itype == 22:
            answer["values"] = list(values.get(custom_id, []))
        elif itype in (21, 23):
            answer["value"] = values.get(custom_id, None if itype == 21 else False)
        return answer

    async def submit_modal(
        self, interaction: EmulatedInteraction, user: IdLike, values: Mapping[str, Any], *, timeout: float = 2.0
    ) -> EmulatedInteraction:
        """Fill in and submit the modal ``interaction`` got (``values``: custom_id → text, or list for selects).

        Inputs left out keep their pre-filled value, selects left out their ``default`` options (``default_values``
        for user/role/mentionable/channel selects); a required one left empty, select values not among the options
        or a count outside ``min_values``..``max_values`` raise :class:`EmulatorError` (the client cannot send them).
        """
        modal = interaction.modal or await interaction.wait_modal(timeout)
        target_user = self._user(user)
        if target_user.id != interaction.user_id:
            raise EmulatorError(f"the modal was shown to user {interaction.user_id}, not {target_user.id}")
        known = set(interaction.modal_custom_ids())
        unknown = set(values) - known
        if unknown:
            raise EmulatorError(f"modal has no inputs {sorted(unknown)}; it has {sorted(known)}")
        channel = self._channel(interaction.channel_id)
        guild = None if interaction.guild_id is None else self.guilds[interaction.guild_id]
        resolved: dict[str, dict[str, Any]] = {}
        components: list[dict[str, Any]] = []
        for component in modal.get("components") or []:
            ctype = int(component["type"])
            if ctype == 1:
                children = [
                    self._modal_answer(child, values, resolved, guild, channel, target_user)
                    for child in component.get("components") or []
                ]
                components.append({"type": 1, "components": children})
            elif ctype == 18:
                inner = self._modal_answer(component["component"], values, resolved, guild, channel, target_user)
                row: dict[str, Any] = {"type": 18, "component": inner}
                if component.get("id") is not None:
                    row["id"] = component["id"]
                components.append(row)
            elif ctype == 10:
                components.append({"type": 10, "id": component.get("id")})
        data: dict[str, Any] = {"custom_id": modal["custom_id"], "components": components}
        if resolved:
            data["resolved"] = resolved
        source = interaction.source_message
        if source is not None:
            source = self.find_message(source.id) or source
        inter = self._interaction(
            5, guild, channel, target_user, data, name=modal["custom_id"], message=source, parent=interaction
        )
        await asyncio.sleep(0)
        return inter
