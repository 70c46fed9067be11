"""The gateway half of the emulator: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME with replay.

Frames go out as plain JSON text whatever ``compress=`` the client asked for (discord.py accepts that). Every
dispatch gets the session's next sequence number and is kept, so a RESUME replays exactly what the client missed;
while no connection is live (between a disconnect and the RESUME) dispatches are only kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import rules

if TYPE_CHECKING:
    from .server import DiscordEmulator

log = logging.getLogger("tests.emulator.gateway")

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11


@dataclass(eq=False)
class Connection:
    """One websocket connection from the client."""

    ws: web.WebSocketResponse
    path: str
    query: dict[str, str]
    queue: asyncio.Queue[dict[str, Any] | tuple[str, int] | None] = field(default_factory=asyncio.Queue)
    live: bool = False
    """True once IDENTIFY or RESUME bound it to the session: dispatches are sent, not only kept."""
    close_code: int | None = None


@dataclass(eq=False)
class Session:
    session_id: str
    intents: int
    shard: tuple[int, int] | None
    identify: dict[str, Any]
    seq: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None


class Gateway:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        self.heartbeat_interval = 41250
        self.session: Session | None = None
        self.connections: list[Connection] = []
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0
        self.replayed = 0
        self.presence_updates: list[dict[str, Any]] = []
        self.invalid_resumes = 0
        self._open = asyncio.Event()
        self._open.set()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ state

    @property
    def intents(self) -> int:
        return self.session.intents if self.session is not None else 0

    @property
    def connected(self) -> bool:
        """A live connection is bound to a session (after READY or RESUMED was queued)."""
        return self.session is not None and self.session.connection is not None and self.session.connection.live

    def hold(self) -> None:
        """New connections wait before HELLO until :meth:`release` (the client just waits; no backoff)."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def shard_has(self, guild_id: int) -> bool:
        if self.session is None or self.session.shard is None:
            return True
        shard_id, count = self.session.shard
        return (guild_id >> 22) % count == shard_id

    # ------------------------------------------------------------------ sending

    def _queue(self, connection: Connection, frame: dict[str, Any] | tuple[str, int] | None) -> None:
        connection.queue.put_nowait(frame)

    def dispatch(self, event: str, data: dict[str, Any], *, intent: int | None = None) -> int | None:
        """Give ``event`` the next sequence number, keep it, and send it if a connection is live.

        Returns the sequence number, or ``None`` when no session exists or the session's intents exclude it.
        """
        session = self.session
        if session is None:
            log.debug("no gateway session; %s not dispatched", event)
            return None
        if intent is not None and not session.intents & intent:
            log.debug("%s filtered out by intents %s", event, session.intents)
            return None
        session.seq += 1
        frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
        session.history.append(frame)
        connection = session.connection
        if connection is not None and connection.live:
            self._queue(connection, frame)
        else:
            log.debug("%s (seq %s) kept for replay: no live connection", event, session.seq)
        return session.seq

    async def _writer(self, connection: Connection) -> None:
        while True:
            item = await connection.queue.get()
            if item is None:
                return
            if isinstance(item, tuple):
                _, code = item
                connection.live = False
                connection.close_code = code
                with contextlib.suppress(Exception):
                    await connection.ws.close(code=code)
                return
            try:
                await connection.ws.send_str(json.dumps(item))
            except (ConnectionResetError, RuntimeError) as exc:
                log.debug("gateway send failed: %s", exc)
                connection.live = False
                return
            self.sent.append(item)
            self.emu._notify()

    # ------------------------------------------------------------------ the websocket handler

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        connection = Connection(ws=ws, path=request.path, query=dict(request.query))
        self.connections.append(connection)
        log.debug("gateway connection on %s %s", request.path, dict(request.query))
        writer = asyncio.create_task(self._writer(connection))
        self._tasks.add(writer)
        writer.add_done_callback(self._tasks.discard)
        try:
            await self._open.wait()
            self._queue(
                connection,
                {
                    "op": OP_HELLO,
                    "t": None,
                    "s": None,
                    "d": {"heartbeat_interval": self.heartbeat_interval, "_trace": ["emulator"]},
                },
            )
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    try:
                        frame = json.loads(message.data)
                    except ValueError:
                        log.warning("gateway: undecodable frame %r", message.data[:200])
                        continue
                    self.received.append(frame)
                    try:
                        await self._on_frame(connection, frame)
                    except Exception as exc:  # an emulator bug: keep the connection, surface the error
                        log.exception("gateway: internal error handling op %s", frame.get("op"))
                        self.emu.internal_errors.append(exc)
                elif message.type is WSMsgType.BINARY:
                    log.warning("gateway: binary frames from the client are not supported")
                elif message.type is WSMsgType.ERROR:
                    break
        finally:
            connection.live = False
            if self.session is not None and self.session.connection is connection:
                self.session.connection = None
            self._queue(connection, None)
            self.emu._notify()
        return ws

    async def _on_frame(self, connection: Connection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == OP_HEARTBEAT:
            self.heartbeat_count += 1
            self._queue(connection, {"op": OP_HEARTBEAT_ACK, "t": None, "s": None, "d": None})
        elif op == OP_IDENTIFY:
            self._identify(connection, data or {})
        elif op == OP_RESUME:
            self._resume(connection, data or {})
        elif op == OP_PRESENCE_UPDATE:
            self.presence_updates.append(data or {})
        elif op == OP_REQUEST_MEMBERS:
            self._request_members(data or {})
        elif op == OP_VOICE_STATE:
            pass
        else:
            log.warning("gateway: unknown op %r", op)
        self.emu._notify()

    def _identify(self, connection: Connection, data: dict[str, Any]) -> None:
        token = data.get("token")
        if self.emu.token is not None and token != self.emu.token:
            log.info("gateway IDENTIFY with a wrong token")
            self._queue(connection, ("close", 4004))
            return
        intents = int(data.get("intents", 0) or 0)
        if intents & rules.PRIVILEGED_INTENTS & ~self.emu.privileged_intents:
            log.info("gateway IDENTIFY asked for privileged intents %s that are not enabled", intents)
            self._queue(connection, ("close", 4014))
            return
        self.identify_count += 1
        self.identify_payloads.append(data)
        shard = data.get("shard")
        if (
            self.session is not None
            and self.session.connection is not None
            and self.session.connection is not connection
        ):
            self.session.connection.live = False
        self.session = Session(
            session_id=secrets.token_hex(16),
            intents=intents,
            shard=(int(shard[0]), int(shard[1])) if shard else None,
            identify=data,
            connection=connection,
        )
        connection.live = True
        guilds = [g for g in self.emu.guilds.values() if self.shard_has(g.id)]
        ready = {
            "v": 10,
            "user": self.emu.bot_user.payload() | {"verified": True, "mfa_enabled": False, "flags": 0, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": self.session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.emu.resume_gateway_url,
            "application": {"id": str(self.emu.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["emulator"],
        }
        if shard:
            ready["shard"] = [int(shard[0]), int(shard[1])]
        self.dispatch("READY", ready)
        for guild in guilds:
            self.dispatch("GUILD_CREATE", guild.gateway_payload())

    def _resume(self, connection: Connection, data: dict[str, Any]) -> None:
        session = self.session
        if (
            session is None
            or data.get("session_id") != session.session_id
            or (self.emu.token is not None and data.get("token") != self.emu.token)
        ):
            self.invalid_resumes += 1
            log.info("gateway RESUME of an unknown session: invalid session")
            self._queue(connection, {"op": OP_INVALID_SESSION, "t": None, "s": None, "d": False})
            return
        if session.connection is not None and session.connection is not connection:
            session.connection.live = False
        session.connection = connection
        connection.live = True
        last = int(data.get("seq") or 0)
        missed = [frame for frame in session.history if frame["s"] > last]
        for frame in missed:
            self._queue(connection, frame)
        self.replayed += len(missed)
        self.resume_count += 1
        log.debug("gateway RESUME from seq %s: replaying %s events", last, len(missed))
        self.dispatch("RESUMED", {"_trace": ["emulator"]})

    def _request_members(self, data: dict[str, Any]) -> None:
        guild = self.emu.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif data.get("query"):
            query = str(data["query"]).lower()
            members = [m for m in members if m.name.lower().startswith(query)]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        if data.get("presences"):
            chunk["presences"] = []
        self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------------ faults and shutdown

    async def disconnect(self, *, resume: bool = True, code: int = 4000) -> None:
        """Close the live connection with a resumable ``code``, or invalidate the session (``resume=False``)."""
        session = self.session
        connection = session.connection if session is not None else None
        if session is None or connection is None:
            raise RuntimeError("no live gateway connection to disconnect")
        if resume:
            connection.live = False
            session.connection = None
            self._queue(connection, ("close", code))
        else:
            self.session = None
            connection.live = False
            self._queue(connection, {"op": OP_INVALID_SESSION, "t": None, "s": None, "d": False})

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: the client closes and RESUMEs."""
        if self.session is None or self.session.connection is None:
            raise RuntimeError("no live gateway connection")
        self._queue(self.session.connection, {"op": OP_RECONNECT, "t": None, "s": None, "d": None})

    async def close(self) -> None:
        self.release()
        for connection in self.connections:
            if not connection.ws.closed:
                connection.live = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.ws.close(code=1001), timeout=1)
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    def events(
        self, name: str | None = None, predicate: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[dict[str, Any]]:
        """Dispatch frames actually sent (``{"op", "t", "s", "d"}``), optionally of one event type."""
        return [
            f
            for f in self.sent
            if f.get("op") == OP_DISPATCH
            and (name is None or f.get("t") == name)
            and (predicate is None or predicate(f["d"]))
        ]
