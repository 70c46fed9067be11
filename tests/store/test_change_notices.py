"""Change notices: a write committed by one process reaches the change listeners of every other process sharing the
PostgreSQL ledger, with its server (scope) and the incidents it changed; SQLite's feed tells nothing."""

from __future__ import annotations

import asyncio
import json
import queue
from typing import Any

import pytest

from bot.discord.service import LedgerService
from bot.formats import import_bytes
from bot.store import Ledger
from bot.store.base import Change, ChangeFeed, NoChanges, process_origin

pytest_plugins = ["tests.backends"]

A, B = "111", "222"
WAIT = 10.0


def next_change(changes: queue.Queue[Change]) -> Change:
    try:
        return changes.get(timeout=WAIT)
    except queue.Empty:
        raise AssertionError(f"no change notice within {WAIT} s") from None


@pytest.fixture
def other(pg_store: Any, bk: Any) -> Any:
    """A second ledger on the same schema, as another process would open it (its own origin)."""
    from bot.store.postgres import PostgresLedger

    with PostgresLedger.open(bk.PG_URL, schema=pg_store.schema, origin="another-process") as ledger:
        yield ledger


@pytest.fixture
def heard(pg_store: Any) -> Any:
    changes: queue.Queue[Change] = queue.Queue()
    feed = pg_store.listen(changes.put)
    yield changes
    feed.close()


def test_a_write_of_another_process_is_heard_with_its_server_and_incidents(
    pg_store: Any, other: Any, heard: Any
) -> None:
    incident = other.create_incident(A, title="Dam breach", actor="t")
    assert next_change(heard) == Change(scope=A, incidents=(incident.id,), own=False)
    other.create_speaker(A, name="Spokesman", actor="t")
    assert next_change(heard) == Change(scope=A, incidents=(), own=False)  # no incident's content changed
    other.set_setting(B, "audit_channel", "5", actor="t")
    assert next_change(heard) == Change(scope=B, incidents=(), own=False)


def test_own_writes_are_marked_own_and_a_rollback_tells_nothing(pg_store: Any, other: Any, heard: Any) -> None:
    incident = pg_store.create_incident(A, title="Dam breach", actor="t")
    assert next_change(heard) == Change(scope=A, incidents=(incident.id,), own=True)
    with pytest.raises(RuntimeError), other.transaction():
        other.add_claim(A, text="Never committed.", incident=incident.slug, actor="t")
        raise RuntimeError("roll back")
    other.add_claim(B, text="Committed.", actor="t")
    assert next_change(heard) == Change(scope=B, incidents=(), own=False)  # the rolled-back write sent nothing


def test_a_claim_moved_between_incidents_names_both_and_a_speaker_rename_names_its_incidents(
    pg_store: Any, other: Any, heard: Any
) -> None:
    one = other.create_incident(A, title="First", actor="t")
    two = other.create_incident(A, title="Second", actor="t")
    other.create_speaker(A, name="Spokesman", actor="t")
    claim = other.add_claim(A, text="Said once.", speaker="Spokesman", incident=one.slug, actor="t")
    other.set_setting(B, "marker", "1", actor="t")  # a change of another server: all before it have arrived
    while next_change(heard).scope != B:
        pass
    other.update_claim(A, claim.id, incident=two.slug, actor="t")
    moved = next_change(heard)
    assert moved.scope == A and set(moved.incidents or ()) == {one.id, two.id}
    other.set_setting(B, "marker", "2", actor="t")
    while next_change(heard).scope != B:
        pass
    other.update_speaker(A, "Spokesman", name="Press secretary", actor="t")
    assert next_change(heard) == Change(scope=A, incidents=(two.id,), own=False)


def test_an_import_tells_each_incident_it_touched(pg_store: Any, other: Any, heard: Any) -> None:
    rows = ["incident,claim,speaker", "Dam breach,The dam was mined.,Engineer", "Bridge strike,The bridge fell.,"]
    import_bytes(other, A, "claims.csv", "\n".join(rows).encode(), actor="cli")
    incidents = {i.id for i in other.list_incidents(A)}
    assert len(incidents) == 2
    told: set[int] = set()
    while told != incidents:
        change = next_change(heard)
        assert change.scope == A and change.incidents is not None and not change.own
        told |= set(change.incidents)
        assert told <= incidents


def test_a_notice_with_too_many_incidents_says_any_and_other_schemas_are_not_heard(
    pg_store: Any, heard: Any, bk: Any
) -> None:
    import psycopg

    many = json.dumps([[A, n] for n in range(1, 3000)])
    with psycopg.connect(bk.PG_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path = "{pg_store.schema}", public')
        conn.execute("SELECT notify_changes('some_other_schema', %s::jsonb)", [json.dumps([[B, 1]])])
        conn.execute("SELECT notify_changes(%s, %s::jsonb)", [pg_store.schema, many])
    assert next_change(heard) == Change(scope=A, incidents=None, own=False)


def test_a_lost_listener_reconnects_and_says_it_may_have_missed_changes(pg_store: Any, other: Any, heard: Any) -> None:
    import psycopg

    with psycopg.connect(other.pool.conninfo, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [f"claimledger-listen:{pg_store.schema}"],
        ).fetchall()
    assert len(killed) == 1
    assert next_change(heard) == Change(scope=None, incidents=None, own=False)
    other.add_claim(A, text="After the reconnect.", actor="t")
    assert next_change(heard) == Change(scope=A, incidents=(), own=False)


def test_every_ledger_of_a_process_shares_its_origin(pg_store: Any, bk: Any) -> None:
    from bot.store.postgres import PostgresLedger

    assert pg_store.origin == process_origin()
    with PostgresLedger.open(bk.PG_URL, schema=pg_store.schema) as again:
        assert again.origin == pg_store.origin


def test_sqlite_tells_nothing() -> None:
    told: list[Change] = []
    with Ledger.memory() as ledger:
        feed = ledger.listen(told.append)
        assert isinstance(feed, ChangeFeed) and isinstance(feed, NoChanges)
        ledger.create_incident(A, title="Dam breach", actor="t")
        feed.close()
    assert told == []


# ------------------------------------------------------------------ the bot's relay (bot/discord/service.py)

OURS, THEIRS = "1001", "1002"


class FakeBot:
    """What the relay uses of the bot: its servers (this process runs ``OURS`` only) and its event dispatch."""

    def __init__(self, servers: set[int]) -> None:
        self.servers = servers
        self.events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    def get_guild(self, guild_id: int, /) -> object | None:
        return object() if guild_id in self.servers else None

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        self.events.put_nowait((event_name, *args))


async def next_event(bot: FakeBot) -> tuple[Any, ...]:
    return await asyncio.wait_for(bot.events.get(), timeout=WAIT)


async def test_the_service_relays_other_processes_changes_of_its_own_servers_only(pg_store: Any, bk: Any) -> None:
    from bot.store.postgres import PostgresLedger

    bot = FakeBot({int(OURS)})
    service = LedgerService(f"{bk.PG_URL}?schema={pg_store.schema}")
    try:
        await service.follow_changes(bot)
        assert service.following
        with PostgresLedger.open(bk.PG_URL, schema=pg_store.schema, origin="command-line") as cli:
            dam = cli.create_incident(OURS, title="Dam breach", actor="cli")
            assert await next_event(bot) == ("ledger_change", OURS, dam.slug)
            cli.create_incident(THEIRS, title="Another shard's", actor="cli")  # that shard's process relays it
            await service.write(lambda ledger: ledger.create_incident(OURS, title="Own", actor="bot"))  # told already
            cli.add_claim(OURS, text="Mined.", incident=dam.slug, actor="cli")
            assert await next_event(bot) == ("ledger_change", OURS, dam.slug)  # nothing came in between
            cli.set_setting(OURS, "audit_channel", "5", actor="cli")
            assert await next_event(bot) == ("ledger_change", OURS, None)  # no incident: the audit channel's turn
        assert bot.events.empty()
    finally:
        await service.stop_following()
        service.close()


async def test_a_batch_is_relayed_once_per_incident_and_unknown_changes_refresh_every_pinned_summary(
    db_path: Any,
) -> None:
    service = LedgerService(db_path)
    try:
        dam, bridge = await service.write(
            lambda ledger: [ledger.create_incident(OURS, title=t, actor="t") for t in ("Dam breach", "Bridge strike")]
        )
        await service.write(lambda ledger: ledger.add_pinned_summary(OURS, bridge.id, 10, 20))
        theirs = await service.write(lambda ledger: ledger.create_incident(THEIRS, title="Bridge strike", actor="t"))
        await service.write(lambda ledger: ledger.add_pinned_summary(THEIRS, theirs.id, 10, 21))

        def ours(scope: str) -> bool:
            return scope == OURS

        batch = [
            Change(scope=OURS, incidents=(dam.id,), own=False),
            Change(scope=OURS, incidents=(dam.id, bridge.id), own=False),
            Change(scope=OURS, incidents=(), own=False),
            Change(scope=THEIRS, incidents=(1,), own=False),
            Change(scope="1003", incidents=(), own=True),
        ]
        assert await service.remote_changes(batch, ours) == [(OURS, bridge.slug), (OURS, dam.slug)]
        assert await service.remote_changes([Change(scope=OURS, incidents=None, own=False)], ours) == [
            (OURS, bridge.slug)  # any incident may have changed: those with a pinned summary
        ]
        assert await service.remote_changes([Change(scope=None, incidents=None, own=False)], ours) == [
            (OURS, bridge.slug)  # notices were missed: every pinned summary of our servers
        ]
        assert await service.remote_changes([Change(scope=OURS, incidents=(), own=True)], ours) == []
        await service.follow_changes(FakeBot({int(OURS)}))  # SQLite: nothing to follow, nothing started
        assert not service.following
    finally:
        await service.stop_following()
        service.close()
