"""Three real ``pylantir run`` instances on one PostgreSQL database (issue 16).

- three sources spread one per instance, each synced by exactly one instance per interval, while 8 DICOM
  clients query all three instances: 0 errors, 0 wrong answers; ``sources status`` names each leader;
- the leader of a source killed (SIGKILL) during a 100,000-row sync: another instance takes it over and
  finishes it; the worklist ends with exactly the source's rows, never part of them; the takeover time;
- 1,000 MPPS N-CREATE/N-SET spread over the instances, half of the steps with two N-SETs racing: one wins,
  the other is refused with the standard status; no step lost.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pynetdicom.sop_class import ModalityPerformedProcedureStep, ModalityWorklistInformationFind
from sqlalchemy import func, select, text

from pylantir.dicom.client import association, find_on, worklist_identifier
from pylantir.store import Database, PerformedProcedureStep, SyncRun, WorklistItem
from pylantir.sync.clock import as_utc
from pylantir.sync.leadership import source_leaders

from .conftest import (
    PYLANTIR,
    Cluster,
    Instance,
    csv_source,
    n_create_dataset,
    n_set_final,
    wait_for,
    write_source,
)

pytestmark = [pytest.mark.postgres, pytest.mark.plugin("pylantir-csv")]

SOURCES = {"ris": "R", "lab": "L", "cardio": "C"}  # name -> Patient ID prefix
ROWS = 300  # per source in the spread test
INTERVAL = 2.0
OBSERVE = 12.0  # seconds of steady state watched
CLIENTS = 8
PENDING = (0xFF00, 0xFF01)
BIG_ROWS = int(os.environ.get("PYLANTIR_TEST_CLUSTER_ROWS", "100000"))
MPPS_STEPS = 400  # 200 plain (N-CREATE on one instance, N-SET on another), 200 with two N-SETs racing
PROCESSING_FAILURE = 0x0110


@pytest.fixture
def rewritten_sources(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """One CSV export per source, every row's description rewritten about twice a second until the end."""
    paths = {name: tmp_path / f"{name}.csv" for name in SOURCES}
    for name, path in paths.items():
        write_source(path, ROWS, 0, SOURCES[name])
    done = threading.Event()

    def rewrite() -> None:
        generation = 0
        while not done.wait(0.5):
            generation += 1
            for name, path in paths.items():
                write_source(path, ROWS, generation, SOURCES[name])

    thread = threading.Thread(target=rewrite, name="rewrite-sources")
    thread.start()
    yield paths
    done.set()
    thread.join()


def spread_over(database: Database, instances: list[Instance]) -> dict[str, int] | None:
    """Each source's leader PID, once the three sources have three different leaders."""
    leaders = {name: leader.pid for name, leader in source_leaders(database, SOURCES).items()}
    pids = {instance.pid for instance in instances}
    return leaders if len(leaders) == len(SOURCES) and set(leaders.values()) == pids else None


def query_loop(instances: list[Instance], seed: int, stop: threading.Event, wrong: list[str],
               counted: list[int]) -> None:
    """C-FIND one entry by Patient ID on each instance in turn until ``stop``; note every wrong answer."""
    choose = random.Random(seed)
    associations = [association(instance.peer(), ModalityWorklistInformationFind) for instance in instances]
    opened = [context.__enter__() for context in associations]
    try:
        while not stop.is_set():
            for number, assoc in enumerate(opened):
                prefix, row = choose.choice(list(SOURCES.values())), choose.randrange(ROWS)
                identifier = worklist_identifier()
                identifier.PatientID = f"{prefix}M{row:06d}"
                responses = find_on(assoc, identifier)
                matches = [found for status, found in responses if status in PENDING]
                counted.append(1)
                if (len(matches) != 1 or responses[-1][0] != 0x0000
                        or matches[0].AccessionNumber != f"{prefix}A{row:07d}"):
                    wrong.append(f"instance {number}, {identifier.PatientID}: "
                                 f"{[hex(status) for status, _ in responses]}")
    except Exception as exc:  # noqa: BLE001 - collected for the assertion
        wrong.append(f"{type(exc).__name__}: {exc}")
    finally:
        for context in associations:
            context.__exit__(None, None, None)


def test_sources_spread_and_each_is_synced_once_per_interval_while_all_instances_answer(
    cluster: Cluster, database: Database, rewritten_sources: dict[str, Path]
) -> None:
    config = cluster.configure([csv_source(name, path, INTERVAL) for name, path in rewritten_sources.items()])
    instances = cluster.start(3)
    leaders = wait_for(lambda: spread_over(database, instances), 60, "one source per instance", every=0.2)

    stop, wrong, counted = threading.Event(), [], []
    clients = [threading.Thread(target=query_loop, args=(instances, n, stop, wrong, counted)) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    watched_from = datetime.now(UTC)
    time.sleep(OBSERVE)  # the instances sync and answer meanwhile
    watched_to = datetime.now(UTC)
    stop.set()
    for client in clients:
        client.join()
    assert wrong == [], f"{len(wrong)} wrong answers of {len(counted)}: {wrong[:5]}"
    assert len(counted) > 200

    done = subprocess.run([*PYLANTIR, "sources", "status", "--config", str(config), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    status = {entry["name"]: entry["leader"] for entry in json.loads(done.stdout)}
    assert status == {name: f"pid {pid} on {os.uname().nodename}" for name, pid in leaders.items()}
    assert spread_over(database, instances) == leaders, "leadership moved while every instance ran"

    cluster.stop()
    with database.session() as session:
        runs = session.scalars(select(SyncRun).order_by(SyncRun.started_at)).all()
    assert all(run.outcome in ("success", "unchanged") for run in runs), [(r.outcome, r.error) for r in runs]
    for name in SOURCES:
        mine = [run for run in runs if run.source_name == name]
        for earlier, later in zip(mine, mine[1:], strict=False):
            assert as_utc(later.started_at) >= as_utc(earlier.finished_at), f"{name}: two syncs at once"
            gap = (as_utc(later.started_at) - as_utc(earlier.started_at)).total_seconds()
            assert gap >= INTERVAL - 0.3, f"{name}: synced again {gap:.2f} s after the previous sync"
        watched = [run for run in mine if watched_from <= as_utc(run.started_at) < watched_to]
        assert {run.pid for run in watched} == {leaders[name]}, f"{name}: synced by another instance than its leader"
        # never more than one sync per interval (a loaded machine makes them slower, so fewer)
        assert 1 <= len(watched) <= OBSERVE / INTERVAL + 1, (name, len(watched))
        assert sum(run.updated for run in watched) > 0, f"{name}: the syncs wrote nothing"
    assert cluster.tracebacks() == []


def big_sync_writing(database: Database) -> SyncRun | None:
    """The run of source ``big`` once its write transaction inserts rows (seen in ``pg_stat_activity``: the
    transaction's own changes, ``writing`` included, are invisible until it commits); the small sources, whose
    files never change, have inserted theirs before."""
    with database.session() as session:
        small_done = session.scalar(select(func.count(func.distinct(SyncRun.source_name))).where(
            SyncRun.source_name != "big", SyncRun.outcome == "success"))
        if small_done != 2:
            return None
        inserting = session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND xact_start IS NOT NULL "
            "AND query LIKE 'INSERT INTO worklist_items%'"))
        if not inserting:
            return None
        return session.scalars(select(SyncRun).where(SyncRun.source_name == "big",
                                                     SyncRun.outcome == "running")).first()


def big_rows(database: Database) -> tuple[int, int]:
    """Rows of source ``big``, and distinct identities among them."""
    with database.session() as session:
        return tuple(session.execute(  # type: ignore[return-value]
            select(func.count(), func.count(func.distinct(WorklistItem.identity)))
            .where(WorklistItem.source_name == "big")).one())


def test_a_leader_killed_mid_sync_is_taken_over_and_nothing_partial_is_left(
    cluster: Cluster, database: Database, tmp_path: Path, record_property: Any
) -> None:
    big = tmp_path / "big.csv"
    write_source(big, BIG_ROWS, 0, "B")
    small = {name: tmp_path / f"{name}.csv" for name in ("ris", "lab")}
    for name, path in small.items():
        write_source(path, 200, 0, name[0].upper())
    # a loaded machine makes 100,000 rows slow: the source's timeout is not what this test is about
    cluster.configure([csv_source("big", big, 3600) | {"timeout": 1800},
                       *(csv_source(name, path, INTERVAL) for name, path in small.items())])
    instances = cluster.start(3)
    victim_run = wait_for(lambda: big_sync_writing(database), 600, "the big sync to write")
    victim = cluster.by_pid(victim_run.pid)
    victim.process.send_signal(signal.SIGKILL)
    killed_at = datetime.now(UTC)
    victim.process.wait(timeout=30)

    def takeover() -> SyncRun | None:
        with database.session() as session:
            return session.scalars(select(SyncRun).where(SyncRun.source_name == "big",
                                                         SyncRun.id > victim_run.id)).first()

    partial: set[int] = set()

    def finished() -> SyncRun | None:
        count, _ = big_rows(database)
        if count not in (0, BIG_ROWS):
            partial.add(count)
        with database.session() as session:
            return session.scalars(select(SyncRun).where(SyncRun.source_name == "big", SyncRun.id > victim_run.id,
                                                         SyncRun.outcome == "success")).first()

    new_run = wait_for(takeover, 60, "another instance to take the big source over")
    taken_after = (as_utc(new_run.started_at) - killed_at).total_seconds()
    record_property("takeover_seconds", round(taken_after, 2))
    print(f"takeover: the new leader started syncing {taken_after:.2f} s after the SIGKILL")
    done = wait_for(finished, 1200, "the new leader to finish the big sync", every=0.2)

    assert done.pid != victim.pid and done.pid in {instance.pid for instance in instances}
    assert taken_after < 30, f"the takeover took {taken_after:.1f} s"
    assert partial == set(), f"part of a sync was visible: {sorted(partial)} rows"
    assert big_rows(database) == (BIG_ROWS, BIG_ROWS)
    assert done.inserted == BIG_ROWS
    with database.session() as session:
        killed = session.get(SyncRun, victim_run.id)
        assert killed is not None
        assert killed.outcome == "interrupted" and f"pid {victim.pid}" in (killed.error or "")
    leaders = source_leaders(database, ["big", *small])
    assert set(leaders) == {"big", *small} and victim.pid not in {leader.pid for leader in leaders.values()}
    cluster.stop()
    assert cluster.tracebacks() == []


def plain_steps(items: list[WorklistItem], instances: list[Instance], statuses: dict[str, list[int]]) -> None:
    """N-CREATE on one instance and N-SET COMPLETED on the next one, for every item."""
    contexts = [association(instance.peer(60), ModalityPerformedProcedureStep) for instance in instances]
    opened = [context.__enter__() for context in contexts]
    try:
        for number, item in enumerate(items):
            uid = step_uid(item)
            created, _ = opened[number % 3].send_n_create(n_create_dataset(item), ModalityPerformedProcedureStep, uid)
            done, _ = opened[(number + 1) % 3].send_n_set(n_set_final(uid), ModalityPerformedProcedureStep, uid)
            statuses[uid] = [created.Status if created else -1, done.Status if done else -1]
    finally:
        for context in contexts:
            context.__exit__(None, None, None)


def racing_steps(items: list[WorklistItem], instances: list[Instance],
                 statuses: dict[str, dict[str, int]]) -> None:
    """N-CREATE on one instance, then N-SET COMPLETED and N-SET DISCONTINUED sent at once to the other two."""
    start = threading.Barrier(2)
    results: dict[str, dict[str, int]] = {}

    def send(final: str, offset: int, creator: bool) -> None:
        contexts = [association(instance.peer(60), ModalityPerformedProcedureStep) for instance in instances]
        opened = [context.__enter__() for context in contexts]
        try:
            for number, item in enumerate(items):
                uid = step_uid(item)
                if creator:
                    created, _ = opened[number % 3].send_n_create(n_create_dataset(item),
                                                                  ModalityPerformedProcedureStep, uid)
                    results.setdefault(uid, {})["N-CREATE"] = created.Status if created else -1
                start.wait(timeout=60)
                done, _ = opened[(number + offset) % 3].send_n_set(n_set_final(uid, final),
                                                                   ModalityPerformedProcedureStep, uid)
                results.setdefault(uid, {})[final] = done.Status if done else -1
                start.wait(timeout=60)
        finally:
            for context in contexts:
                context.__exit__(None, None, None)

    senders = [threading.Thread(target=send, args=("COMPLETED", 1, True)),
               threading.Thread(target=send, args=("DISCONTINUED", 2, False))]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    statuses.update(results)


def step_uid(item: WorklistItem) -> str:
    return f"1.2.826.0.1.3680043.10.999.6.{item.id}"


def test_mpps_over_three_instances_with_racing_n_sets(cluster: Cluster, database: Database, tmp_path: Path) -> None:
    source = tmp_path / "ris.csv"
    write_source(source, MPPS_STEPS, 0, "R")
    cluster.configure([csv_source("ris", source, INTERVAL)])
    instances = cluster.start(3)

    def synced() -> list[WorklistItem] | None:
        with database.session() as session:
            items = list(session.scalars(select(WorklistItem).order_by(WorklistItem.id)))
        return items if len(items) == MPPS_STEPS else None

    items = wait_for(synced, 60, "the first sync")
    plain, racing = items[: MPPS_STEPS // 2], items[MPPS_STEPS // 2 :]
    plain_statuses: dict[str, list[int]] = {}
    racing_statuses: dict[str, dict[str, int]] = {}
    workers = [threading.Thread(target=plain_steps, args=(plain[n::4], instances, plain_statuses)) for n in range(4)]
    workers += [threading.Thread(target=racing_steps, args=(racing[n::2], instances, racing_statuses))
                for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    operations = 2 * len(plain_statuses) + 3 * len(racing_statuses)
    assert operations == 1000

    assert {uid: codes for uid, codes in plain_statuses.items() if codes != [0, 0]} == {}
    winners = {}
    for uid, codes in racing_statuses.items():
        assert codes["N-CREATE"] == 0, (uid, codes)
        finals = {final: code for final, code in codes.items() if final != "N-CREATE"}
        assert sorted(finals.values()) == [0, PROCESSING_FAILURE], (uid, codes)
        winners[uid] = next(final for final, code in finals.items() if code == 0)
    assert set(winners.values()) == {"COMPLETED", "DISCONTINUED"}, "the races were always won by the same side"

    with database.session() as session:
        stored = {step.sop_instance_uid: (step.status, step.worklist_item.scheduled_procedure_step_status,
                                          step.worklist_item.status_from_mpps)
                  for step in session.scalars(select(PerformedProcedureStep))}
    assert len(stored) == MPPS_STEPS, "an MPPS instance was lost"
    expected = {uid: ("COMPLETED", "COMPLETED", True) for uid in plain_statuses}
    expected |= {uid: (final, final, True) for uid, final in winners.items()}
    assert {uid: state for uid, state in stored.items() if state != expected[uid]} == {}
    cluster.stop()
    assert cluster.tracebacks() == []
