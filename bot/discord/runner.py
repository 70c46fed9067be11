"""Starting the bot: ``claimledger run`` and ``claimledger sync``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import discord

from bot.config import Settings
from bot.discord.client import (
    ClaimLedgerBot,
    ShardedClaimLedgerBot,
    message_content_requested,
    warn_message_content_refused,
)
from bot.discord.service import LedgerService
from bot.matching import DenseIndex, default_embedder, index_dir_for

log = logging.getLogger(__name__)


def make_bot(
    settings: Settings,
    service: LedgerService,
    *,
    sync_only: bool = False,
    message_content: bool | None = None,
    **options: Any,
) -> ClaimLedgerBot:
    """The bot for these settings: sharded (an AutoShardedBot) when a shard count is set, except to sync; ``options``
    go to discord.py's client."""
    if settings.shard_count is not None and not sync_only:
        return ShardedClaimLedgerBot(
            settings=settings,
            ledger=service,
            shard_count=settings.shard_count,
            shard_ids=settings.shard_ids,
            message_content=message_content,
            **options,
        )
    return ClaimLedgerBot(settings=settings, ledger=service, message_content=message_content, **options)


async def _main(settings: Settings, db_path: str | Path, *, sync_only: bool, sync_guild: int | None) -> int:
    embedder = default_embedder(settings.semantic)
    dense = DenseIndex(embedder, index_dir=index_dir_for(db_path)) if embedder is not None else None
    log.info("Matching: %s", f"hybrid, semantic model {embedder.model_id}" if embedder else "lexical only")
    if settings.shard_count is not None and not sync_only:
        log.info(
            "Sharded: shards %s of %d",
            ",".join(map(str, settings.shard_ids or range(settings.shard_count))),
            settings.shard_count,
        )
    service = LedgerService(db_path, threshold=settings.match_threshold, dense=dense)
    service.schedule_embedding()  # claims imported or edited while the bot was off
    message_content = message_content_requested(settings)
    refused = False
    try:
        while True:
            try:
                return await _run(settings, service, sync_only=sync_only, sync_guild=sync_guild,
                                  message_content=message_content, refused=refused)  # fmt: skip
            except discord.PrivilegedIntentsRequired:
                if not (message_content and not sync_only):
                    raise
                # a client's intents are fixed when it is made: start a new one without the intent (watching off)
                warn_message_content_refused()
                message_content, refused = False, True
    finally:
        service.close()
        if dense is not None:
            dense.save_indexes()  # the next start loads them instead of building them again


async def _run(
    settings: Settings,
    service: LedgerService,
    *,
    sync_only: bool,
    sync_guild: int | None,
    message_content: bool,
    refused: bool = False,
) -> int:
    async with make_bot(
        settings, service, sync_only=sync_only, message_content=message_content, message_content_refused=refused
    ) as bot:
        assert settings.token is not None
        if sync_only:
            await bot.login(settings.token)
            guild = sync_guild or settings.dev_guild
            synced = await bot.sync_commands(guild)
            where = f"server {guild}" if guild else "all servers (global; may take up to an hour to show)"
            print(f"Synced {len(synced)} commands to {where}.")
            return 0
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # not on every platform
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
        await bot.start(settings.token)
        return 0


def run_bot(settings: Settings, *, db_path: str | Path, sync_only: bool = False, sync_guild: int | None = None) -> int:
    try:
        return asyncio.run(_main(settings, db_path, sync_only=sync_only, sync_guild=sync_guild))
    except discord.LoginFailure:
        print(
            "claimledger: Discord rejected the token (401 Unauthorized). Copy a fresh one from the Developer"
            " Portal (Bot → Reset Token) into DISCORD_TOKEN.",
            file=sys.stderr,
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        print(
            "claimledger: Discord refused the Message Content intent: enable it in the Developer Portal (Bot →"
            " Privileged Gateway Intents), or unset CLAIMLEDGER_MESSAGE_CONTENT.",
            file=sys.stderr,
        )
        return 2
    except (discord.GatewayNotFound, discord.ConnectionClosed, OSError) as error:
        print(f"claimledger: cannot reach Discord: {error}", file=sys.stderr)
        return 1
