"""REST routes: application commands (global and guild; bulk overwrite replaces the whole list, a create adds one)."""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .records import RequestContext
from .rest import RestApi


class CommandRoutes(RestApi):
    """``/applications/{app}/commands`` and ``/applications/{app}/guilds/{guild}/commands``."""

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

    async def _post_command(self, ctx: RequestContext, app_id: str) -> tuple[int, Any]:
        """Create one global command (201), or replace the one of the same name and type (200)."""
        self._check_app(app_id)
        return self._create_command(None, ctx.body)

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

    async def _post_guild_command(self, ctx: RequestContext, app_id: str, guild_id: str) -> tuple[int, Any]:
        """Create one guild command (201), or replace the one of the same name and type (200)."""
        self._check_app_guild(app_id, guild_id)
        return self._create_command(int(guild_id), ctx.body)
