"""Two bot processes, one shard each, sharing one PostgreSQL ledger: a change written by another process (here the
command line) is relayed by the process whose shard runs the server, and by no other; a process killed (SIGKILL)
while it writes loses none of the writes it acknowledged, half applies none, and the other keeps answering.

Each bot is a separate OS process (tests/shardworker.py, ``claimledger run --shard-count 2 --shard-ids K`` pointed
at the emulator); the emulator routes each guild's gateway events to its shard, as Discord does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

from bot.config import Settings
from bot.discord.client import ClaimLedgerBot
from bot.discord.service import LedgerService
from bot.rendering.audit import AUDIT_CHANNEL_SETTING, AUDIT_LAST_SETTING
from bot.seed import seed_scope
from tests.discord.test_shards_e2e import QUESTION, guilds_on_every_shard
from tests.emulator import MANAGE_GUILD, DiscordEmulator, EmulatedInteraction, Guild, Member, StoredMessage
from tests.loadgen import burst_details, burst_ref, burst_writes_found, claims_out_of_step, final_message
from tests.paths import REPO_ROOT

pytest_plugins = ["tests.backends"]

START_TIMEOUT = 90.0
WAIT = 30.0
IMPORTED = "The dam was mined before the breach."
KILL_WRITES = 24  # moderator writes sent at once to shard 1's server
KILL_AFTER = 4  # shard 1 is killed once this many are answered (the others queued or being written)
SAVED = "Evidence of claim #"  # how /evidence set's answer begins
ASKED = {"question": QUESTION}


class Worker:
    """A bot process (tests/shardworker.py) and the lines it printed."""

    def __init__(self, process: asyncio.subprocess.Process, log: IO[bytes]) -> None:
        self.process = process
        self.log = log
        self.lines: list[str] = []
        self.code: int | None = None
        self._line = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, emu: DiscordEmulator, db: str, shard: int, logs: Path) -> Worker:
        log = (logs / f"shard{shard}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.shardworker", emu.base_url, emu.gateway_url, db, "2", str(shard),
            cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=log, env={**os.environ, "CLAIMLEDGER_SEMANTIC": "0"},
        )  # fmt: skip
        return cls(process, log)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode().strip())
            self._line.set()
        self._line.set()

    async def wait_line(self, text: str, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while text not in self.lines:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self._reader.done():
                raise AssertionError(f"the bot process never printed {text!r}; it printed {self.lines}")
            self._line.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._line.wait(), remaining)

    async def kill(self) -> None:
        """SIGKILL (no clean-up of any kind, as a crashed host or the OOM killer), then wait for the process to end."""
        self.process.send_signal(signal.SIGKILL)
        self.code = await asyncio.wait_for(self.process.wait(), WAIT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, WAIT)
        self.log.close()

    async def stop(self) -> None:
        """SIGTERM (the bot closes: summary edits still waiting are flushed), then wait for the process to end."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.code = await asyncio.wait_for(self.process.wait(), WAIT)
        except TimeoutError:
            self.process.kill()
            self.code = await self.process.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, WAIT)
        self.log.close()


def edits(emu: DiscordEmulator, message_id: int, since: int = 0) -> list[Any]:
    return emu.requests_to("PATCH", rf"/messages/{message_id}$", since=since)


def audit_posts(emu: DiscordEmulator, channel_id: int, since: int = 0) -> list[Any]:
    return emu.requests_to("POST", rf"^/channels/{channel_id}/messages$", since=since)


async def test_a_command_line_import_is_relayed_by_the_process_running_the_servers_shard_only(
    emu: DiscordEmulator, bk: Any, tmp_path: Path
) -> None:
    from bot.store.postgres import PostgresLedger

    bk.need_postgres()
    schema = bk.new_schema()
    db = f"{bk.PG_URL}?schema={schema}"
    guilds = await guilds_on_every_shard(emu, 2)
    audit = {shard: emu.add_channel(guild.id, "audit").id for shard, guild in guilds.items()}
    summary: dict[int, int] = {}
    try:
        with PostgresLedger.open(bk.PG_URL, schema=schema, origin="test-setup") as ledger:
            for shard, guild in guilds.items():
                scope = str(guild.id)
                incident = ledger.create_incident(scope, title="Dam breach", slug="dam", actor="setup")
                message = await emu.post_message(guild.channel_id, emu.bot_user.id, "the pinned summary")
                summary[shard] = message.id
                ledger.add_pinned_summary(scope, incident.id, guild.channel_id, message.id)
                ledger.set_setting(scope, AUDIT_CHANNEL_SETTING, str(audit[shard]), actor="setup")
                ledger.set_marker(scope, AUDIT_LAST_SETTING, str(ledger.last_revision_id(scope)))
        workers: list[Worker] = []
        try:
            for shard in (0, 1):
                workers.append(await Worker.start(emu, db, shard, tmp_path))
            for worker in workers:
                await worker.wait_line("ready", START_TIMEOUT)
            for shard in (0, 1):  # at start each process brings its own server's summary up to date
                await emu.wait_until(lambda s=shard: edits(emu, summary[s]), WAIT, what=f"shard {shard}'s start edit")
            mark = emu.mark()
            target = guilds[1]
            csv = tmp_path / "claims.csv"
            csv.write_text(f"incident,claim,speaker\nDam breach,{IMPORTED},Engineer\n", encoding="utf-8")
            cli = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "import", str(csv), "--db", db, "--scope", str(target.id),
                cwd=REPO_ROOT, stdout=asyncio.subprocess.DEVNULL, env={**os.environ, "CLAIMLEDGER_SEMANTIC": "0"},
            )  # fmt: skip
            assert await asyncio.wait_for(cli.wait(), 120) == 0
            edit = await emu.wait_until(lambda: edits(emu, summary[1], mark), WAIT, what="the summary edit")
            await emu.wait_until(lambda: audit_posts(emu, audit[1], mark), WAIT, what="the audit post")
        finally:
            for worker in workers:
                await worker.stop()
        assert [worker.code for worker in workers] == [0, 0], [worker.lines for worker in workers]
        # The processes are gone (a pending summary edit is flushed at close): every edit there was is counted.
        assert len(edits(emu, summary[1], mark)) == 1
        assert IMPORTED in json.dumps(edit[0].json)
        assert edits(emu, summary[0], mark) == []
        posts = audit_posts(emu, audit[1], mark)
        assert len(posts) == 1 and IMPORTED in json.dumps(posts[0].json)
        assert audit_posts(emu, audit[0], mark) == []
        # The change reached the bot of the server's shard, as a ledger_change, and never the other bot.
        assert workers[1].lines.count(f"change {target.id} dam") == 1
        assert not [line for line in workers[0].lines if line.startswith("change ")]
    finally:
        bk.drop_schema(schema)


async def sync_commands(emu: DiscordEmulator, guilds: list[Guild], db_path: Path) -> None:
    """Register the bot's commands in ``guilds``, as ``claimledger sync --guild`` does (the workers do not sync)."""
    service = LedgerService(db_path)
    try:
        bot = ClaimLedgerBot(settings=Settings(db_path=db_path, token="emulated-token"), ledger=service)
        try:
            await bot.login("emulated-token")
            for guild in guilds:
                await bot.sync_commands(guild.id)
        finally:
            await bot.close()
    finally:
        service.close()


async def set_evidence(
    emu: DiscordEmulator, guild: Guild, mod: Member, claim: str, details: str
) -> EmulatedInteraction:
    options = {"claim": claim, "status": "disputed", "details": details}
    return await emu.slash(guild.id, guild.channel_id, mod.id, "evidence set", options)


async def answered(emu: DiscordEmulator, inter: EmulatedInteraction) -> StoredMessage:
    return await emu.wait_until(lambda: final_message(inter), WAIT, what=f"the answer to {inter!r}")


def saved(inter: EmulatedInteraction) -> bool:
    """Whether the member was told the evidence was saved (the write's final answer)."""
    message = final_message(inter)
    return message is not None and str(message.get("content") or "").startswith(SAVED)


async def test_a_shard_killed_mid_write_loses_no_acknowledged_write_and_the_other_shard_answers_on(
    emu: DiscordEmulator, bk: Any, tmp_path: Path
) -> None:
    from bot.store.postgres import PostgresLedger

    bk.need_postgres()
    schema = bk.new_schema()
    db = f"{bk.PG_URL}?schema={schema}"
    guilds = await guilds_on_every_shard(emu, 2)
    scopes = {shard: str(guild.id) for shard, guild in guilds.items()}
    mods = {shard: emu.add_member(guild.id, "mod", permissions=MANAGE_GUILD) for shard, guild in guilds.items()}
    home = guilds[0]  # the server of the shard that lives
    askers = [emu.add_member(home.id, f"asker{i}") for i in range(2)]
    try:
        with PostgresLedger.open(bk.PG_URL, schema=schema, origin="test-setup") as ledger:
            for scope in scopes.values():
                seed_scope(ledger, scope, bk.SEED_DIR)
        await sync_commands(emu, list(guilds.values()), tmp_path / "sync.db")
        workers: list[Worker] = []
        try:
            for shard in (0, 1):
                workers.append(await Worker.start(emu, db, shard, tmp_path))
            for worker in workers:
                await worker.wait_line("ready", START_TIMEOUT)
            writes = [
                await set_evidence(emu, guilds[1], mods[1], burst_ref(i), burst_details(i)) for i in range(KILL_WRITES)
            ]
            # Some writes answered, the others queued or being written: kill shard 1's process there.
            await emu.wait_until(lambda: sum(map(saved, writes)) >= KILL_AFTER, WAIT, what="the first writes saved")
            await workers[1].kill()
            acknowledged = [i for i, inter in enumerate(writes) if saved(inter)]  # all it could ever answer
            # Shard 0 answers on: a question, and a write (the write lock of the killed process's transaction, if it
            # was in one, went with its connection).
            for asker in askers:
                answer = await answered(emu, await emu.slash(home.id, home.channel_id, asker.id, "ask", ASKED))
                assert answer.get("embeds"), answer
            after = await answered(emu, await set_evidence(emu, home, mods[0], burst_ref(0), "after the kill"))
            assert str(after.get("content")).startswith(SAVED), after
        finally:
            for worker in workers:
                await worker.stop()
        assert workers[1].code == -signal.SIGKILL
        assert workers[0].code == 0, workers[0].lines
        with PostgresLedger.open(bk.PG_URL, schema=schema, origin="test-check") as ledger:
            found = burst_writes_found(ledger, scopes[1], KILL_WRITES)
            out_of_step = {shard: claims_out_of_step(ledger, scope) for shard, scope in scopes.items()}
            shard0_details = ledger.get_claim(scopes[0], burst_ref(0)).evidence.details
        print(f"{len(acknowledged)} of {KILL_WRITES} writes acknowledged before the kill; found {found}")
        assert len(acknowledged) >= KILL_AFTER
        assert all(found[i] == 1 for i in acknowledged), f"acknowledged {acknowledged}, in the database {found}"
        assert all(count in (0, 1) for count in found.values()), found  # none written twice
        assert out_of_step == {0: [], 1: []}, "a claim's row differs from its last revision: a write half applied"
        assert shard0_details == "after the kill"
    finally:
        bk.drop_schema(schema)
