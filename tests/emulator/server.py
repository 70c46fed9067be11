"""The Discord API emulator: REST v10 and the gateway on 127.0.0.1, plus the test-side API that drives the bot.

See the package docstring (``tests/emulator/__init__.py``) for the API. :class:`DiscordEmulator` puts together
the state (``state.py``), the test driver (``driver.py``), the REST plumbing (``rest.py``) and the route groups
(``routes_commands.py``, ``routes_interactions.py``, ``routes_messages.py``); this module holds the route table.
Every name it held before the split is still importable from it.
"""

from __future__ import annotations

import re

from .driver import EmulatorDriver
from .errors import (
    ApiError,
    CommandHiddenError,
    EmulatorError,
    EmulatorTimeout,
    UnknownCommandError,
    invalid_form,
    missing_permissions,
    unknown_message,
)
from .records import (
    CallbackType,
    EmulatedInteraction,
    Fault,
    RecordedRequest,
    RequestContext,
    ResponseRecord,
    RunningClient,
)
from .rest import JSON_HEADERS, RestApi
from .routes_commands import CommandRoutes
from .routes_interactions import APP_COMMAND_MESSAGE_TYPES, InteractionRoutes
from .routes_messages import MessageRoutes
from .state import MENTION_ROLE_RE, MENTION_USER_RE, EmulatorState, Handler

__all__ = [
    "APP_COMMAND_MESSAGE_TYPES",
    "JSON_HEADERS",
    "MENTION_ROLE_RE",
    "MENTION_USER_RE",
    "ApiError",
    "CallbackType",
    "CommandHiddenError",
    "CommandRoutes",
    "DiscordEmulator",
    "EmulatedInteraction",
    "EmulatorDriver",
    "EmulatorError",
    "EmulatorState",
    "EmulatorTimeout",
    "Fault",
    "Handler",
    "InteractionRoutes",
    "MessageRoutes",
    "RecordedRequest",
    "RequestContext",
    "ResponseRecord",
    "RestApi",
    "RunningClient",
    "UnknownCommandError",
    "invalid_form",
    "missing_permissions",
    "unknown_message",
]


class DiscordEmulator(EmulatorDriver, CommandRoutes, InteractionRoutes, MessageRoutes):
    """Discord's REST API and gateway on a free loopback port. Use as ``async with DiscordEmulator() as emu``."""

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
            ("POST", f"/applications/{snowflake}/commands", self._post_command),
            ("GET", f"/applications/{snowflake}/guilds/{snowflake}/commands", self._get_guild_commands),
            ("PUT", f"/applications/{snowflake}/guilds/{snowflake}/commands", self._put_guild_commands),
            ("POST", f"/applications/{snowflake}/guilds/{snowflake}/commands", self._post_guild_command),
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
            ("PUT", rf"/channels/{snowflake}/thread-members/(@me|\d+)", self._join_thread),
            ("DELETE", rf"/channels/{snowflake}/thread-members/(@me|\d+)", self._leave_thread),
            ("GET", f"/channels/{snowflake}/thread-members/{snowflake}", self._get_thread_member),
            ("GET", f"/channels/{snowflake}/thread-members", self._list_thread_members),
            ("GET", f"/guilds/{snowflake}", self._get_guild),
            ("GET", f"/guilds/{snowflake}/channels", self._get_guild_channels),
            ("GET", f"/guilds/{snowflake}/roles", self._get_guild_roles),
            ("GET", f"/guilds/{snowflake}/members/{snowflake}", self._get_member),
        ]
        self._routes = [(method, re.compile(pattern), handler) for method, pattern, handler in table]
