"""Ledger calls off the event loop: reads on a few reader threads (one connection each), writes on one writer.

SQLite in WAL mode lets readers run beside the single writer, so a burst of questions never waits for a
moderator's edit, and no SQLite call ever runs on the event loop.

Changes written by other processes sharing a PostgreSQL ledger (other shards' bots, the command line) are relayed
to the bot as the ``ledger_change`` events its own writes dispatch (:meth:`LedgerService.follow_changes`), for the
servers this process runs, so each server's pinned summaries and audit channel are kept by the one process that
runs its shard. No Discord import here: the bot is reached through :class:`ChangeTarget`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from bot.matching import DenseIndex, Matcher
from bot.models import Answer
from bot.seed import seed_if_empty
from bot.store import Change, ChangeFeed, Ledger, NoChanges, is_postgres_url, open_store

log = logging.getLogger(__name__)

T = TypeVar("T")
SEEDED_SETTING = "seeded"
LEDGER_CHANGE = "ledger_change"  # the event: (scope, incident slug or None)


class ChangeTarget(Protocol):
    """What the relay needs of the bot (a discord.py client): its event dispatch and its servers."""

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None: ...
    def get_guild(self, id: int, /) -> Any: ...


def runs_server(bot: ChangeTarget, scope: str) -> bool:
    """Whether this process runs the server of ``scope`` (its shard is one of ours, so discord.py has the guild)."""
    return scope.isdigit() and bot.get_guild(int(scope)) is not None


ASKERS = 2  # threads answering questions (more contend for the GIL with the event loop)


class LedgerService:
    """``dense`` (optional) adds semantic matching: question vectors are made on the reader threads, claim
    vectors on an embedder thread of their own after each write, so neither the loop nor the writer waits."""

    def __init__(
        self, path: str | Path, *, readers: int = 2, threshold: float | None = None, dense: DenseIndex | None = None
    ) -> None:
        self.path = path if isinstance(path, str) else Path(path)  # a SQLite file, or a postgresql:// URL
        self.threshold = threshold
        self.dense = dense
        self._embedder = ThreadPoolExecutor(1, thread_name_prefix="ledger-embedder")
        self._embedding_pending = threading.Event()
        self._local = threading.local()
        self._opened: list[Ledger] = []
        self._opened_lock = threading.Lock()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="ledger-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="ledger-reader")
        # Questions on threads of their own, so a burst of them (each may wait for the model) never delays the
        # quick reads a command needs before it answers (the moderator role); questions asked together are
        # embedded together (QueryCache), so more threads mean larger batches, not more model calls.
        self._askers = ThreadPoolExecutor(max(readers, ASKERS), thread_name_prefix="ledger-asker")
        self.threads = 1 + readers + max(readers, ASKERS) + 1  # the writer, readers, askers and the embedder
        self._feed: ChangeFeed | None = None
        self._relay_task: asyncio.Task[None] | None = None
        # A PostgreSQL ledger (a pool of connections, safe to share) is opened once, for every thread: a thread
        # first used while the server is down then fails at once instead of waiting to open a pool of its own.
        # SQLite: one connection per thread, opened on the thread's first call.
        self._shared: Ledger | None = None
        # Open the writer first, in its own thread, so migrations run before any reader connects.
        writer_ledger = self._writer.submit(self._ledger).result()
        if is_postgres_url(self.path):
            self._shared = writer_ledger

    def _ledger(self) -> Ledger:
        ledger = getattr(self._local, "ledger", None)
        if ledger is None:
            ledger = self._shared
            if ledger is None:
                ledger = cast(Ledger, open_store(self.path, connections=self.threads + 2))
                with self._opened_lock:
                    self._opened.append(ledger)
            self._local.ledger = ledger
            self._local.matcher = Matcher(ledger, threshold=self.threshold, dense=self.dense)
        return ledger

    def _matcher(self) -> Matcher:
        self._ledger()
        return self._local.matcher

    async def read(self, fn: Callable[[Ledger], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(self._ledger()))

    async def write(self, fn: Callable[[Ledger], T]) -> T:
        """Run ``fn`` on the one writer connection; writes are serialised in arrival order. Claims the write
        added or changed get their vectors afterwards, on the embedder thread."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._writer, lambda: fn(self._ledger()))
        finally:
            self.schedule_embedding()

    def schedule_embedding(self) -> concurrent.futures.Future[int] | None:
        """Embed every claim that has no vector yet, once; a call while one is waiting to run joins it."""
        if self.dense is None or self._embedding_pending.is_set():
            return None
        self._embedding_pending.set()
        return self._embedder.submit(self._embed_missing)

    def _embed_missing(self) -> int:
        self._embedding_pending.clear()  # writes from now on schedule another pass
        assert self.dense is not None
        try:
            return self.dense.sync_all(self._ledger())
        except Exception:
            log.exception("Embedding claims failed; answers use lexical matching for them until the next write")
            return 0

    async def embed_pending(self) -> int:
        """Wait until every claim has its vector (start-up, tests): runs after any pass already queued."""
        if self.dense is None:
            return 0
        return await asyncio.get_running_loop().run_in_executor(self._embedder, self._embed_missing)

    async def ask(self, scope: str, question: str, *, top: int = 5) -> Answer:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._askers, lambda: self._matcher().ask(scope, question, top=top))

    async def autocomplete(self, scope: str, text: str, *, limit: int = 25) -> list[tuple[str, str]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: self._matcher().autocomplete(scope, text, limit=limit))

    async def ensure_seeded(self, scope: str, seed_dir: Path | None = None) -> bool:
        """Seed a server's ledger with the bundled incidents once, the first time the bot meets the server."""

        def run(ledger: Ledger) -> bool:
            if ledger.get_setting(scope, SEEDED_SETTING):
                return False
            seeded = seed_if_empty(ledger, scope, seed_dir)
            ledger.set_setting(scope, SEEDED_SETTING, "1", actor="seed")
            return seeded

        return await self.write(run)

    # ------------------------------------------------------------ other processes' changes

    async def follow_changes(self, bot: ChangeTarget) -> None:
        """Relay each change another process commits to a server this process runs as ``bot.dispatch(
        "ledger_change", scope, slug)`` (once per incident it changed; ``None`` for a change of no incident), as the
        cogs dispatch their own writes: the summaries and audit channel then follow the same path, coalesced the same
        way. This process's own writes are not relayed (its cogs dispatched them); nor are changes of servers on
        other processes' shards (those processes relay them). Notices that arrive together are relayed together.
        Nothing to follow on SQLite (one process writes it)."""
        if self._feed is not None:
            return
        loop = asyncio.get_running_loop()
        arrived: asyncio.Queue[Change] = asyncio.Queue()

        def tell(change: Change) -> None:  # on the feed's thread
            with contextlib.suppress(RuntimeError):  # the loop has closed: the process is ending
                loop.call_soon_threadsafe(arrived.put_nowait, change)

        self._feed = await loop.run_in_executor(self._writer, lambda: self._ledger().listen(tell))
        if not isinstance(self._feed, NoChanges):
            self._relay_task = loop.create_task(self._relay(arrived, bot), name="ledger-change-relay")
            log.info("Following the changes other processes make to the ledger")

    @property
    def following(self) -> bool:
        """Whether other processes' changes are being relayed (never on SQLite)."""
        return self._relay_task is not None and not self._relay_task.done()

    async def stop_following(self) -> None:
        task, self._relay_task = self._relay_task, None
        if task is not None:
            task.cancel()
        feed, self._feed = self._feed, None
        if feed is not None:
            await asyncio.get_running_loop().run_in_executor(None, feed.close)

    async def _relay(self, arrived: asyncio.Queue[Change], bot: ChangeTarget) -> None:
        while True:
            batch = [await arrived.get()]
            while not arrived.empty():
                batch.append(arrived.get_nowait())
            try:
                for scope, incident in await self.remote_changes(batch, lambda scope: runs_server(bot, scope)):
                    bot.dispatch(LEDGER_CHANGE, scope, incident)
            except Exception:
                log.exception("Relaying %d change(s) of other processes failed", len(batch))

    async def remote_changes(self, batch: list[Change], ours: Callable[[str], bool]) -> list[tuple[str, str | None]]:
        """The ``ledger_change`` events (scope, incident slug or None) for a batch of changes: those written by other
        processes to the servers ``ours`` accepts, one per incident changed (an unknown set: every incident of the
        server with a pinned summary), or one with None for a server whose change touched no incident."""
        wanted: dict[str, set[int] | None] = {}
        for change in batch:
            if change.own:
                continue
            if change.scope is None:  # anything may have changed (missed notices): every pinned summary of ours
                pinned = await self.read(lambda ledger: sorted({scope for scope, _ in ledger.all_pinned_summaries()}))
                wanted.update((scope, None) for scope in pinned if ours(scope))
                continue
            if not ours(change.scope):
                continue
            known = wanted.setdefault(change.scope, set())
            if known is None:
                continue
            if change.incidents is None:
                wanted[change.scope] = None
            else:
                known.update(change.incidents)

        def events(ledger: Ledger) -> list[tuple[str, str | None]]:
            found: list[tuple[str, str | None]] = []
            for scope, ids in sorted(wanted.items()):
                if ids is None:
                    ids = {incident_id for incident_id, _, _ in ledger.pinned_summaries(scope)}
                slugs = {incident.id: incident.slug for incident in ledger.list_incidents(scope)} if ids else {}
                named = sorted({slugs[i] for i in ids if i in slugs})
                found += [(scope, slug) for slug in named] or [(scope, None)]
            return found

        return await self.read(events) if wanted else []

    def close(self) -> None:
        if self._relay_task is not None:
            self._relay_task.cancel()
            self._relay_task = None
        if self._feed is not None:
            self._feed.close()
            self._feed = None
        self._embedder.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self._askers.shutdown(wait=True)
        with self._opened_lock:
            for ledger in self._opened:
                try:
                    ledger.close()
                except Exception:  # closing from another thread; the process is ending anyway
                    log.debug("closing a ledger connection failed", exc_info=True)
            self._opened.clear()
