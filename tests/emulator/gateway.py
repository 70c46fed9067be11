"""The gateway half of the emulator: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME with replay.

Frames go out as plain JSON text whatever ``compress=`` the client asked for (discord.py accepts that). Every
dispatch gets the session's next sequence number and is kept, so a RESUME replays exactly what the client missed;
while no connection is live (between a disconnect and the RESUME) dispatches are only kept.

Sharding (discord-api-docs, events/gateway "Sharding"): an IDENTIFY with ``shard: [shard_id, num_shards]`` opens a
session of its own beside the others, with its own sequence numbers; an event with a guild goes to every session
with ``(guild_id >> 22) % num_shards == shard_id``, one without a guild (a DM) to the sessions of shard 0 only.
READY lists, and GUILD_CREATE follows for, the session's guilds only, and READY carries ``shard``. An invalid shard
(not two integers, ``shard_id`` outside ``0 .. num_shards - 1``) closes with 4010; an unsharded session that
would hold more than 2500 guilds closes with 4011. A new IDENTIFY for the same ``[shard_id, num_shards]`` (or
unsharded) replaces that session, as the same client re-identifying would; ``GET /gateway/bot`` answers
:attr:`Gateway.recommended_shards` and :attr:`Gateway.max_concurrency`. Identify rate limits are not enforced.
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
    from .state import EmulatorState

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

CLOSE_INVALID_SHARD = 4010
CLOSE_SHARDING_REQUIRED = 4011
MAX_GUILDS_PER_SESSION = 2500
GUILD_EVENTS_BY_ID = ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE")  # the guild's id is ``id``, not ``guild_id``


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
    shard: tuple[int, int] | None = None
    """The ``[shard_id, num_shards]`` of the session it is bound to (None: unsharded, or not bound yet)."""
    sent: list[dict[str, Any]] = field(default_factory=list)
    """Frames actually sent on this connection."""


@dataclass(eq=False)
class Session:
    session_id: str
    intents: int
    shard: tuple[int, int] | None
    identify: dict[str, Any]
    seq: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None

    def routes(self, guild_id: int | None) -> bool:
        """Whether an event of ``guild_id`` (None: an event without a guild) goes to this session."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id


def guild_of(event: str, data: dict[str, Any]) -> int | None:
    """The guild an event belongs to (for routing it to a shard), or None."""
    raw = data.get("guild_id")
    if raw is None and event in GUILD_EVENTS_BY_ID:
        raw = data.get("id")
    return int(raw) if raw is not None else None


def valid_shard(shard: Any) -> tuple[int, int] | None:
    """``[shard_id, num_shards]`` as a tuple, or None when it is not a valid shard."""
    if not isinstance(shard, list | tuple) or len(shard) != 2:
        return None
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in shard):
        return None
    shard_id, count = shard
    return (shard_id, count) if count >= 1 and 0 <= shard_id < count else None


class Gateway:
    def __init__(self, emulator: EmulatorState) -> None:
        self.emu = emulator
        self.heartbeat_interval = 41250
        self.sessions: list[Session] = []
        """Every open session, in order of shard id (one, unsharded, for a bot that does not shard)."""
        self.recommended_shards = 1
        """What ``GET /gateway/bot`` recommends as ``shards``."""
        self.max_concurrency = 1
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
    def session(self) -> Session | None:
        """The first session (shard 0, or the only one of a bot that does not shard)."""
        return self.sessions[0] if self.sessions else None

    def session_of(self, shard_id: int | None = None) -> Session | None:
        """The session of ``shard_id`` (None: the first session)."""
        if shard_id is None:
            return self.session
        return next((s for s in self.sessions if s.shard is not None and s.shard[0] == shard_id), None)

    @property
    def intents(self) -> int:
        return self.session.intents if self.session is not None else 0

    @property
    def connected(self) -> bool:
        """Every session has a live connection (after READY or RESUMED was queued), and there is one at least."""
        return bool(self.sessions) and all(s.connection is not None and s.connection.live for s in self.sessions)

    def hold(self) -> None:
        """New connections wait before HELLO until :meth:`release` (the client just waits; no backoff)."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def shard_has(self, guild_id: int) -> bool:
        """Whether some session receives the events of ``guild_id`` (True while no session exists)."""
        return not self.sessions or any(s.routes(guild_id) for s in self.sessions)

    # ------------------------------------------------------------------ sending

    def _queue(self, connection: Connection, frame: dict[str, Any] | tuple[str, int] | None) -> None:
        connection.queue.put_nowait(frame)

    def dispatch(
        self, event: str, data: dict[str, Any], *, intent: int | None = None, session: Session | None = None
    ) -> int | None:
        """Send ``event`` to each session that routes it (its shard has the event's guild), or to ``session`` only.

        Returns the first session's sequence number, or ``None`` when no session gets it (none exists, none has
        the guild's shard, or the session's intents exclude it).
        """
        targets = [session] if session is not None else [s for s in self.sessions if s.routes(guild_of(event, data))]
        if not targets:
            log.debug("no gateway session for %s; not dispatched", event)
            return None
        seqs = [self._dispatch_to(target, event, data, intent) for target in targets]
        return next((seq for seq in seqs if seq is not None), None)

    def _dispatch_to(self, session: Session, event: str, data: dict[str, Any], intent: int | None) -> int | None:
        """Give ``event`` the session's next sequence number, keep it, and send it if a connection is live."""
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
            connection.sent.append(item)
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
            for session in self.sessions:
                if session.connection is connection:
                    session.connection = None
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
        raw_shard = data.get("shard")
        shard = valid_shard(raw_shard) if raw_shard is not None else None
        if raw_shard is not None and shard is None:
            log.info("gateway IDENTIFY with an invalid shard %r", raw_shard)
            self._queue(connection, ("close", CLOSE_INVALID_SHARD))
            return
        session = Session(session_id=secrets.token_hex(16), intents=intents, shard=shard, identify=data)
        guilds = [g for g in self.emu.guilds.values() if session.routes(g.id)]
        if shard is None and len(guilds) > MAX_GUILDS_PER_SESSION:
            log.info("gateway IDENTIFY without a shard for %s guilds: sharding required", len(guilds))
            self._queue(connection, ("close", CLOSE_SHARDING_REQUIRED))
            return
        self.identify_count += 1
        self.identify_payloads.append(data)
        for old in [s for s in self.sessions if s.shard == shard]:  # the same shard identifying again
            if old.connection is not None and old.connection is not connection:
                old.connection.live = False
            self.sessions.remove(old)
        session.connection = connection
        self.sessions.append(session)
        self.sessions.sort(key=lambda s: s.shard or (0, 1))
        connection.shard = shard
        connection.live = True
        ready = {
            "v": 10,
            "user": self.emu.bot_user.payload() | {"verified": True, "mfa_enabled": False, "flags": 0, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
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
        if shard is not None:
            ready["shard"] = list(shard)
        self.dispatch("READY", ready, session=session)
        for guild in guilds:
            self.dispatch("GUILD_CREATE", guild.gateway_payload(self.emu.bot_user.id), session=session)

    def _resume(self, connection: Connection, data: dict[str, Any]) -> None:
        session = next((s for s in self.sessions if s.session_id == data.get("session_id")), None)
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
        connection.shard = session.shard
        connection.live = True
        last = int(data.get("seq") or 0)
        missed = [frame for frame in session.history if frame["s"] > last]
        for frame in missed:
            self._queue(connection, frame)
        self.replayed += len(missed)
        self.resume_count += 1
        log.debug("gateway RESUME from seq %s: replaying %s events", last, len(missed))
        self.dispatch("RESUMED", {"_trace": ["emulator"]}, session=session)

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

    async def disconnect(self, *, resume: bool = True, code: int = 4000, shard_id: int | None = None) -> None:
        """Close the live connection with a resumable ``code``, or invalidate the session (``resume=False``): of
        shard ``shard_id``, or of the first session."""
        session = self.session_of(shard_id)
        connection = session.connection if session is not None else None
        if session is None or connection is None:
            raise RuntimeError("no live gateway connection to disconnect")
        if resume:
            connection.live = False
            session.connection = None
            self._queue(connection, ("close", code))
        else:
            self.sessions.remove(session)
            connection.live = False
            self._queue(connection, {"op": OP_INVALID_SESSION, "t": None, "s": None, "d": False})

    def request_reconnect(self, shard_id: int | None = None) -> None:
        """Send op 7 RECONNECT (to shard ``shard_id``, or the first session): the client closes and RESUMEs."""
        session = self.session_of(shard_id)
        if session is None or session.connection is None:
            raise RuntimeError("no live gateway connection")
        self._queue(session.connection, {"op": OP_RECONNECT, "t": None, "s": None, "d": None})

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
        self,
        name: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        shard_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Dispatch frames actually sent (``{"op", "t", "s", "d"}``), optionally of one event type, or only those
        sent on the connections of shard ``shard_id``."""
        if shard_id is None:
            frames = self.sent
        else:
            frames = [f for c in self.connections if c.shard is not None and c.shard[0] == shard_id for f in c.sent]
        return [
            f
            for f in frames
            if f.get("op") == OP_DISPATCH
            and (name is None or f.get("t") == name)
            and (predicate is None or predicate(f["d"]))
        ]
