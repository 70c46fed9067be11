"""The Discord API emulator: REST v10 and the gateway on 127.0.0.1, plus the test-side API that drives the bot.

See the package docstring (``tests/emulator/__init__.py``) for the API; this module holds the implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self, TypeVar

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import BodyPartReader, web

from . import rules
from .gateway import Gateway
from .payloads import (
    Channel,
    Guild,
    IdLike,
    Member,
    Role,
    Snowflakes,
    StoredMessage,
    User,
    as_id,
    iso,
    permissions_for,
)

if TYPE_CHECKING:
    import pytest

log = logging.getLogger("tests.emulator")

T = TypeVar("T")
JSON_HEADERS = {"Content-Type": "application/json"}
MENTION_USER_RE = re.compile(r"<@!?(\d+)>")
MENTION_ROLE_RE = re.compile(r"<@&(\d+)>")
APP_COMMAND_MESSAGE_TYPES = {1: 20, 2: 23, 3: 23}


# ------------------------------------------------------------------ errors


class EmulatorError(Exception):
    """The test asked for something Discord's client would not do (unknown command, disabled button...)."""


class CommandHiddenError(EmulatorError):
    """Discord would not show this command to this member (``default_member_permissions`` or context)."""


class UnknownCommandError(EmulatorError):
    """No synced command has that name."""


class EmulatorTimeout(EmulatorError, TimeoutError):
    """A ``wait_*`` helper ran out of time; the message says what was seen instead."""


class ApiError(Exception):
    """Raised inside route handlers: becomes a JSON error answer."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: rules.FormErrors | dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors.to_dict() if isinstance(errors, rules.FormErrors) else errors
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def invalid_form(errors: rules.FormErrors) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


# ------------------------------------------------------------------ records


@dataclass
class RecordedRequest:
    """One REST request the bot made, with what the emulator answered."""

    method: str
    path: str
    """Relative to ``/api/v10``, without the query string: ``/channels/1/messages``."""
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]]
    status: int
    response: Any
    at: float
    """``emu.now()`` when the request arrived (the loop's clock plus what :meth:`DiscordEmulator.advance` added)."""
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    """``"fail"`` or ``"rate_limit"`` when an injected fault answered."""
    unknown: bool = False

    @property
    def time(self) -> float:
        return self.at

    @property
    def code(self) -> int | None:
        """Discord's JSON error code, for error answers."""
        if isinstance(self.response, Mapping) and self.status >= 400:
            code = self.response.get("code")
            return int(code) if code is not None else None
        return None

    def __repr__(self) -> str:
        extra = f" code={self.code}" if self.code is not None else ""
        return f"<{self.method} {self.path} → {self.status}{extra}>"


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int
    kind: str

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and (self.method in ("*", method)) and self.pattern.search(path) is not None


class ResponseRecord(dict[str, Any]):
    """An interaction callback the bot sent: the JSON body (``{"type": 4, "data": {...}}``) plus what happened.

    Attributes: ``status`` (what the emulator answered), ``accepted``, ``at`` (loop time), ``latency`` (seconds
    since the interaction was dispatched) and ``error`` (the error body when rejected).
    """

    status: int
    accepted: bool
    at: float
    latency: float
    error: dict[str, Any] | None

    @property
    def type(self) -> int:
        return int(self.get("type") or 0)

    @property
    def data(self) -> dict[str, Any]:
        return self.get("data") or {}


@dataclass
class RequestContext:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]]
    headers: Mapping[str, str]

    @property
    def body(self) -> dict[str, Any]:
        return self.json if isinstance(self.json, dict) else {}


@dataclass
class RunningClient:
    client: discord.Client
    task: asyncio.Task[None]
    ready_seconds: float


# ------------------------------------------------------------------ interactions


class EmulatedInteraction:
    """An interaction the emulator dispatched, and everything the bot did with it."""

    def __init__(
        self,
        emu: DiscordEmulator,
        *,
        id: int,
        token: str,
        type: int,
        name: str,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        command: dict[str, Any] | None = None,
        source_message: StoredMessage | None = None,
        parent: EmulatedInteraction | None = None,
    ) -> None:
        self.emu = emu
        self.id = id
        self.token = token
        self.type = type
        self.name = name
        """Command name ("claim edit"), custom_id for components and modals."""
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.user_id = user_id
        self.command = command
        self.source_message = source_message
        """The message a component was on (component interactions, and modals opened from one)."""
        self.parent = parent
        self.payload: dict[str, Any] = {}
        self.dispatched_at = 0.0
        self.seq: int | None = None
        self.responses: list[ResponseRecord] = []
        """Every callback attempt that reached the interaction (accepted or rejected; injected faults excluded)."""
        self.response: ResponseRecord | None = None
        """The accepted initial response."""
        self.original: StoredMessage | None = None
        self.followups: list[StoredMessage] = []
        self.visible: list[StoredMessage] = []
        """Messages the user got from this interaction, in the order they became visible."""
        self.modal: dict[str, Any] | None = None
        self.choices: list[dict[str, Any]] | None = None
        self.errors: list[RecordedRequest] = []
        """REST requests about this interaction (callback, followups, original edits) that got a 4xx/5xx."""
        self.expired = False

    def __repr__(self) -> str:
        return f"<EmulatedInteraction {self.id} type={self.type} {self.name!r} response={self.response_type}>"

    @property
    def response_type(self) -> int | None:
        return None if self.response is None else self.response.type

    @property
    def acknowledged(self) -> bool:
        return self.response is not None

    @property
    def latency(self) -> float | None:
        """Seconds between dispatch and the accepted initial response."""
        return None if self.response is None else self.response.latency

    @property
    def messages(self) -> list[StoredMessage]:
        return self.visible

    def describe(self) -> str:
        parts = [repr(self)]
        for attempt in self.responses:
            parts.append(f"callback type {attempt.type} → {attempt.status} {attempt.error or ''}".rstrip())
        for error in self.errors:
            parts.append(f"error: {error!r} {error.response}")
        since = [r for r in self.emu.requests if r.unknown and r.at >= self.dispatched_at]
        for request in since:
            parts.append(f"unknown route: {request.method} {request.path}")
        if self.emu.gateway.session is None or not self.emu.gateway.connected:
            parts.append("gateway: no live connection")
        return "; ".join(parts)

    async def wait_response(self, timeout: float = 2.0, *, accepted_only: bool = True) -> ResponseRecord:
        """The accepted initial response (or, with ``accepted_only=False``, the first attempt, even rejected)."""

        def check() -> ResponseRecord | None:
            if not accepted_only:
                return self.responses[0] if self.responses else None
            if self.response is None and self.expired:
                raise EmulatorError(f"the bot answered too late: {self.describe()}")
            return self.response

        return await self.emu.wait_until(check, timeout, what=f"a response to {self.describe()}")

    async def wait_message(self, timeout: float = 2.0, *, index: int = 0) -> StoredMessage:
        """The message the user sees: the initial reply; after a defer, the edited original or a followup.

        ``index`` picks a later one (visible messages in order). The dict is live: later edits show in it.
        """

        def check() -> StoredMessage | None:
            if len(self.visible) > index:
                return self.visible[index]
            if self.response is None and self.expired:
                raise EmulatorError(f"the bot answered too late: {self.describe()}")
            if self.response is not None and self.response.type in (8, 9):
                kind = "autocomplete choices" if self.response.type == 8 else "a modal"
                raise EmulatorError(f"{self!r} was answered with {kind}, not a message")
            return None

        return await self.emu.wait_until(check, timeout, what=f"a message from {self.describe()}")

    async def wait_followup(self, timeout: float = 2.0, *, index: int = 0) -> StoredMessage:
        def check() -> StoredMessage | None:
            return self.followups[index] if len(self.followups) > index else None

        return await self.emu.wait_until(check, timeout, what=f"followup #{index} of {self.describe()}")

    async def wait_modal(self, timeout: float = 2.0) -> dict[str, Any]:
        """The modal (``{"custom_id", "title", "components"}``) the bot answered with."""

        def check() -> dict[str, Any] | None:
            if self.modal is None and self.response is not None and self.response.type != 9:
                raise EmulatorError(f"{self!r} was answered with type {self.response.type}, not a modal")
            return self.modal

        return await self.emu.wait_until(check, timeout, what=f"a modal from {self.describe()}")

    def modal_inputs(self) -> list[dict[str, Any]]:
        """The modal's inputs in order, each with the ``label`` it shows (its Label's text, or the deprecated label
        of a text input in an action row)."""
        if self.modal is None:
            return []
        found: list[dict[str, Any]] = []
        for component in self.modal.get("components") or []:
            if component.get("type") == 18 and component.get("component"):
                found.append({**component["component"], "label": component.get("label")})
            else:
                found.extend(dict(child) for child in component.get("components") or [] if child.get("custom_id"))
        return found

    def modal_custom_ids(self) -> list[str]:
        """The custom_ids of the modal's inputs, in order."""
        if self.modal is None:
            return []
        found: list[str] = []
        for component in self.modal.get("components") or []:
            children = component.get("components") or ([component["component"]] if component.get("component") else [])
            found.extend(child["custom_id"] for child in children if child.get("custom_id"))
        return found


# ------------------------------------------------------------------ the emulator


Handler = Callable[..., Any]


class DiscordEmulator:
    """Discord's REST API and gateway on a free loopback port. Use as ``async with DiscordEmulator() as emu``."""

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
        (followups and original-response edits then get 401 50027). The bot's own timers are not affected."""
        if seconds < 0:
            raise EmulatorError("the clock only moves forward")
        self.clock_offset += seconds

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get("/resume", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle_api)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._handle_cdn)
        app.router.add_route("*", "/{tail:.*}", self._handle_stray)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.debug("Discord emulator listening on %s", self.root_url)

    async def close(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for owner, name, value in reversed(self._restore):
            setattr(owner, name, value)
        self._restore.clear()

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

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

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
            self._dispatch("GUILD_CREATE", guild.gateway_payload(), intent=rules.INTENT_GUILDS)
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

    def add_thread(self, parent: IdLike, name: str, *, owner: IdLike | None = None) -> Channel:
        """A public thread (type 11) under the text channel ``parent``, started by ``owner`` (the guild owner by
        default). THREAD_CREATE reaches the bot only if it can see the parent (``topics/threads``)."""
        parent_channel = self._channel(parent)
        if parent_channel.guild_id is None or parent_channel.type not in (0, 5):
            raise EmulatorError(f"channel {parent_channel.id} cannot hold threads")
        target = self.guilds[parent_channel.guild_id]
        thread = Channel(
            self.ids.next(),
            name,
            target.id,
            type=rules.PUBLIC_THREAD,
            parent_id=parent_channel.id,
            owner_id=target.owner_id if owner is None else as_id(owner),
        )
        target.channels[thread.id] = thread
        self.channels[thread.id] = thread
        self._dispatch_thread("THREAD_CREATE", thread, newly_created=True)
        return thread

    def archive_thread(self, thread: IdLike, *, locked: bool = False) -> None:
        """Archive a thread (as a member or the inactivity timer would), ``locked`` as a moderator would: only
        active threads can be manipulated (50083), and a locked one is not reopened by a message."""
        target = self._thread(thread)
        target.archived, target.locked, target.archive_timestamp = True, locked, iso()
        self._dispatch_thread("THREAD_UPDATE", target)

    def unarchive_thread(self, thread: IdLike) -> None:
        target = self._thread(thread)
        target.archived, target.locked, target.archive_timestamp = False, False, iso()
        self._dispatch_thread("THREAD_UPDATE", target)

    def _thread(self, thread: IdLike) -> Channel:
        target = self._channel(thread)
        if not target.is_thread:
            raise EmulatorError(f"channel {target.id} is not a thread")
        return target

    def _dispatch_thread(self, event: str, thread: Channel, *, newly_created: bool = False) -> None:
        """The gateway tells the bot about threads it can see (``topics/threads``, Gateway Events)."""
        if not self.bot_permissions(thread) & rules.VIEW_CHANNEL:
            return
        data = thread.payload() | ({"newly_created": True} if newly_created else {})
        self._dispatch(event, data, intent=rules.INTENT_GUILDS)

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
        if role_id not in member.roles:
            member.roles.append(role_id)
        self._dispatch(
            "GUILD_MEMBER_UPDATE", member.payload() | {"guild_id": str(target.id)}, intent=rules.INTENT_GUILD_MEMBERS
        )

    def take_role(self, guild: IdLike, user: IdLike, role: IdLike) -> None:
        """Remove a role from a member (the next interaction carries the member's new roles and permissions)."""
        target = self._guild(guild)
        member = target.members[as_id(user)]
        member.roles = [r for r in member.roles if r != as_id(role)]
        self._dispatch(
            "GUILD_MEMBER_UPDATE", member.payload() | {"guild_id": str(target.id)}, intent=rules.INTENT_GUILD_MEMBERS
        )

    def set_role_permissions(self, guild: IdLike, role: IdLike, permissions: int | discord.Permissions) -> None:
        target = self._guild(guild)
        entry = target.roles[as_id(role)]
        entry.permissions = permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)
        self._dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(target.id), "role": entry.payload()}, intent=rules.INTENT_GUILDS
        )

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
        entry.overwrites = [o for o in entry.overwrites if int(o["id"]) != self.bot_user.id]
        entry.overwrites.append(
            {"id": str(self.bot_user.id), "type": 1, "allow": str(value), "deny": str(rules.ALL_PERMISSIONS & ~value)}
        )
        self._dispatch("CHANNEL_UPDATE", entry.payload(), intent=rules.INTENT_GUILDS)

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

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

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
    ) -> StoredMessage:
        """A user posts a message (MESSAGE_CREATE). Mentions come from ``<@id>`` in the content plus ``mentions``
        (and the bot with ``mention_bot``). Without the message_content intent the bot gets empty content, embeds
        and attachments unless it is mentioned, the message is a DM, or the bot wrote it.
        """
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
            target, user, body, msg_type=19 if reference is not None else 0, reference=reference
        )
        extra = [as_id(m) for m in mentions]
        if mention_bot:
            extra.append(self.bot_user.id)
        self._apply_mentions(message, target, None, extra_users=extra)
        self._store(message, target)
        self._dispatch_message("MESSAGE_CREATE", message, target)
        await asyncio.sleep(0)
        return message

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
        if record.type != 8:
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
            chosen = list(values.get(custom_id, []))
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

        Inputs left out keep their pre-filled value; a required one left empty raises :class:`EmulatorError`.
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

    # ------------------------------------------------------------------ REST plumbing

    def _add_routes(self) -> None:
        snowflake = r"(\d+)"
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", f"/users/{snowflake}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", f"/applications/{snowflake}/commands", self._get_commands),
            ("PUT", f"/applications/{snowflake}/commands", self._put_commands),
            ("GET", f"/applications/{snowflake}/guilds/{snowflake}/commands", self._get_guild_commands),
            ("PUT", f"/applications/{snowflake}/guilds/{snowflake}/commands", self._put_guild_commands),
            ("POST", f"/interactions/{snowflake}/([^/]+)/callback", self._interaction_callback),
            ("POST", f"/webhooks/{snowflake}/([^/]+)", self._webhook_execute),
            ("GET", rf"/webhooks/{snowflake}/([^/]+)/messages/(@original|\d+)", self._webhook_get_message),
            ("PATCH", rf"/webhooks/{snowflake}/([^/]+)/messages/(@original|\d+)", self._webhook_edit_message),
            ("DELETE", rf"/webhooks/{snowflake}/([^/]+)/messages/(@original|\d+)", self._webhook_delete_message),
            ("GET", f"/channels/{snowflake}", self._get_channel),
            ("GET", f"/channels/{snowflake}/messages/pins", self._get_pins),
            ("PUT", f"/channels/{snowflake}/messages/pins/{snowflake}", self._pin),
            ("DELETE", f"/channels/{snowflake}/messages/pins/{snowflake}", self._unpin),
            ("GET", f"/channels/{snowflake}/pins", self._get_pins_legacy),
            ("PUT", f"/channels/{snowflake}/pins/{snowflake}", self._pin),
            ("DELETE", f"/channels/{snowflake}/pins/{snowflake}", self._unpin),
            ("GET", f"/channels/{snowflake}/messages", self._get_messages),
            ("POST", f"/channels/{snowflake}/messages", self._create_message),
            ("GET", f"/channels/{snowflake}/messages/{snowflake}", self._get_message),
            ("PATCH", f"/channels/{snowflake}/messages/{snowflake}", self._edit_message),
            ("DELETE", f"/channels/{snowflake}/messages/{snowflake}", self._delete_message),
            ("PUT", f"/channels/{snowflake}/messages/{snowflake}/reactions/([^/]+)/@me", self._add_reaction),
            ("DELETE", f"/channels/{snowflake}/messages/{snowflake}/reactions/([^/]+)/@me", self._remove_reaction),
            ("POST", f"/channels/{snowflake}/typing", self._typing),
            ("GET", f"/guilds/{snowflake}", self._get_guild),
            ("GET", f"/guilds/{snowflake}/channels", self._get_guild_channels),
            ("GET", f"/guilds/{snowflake}/roles", self._get_guild_roles),
            ("GET", f"/guilds/{snowflake}/members/{snowflake}", self._get_member),
        ]
        self._routes = [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/"):
            body: Any = None
            files: list[dict[str, Any]] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                elif part.filename:
                    data = await part.read(decode=False)
                    files.append(
                        {
                            "field": part.name,
                            "filename": part.filename,
                            "content_type": part.headers.get("Content-Type"),
                            "data": bytes(data),
                        }
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    def _json_response(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
        extra = dict(headers or {})
        if status == 204 or body is None:
            return web.Response(status=204 if body is None else status, headers=extra)
        return web.Response(status=status, body=json.dumps(body).encode(), headers={**JSON_HEADERS, **extra})

    async def _handle_stray(self, request: web.Request) -> web.Response:
        log.warning("emulator: request outside /api/v10: %s %s", request.method, request.path)
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                None,
                [],
                404,
                None,
                self.now(),
                unknown=True,
            )
        )
        self._notify()
        return self._json_response(404, {"message": "404: Not Found", "code": 0})

    async def _handle_cdn(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(int(request.match_info["attachment_id"]))
        if upload is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=upload["data"], headers={"Content-Type": upload["content_type"]})

    async def _handle_api(self, request: web.Request) -> web.Response:
        at = self.now()
        path = "/" + request.match_info["tail"]
        method = request.method
        query = dict(request.query)
        record = RecordedRequest(method, path, query, None, [], 0, None, at, headers=dict(request.headers))
        response_headers: dict[str, str] = {}
        try:
            record.json, record.files = await self._read_body(request)
            fault = self._take_fault(method, path)
            if fault is not None:
                record.fault = fault.kind
                status, body, response_headers = fault.status, dict(fault.body), dict(fault.headers)
            else:
                status, body = await self._route(record, request.headers)
        except ApiError as error:
            status, body, response_headers = error.status, error.body(), error.headers
        except Exception as exc:  # an emulator bug: fail fast (a 5xx would make discord.py retry for 16 s)
            log.exception("emulator: internal error on %s %s", method, path)
            self.internal_errors.append(exc)
            status, body = 400, {"message": f"Emulator internal error: {exc!r}", "code": 0}
        record.status = status
        record.response = body
        self.requests.append(record)
        if status >= 400 and record.fault != "rate_limit":
            self._attach_error(record)
            if record.fault is None:
                log.info("emulator: %s %s → %s %s", method, path, status, body)
        self._notify()
        return self._json_response(status, body, response_headers)

    async def _route(self, record: RecordedRequest, headers: Mapping[str, str]) -> tuple[int, Any]:
        path, method = record.path, record.method
        allowed_methods = []
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != method:
                allowed_methods.append(route_method)
                continue
            if not path.startswith(("/interactions/", "/webhooks/", "/gateway")):
                self._check_auth(headers)
            context = RequestContext(method, path, record.query, record.json, record.files, headers)
            return await handler(context, *match.groups())
        if allowed_methods:
            raise ApiError(405, 0, "405: Method Not Allowed")
        record.unknown = True
        log.warning("emulator: unknown route %s %s", method, path)
        raise ApiError(404, 0, "404: Not Found")

    def _check_auth(self, headers: Mapping[str, str]) -> None:
        authorization = headers.get("Authorization", "")
        if not authorization.startswith("Bot ") or (self.token is not None and authorization != f"Bot {self.token}"):
            raise ApiError(401, 0, "401: Unauthorized")

    def _attach_error(self, record: RecordedRequest) -> None:
        parts = record.path.split("/")
        inter: EmulatedInteraction | None = None
        if record.path.startswith("/interactions/") and len(parts) > 3:
            inter = self._by_token.get(parts[3]) or self.interactions.get(int(parts[2]) if parts[2].isdigit() else 0)
        elif record.path.startswith("/webhooks/") and len(parts) > 3:
            inter = self._by_token.get(parts[3])
        if inter is not None:
            inter.errors.append(record)

    # ------------------------------------------------------------------ routes: session and application

    async def _get_gateway(self, ctx: RequestContext) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url.rstrip("/")}

    async def _get_gateway_bot(self, ctx: RequestContext) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.gateway.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14400000,
                "max_concurrency": self.gateway.max_concurrency,
            },
        }

    async def _get_me(self, ctx: RequestContext) -> tuple[int, Any]:
        return 200, self.bot_user.payload() | {"verified": True, "mfa_enabled": False, "flags": 0, "email": None}

    async def _get_user(self, ctx: RequestContext, user_id: str) -> tuple[int, Any]:
        user = self.users.get(int(user_id))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, user.payload()

    async def _get_application(self, ctx: RequestContext) -> tuple[int, Any]:
        return 200, {
            "id": str(self.app_id),
            "name": self.bot_user.name,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.payload(),
            "verify_key": "0" * 64,
            "team": None,
            "flags": 0,
            "bot": self.bot_user.payload(),
            "summary": "",
            "tags": [],
        }

    async def _create_dm(self, ctx: RequestContext) -> tuple[int, Any]:
        recipient = self.users.get(int(ctx.body.get("recipient_id") or 0))
        if recipient is None:
            raise invalid_form(self._one_error(("recipient_id",), "BASE_TYPE_REQUIRED", "Unknown user"))
        channel = self.dm_channel(recipient.id)
        return 200, channel.payload(recipient=recipient)

    @staticmethod
    def _one_error(path: Sequence[object], code: str, message: str) -> rules.FormErrors:
        errors = rules.FormErrors()
        errors.add(path, code, message)
        return errors

    # ------------------------------------------------------------------ routes: commands

    def _check_app(self, app_id: str) -> None:
        if int(app_id) != self.app_id:
            raise ApiError(403, 50001, "Missing Access")

    async def _get_commands(self, ctx: RequestContext, app_id: str) -> tuple[int, Any]:
        self._check_app(app_id)
        return 200, self.commands.get(None, [])

    async def _put_commands(self, ctx: RequestContext, app_id: str) -> tuple[int, Any]:
        """Bulk overwrite: the list given replaces the global commands (an empty list removes them all)."""
        self._check_app(app_id)
        return 200, self._overwrite_commands(None, ctx.json)

    def _check_app_guild(self, app_id: str, guild_id: str) -> None:
        """403 Missing Access, reading or writing a server's commands, as Discord answers for a server the
        application is not in (the emulator knows only its own guilds, so any other id gets it too)."""
        self._check_app(app_id)
        if int(guild_id) not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")

    async def _get_guild_commands(self, ctx: RequestContext, app_id: str, guild_id: str) -> tuple[int, Any]:
        self._check_app_guild(app_id, guild_id)
        return 200, self.commands.get(int(guild_id), [])

    async def _put_guild_commands(self, ctx: RequestContext, app_id: str, guild_id: str) -> tuple[int, Any]:
        """Bulk overwrite: the list given replaces the guild's commands (an empty list removes them all)."""
        self._check_app_guild(app_id, guild_id)
        return 200, self._overwrite_commands(int(guild_id), ctx.json)

    def _overwrite_commands(self, scope: int | None, body: Any) -> list[dict[str, Any]]:
        errors = rules.validate_commands(body)
        if errors:
            raise invalid_form(errors)
        old = {(c["name"], int(c.get("type", 1))): c for c in self.commands.get(scope, [])}
        stored = []
        for command in body:
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
            stored.append(entry)
        self.commands[scope] = stored
        return stored

    # ------------------------------------------------------------------ routes: interactions

    def _validate_message_body(
        self, body: Mapping[str, Any], files: Sequence[Mapping[str, Any]], *, prefix: str | None = None
    ) -> None:
        errors = rules.validate_message(body)
        if errors:
            raise invalid_form(self._prefix(errors, prefix) if prefix else errors)
        if sum(len(f["data"]) for f in files) > self.attachment_size_limit:
            raise ApiError(413, 40005, "Request entity too large")

    @staticmethod
    def _check_not_empty(message: Mapping[str, Any]) -> None:
        if not (
            message.get("content")
            or message.get("embeds")
            or message.get("attachments")
            or message.get("components")
            or message.get("sticker_ids")
            or message.get("poll")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")

    async def _interaction_callback(self, ctx: RequestContext, interaction_id: str, token: str) -> tuple[int, Any]:
        inter = self.interactions.get(int(interaction_id))
        if inter is None or inter.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        now = self.now()
        record = ResponseRecord(ctx.body)
        record.at = now
        record.latency = now - inter.dispatched_at
        record.accepted = False
        record.error = None
        try:
            if inter.response is not None:
                raise ApiError(400, 40060, "Interaction has already been acknowledged.")
            if inter.expired or record.latency > self.interaction_deadline:
                inter.expired = True
                raise ApiError(404, 10062, "Unknown interaction")
            result = self._accept_callback(inter, ctx, record)
        except ApiError as error:
            record.status = error.status
            record.error = error.body()
            inter.responses.append(record)
            raise
        record.status = 200 if ctx.query.get("with_response") in ("1", "true", "True") else 204
        record.accepted = True
        inter.responses.append(record)
        inter.response = record
        self._notify()
        return (200, result) if record.status == 200 else (204, None)

    def _accept_callback(
        self, inter: EmulatedInteraction, ctx: RequestContext, record: ResponseRecord
    ) -> dict[str, Any]:
        rtype = record.type
        data = record.data
        valid_types = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[inter.type]
        if inter.type == 5 and inter.source_message is None:
            valid_types = {4, 5}
        if rtype not in valid_types:
            raise invalid_form(
                self._one_error(
                    ("type",),
                    "INTERACTION_RESPONSE_TYPE_INVALID",
                    f"Response type {rtype} is not valid for interaction type {inter.type}",
                )
            )
        channel = self.channels[inter.channel_id]
        callback: dict[str, Any] = {
            "interaction": {"id": str(inter.id), "type": inter.type},
            "resource": {"type": rtype},
        }
        if rtype == 4:
            self._validate_message_body(data, ctx.files, prefix="data")
            flags = int(data.get("flags") or 0) & rules.INTERACTION_SENDABLE_FLAGS
            msg_type = (
                APP_COMMAND_MESSAGE_TYPES.get(int((inter.command or {}).get("type", 0)), 0) if inter.type == 2 else 0
            )
            message = self._new_message(
                channel, self.bot_user, data, files=ctx.files, msg_type=msg_type, flags=flags, interaction=inter
            )
            self._check_not_empty(message)
            self._apply_mentions(message, channel, data.get("allowed_mentions"))
            self._store(message, channel)
            self._dispatch_message("MESSAGE_CREATE", message, channel)
            inter.original = message
            inter.visible.append(message)
            callback["resource"]["message"] = message.wire()
        elif rtype == 5:
            flags = (int(data.get("flags") or 0) & rules.FLAG_EPHEMERAL) | rules.FLAG_LOADING
            msg_type = (
                APP_COMMAND_MESSAGE_TYPES.get(int((inter.command or {}).get("type", 0)), 0) if inter.type == 2 else 0
            )
            message = self._new_message(channel, self.bot_user, {}, msg_type=msg_type, flags=flags, interaction=inter)
            self._store(message, channel)
            self._dispatch_message("MESSAGE_CREATE", message, channel)
            inter.original = message
            callback["interaction"]["response_message_loading"] = True
            callback["resource"]["message"] = message.wire()
        elif rtype in (6, 7):
            source = inter.source_message
            assert source is not None
            inter.original = self.find_message(source.id) or source
            if rtype == 7:
                self._validate_message_body(data, ctx.files, prefix="data")
                self._edit(inter.original, data, ctx.files, channel)
                inter.visible.append(inter.original)
                callback["resource"]["message"] = inter.original.wire()
        elif rtype == 8:
            errors = rules.validate_choices(data.get("choices"))
            if errors:
                raise invalid_form(self._prefix(errors, "data"))
            inter.choices = list(data.get("choices") or [])
        elif rtype == 9:
            errors = rules.validate_modal(data)
            if errors:
                raise invalid_form(self._prefix(errors, "data"))
            inter.modal = dict(data)
        if inter.original is not None and rtype in (4, 5, 6, 7):
            callback["interaction"]["response_message_id"] = str(inter.original.id)
            callback["interaction"]["response_message_ephemeral"] = inter.original.ephemeral
        return callback

    @staticmethod
    def _prefix(errors: rules.FormErrors, prefix: str) -> rules.FormErrors:
        wrapped = rules.FormErrors()
        wrapped.extend(errors, (prefix,))
        return wrapped

    def _webhook_interaction(self, app_id: str, token: str) -> EmulatedInteraction:
        inter = self._by_token.get(token)
        if inter is None or int(app_id) != self.app_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        if self.now() - inter.dispatched_at > self.token_lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if inter.response is None or inter.response.type in (8, 9):
            raise ApiError(404, 10015, "Unknown Webhook")
        return inter

    def _webhook_target(self, inter: EmulatedInteraction, message_id: str) -> StoredMessage:
        if message_id == "@original":
            target = inter.original
        else:
            wanted = int(message_id)
            candidates = [inter.original, *inter.followups]
            target = next((m for m in candidates if m is not None and m.id == wanted), None)
        if target is None or target.get("deleted"):
            raise unknown_message()
        return target

    async def _webhook_execute(self, ctx: RequestContext, app_id: str, token: str) -> tuple[int, Any]:
        inter = self._webhook_interaction(app_id, token)
        body = ctx.body
        self._validate_message_body(body, ctx.files)
        channel = self.channels[inter.channel_id]
        original = inter.original
        if inter.response_type == 5 and original is not None and int(original.get("flags") or 0) & rules.FLAG_LOADING:
            if not self.legacy_followup_edits_original:
                raise ApiError(
                    400,
                    0,
                    "Deprecated: a followup while the deferred response is still loading. Edit the original response"
                    " (PATCH /webhooks/{app}/{token}/messages/@original); emu.legacy_followup_edits_original = True"
                    " allows the old behaviour.",
                )
            # After a deferred response the first followup replaces the "thinking" message (its flags stay).
            edit = {k: v for k, v in body.items() if k != "flags"}
            self._edit(original, edit, ctx.files, channel, check_empty=True)
            message = original
        else:
            flags = int(body.get("flags") or 0) & rules.INTERACTION_SENDABLE_FLAGS
            message = self._new_message(channel, self.bot_user, body, files=ctx.files, flags=flags, interaction=inter)
            self._check_not_empty(message)
            self._apply_mentions(message, channel, body.get("allowed_mentions"))
            self._store(message, channel)
            self._dispatch_message("MESSAGE_CREATE", message, channel)
        inter.followups.append(message)
        if message not in inter.visible:
            inter.visible.append(message)
        if ctx.query.get("wait") in ("1", "true", "True"):
            return 200, message.wire()
        return 204, None

    async def _webhook_get_message(
        self, ctx: RequestContext, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        inter = self._webhook_interaction(app_id, token)
        return 200, self._webhook_target(inter, message_id).wire()

    async def _webhook_edit_message(
        self, ctx: RequestContext, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        inter = self._webhook_interaction(app_id, token)
        target = self._webhook_target(inter, message_id)
        self._validate_message_body(ctx.body, ctx.files)
        self._edit(target, ctx.body, ctx.files, self.channels[target.channel_id], check_empty=True)
        if target not in inter.visible:
            inter.visible.append(target)
        return 200, target.wire()

    async def _webhook_delete_message(
        self, ctx: RequestContext, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        inter = self._webhook_interaction(app_id, token)
        target = self._webhook_target(inter, message_id)
        self._delete(target, self.channels[target.channel_id])
        return 204, None

    def _edit(
        self,
        message: StoredMessage,
        body: Mapping[str, Any],
        files: Sequence[Mapping[str, Any]],
        channel: Channel,
        *,
        check_empty: bool = True,
    ) -> None:
        updated = StoredMessage(message)
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in body:
                updated[key] = body[key] if body[key] is not None else empty
        if "embeds" in body:
            updated["embeds"] = self._normalize_embeds(updated["embeds"])
        if "allowed_mentions" in body:
            updated["allowed_mentions"] = body["allowed_mentions"]
        if "flags" in body and body["flags"] is not None:
            kept = int(message.get("flags") or 0) & (rules.FLAG_EPHEMERAL | rules.FLAG_LOADING)
            updated["flags"] = kept | (int(body["flags"]) & rules.SENDABLE_FLAGS)
        new_attachments = self._attachments_from_upload(body, files)
        if "attachments" in body:
            keep = {str(a.get("id")) for a in body.get("attachments") or []}
            updated["attachments"] = [a for a in message.get("attachments") or [] if a["id"] in keep]
        updated["attachments"] = list(updated.get("attachments") or []) + new_attachments
        updated["files"] = [self.uploads[int(a["id"])] for a in updated["attachments"] if int(a["id"]) in self.uploads]
        updated["flags"] = int(updated.get("flags") or 0) & ~rules.FLAG_LOADING
        if check_empty:
            self._check_not_empty(updated)
        updated["edited_timestamp"] = iso()
        message.clear()
        message.update(updated)
        self._apply_mentions(message, channel, message.get("allowed_mentions"))
        self._dispatch_message("MESSAGE_UPDATE", message, channel)
        self._notify()

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
            if int(ref.get("type") or 0) == 0 and not self._bot_may(channel, rules.READ_MESSAGE_HISTORY):
                raise ApiError(403, 160002, "Cannot reply without permission to read message history")
            reference = self.find_message(int(ref.get("message_id") or 0))
            if reference is None and ref.get("fail_if_not_exists", True):
                raise invalid_form(
                    self._one_error(("message_reference",), "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
                )
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

    async def _get_messages(self, ctx: RequestContext, channel_id: str) -> tuple[int, Any]:
        channel = self._rest_channel(channel_id)
        self._require(channel, rules.VIEW_CHANNEL | rules.READ_MESSAGE_HISTORY)
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
        self._require(channel, rules.VIEW_CHANNEL | rules.READ_MESSAGE_HISTORY)
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
        self._require(channel, rules.VIEW_CHANNEL | rules.READ_MESSAGE_HISTORY)
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

    # ------------------------------------------------------------------ routes: guilds

    def _rest_guild(self, guild_id: str) -> Guild:
        guild = self.guilds.get(int(guild_id))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def _get_guild(self, ctx: RequestContext, guild_id: str) -> tuple[int, Any]:
        guild = self._rest_guild(guild_id)
        data = guild.base_payload()
        if ctx.query.get("with_counts") in ("1", "true", "True"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = 0
        return 200, data

    async def _get_guild_channels(self, ctx: RequestContext, guild_id: str) -> tuple[int, Any]:
        guild = self._rest_guild(guild_id)
        return 200, [c.payload() for c in guild.channels.values() if not c.is_thread]  # threads are listed elsewhere

    async def _get_guild_roles(self, ctx: RequestContext, guild_id: str) -> tuple[int, Any]:
        guild = self._rest_guild(guild_id)
        return 200, [r.payload() for r in guild.roles.values()]

    async def _get_member(self, ctx: RequestContext, guild_id: str, user_id: str) -> tuple[int, Any]:
        guild = self._rest_guild(guild_id)
        member = guild.members.get(int(user_id))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, member.payload()
