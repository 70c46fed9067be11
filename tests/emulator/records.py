"""What the emulator records: REST requests, injected faults, interactions and the bot's answers to them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import discord

from .errors import EmulatorError
from .payloads import StoredMessage

if TYPE_CHECKING:
    from .driver import EmulatorDriver


class CallbackType(IntEnum):
    """Interaction callback types (the ``type`` of ``POST /interactions/{id}/{token}/callback``)."""

    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9


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
        emu: EmulatorDriver,
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
            choices = CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
            if self.response is not None and self.response.type in (choices, CallbackType.MODAL):
                kind = "autocomplete choices" if self.response.type == choices else "a modal"
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
            if self.modal is None and self.response is not None and self.response.type != CallbackType.MODAL:
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
