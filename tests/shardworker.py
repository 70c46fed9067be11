"""A bot process running one shard against the Discord emulator, for tests/discord/test_shards_pg_e2e.py.

python -m tests.shardworker REST_BASE GATEWAY_URL DB SHARD_COUNT SHARD_ID

Runs ``bot.discord.runner._main`` (as ``claimledger run --shard-count N --shard-ids ID``) with discord.py pointed at
the emulator. Prints (flushed) "ready" at on_ready, "change SCOPE INCIDENT" for each ``ledger_change`` event the bot
dispatches (its own writes and other processes' relayed ones), and "exit CODE" when SIGTERM has closed it.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import discord
import yarl

from bot.config import Settings
from bot.discord import runner
from bot.discord.client import ClaimLedgerBot
from tests.paths import REPO_ROOT

SUMMARY_DELAY = 0.5


def main(rest_base: str, gateway_url: str, db: str, shard_count: str, shard_id: str) -> int:
    discord.http.Route.BASE = rest_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    settings = Settings(
        db_path=db,  # type: ignore[arg-type]
        token="emulated-token",
        seed_dir=REPO_ROOT / "data",
        seed_new_servers=False,
        semantic=False,
        summary_delay=SUMMARY_DELAY,
    ).with_shards(shard_count, shard_id)
    make_bot = runner.make_bot

    def announcing(*args: Any, **kwargs: Any) -> ClaimLedgerBot:
        bot = make_bot(*args, **kwargs, guild_ready_timeout=0.05)

        async def on_ready() -> None:
            print("ready", flush=True)

        async def on_ledger_change(scope: str, incident: str | None) -> None:
            print(f"change {scope} {incident}", flush=True)

        bot.add_listener(on_ready, "on_ready")
        bot.add_listener(on_ledger_change, "on_ledger_change")
        return bot

    runner.make_bot = announcing  # type: ignore[assignment]
    code = asyncio.run(runner._main(settings, db, sync_only=False, sync_guild=None))
    print(f"exit {code}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
