"""A Discord API emulator the real discord.py client talks to over loopback sockets.

An aiohttp server on 127.0.0.1 (free port) serves REST v10 under ``/api/v10`` and the gateway websocket at
``/`` (``/resume`` is the ``resume_gateway_url``). Tests build the world (guilds, members, roles, channels), start
any ``discord.Client``/``commands.Bot`` against it, act as users (slash commands, autocomplete, context menus,
button clicks, modal submits, plain messages) and assert on what the bot did: every REST request is recorded,
messages are kept per channel, and Discord's rules are enforced with Discord's error answers.

Quick start::

    async with DiscordEmulator() as emu:
        emu.patch(monkeypatch)                      # Route.BASE + DiscordWebSocket.DEFAULT_GATEWAY (process-wide)
        guild = emu.add_guild("OSINT Club")         # @everyone, 'Moderators', the bot's role, #general, owner, bot
        mod = emu.add_member(guild.id, "mod", permissions=MANAGE_GUILD)
        alice = emu.add_member(guild.id, "alice")
        bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
        async with emu.run_client(bot) as running:  # start(token) in a task, wait for on_ready; closes the bot after
            await bot.tree.sync(guild=discord.Object(guild.id))
            inter = await emu.slash(guild.id, guild.channel_id, alice.id, "ask", {"question": "..."})
            first = await inter.wait_response()     # ResponseRecord: first["type"] == 4, first.latency
            message = await inter.wait_message()    # StoredMessage: message["embeds"][0]["title"]

World (ids are ints; anything with ``.id``, a numeric string or a payload dict works wherever an id is taken):

- ``add_guild(name="OSINT Club", *, owner=None, channel_name="general") -> Guild`` — ``.id``, ``.channel_id``,
  ``.moderator_role_id``, ``.bot_role_id``, ``.everyone_role_id``, ``.channels``/``.roles``/``.members`` dicts.
  GUILD_CREATE is dispatched live when a client is connected.
- ``add_member(guild, name="member", *, permissions=None, roles=(), nick=None, bot=False, user=None) -> Member``
  — ``permissions`` (int or ``discord.Permissions``) becomes a role with exactly those bits; ``.id``, ``.mention``.
- ``add_role(guild, name, permissions=0, *, mentionable=False) -> Role``; ``give_role(guild, user, role)``;
  ``take_role(guild, user, role)``;
  ``set_role_permissions(guild, role, permissions)``.
- ``add_channel(guild, name, *, type=0, topic=None, overwrites=(), parent_id=None) -> Channel``;
  ``dm_channel(user) -> Channel``; ``close_dms(user)`` (bot sends then get 403 50007); ``add_user(name) -> User``.
- ``add_thread(parent, name, *, owner=None, type=None, members=(), invitable=True, auto_archive_duration=1440)
  -> Channel`` (type from the parent: 11 under a text channel, 10 under an announcement channel; ``type=12`` a
  private thread, text channels only; the owner and ``members`` are its members: THREAD_CREATE to the bot if it
  can see it, in GUILD_CREATE's ``threads`` while active); ``archive_thread(thread, *, locked=False)``,
  ``unarchive_thread(thread)`` (THREAD_UPDATE; discord.py drops archived threads from its cache);
  ``add_thread_member(thread, user)``, ``remove_thread_member(thread, user)`` (THREAD_MEMBERS_UPDATE as the
  intents allow; the bot added also gets THREAD_CREATE). Threads take the parent's permissions; sending needs
  Send Messages in Threads (Send Messages has no effect there); a private thread shows only to its members and to
  Manage Threads. ``advance`` archives threads idle for their ``auto_archive_duration`` minutes. Gaining access to
  channels sends THREAD_LIST_SYNC.
- ``set_bot_permissions(guild, permissions, *, channel=None)`` — the bot's role, or an exact member overwrite in
  one channel. Default bot permissions: ``rules.DEFAULT_BOT_PERMISSIONS`` (usual text perms, PIN_MESSAGES
  included, no administrator). ``permissions(guild, user, channel=None) -> int``.
- ``emu.bot_user`` (User), ``emu.app_id`` (== bot user id), ``emu.owner`` (application and guild owner).

Acting as users (all ``async``; each returns at once after dispatching, the bot answers asynchronously):

- ``slash(guild, channel, user, name, options=None, *, force=False) -> EmulatedInteraction`` — INTERACTION_CREATE
  type 2 for a synced command (guild commands first, then global); ``"claim edit"`` addresses subcommands (and
  groups). Options are checked against the synced schema (unknown/missing required/choices/min/max raise
  ``EmulatorError``). Values: str/int/float/bool; users, members, roles, channels (objects or ids) with
  ``resolved`` data; attachments as ``(filename, bytes[, content_type])``. A command with
  ``default_member_permissions`` the member lacks (and no administrator) raises ``CommandHiddenError`` unless
  ``force=True`` (an admin override: the bot must re-check).
- ``autocomplete(guild, channel, user, name, options, focused, *, timeout=2.0, force=False) -> list[dict]`` —
  type 4 with ``focused: true``; returns the bot's choices; a rejected answer raises.
- ``context_menu(guild, channel, user, name, target, *, force=False) -> EmulatedInteraction`` — message command
  (target: a message or its id; ``resolved.messages``) or user command (target: a user/member).
- ``click(message, custom_id, user, *, values=None) -> EmulatedInteraction`` — component interaction (type 3) on
  the message's current state; disabled/unknown components and bad select values raise ``EmulatorError``.
- ``submit_modal(interaction, user, values, *, timeout=2.0) -> EmulatedInteraction`` — type 5 with the custom_ids
  of the modal the bot answered ``interaction`` with (``values``: custom_id → text, list for selects). Inputs left
  out keep their prefill, selects their ``default`` options / ``default_values``; select values not among the
  options, or a count outside ``min_values``..``max_values`` (none is fine when ``required`` is false), raise.
- ``post_message(channel, author, content="", *, mentions=(), mention_bot=False, embeds=(), reply_to=None, type=0)
  -> StoredMessage`` — MESSAGE_CREATE. Without the message_content intent the bot sees empty content unless it is
  mentioned (``<@BOTID>`` in content, ``mentions=[emu.bot_user]`` or ``mention_bot=True``), it's a DM, or the bot
  wrote it. ``type`` posts a system message for the user's action (18 THREAD_CREATED with the thread's name as
  content, 7 USER_JOIN...), which takes no reply.

``EmulatedInteraction``: ``id``, ``token``, ``type``, ``payload``, ``dispatched_at``, ``response``
(``ResponseRecord`` | None), ``responses`` (all attempts, rejected included), ``original``, ``followups``,
``visible``, ``modal``, ``choices``, ``errors`` (4xx/5xx ``RecordedRequest`` about it), ``latency``;
``await wait_response(timeout=2.0, *, accepted_only=True) -> ResponseRecord`` (dict of the callback body plus
``.status``, ``.accepted``, ``.latency``, ``.error``), ``await wait_message(timeout=2.0, *, index=0) ->
StoredMessage`` (the initial message; after a defer the edited original or a followup), ``await
wait_followup(timeout=2.0, *, index=0)``, ``await wait_modal(timeout=2.0) -> dict``, ``modal_custom_ids()``,
``modal_inputs()`` (each input with the label it shows, from its Label or its deprecated own label).

``StoredMessage`` is the message payload (a live dict: edits update it) plus two test-only keys never sent to
the bot: ``"allowed_mentions"`` (as sent, ``None`` if absent) and ``"files"`` (uploads with ``"data"`` bytes);
``.wire()``, ``.custom_ids()``, ``.components_flat()``, ``.ephemeral``.

State and records:

- ``requests: list[RecordedRequest]`` (``method``, ``path`` relative to /api/v10, ``query``, ``json``, ``files``,
  ``status``, ``response``, ``at``, ``code``, ``fault``, ``unknown``); ``requests_to(method, pattern, *, since=0)``;
  ``unknown_routes``; ``mark() -> int``.
- ``await wait_for(predicate, timeout=2.0, *, since=0) -> RecordedRequest``; ``await wait_until(predicate,
  timeout=2.0, what=None)`` returns the predicate's truthy value.
- ``channel_messages(channel) -> list[StoredMessage]`` (oldest first), ``messages`` (channel id → {id → msg}),
  ``pins(channel) -> list[int]`` (most recent pin first), ``find_message(id)``, ``ephemeral_messages``,
  ``deleted_messages``, ``commands`` (guild id or None → synced commands with ids), ``attachment_data(id)``.
- ``fill_pins(channel, count=None) -> list[int]`` (up to the 250 limit), ``delete_message(channel, message)``.

Faults: ``fail_next(method, pattern, *, status=400, code=0, message=None, times=1, errors=None)`` and
``rate_limit_next(method, pattern, *, retry_after=0.05, times=1, is_global=False)`` (a 429 discord.py retries);
``pattern`` is ``re.search``-ed on the path. ``clear_faults()``.

Rate limits (``ratelimits.py``, ``emu.rate_limits``): every answer carries the ``X-RateLimit-*`` headers; per-route
buckets per channel/guild/webhook (``set("message_create", limit=2, per=1.0)``; names in
``ratelimits.DEFAULT_ROUTE_LIMITS``) and a global limit (``global_limit``/``global_per``, 50 per 1 s) answer
Discord's 429s past them, recorded in ``emu.rate_limits.hits``; ``enabled = False`` turns them off.

Gateway: ``await disconnect_gateway(resume=True, *, code=4000, hold=False)`` (resumable close → RESUME, replay,
RESUMED; ``resume=False`` → invalid session → IDENTIFY; ``hold=True`` parks reconnects before HELLO until
``release_gateway()``), ``request_reconnect()`` (op 7), ``await wait_connected()``, ``identify_payloads``,
``identify_count``, ``resume_count``, ``gateway_events(name)`` (the dispatches sent, or those of one event).

Rules enforced (see ``rules.py``): JSON answers with ``Content-Type: application/json`` exactly; message and
embed limits, ≤ 5 action rows of ≤ 5 buttons, modal limits, autocomplete limits and command-sync rules → 400
50035 with Discord's nested ``errors``; empty messages → 50006; one initial response per interaction (40060);
first response later than ``emu.interaction_deadline`` (3.0 s) → 404 10062; followups/original edits for
``emu.token_lifetime`` (15 min), before acknowledgement → 404 10015; ≤ ``emu.max_pins`` (250) pins → 30003;
PIN_MESSAGES needed to pin → 403 50013; listing messages or pins without READ_MESSAGE_HISTORY → 200 and an empty
list; at most 100 slash, 15 user and 15 message commands per scope (bulk overwrite or ``POST`` create) → 400 30032,
a bulk list over 130 → 50035; without EMBED_LINKS the embeds of the bot's channel messages (create and edit, not
interaction responses) are dropped silently (``emu.dropped_embeds``), an embed-only message is then empty → 50006;
a reply (``message_reference``) without READ_MESSAGE_HISTORY → 403 160002, to a system message (a type other than
0, 19, 20, 23) → 400 50035 on ``message_reference``; in an archived thread, edits, pins, unpins and reactions → 400
50083 (a message reopens it unless it is locked: then 50083 too), no application
commands, and interaction responses, followups and original edits → 400 50083 when it was archived after the
interaction; thread members join/leave only in an active thread (50083); a private thread the bot is not in
(without Manage Threads) → 403 50001 and no gateway events; no MESSAGE_CREATE from a channel the bot cannot view;
in a locked thread without MANAGE_THREADS, messages sent or edited → 400 160005; privileged intents not in
``emu.privileged_intents`` → close 4014; ``emu.token`` (None = any) checked at login. Unknown routes → 404 code 0,
logged and recorded.

Configuration attributes: ``interaction_deadline``, ``token_lifetime``, ``token``, ``privileged_intents``,
``max_pins``, ``attachment_size_limit``, ``echo_own_messages`` (MESSAGE_CREATE for the bot's own messages, as
Discord does), ``pin_system_messages`` (the type 6 "pinned a message" notice, as Discord does).
``internal_errors`` lists exceptions inside the emulator (answered 400 code 0 so discord.py fails fast instead of
retrying a 5xx); assert it stays empty.

Modules: ``state`` (the world, messages, commands, interactions, the clock), ``driver`` (this test-side API),
``rest`` (the HTTP server, faults, shared helpers; session, DM and guild routes), ``routes_commands`` (list, bulk
overwrite, create), ``routes_interactions`` (callbacks and webhooks), ``routes_messages`` (channels, messages, pins,
reactions, thread members),
``records`` (``RecordedRequest``, ``ResponseRecord``, ``EmulatedInteraction``, ``CallbackType``: the interaction
callback types 4–9 as an ``IntEnum``), ``errors``, ``gateway``, ``payloads``, ``rules``; ``server`` puts them
together as ``DiscordEmulator`` and holds the route table.

Pitfalls (discord.py's behaviour, not the emulator's):

- ``guild_ready_timeout`` defaults to 2 s before on_ready: pass ``guild_ready_timeout=0.05``.
- Every re-IDENTIFY (after ``disconnect_gateway(resume=False)``) waits 5 s in ``Client.before_identify_hook``;
  override it in test bots. RESUME does not wait.
- Without the members intent discord.py caches no members from GUILD_CREATE (``guild.member_count`` is right).
- A failing app command logs and sends nothing: assert on ``inter.errors`` / recorded requests with a timeout.
- Close the bot before the emulator (``run_client`` does); a server-side close makes the client reconnect.
"""

from __future__ import annotations

from . import rules
from .errors import CommandHiddenError, EmulatorError, EmulatorTimeout, UnknownCommandError
from .payloads import Channel, Guild, Member, Role, StoredMessage, User, as_id
from .records import CallbackType, EmulatedInteraction, RecordedRequest, ResponseRecord, RunningClient
from .rules import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    PIN_MESSAGES,
    FormErrors,
)
from .server import DiscordEmulator

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "DEFAULT_BOT_PERMISSIONS",
    "MANAGE_GUILD",
    "MANAGE_MESSAGES",
    "PIN_MESSAGES",
    "CallbackType",
    "Channel",
    "CommandHiddenError",
    "DiscordEmulator",
    "EmulatedInteraction",
    "EmulatorError",
    "EmulatorTimeout",
    "FormErrors",
    "Guild",
    "Member",
    "RecordedRequest",
    "ResponseRecord",
    "Role",
    "RunningClient",
    "StoredMessage",
    "UnknownCommandError",
    "User",
    "as_id",
    "rules",
]
