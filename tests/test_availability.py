"""Availability under faults (``splitbrain.histories.availability``): each operation lands in the fault
state of its invoke, on the side of the node that handled it; counts, latencies and the time series add
up across schedules; a campaign measures its search schedules and not its shrinking replays."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from splitbrain.fuzz.campaign import CampaignSpec, run_campaign
from splitbrain.histories import History, Op
from splitbrain.histories.availability import MAX_BINS, Availability, Latency, availability, merged

N = "nemesis"


def call(process: int, t0: int, t1: int | None, node: str, status: str = "ok", *, done_node: str | None = None,
         f: str = "read") -> list[tuple[int, Op]]:
    """An operation as two timed events (``t1`` None: never completed)."""
    events = [(t0, Op(process=process, type="invoke", f=f, time=t0, node=node))]
    if t1 is not None:
        events.append((t1, Op(process=process, type=status, f=f, time=t1, node=done_node or node)))  # type: ignore[arg-type]
    return events


def fault(t: int, f: str, value: Any = None) -> list[tuple[int, Op]]:
    return [(t, Op(process=N, type="info", f=f, value=value, time=t))]


def history(*parts: list[tuple[int, Op]]) -> History:
    events = sorted((e for p in parts for e in p), key=lambda e: e[0])
    return History.from_ops([op for _, op in events])


def counts(a: Availability, state: str) -> tuple[int, int, int]:
    s = a.states[state]
    return s.ok, s.fail, s.info


def test_each_operation_lands_in_the_fault_state_of_its_invoke() -> None:
    h = history(
        call(0, 0, 4, "n1"),                                    # healthy
        fault(10, "partition", [["n1", "n2"], ["n3"]]),
        call(1, 11, 15, "n1"),                                  # majority side
        call(2, 12, 30, "n3", "info"),                          # minority side, timed out
        call(3, 13, 16, "n3", "fail"),
        fault(40, "heal"),
        fault(50, "crash", "n2"),
        call(4, 51, 53, "n1"),                                  # a node is down
        fault(60, "restart", "n2"),
        call(5, 61, 70, "n3"),                                  # after the heal
    )
    a = availability(h)
    assert counts(a, "healthy") == (1, 0, 0)
    assert counts(a, "partition-majority") == (1, 0, 0)
    assert counts(a, "partition-minority") == (0, 1, 1)
    assert counts(a, "crash") == (1, 0, 0)
    assert counts(a, "after-heal") == (1, 0, 0)
    assert a.states["partition-minority"].availability == 0.0
    assert a.states["healthy"].latency.max == 4 and a.states["after-heal"].latency.quantile(0.5) == 9
    assert a.unit == "tick" and a.histories == 1 and a.operations == 6


def test_the_side_is_that_of_the_node_that_answered() -> None:
    """A client redirected from a minority node to the majority's leader was served by the majority."""
    h = history(
        fault(0, "partition", [["n1", "n2"], ["n3"]]),
        call(0, 1, 9, "n3", done_node="n1"),
        call(1, 2, None, "n3"),  # never completed: info, at the node it was sent to
    )
    a = availability(h)
    assert counts(a, "partition-majority") == (1, 0, 0) and counts(a, "partition-minority") == (0, 0, 1)


def test_an_ok_that_outlasts_its_fault_is_counted_where_it_was_served() -> None:
    h = history(
        call(0, 0, 12, "n3"),                                   # fault began in flight: stays healthy
        fault(5, "partition", [["n1", "n2"], ["n3"]]),
        call(1, 20, 45, "n3"),                                  # minority, answered after the heal
        call(2, 21, 45, "n3", "fail"),                          # a failure stays where it was invoked
        call(3, 22, 35, "n1"),                                  # majority, then the shape changes: n1 alone
        call(4, 23, 36, "n2"),                                  # majority before and after
        fault(30, "partition", [["n1"], ["n2", "n3"]]),
        fault(40, "heal"),
    )
    a = availability(h)
    assert counts(a, "healthy") == (1, 0, 0)
    assert counts(a, "after-heal") == (1, 0, 0)
    assert counts(a, "partition-minority") == (0, 1, 0)
    assert counts(a, "partition-unknown") == (1, 0, 0)  # majority at the invoke, minority at the answer
    assert counts(a, "partition-majority") == (1, 0, 0)


def test_bridges_one_way_cuts_and_real_server_events() -> None:
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    sim = history(
        fault(0, "bridge", [["n1", "n2"], ["n3"], ["n4", "n5"]]),  # n1 reaches n1 n2 n3: a majority
        call(0, 1, 2, "n1"), call(1, 1, 2, "n3"),
        fault(5, "oneway", [["n1"], ["n2", "n3", "n4", "n5"]]),
        call(2, 6, 7, "n1"), call(3, 6, 7, "n2"),
    )
    a = availability(sim, nodes=nodes)
    assert counts(a, "partition-majority") == (3, 0, 0) and counts(a, "partition-minority") == (1, 0, 0)
    live = history(
        fault(0, "start-partition", "n1 n2 | n3 n4 n5"),
        call(0, 1, 2, "n1"), call(1, 1, 2, "n4"),
        fault(3, "stop-partition", "n1 n2 | n3 n4 n5"),
        fault(4, "start-partition", "leader n2 isolated"),
        call(2, 5, 6, "n2"),
        fault(7, "start-partition", "n1 n2 | bridge n3 | n4 n5"),  # composes with the isolation of n2
        call(3, 8, 9, "n1"),
        fault(10, "stop-partition", "leader n2 isolated"),
        fault(10, "stop-partition", "n1 n2 | bridge n3 | n4 n5"),
        fault(11, "start-partition", "ring n1 → n2 → n3 → n4 → n5"),
        call(4, 12, 13, "n1"),
        fault(14, "stop-partition", "ring n1 → n2 → n3 → n4 → n5"),
        fault(15, "start-kill", "n1 n2"),
        call(5, 16, 17, "n3"),
        fault(18, "stop-kill", "n1 n2"),
        call(6, 19, 20, "n3"),
    )
    b = availability(live, nodes=nodes)
    assert counts(b, "partition-minority") == (3, 0, 0)  # n1 of "n1 n2", n2 alone, n1 cut from n2 and n4 n5
    assert counts(b, "partition-majority") == (1, 0, 0)
    assert counts(b, "partition-unknown") == (1, 0, 0)  # a ring: no side to tell
    assert counts(b, "crash") == (1, 0, 0) and counts(b, "after-heal") == (1, 0, 0)


def test_a_nodes_own_events_are_not_client_operations() -> None:
    h = history(call(0, 0, 3, "n1", f="write"), [
        (10, Op(process="n1", type="invoke", f="final-read", time=10, node="n1")),
        (10, Op(process="n1", type="ok", f="final-read", value=(1,), time=10, node="n1")),
    ])
    assert availability(h).operations == 1


def test_a_history_without_times_counts_events() -> None:
    h = History.from_ops([Op(process=0, type="invoke", f="read"), Op(process=0, type="ok", f="read", value=1)])
    a = availability(h)
    assert a.unit == "event" and a.operations == 1 and a.states["healthy"].latency.n == 0
    assert availability(history(call(0, 10**9, 10**9 + 5_000_000, "n1"))).unit == "ns"


def test_latency_histogram_is_exact_when_small_and_within_one_64th_beyond() -> None:
    lat = Latency()
    for v in range(1, 41):
        lat.add(v)
    assert (lat.quantile(0.5), lat.quantile(0.95), lat.max, lat.mean) == (20, 38, 40, 20.5)
    big = Latency()
    values = [1_000_003 * k for k in range(1, 101)]
    for v in values:
        big.add(v)
    for q in (0.5, 0.95, 1.0):
        want = values[round(q * 100) - 1]  # the smallest value with q of them at or below it
        got = big.quantile(q)
        assert got is not None and abs(got - want) <= want / 64
    assert Latency().quantile(0.5) is None and Latency().to_json()["max"] is None


def test_analyses_merge_like_one_and_survive_pickle_and_json() -> None:
    short = history(call(0, 0, 5, "n1"), fault(20, "partition", [["n1", "n2"], ["n3"]]),
                    call(1, 30, 60, "n3", "info"))
    long = history(call(0, 0, 7, "n2"), fault(100, "crash", "n1"), call(1, 1000, 1003, "n2"),
                   fault(1500, "restart", "n1"))
    a, b = availability(short), availability(long)
    assert a.series.width == 1 and b.series.width > 1
    both = merged([a, b])
    both_again = merged([b, a])
    assert both.to_json() == both_again.to_json()
    assert both.histories == 2 and both.operations == 4 and both.series.width == b.series.width
    assert len(both.series.to_json()["bins"]) <= MAX_BINS
    copy = pickle.loads(pickle.dumps(both))
    assert copy.to_json() == both.to_json()
    data = json.loads(json.dumps(both.to_json()))
    assert data["states"]["partition-minority"] == {
        "ops": 1, "ok": 0, "fail": 0, "info": 1, "availability": 0.0,
        "latency": {"count": 0, "median": None, "p95": None, "max": None, "mean": None},
    }
    bins = data["series"]["bins"]
    assert bins[0]["ops"] == 2 and bins[0]["availability"] == 1.0
    # the partition shading covers half of the short history's time from tick 20 and none of the long one's
    assert any(0 < b["partition"] < 1 for b in bins) and any(b["crash"] > 0 for b in bins)
    lines = both.lines()
    assert lines[0].startswith("healthy") and "100.0% ok of 2 ops" in lines[0] and "p50" in lines[0]
    assert any(line.startswith("partition-minority") and "info 100.0%" in line for line in lines)


def test_the_statistics_observer_measures_search_schedules_not_shrinking_runs() -> None:
    """Each schedule's history is measured once it is over; once the search ends (``active`` false, as
    when shrinking starts) further runs are not counted."""
    from splitbrain.fuzz.stats import StatsObserver
    from splitbrain.sim import RandomSource, World
    from splitbrain.sim.loading import load_workload

    workload = load_workload("primary-backup")
    observer = StatsObserver(workload)
    observed = observer.wrap(workload)
    runs = [World(observed, "correct", source=RandomSource(seed)).run() for seed in (1, 2)]
    observer.active = False  # what the campaign does when it starts shrinking a failure
    World(observed, "correct", source=RandomSource(3)).run()
    shard = observer.shard_stats(2, 0.1)
    want = merged(availability(run.history, nodes=workload.node_ids, unit="tick") for run in runs)
    assert shard.availability.histories == 2
    assert shard.availability.to_json() == want.to_json()


def test_a_campaign_merges_the_availability_of_its_shards(tmp_path: Path) -> None:
    report = run_campaign(CampaignSpec("primary-backup", "correct", seed=3, examples=20, store=str(tmp_path),
                                       strategy="random", shard_size=10))
    measured = report.stats.availability
    assert report.schedules == 20 and measured.histories == 20 and measured.operations > 20
    lines = report.stats.lines(report.seconds, report.failed)
    assert lines[4] == "availability by fault state at invoke (ok fraction; ok latency):"
    assert lines[5].startswith("  healthy")
    data = json.loads(json.dumps(report.stats.to_json(report.seconds, report.failed)))
    assert data["availability"]["histories"] == 20 and data["schedules"] == 20 and data["strategy"] == "random"


@pytest.mark.parametrize("name", ["raft-kv", "gossip-kv"])
def test_simulated_partitions_split_the_zoo_as_cap_says(name: str) -> None:
    """raft-kv refuses on the minority side; gossip-kv answers everywhere."""
    from splitbrain.sim import FaultConfig, RandomSource, World
    from splitbrain.sim.loading import load_workload

    workload = load_workload(name)
    faults = FaultConfig(kinds=("partition",), weights={"partition": 4, "heal": 2})
    runs = [World(workload, "correct", source=RandomSource(seed), faults=faults, max_steps=400).run()
            for seed in range(8)]
    a = merged(availability(run.history, nodes=workload.node_ids) for run in runs)
    minority = a.states["partition-minority"]
    assert minority.total > 5
    assert minority.availability == (0.0 if name == "raft-kv" else 1.0)
