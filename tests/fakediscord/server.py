"""A Discord API emulator: REST v10 and the gateway websocket on 127.0.0.1, for the real discord.py client.

It keeps just enough state (guilds, members, roles, channels, messages, pins, synced commands,
interactions) to behave as Discord does for the flows the bot uses, records every request, enforces
Discord's limits and rules, and can inject faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yarl
from aiohttp import WSMsgType, web

from . import rules

log = logging.getLogger(__name__)

_ids = itertools.count(1_100_000_000_000_000_000)


def snowflake() -> str:
    return str(next(_ids))


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class CommandHiddenError(Exception):
    """Discord would not show this command to this member (default_member_permissions)."""


class EmulatorTimeout(AssertionError):
    pass


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


@dataclass
class Guild:
    id: str
    name: str
    channel_id: str
    everyone_role_id: str
    bot_role_id: str
    owner_id: str
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Member:
    id: str
    name: str
    guild_id: str

    @property
    def int_id(self) -> int:
        return int(self.id)


@dataclass
class Interaction:
    """What the emulator saw of one interaction: the response(s) and the messages it produced."""

    id: str
    token: str
    type: int
    payload: dict[str, Any]
    dispatched_at: float
    emulator: DiscordEmulator
    responses: list[dict[str, Any]] = field(default_factory=list)
    first_response_at: float | None = None
    original: dict[str, Any] | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def response_type(self) -> int | None:
        return self.responses[0]["type"] if self.responses else None

    @property
    def latency(self) -> float | None:
        return None if self.first_response_at is None else self.first_response_at - self.dispatched_at

    async def wait_response(self, timeout: float = 2.0) -> dict[str, Any]:
        await self.emulator._wait(lambda: bool(self.responses or self.errors), timeout, f"a response to {self.id}")
        if not self.responses:
            raise AssertionError(f"interaction {self.id} got only errors: {self.errors}")
        return self.responses[0]

    def visible_messages(self) -> list[dict[str, Any]]:
        out = []
        if self.original and (self.original.get("content") or self.original.get("embeds")):
            out.append(self.original)
        out += self.followups
        return out

    async def wait_message(self, timeout: float = 2.0) -> dict[str, Any]:
        """The first message the user sees: the initial response, the original after a defer, or a followup."""
        await self.emulator._wait(lambda: bool(self.visible_messages()), timeout, f"a message for {self.id}")
        return self.visible_messages()[0]

    async def wait_modal(self, timeout: float = 2.0) -> dict[str, Any]:
        await self.emulator._wait(lambda: self.modal is not None, timeout, f"a modal for {self.id}")
        assert self.modal is not None
        return self.modal


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _error(status: int, code: int, message: str, errors: list[str] | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": e} for e in errors]}
    return _json_response(body, status)


class DiscordEmulator:
    def __init__(
        self, *, interaction_deadline: float = 3.0, message_content_intent_granted: bool = False,
        valid_token: str | None = None,
    ) -> None:  # fmt: skip
        self.valid_token = valid_token  # when set, any other bot token gets 401 Unauthorized
        self.interaction_deadline = interaction_deadline
        self.message_content_intent_granted = message_content_intent_granted
        self.app_id = snowflake()
        self.owner = self._user("owner")
        self.bot_user = {**self._user("Claim Ledger"), "id": self.app_id, "bot": True}
        self.users: dict[str, dict[str, Any]] = {self.owner["id"]: self.owner, self.app_id: self.bot_user}
        self.guilds: dict[str, Guild] = {}
        self.channels: dict[str, str] = {}  # channel id -> guild id
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.pinned: dict[str, list[str]] = {}
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        self.interactions: dict[str, Interaction] = {}
        self.attachments: dict[str, bytes] = {}
        self.requests: list[Request] = []
        self.unknown_routes: list[str] = []
        self.faults: list[Fault] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.resume_count = 0
        self.gateway_events_sent = 0
        self._seq = 0
        self._history: list[dict[str, Any]] = []
        self._ws: web.WebSocketResponse | None = None
        self._session_id = "session-" + snowflake()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> DiscordEmulator:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("GET", "/", self._gateway)
        app.router.add_route("*", "/attachments/{id}/{name}", self._attachment)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close(code=4000)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def patch(self, monkeypatch: Any) -> None:
        """Point discord.py's REST base and default gateway at the emulator (both process-global)."""
        import discord

        monkeypatch.setattr(discord.http.Route, "BASE", self.base_url)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url))

    # ---------------------------------------------------------------------- state

    def _user(self, name: str) -> dict[str, Any]:
        return {"id": snowflake(), "username": name, "discriminator": "0", "global_name": name, "avatar": None}

    def add_guild(self, name: str = "OSINT Club") -> Guild:
        gid = snowflake()
        guild = Guild(
            id=gid,
            name=name,
            channel_id=snowflake(),
            everyone_role_id=gid,
            bot_role_id=snowflake(),
            owner_id=self.owner["id"],
        )
        guild.roles[gid] = self._role(gid, "@everyone", 0)
        bot_perms = rules.ALL_PERMISSIONS & ~rules.ADMINISTRATOR
        guild.roles[guild.bot_role_id] = {**self._role(guild.bot_role_id, "Claim Ledger", bot_perms), "managed": True}
        self.guilds[gid] = guild
        self._add_channel(guild, guild.channel_id, "general")
        guild.members[self.app_id] = self._member_payload(self.bot_user, [guild.bot_role_id])
        guild.members[self.owner["id"]] = self._member_payload(self.owner, [])
        if self._ws is not None:
            self._dispatch_soon("GUILD_CREATE", self._guild_payload(guild))
        return guild

    def _role(self, rid: str, name: str, permissions: int) -> dict[str, Any]:
        return {
            "id": rid,
            "name": name,
            "permissions": str(permissions),
            "position": 0 if name == "@everyone" else 1,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _add_channel(self, guild: Guild, cid: str, name: str) -> None:
        guild.channels[cid] = {
            "id": cid,
            "type": 0,
            "name": name,
            "position": len(guild.channels),
            "guild_id": guild.id,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": None,
            "parent_id": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }
        self.channels[cid] = guild.id
        self.messages[cid] = {}
        self.pinned[cid] = []

    def add_channel(self, guild_id: str, name: str) -> str:
        guild = self.guilds[guild_id]
        cid = snowflake()
        self._add_channel(guild, cid, name)
        if self._ws is not None:
            self._dispatch_soon("CHANNEL_CREATE", guild.channels[cid])
        return cid

    def add_role(self, guild_id: str, name: str, permissions: int = 0) -> str:
        rid = snowflake()
        self.guilds[guild_id].roles[rid] = self._role(rid, name, permissions)
        if self._ws is not None:
            self._dispatch_soon("GUILD_ROLE_CREATE", {"guild_id": guild_id, "role": self.guilds[guild_id].roles[rid]})
        return rid

    def _member_payload(self, user: dict[str, Any], roles: list[str]) -> dict[str, Any]:
        return {"user": user, "roles": roles, "flags": 0, "joined_at": now_iso(), "deaf": False, "mute": False}

    def add_member(self, guild_id: str, name: str = "member", *, permissions: int = 0, roles: list[str] = ()) -> Member:  # type: ignore[assignment]
        """A member; ``permissions`` become a personal role with those permissions."""
        guild = self.guilds[guild_id]
        user = self._user(name)
        self.users[user["id"]] = user
        role_ids = list(roles)
        if permissions:
            role_ids.append(self.add_role(guild_id, f"{name}-perms", permissions))
        guild.members[user["id"]] = self._member_payload(user, role_ids)
        if self._ws is not None:
            self._dispatch_soon("GUILD_MEMBER_ADD", {**guild.members[user["id"]], "guild_id": guild_id})
        return Member(id=user["id"], name=name, guild_id=guild_id)

    def member_permissions(self, guild_id: str, user_id: str) -> int:
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return rules.ALL_PERMISSIONS
        member = guild.members[user_id]
        perms = int(guild.roles[guild.everyone_role_id]["permissions"])
        for rid in member["roles"]:
            perms |= int(guild.roles[rid]["permissions"])
        return rules.ALL_PERMISSIONS if perms & rules.ADMINISTRATOR else perms

    def set_bot_permissions(self, guild_id: str, permissions: int) -> None:
        guild = self.guilds[guild_id]
        guild.roles[guild.bot_role_id]["permissions"] = str(permissions)
        if self._ws is not None:
            self._dispatch_soon("GUILD_ROLE_UPDATE", {"guild_id": guild_id, "role": guild.roles[guild.bot_role_id]})

    def channel_messages(self, channel_id: str) -> list[dict[str, Any]]:
        return list(self.messages[channel_id].values())

    def pins(self, channel_id: str) -> list[str]:
        return list(self.pinned[channel_id])

    def requests_to(self, method: str, pattern: str) -> list[Request]:
        regex = re.compile(pattern)
        return [r for r in self.requests if r.method == method and regex.search(r.path)]

    # --------------------------------------------------------------------- faults

    def fail_next(
        self, method: str, pattern: str, *, status: int = 403, code: int = 50013, message: str = "Missing Permissions",
        times: int = 1,
    ) -> None:  # fmt: skip
        self.faults.append(Fault(method, re.compile(pattern), status, {"code": code, "message": message}, {}, times))

    def rate_limit_next(self, method: str, pattern: str, *, retry_after: float = 0.05, times: int = 1) -> None:
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(retry_after),
            "X-RateLimit-Bucket": "emulated",
            "X-RateLimit-Scope": "user",
        }
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
        self.faults.append(Fault(method, re.compile(pattern), 429, body, headers, times))

    def _fault_for(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and fault.pattern.search(path):
                fault.times -= 1
                return fault
        return None

    # -------------------------------------------------------------------- waiting

    def _notify(self) -> None:
        self._changed.set()

    async def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmulatorTimeout(f"timed out after {timeout}s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))

    async def wait_for(self, predicate: Callable[[Request], bool], timeout: float = 2.0) -> Request:
        await self._wait(lambda: any(predicate(r) for r in self.requests), timeout, "a matching request")
        return next(r for r in self.requests if predicate(r))

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 2.0, what: str = "a condition") -> None:
        await self._wait(predicate, timeout, what)

    # -------------------------------------------------------------------- gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._ws = ws
        await self._send(ws, {"op": 10, "d": {"heartbeat_interval": 41250}})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            op = data.get("op")
            if op == 1:
                await self._send(ws, {"op": 11})
            elif op == 2:
                self.identify_payloads.append(data["d"])
                self._seq = 0
                self._history.clear()
                await self._dispatch("READY", self._ready_payload())
                for guild in self.guilds.values():
                    await self._dispatch("GUILD_CREATE", self._guild_payload(guild))
            elif op == 6:
                self.resume_count += 1
                last = data["d"].get("seq") or 0
                for event in [e for e in self._history if e["s"] > last]:
                    await self._send(ws, event)
                await self._dispatch("RESUMED", {})
        if self._ws is ws:
            self._ws = None
        return ws

    async def _send(self, ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
        if not ws.closed:
            await ws.send_str(json.dumps(payload))

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        self._seq += 1
        envelope = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._history.append(envelope)
        if self._ws is not None:
            await self._send(self._ws, envelope)
            self.gateway_events_sent += 1

    def _dispatch_soon(self, event: str, data: dict[str, Any]) -> None:
        asyncio.get_running_loop().create_task(self._dispatch(event, data))

    async def disconnect_gateway(self) -> None:
        """Ask the client to reconnect (op 7); discord.py reconnects and RESUMEs."""
        if self._ws is not None:
            await self._send(self._ws, {"op": 7, "d": None})

    def _ready_payload(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": gid, "unavailable": True} for gid in self.guilds],
            "session_id": self._session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.app_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }

    def _guild_payload(self, guild: Guild) -> dict[str, Any]:
        return {
            "id": guild.id,
            "name": guild.name,
            "icon": None,
            "owner_id": guild.owner_id,
            "roles": list(guild.roles.values()),
            "channels": list(guild.channels.values()),
            "members": list(guild.members.values()),
            "member_count": len(guild.members),
            "unavailable": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "large": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "afk_timeout": 300,
            "system_channel_id": None,
        }

    # --------------------------------------------------------------- interactions

    def _find_command(self, guild_id: str, name: str, kind: int) -> dict[str, Any]:
        for cmd in self.commands.get(guild_id, []) + self.commands.get(None, []):
            if cmd["name"] == name and cmd.get("type", 1) == kind:
                return cmd
        raise AssertionError(f"command {name!r} (type {kind}) was never synced to guild {guild_id}")

    def _member_in_interaction(self, guild_id: str, user_id: str) -> dict[str, Any]:
        member = self.guilds[guild_id].members[user_id]
        return {**member, "permissions": str(self.member_permissions(guild_id, user_id))}

    def _check_visible(self, cmd: dict[str, Any], guild_id: str, user_id: str, force: bool) -> None:
        required = cmd.get("default_member_permissions")
        if required is None or force:
            return
        perms = self.member_permissions(guild_id, user_id)
        if perms & rules.ADMINISTRATOR or perms & int(required) == int(required):
            return
        raise CommandHiddenError(f"/{cmd['name']} is hidden from this member (needs {required})")

    def _base_interaction(self, kind: int, guild_id: str, channel_id: str, user_id: str) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        return {
            "id": snowflake(),
            "application_id": self.app_id,
            "type": kind,
            "token": "tok-" + snowflake(),
            "version": 1,
            "attachment_size_limit": 25 * 1024 * 1024,
            "guild_id": guild_id,
            "channel_id": channel_id,
            "channel": {**guild.channels[channel_id]},
            "member": self._member_in_interaction(guild_id, user_id),
            "app_permissions": str(self.member_permissions(guild_id, self.app_id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild_id},
            "context": 0,
        }

    def _build_options(
        self, defs: list[dict[str, Any]], values: dict[str, Any], focused: str | None, resolved: dict[str, Any],
        guild_id: str,
    ) -> list[dict[str, Any]]:  # fmt: skip
        out = []
        by_name = {d["name"]: d for d in defs}
        for name, value in values.items():
            if name not in by_name:
                raise AssertionError(f"option {name!r} is not defined; defined: {sorted(by_name)}")
            kind = by_name[name]["type"]
            option: dict[str, Any] = {"name": name, "type": kind}
            if kind == 7:  # channel
                option["value"] = str(value)
                resolved.setdefault("channels", {})[str(value)] = {
                    **self.guilds[guild_id].channels[str(value)],
                    "permissions": str(rules.ALL_PERMISSIONS),
                }
            elif kind == 8:  # role
                option["value"] = str(value)
                resolved.setdefault("roles", {})[str(value)] = self.guilds[guild_id].roles[str(value)]
            elif kind == 6:  # user
                option["value"] = str(value)
                resolved.setdefault("users", {})[str(value)] = self.users[str(value)]
                member = self.guilds[guild_id].members.get(str(value))
                if member:
                    resolved.setdefault("members", {})[str(value)] = {
                        k: v for k, v in member.items() if k != "user"
                    } | {"permissions": "0"}
            elif kind == 11:  # attachment: value is (filename, bytes, content_type)
                filename, data, content_type = value
                aid = snowflake()
                self.attachments[aid] = data
                option["value"] = aid
                resolved.setdefault("attachments", {})[aid] = {
                    "id": aid,
                    "filename": filename,
                    "size": len(data),
                    "url": f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}",
                    "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}",
                    "content_type": content_type,
                }
            else:
                option["value"] = value
            if focused == name:
                option["focused"] = True
            out.append(option)
        return out

    def _command_data(
        self, guild_id: str, name: str, options: dict[str, Any] | None, focused: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        parts = name.split()
        cmd = self._find_command(guild_id, parts[0], 1)
        resolved: dict[str, Any] = {}
        defs = cmd.get("options") or []
        chain = []
        for sub in parts[1:]:
            sub_def = next((d for d in defs if d["name"] == sub and d["type"] in (1, 2)), None)
            if sub_def is None:
                raise AssertionError(f"/{name}: no subcommand {sub!r}")
            chain.append(sub_def)
            defs = sub_def.get("options") or []
        built = self._build_options(defs, options or {}, focused, resolved, guild_id)
        for sub_def in reversed(chain):
            built = [{"name": sub_def["name"], "type": sub_def["type"], "options": built}]
        data = {"id": cmd["id"], "name": cmd["name"], "type": 1, "guild_id": guild_id, "options": built}
        if resolved:
            data["resolved"] = resolved
        return cmd, data

    async def _deliver(self, payload: dict[str, Any]) -> Interaction:
        record = Interaction(
            id=payload["id"],
            token=payload["token"],
            type=payload["type"],
            payload=payload,
            dispatched_at=time.monotonic(),
            emulator=self,
        )
        self.interactions[record.id] = record
        await self._dispatch("INTERACTION_CREATE", payload)
        return record

    async def slash(
        self, guild_id: str, channel_id: str, user_id: str, name: str, options: dict[str, Any] | None = None,
        *, force: bool = False,
    ) -> Interaction:  # fmt: skip
        """A member runs ``/name`` (``"claim edit"`` for subcommands). Hidden commands raise CommandHiddenError."""
        cmd, data = self._command_data(guild_id, name, options, None)
        self._check_visible(cmd, guild_id, user_id, force)
        payload = self._base_interaction(2, guild_id, channel_id, user_id)
        payload["data"] = data
        return await self._deliver(payload)

    async def autocomplete(
        self, guild_id: str, channel_id: str, user_id: str, name: str, options: dict[str, Any], focused: str,
        timeout: float = 3.0,
    ) -> list[dict[str, Any]]:  # fmt: skip
        _, data = self._command_data(guild_id, name, options, focused)
        payload = self._base_interaction(4, guild_id, channel_id, user_id)
        payload["data"] = data
        record = await self._deliver(payload)
        await self._wait(lambda: record.choices is not None or bool(record.errors), timeout, "autocomplete choices")
        if record.choices is None:
            raise AssertionError(f"autocomplete refused: {record.errors}")
        return record.choices

    async def context_menu(
        self, guild_id: str, channel_id: str, user_id: str, name: str, message: dict[str, Any], *, force: bool = False
    ) -> Interaction:
        cmd = self._find_command(guild_id, name, 3)
        self._check_visible(cmd, guild_id, user_id, force)
        payload = self._base_interaction(2, guild_id, channel_id, user_id)
        payload["data"] = {
            "id": cmd["id"],
            "name": name,
            "type": 3,
            "guild_id": guild_id,
            "target_id": message["id"],
            "resolved": {"messages": {message["id"]: message}},
        }
        return await self._deliver(payload)

    async def click(
        self, message: dict[str, Any], custom_id: str, user_id: str, *, values: list[str] | None = None
    ) -> Interaction:
        """A component interaction on a message the bot sent (button, or select with ``values``)."""
        guild_id = message.get("guild_id") or self.channels[message["channel_id"]]
        component = self._find_component(message, custom_id)
        payload = self._base_interaction(3, guild_id, message["channel_id"], user_id)
        payload["message"] = message
        payload["data"] = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            payload["data"]["values"] = values
        return await self._deliver(payload)

    def _find_component(self, message: dict[str, Any], custom_id: str) -> dict[str, Any]:
        for row in message.get("components") or []:
            for child in row.get("components") or []:
                if child.get("custom_id") == custom_id:
                    if child.get("disabled"):
                        raise AssertionError(f"component {custom_id!r} is disabled")
                    return child
        raise AssertionError(f"no component {custom_id!r} on message {message['id']}")

    async def submit_modal(self, opened_by: Interaction, user_id: str, values: dict[str, str]) -> Interaction:
        """Submit the modal the bot answered ``opened_by`` with; ``values`` by text input custom_id or label."""
        modal = opened_by.modal
        if modal is None:
            raise AssertionError("that interaction was not answered with a modal")
        rows = []
        for row in modal.get("components") or []:
            children = row.get("components") or ([row["component"]] if row.get("component") else [])
            out_children = []
            for child in children:
                key = child.get("custom_id")
                value = values.get(key, values.get(child.get("label"), child.get("value") or ""))
                out_children.append({"type": 4, "custom_id": key, "value": value})
            rows.append({"type": 1, "components": out_children})
        payload = self._base_interaction(5, opened_by.payload["guild_id"], opened_by.payload["channel_id"], user_id)
        payload["data"] = {"custom_id": modal["custom_id"], "components": rows}
        return await self._deliver(payload)

    async def post_message(
        self, channel_id: str, author_id: str, content: str, *, mention_bot: bool = False
    ) -> dict[str, Any]:
        """A member posts in a channel. Content reaches the bot only if it is mentioned (no message content intent)."""
        guild_id = self.channels[channel_id]
        message = self._message_payload(channel_id, self.users[author_id], {"content": content})
        message["member"] = {k: v for k, v in self.guilds[guild_id].members[author_id].items() if k != "user"}
        message["mentions"] = [self.bot_user] if mention_bot else []
        self.messages[channel_id][message["id"]] = message
        delivered = dict(message)
        if not (mention_bot or self.message_content_intent_granted):
            delivered.update(content="", embeds=[], attachments=[], components=[])
        await self._dispatch("MESSAGE_CREATE", delivered)
        return message

    # ----------------------------------------------------------------------- REST

    def _message_payload(
        self, channel_id: str, author: dict[str, Any], body: dict[str, Any], *, flags: int = 0
    ) -> dict[str, Any]:
        message = {
            "id": snowflake(),
            "channel_id": channel_id,
            "guild_id": self.channels.get(channel_id),
            "author": author,
            "content": body.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": flags,
            "allowed_mentions": body.get("allowed_mentions"),
        }
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
            message["type"] = 19
        return message

    async def _read_body(self, request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        files: list[tuple[str, bytes]] = []
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(data)
                else:
                    files.append((part.filename or "file", bytes(data)))  # type: ignore[union-attr]
            return payload, files
        if request.can_read_body:
            raw = await request.read()
            return (json.loads(raw) if raw else None), files
        return None, files

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.attachments.get(request.match_info["id"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, headers={"Content-Type": "application/octet-stream"})

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        record = Request(request.method, path, dict(request.query), body)
        self.requests.append(record)
        fault = self._fault_for(request.method, path)
        authorization = request.headers.get("Authorization", "")
        if self.valid_token is not None and authorization.startswith("Bot ") and authorization[4:] != self.valid_token:
            response = _error(401, 0, "401: Unauthorized")
        elif fault is not None:
            response = _json_response(fault.body, fault.status, fault.headers)
        else:
            try:
                response = await self._route(request.method, path, request.query, body, files)
            except Exception:
                log.exception("emulator route %s %s failed", request.method, path)
                response = _error(500, 0, "emulator error")
        record.status = response.status
        self._notify()
        return response

    async def _route(
        self, method: str, path: str, query: Any, body: Any, files: list[tuple[str, bytes]]
    ) -> web.Response:
        routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", r"/users/@me", lambda: _json_response(self.bot_user)),
            ("GET", r"/gateway(/bot)?", lambda: _json_response({"url": self.gateway_url, "shards": 1})),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("GET", r"/applications/\d+/commands", lambda: _json_response(self.commands.get(None, []))),
            ("PUT", r"/applications/\d+/commands", lambda: self._sync(None, body)),
            ("GET", r"/applications/\d+/guilds/(\d+)/commands", lambda g: _json_response(self.commands.get(g, []))),
            ("PUT", r"/applications/\d+/guilds/(\d+)/commands", lambda g: self._sync(g, body)),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", lambda i, t: self._callback(i, t, body, files)),
            ("POST", r"/webhooks/\d+/([^/]+)", lambda t: self._followup(t, body, files)),
            ("GET", r"/webhooks/\d+/([^/]+)/messages/(@original|\d+)", lambda t, m: self._webhook_message(t, m)),
            ("PATCH", r"/webhooks/\d+/([^/]+)/messages/(@original|\d+)", lambda t, m: self._edit_webhook(t, m, body)),
            ("DELETE", r"/webhooks/\d+/([^/]+)/messages/(@original|\d+)", lambda t, m: self._delete_webhook(t, m)),
            ("GET", r"/channels/(\d+)/messages/pins", lambda c: self._list_pins(c)),
            ("PUT", r"/channels/(\d+)/(?:messages/)?pins/(\d+)", lambda c, m: self._pin(c, m)),
            ("DELETE", r"/channels/(\d+)/(?:messages/)?pins/(\d+)", lambda c, m: self._unpin(c, m)),
            ("GET", r"/channels/(\d+)/pins", lambda c: self._list_pins_legacy(c)),
            ("POST", r"/channels/(\d+)/messages", lambda c: self._create_message(c, body, files)),
            ("GET", r"/channels/(\d+)/messages/(\d+)", lambda c, m: self._get_message(c, m)),
            ("PATCH", r"/channels/(\d+)/messages/(\d+)", lambda c, m: self._edit_message(c, m, body)),
            ("DELETE", r"/channels/(\d+)/messages/(\d+)", lambda c, m: self._delete_message(c, m)),
            ("POST", r"/channels/(\d+)/typing", lambda c: web.Response(status=204)),
            ("GET", r"/channels/(\d+)", lambda c: self._get_channel(c)),
            ("GET", r"/guilds/(\d+)/members/(\d+)", lambda g, u: self._get_member(g, u)),
            ("GET", r"/guilds/(\d+)", lambda g: _json_response(self._guild_payload(self.guilds[g]))),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                result = handler(*[g for g in match.groups() if g is not None and not g.startswith("/")])
                return await result if asyncio.iscoroutine(result) else result
        self.unknown_routes.append(f"{method} {path}")
        log.warning("emulator: unknown route %s %s", method, path)
        return _error(404, 0, "404: Not Found")

    def _application(self) -> web.Response:
        return _json_response(
            {
                "id": self.app_id,
                "name": "Claim Ledger",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.owner,
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
                "summary": "",
            }
        )

    def _sync(self, guild_id: str | None, body: list[dict[str, Any]]) -> web.Response:
        errors = rules.command_errors(body)
        if errors:
            return _error(400, 50035, "Invalid Form Body", errors)
        stored = []
        previous = {(c["name"], c.get("type", 1)): c["id"] for c in self.commands.get(guild_id, [])}
        for cmd in body:
            cid = previous.get((cmd["name"], cmd.get("type", 1))) or snowflake()
            entry = {
                **cmd,
                "id": cid,
                "application_id": self.app_id,
                "version": snowflake(),
                "type": cmd.get("type", 1),
                "description": cmd.get("description", ""),
                "default_member_permissions": cmd.get("default_member_permissions"),
            }
            if guild_id:
                entry["guild_id"] = guild_id
            stored.append(entry)
        self.commands[guild_id] = stored
        return _json_response(stored)

    def _callback(self, iid: str, token: str, body: dict[str, Any], files: list[tuple[str, bytes]]) -> web.Response:
        record = self.interactions.get(iid)
        if record is None or record.token != token:
            return _error(404, 10062, "Unknown interaction")
        if record.responses:
            record.errors.append({"code": 40060, "body": body})
            return _error(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - record.dispatched_at > self.interaction_deadline:
            record.errors.append({"code": 10062, "body": body})
            return _error(404, 10062, "Unknown interaction")
        kind = body.get("type")
        data = body.get("data") or {}
        if kind in (4, 7):
            errors = rules.message_errors(data)
        elif kind == 8:
            errors = rules.choice_errors(data.get("choices") or [])
        elif kind == 9:
            errors = rules.modal_errors(data)
        else:
            errors = []
        if errors:
            record.errors.append({"code": 50035, "body": body, "errors": errors})
            return _error(400, 50035, "Invalid Form Body", errors)
        record.responses.append(body)
        record.first_response_at = time.monotonic()
        payload = record.payload
        channel_id = payload.get("channel_id")
        ephemeral = bool((data.get("flags") or 0) & 64)
        resource: dict[str, Any] = {"type": kind}
        interaction_info: dict[str, Any] = {"id": iid, "type": record.type}
        if kind == 4:
            message = self._message_payload(channel_id, self.bot_user, data, flags=data.get("flags") or 0)
            message["interaction_metadata"] = {"id": iid, "type": record.type, "user": payload["member"]["user"]}
            record.original = message
            if not ephemeral:
                self.messages[channel_id][message["id"]] = message
            resource["message"] = message
            interaction_info.update(response_message_id=message["id"], response_message_ephemeral=ephemeral)
        elif kind == 5:
            message = self._message_payload(channel_id, self.bot_user, {}, flags=(data.get("flags") or 0) | 128)
            record.original = message
            if not ephemeral:
                self.messages[channel_id][message["id"]] = message
            resource["message"] = message
            interaction_info.update(
                response_message_id=message["id"], response_message_loading=True, response_message_ephemeral=ephemeral
            )
        elif kind == 7:
            target = payload.get("message") or {}
            stored = self.messages.get(target.get("channel_id"), {}).get(target.get("id"), target)
            stored.update({k: v for k, v in data.items() if k in ("content", "embeds", "components")})
            stored["edited_timestamp"] = now_iso()
            record.original = stored
            resource["message"] = stored
        elif kind == 8:
            record.choices = data.get("choices") or []
        elif kind == 9:
            record.modal = data
        self._notify()
        return _json_response({"interaction": interaction_info, "resource": resource})

    def _record_by_token(self, token: str) -> Interaction | None:
        return next((r for r in self.interactions.values() if r.token == token), None)

    def _followup(self, token: str, body: dict[str, Any], files: list[tuple[str, bytes]] = ()) -> web.Response:  # type: ignore[assignment]
        record = self._record_by_token(token)
        if record is None:
            return _error(404, 10015, "Unknown Webhook")
        if not record.responses:
            return _error(404, 10015, "Unknown Webhook")
        errors = rules.message_errors(body or {})
        if errors:
            return _error(400, 50035, "Invalid Form Body", errors)
        channel_id = record.payload.get("channel_id")
        message = self._message_payload(channel_id, self.bot_user, body, flags=body.get("flags") or 0)
        message["webhook_id"] = self.app_id
        message["files"] = [{"filename": name, "data": data} for name, data in files]
        if record.original is not None and record.original["flags"] & 128 and not record.followups:
            # The first followup after a "thinking" defer replaces the loading message, as Discord does.
            record.original.update(
                content=message["content"],
                embeds=message["embeds"],
                components=message["components"],
                flags=record.original["flags"] & ~128,
                allowed_mentions=message["allowed_mentions"],
                files=message["files"],
            )
            message = record.original
        record.followups.append(message)
        if not (message["flags"] & 64):
            self.messages[channel_id][message["id"]] = message
        self._notify()
        return _json_response(message)

    def _webhook_target(self, token: str, mid: str) -> dict[str, Any] | None:
        record = self._record_by_token(token)
        if record is None:
            return None
        if mid == "@original":
            return record.original
        return next((m for m in record.followups if m["id"] == mid), None)

    def _webhook_message(self, token: str, mid: str) -> web.Response:
        message = self._webhook_target(token, mid)
        return _json_response(message) if message else _error(404, 10008, "Unknown Message")

    def _edit_webhook(self, token: str, mid: str, body: dict[str, Any]) -> web.Response:
        return self._apply_edit(self._webhook_target(token, mid), body)

    def _delete_webhook(self, token: str, mid: str) -> web.Response:
        message = self._webhook_target(token, mid)
        if message is None:
            return _error(404, 10008, "Unknown Message")
        self.messages.get(message["channel_id"], {}).pop(message["id"], None)
        return web.Response(status=204)

    def _create_message(self, channel_id: str, body: dict[str, Any], files: list[tuple[str, bytes]]) -> web.Response:
        if channel_id not in self.messages:
            return _error(404, 10003, "Unknown Channel")
        guild_id = self.channels[channel_id]
        if not self.member_permissions(guild_id, self.app_id) & rules.SEND_MESSAGES:
            return _error(403, 50013, "Missing Permissions")
        errors = rules.message_errors(body or {})
        if not (body or {}).get("content") and not (body or {}).get("embeds") and not files:
            errors.append("Cannot send an empty message")
        if errors:
            return _error(400, 50035, "Invalid Form Body", errors)
        message = self._message_payload(channel_id, self.bot_user, body or {})
        if files:
            message["attachments"] = []
            for name, data in files:
                aid = snowflake()
                self.attachments[aid] = data
                message["attachments"].append(
                    {
                        "id": aid,
                        "filename": name,
                        "size": len(data),
                        "url": f"http://127.0.0.1:{self.port}/attachments/{aid}/{name}",
                        "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{aid}/{name}",
                    }
                )
        self.messages[channel_id][message["id"]] = message
        return _json_response(message)

    def _get_message(self, channel_id: str, mid: str) -> web.Response:
        message = self.messages.get(channel_id, {}).get(mid)
        return _json_response(message) if message else _error(404, 10008, "Unknown Message")

    def _edit_message(self, channel_id: str, mid: str, body: dict[str, Any]) -> web.Response:
        return self._apply_edit(self.messages.get(channel_id, {}).get(mid), body)

    def _apply_edit(self, message: dict[str, Any] | None, body: dict[str, Any] | None) -> web.Response:
        """Edit a stored message as Discord does: limits checked on the result, loading flag cleared."""
        if message is None:
            return _error(404, 10008, "Unknown Message")
        merged = {**message, **{k: v for k, v in (body or {}).items() if k in ("content", "embeds", "components")}}
        errors = rules.message_errors(merged)
        if errors:
            return _error(400, 50035, "Invalid Form Body", errors)
        message.update(merged)
        message["flags"] = message.get("flags", 0) & ~128
        message["edited_timestamp"] = now_iso()
        if body and "allowed_mentions" in body:
            message["allowed_mentions"] = body["allowed_mentions"]
        self._notify()
        return _json_response(message)

    def _delete_message(self, channel_id: str, mid: str) -> web.Response:
        if self.messages.get(channel_id, {}).pop(mid, None) is None:
            return _error(404, 10008, "Unknown Message")
        if mid in self.pinned.get(channel_id, []):
            self.pinned[channel_id].remove(mid)
        return web.Response(status=204)

    def delete_message(self, channel_id: str, mid: str) -> None:
        """Someone (a moderator, say) deletes a message by hand."""
        self.messages[channel_id].pop(mid, None)
        if mid in self.pinned[channel_id]:
            self.pinned[channel_id].remove(mid)

    def _pin(self, channel_id: str, mid: str) -> web.Response:
        guild_id = self.channels.get(channel_id)
        if guild_id is None:
            return _error(404, 10003, "Unknown Channel")
        if not self.member_permissions(guild_id, self.app_id) & rules.PIN_MESSAGES:
            return _error(403, 50013, "Missing Permissions")
        if mid not in self.messages[channel_id]:
            return _error(404, 10008, "Unknown Message")
        if mid not in self.pinned[channel_id]:
            if len(self.pinned[channel_id]) >= 250:
                return _error(400, 30003, "Maximum number of pins reached (250)")
            self.pinned[channel_id].append(mid)
            self.messages[channel_id][mid]["pinned"] = True
        return web.Response(status=204)

    def _unpin(self, channel_id: str, mid: str) -> web.Response:
        if mid in self.pinned.get(channel_id, []):
            self.pinned[channel_id].remove(mid)
            self.messages[channel_id][mid]["pinned"] = False
        return web.Response(status=204)

    def _list_pins(self, channel_id: str) -> web.Response:
        items = [{"pinned_at": now_iso(), "message": self.messages[channel_id][m]} for m in self.pinned[channel_id]]
        return _json_response({"items": items, "has_more": False})

    def _list_pins_legacy(self, channel_id: str) -> web.Response:
        return _json_response([self.messages[channel_id][m] for m in self.pinned[channel_id]])

    def _get_channel(self, channel_id: str) -> web.Response:
        guild_id = self.channels.get(channel_id)
        if guild_id is None:
            return _error(404, 10003, "Unknown Channel")
        return _json_response(self.guilds[guild_id].channels[channel_id])

    def _get_member(self, guild_id: str, user_id: str) -> web.Response:
        member = self.guilds.get(guild_id) and self.guilds[guild_id].members.get(user_id)
        return _json_response(member) if member else _error(404, 10007, "Unknown Member")

    def fill_pins(self, channel_id: str, count: int = 250) -> None:
        """Fill a channel's pin list (to test Discord's 250-pin limit)."""
        for _ in range(count):
            message = self._message_payload(channel_id, self.owner, {"content": "old pin"})
            message["pinned"] = True
            self.messages[channel_id][message["id"]] = message
            self.pinned[channel_id].append(message["id"])
