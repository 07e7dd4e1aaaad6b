"""Campaigns on Dask: a LocalCluster gives the same report as the process pool and the inline executor
for the same seeds (the lowest-failing-shard rule), failures reach the store, records a worker cannot
write are written by the campaign, and without Dask the option says how to install it."""

from __future__ import annotations

import concurrent.futures as cf
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from splitbrain.cli import main
from splitbrain.fuzz.campaign import CampaignReport, CampaignSpec, InlineExecutor, run_campaign
from splitbrain.fuzz.executors import ExecutorHandle, default_executor, make_executor
from splitbrain.fuzz.saved import trace_of
from splitbrain.fuzz.store import load_failure

distributed = pytest.importorskip("distributed")


def _spec(store: Path, variant: str = "early-ack") -> CampaignSpec:
    # several small shards, so that two workers run shards side by side and more than one can fail
    return CampaignSpec("primary-backup", variant, seed=5, examples=120, shard_size=15, store=str(store),
                        strategy="random", workers=2, shrink=False)


def _signature(report: CampaignReport) -> tuple[Any, ...]:
    traces = [trace_of(load_failure(f.path)).dumps() for f in report.failures]
    return (report.schedules, report.unknown, [(f.signature, f.seed, f.steps_found) for f in report.failures],
            traces, report.stats.steps, dict(report.stats.faults), len(report.stats.states))


@pytest.fixture(scope="module")
def dask_local() -> Iterator[ExecutorHandle]:
    with make_executor("dask-local", workers=2) as handle:
        yield handle


def test_dask_local_cluster_matches_process_pool_and_inline(tmp_path: Path, dask_local: ExecutorHandle) -> None:
    on_dask = run_campaign(_spec(tmp_path / "dask"), executor=dask_local.executor, parallelism=2)
    with default_executor(2) as pool:
        on_pool = run_campaign(_spec(tmp_path / "pool"), executor=pool, parallelism=2)
    inline = run_campaign(_spec(tmp_path / "inline"), executor=InlineExecutor())
    assert len(on_dask.failures) == 1 and on_dask.failures[0].signature == "checker:linearizability"
    assert _signature(on_dask) == _signature(on_pool) == _signature(inline)
    # the failure reached the store, and the campaign's marker file is gone
    assert Path(on_dask.failures[0].path).parent == tmp_path / "dask" / "failures"
    assert not list((tmp_path / "dask").glob(".campaign-*"))


def test_dask_clean_campaign_counts_match(tmp_path: Path, dask_local: ExecutorHandle) -> None:
    spec = replace(_spec(tmp_path / "a", "correct"), examples=40, shard_size=10, strategy="hypothesis")
    on_dask = run_campaign(spec, executor=dask_local.executor, parallelism=2)
    inline = run_campaign(replace(spec, store=str(tmp_path / "b")), executor=InlineExecutor())
    assert on_dask.failures == [] and on_dask.schedules == 40
    assert _signature(on_dask) == _signature(inline)


class _NoSharedStore(InlineExecutor):
    """Runs shards as a worker on a host without the store would: the campaign's marker is not there."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        shard = replace(args[0], marker=".campaign-not-here")
        return super().submit(fn, shard, **kwargs)


def test_client_writes_records_a_worker_cannot(tmp_path: Path) -> None:
    report = run_campaign(replace(_spec(tmp_path), workers=1), executor=_NoSharedStore())
    [failure] = report.failures
    assert Path(failure.path).is_file() and load_failure(failure.path)["signature"] == failure.signature
    assert [p.name for p in (tmp_path / "failures").iterdir()] == [Path(failure.path).name]


def test_without_dask_the_option_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(SystemExit) as exc:
        main(["fuzz", "primary-backup", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"])
    assert exc.value.code == 3
    assert "pip install 'splitbrain[dask]'" in capsys.readouterr().err


def test_cli_dask_local(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fuzz", "primary-backup", "--variant", "early-ack", "--examples", "60", "--strategy", "swarm",
              "--executor", "dask-local", "--workers", "2", "--store", str(tmp_path), "--no-shrink"])
    out = capsys.readouterr().out
    assert exc.value.code == 1 and "FAILURE checker:linearizability" in out and "faults fired" in out

