"""Per-source sync leadership through PostgreSQL advisory locks: spread, hand-back, takeover, fencing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from pylantir.store import Database
from pylantir.sync.leadership import Leader, PostgresLeadership, lock_key, source_leaders
from pylantir.sync.lineage import Runner
from pylantir.sync.pump import SyncStopped

pytestmark = pytest.mark.postgres
SOURCES = ["ris", "redcap", "calpendo"]


@pytest.fixture
def database(postgres_url: str) -> Iterator[Database]:
    db = Database.open(postgres_url)
    yield db
    db.close()


@pytest.fixture
def instances(database: Database) -> Iterator[list[PostgresLeadership]]:
    """Three instances' leaderships (distinct PIDs on host ``node``), all closed after the test."""
    made = [PostgresLeadership(database, SOURCES, Runner("node", 1000 + n, datetime.now(UTC))) for n in range(3)]
    yield made
    for leadership in made:
        leadership.close()


def settle(instances: list[PostgresLeadership], rounds: int = 4) -> None:
    for _ in range(rounds):
        for leadership in instances:
            leadership.update(set())


def backend_pid(database: Database, leadership: PostgresLeadership) -> int:
    with database.engine.connect() as connection:
        return int(connection.scalar(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": f"pylantir-leader {leadership._runner.pid} node"},
        ))


def test_the_lock_key_is_stable_and_differs_per_source() -> None:
    assert lock_key("ris") == lock_key("ris")
    assert len({lock_key(name) for name in SOURCES}) == len(SOURCES)
    assert -(2**63) <= lock_key("ris") < 2**63


def test_one_instance_alone_leads_every_source(database: Database, instances: list[PostgresLeadership]) -> None:
    alone = instances[0]
    assert alone.update(set()) == set(SOURCES)
    assert alone.led() == SOURCES
    assert source_leaders(database, SOURCES) == {name: Leader("node", 1000) for name in SOURCES}


def test_sources_spread_one_per_instance(database: Database, instances: list[PostgresLeadership]) -> None:
    instances[0].update(set())
    assert len(instances[0].led()) == 3
    took_all = {name: instances[0].since(name) for name in SOURCES}
    assert all(took_all.values())
    settle(instances)
    led = [leadership.led() for leadership in instances]
    assert sorted(name for names in led for name in names) == sorted(SOURCES)
    assert [len(names) for names in led] == [1, 1, 1]
    # since when each leads: the first kept its source's time; the others took theirs later; none otherwise
    for leadership in instances:
        for name in SOURCES:
            since = leadership.since(name)
            assert (since is not None) == (name in leadership.led())
            if since is not None and leadership is not instances[0]:
                assert since >= took_all[name]
    (kept,) = instances[0].led()
    assert instances[0].since(kept) == took_all[kept]
    leaders = source_leaders(database, SOURCES)
    assert {leaders[name].pid for name in SOURCES} == {1000, 1001, 1002}
    for leadership in instances:
        for name in leadership.led():
            assert leaders[name] == Leader("node", leadership._runner.pid)


def test_a_source_under_way_is_not_handed_back(instances: list[PostgresLeadership]) -> None:
    first, second, _ = instances
    first.update(set())
    second._connect()  # a second instance appears: the fair share is 2 of 3
    first.update(busy=set(SOURCES))
    assert len(first.led()) == 3, "a source was handed back while it synced"
    first.update(busy=set())
    assert len(first.led()) == 2


def test_a_dead_leaders_sources_are_taken_over_and_its_writes_fenced(
    database: Database, instances: list[PostgresLeadership]
) -> None:
    settle(instances)
    victim, *others = instances
    (lost,) = victim.led()
    with database.engine.connect() as connection:  # its session ends, as when its process is killed
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid(database, victim)})
    taken = set().union(*(leadership.update(set()) for leadership in others))
    assert taken == {lost}
    assert source_leaders(database, SOURCES)[lost].pid in {1001, 1002}
    # the old leader's sync that reaches its commit now is refused, before it finds out on its next poll
    with database.session() as session, pytest.raises(SyncStopped, match=f"no longer leads source '{lost}'"):
        victim.fence(session, lost)
    assert victim.update(set()) == set()
    assert victim.led() == [] and victim.since(lost) is None


def test_a_leader_passes_its_fence(database: Database, instances: list[PostgresLeadership]) -> None:
    leader = instances[0]
    leader.update(set())
    with database.session() as session:
        for name in SOURCES:
            leader.fence(session, name)
    with database.session() as session, pytest.raises(SyncStopped):
        instances[1].fence(session, "ris")


def test_closing_hands_every_source_back(database: Database, instances: list[PostgresLeadership]) -> None:
    first, second, _ = instances
    first.update(set())
    first.close()
    # the server ends the closed session's backend (and frees its locks) a moment after the client hangs up
    deadline = time.monotonic() + 15
    while source_leaders(database, SOURCES) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert source_leaders(database, SOURCES) == {}
    assert second.update(set()) == set(SOURCES)


def test_an_unreachable_database_leads_nothing(caplog: pytest.LogCaptureFixture) -> None:
    database = Database("postgresql+psycopg2://nobody@127.0.0.1:9/none")
    leadership = PostgresLeadership(database, SOURCES, Runner("node", 1, datetime.now(UTC)))
    try:
        assert leadership.update(set()) == set()
        assert leadership.update(set()) == set()
        assert leadership.led() == []
    finally:
        leadership.close()
        database.close()
    warnings = [r.getMessage() for r in caplog.records if "cannot reach the database" in r.getMessage()]
    assert len(warnings) == 1, "the failure is logged once, not on every poll"
