"""Stress mode: real OS threads, recorded and checked with the same rate-limit properties.

``check-then-act`` must show up under real threads: with ConTest-style noise (``time.sleep(0)`` at the
object's declared points) and a 1 µs switch interval, each variant is given ``ATTEMPTS`` runs of
``CALLS`` calls from 8 threads and must be caught in one of them (it is caught on the first run in
nearly every measurement; see docs/explanation/zoo/traffic.md). The correct versions must pass every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from splitbrain.cli import main
from splitbrain.errors import UsageError
from splitbrain.histories import read_history
from splitbrain.live.stress import StressSync, run_stress, stress_until

ATTEMPTS = 5
CALLS = 2000
THREADS = 8


@pytest.mark.parametrize("target", ["token-bucket", "leaky-bucket"])
def test_check_then_act_shows_up_under_real_threads(target: str) -> None:
    result, ran = stress_until(target, "check-then-act", attempts=ATTEMPTS, threads=THREADS, calls=CALLS)
    assert result.valid is False, f"not caught in {ATTEMPTS} runs: {result.summary()}"
    assert result.explanation.startswith("rate limit exceeded:")
    assert ran <= ATTEMPTS


@pytest.mark.parametrize("target", ["token-bucket", "leaky-bucket"])
def test_the_correct_versions_pass_under_real_threads(target: str) -> None:
    for _ in range(2):
        result = run_stress(target, "correct", threads=THREADS, calls=CALLS)
        assert result.valid is True, result.explanation
        assert result.admitted > 0 and result.rejected > 0  # the bucket was contended and drained


def test_every_call_is_recorded_with_monotonic_nanoseconds() -> None:
    before = sys.getswitchinterval()
    result = run_stress("token-bucket", threads=4, calls=400, noise=False)
    assert sys.getswitchinterval() == before  # restored after the run
    ops = result.history.operations
    assert len(ops) == 400 and {op.process for op in ops} == {0, 1, 2, 3}
    assert result.admitted + result.rejected == 400
    times = [op.time for op in result.history.ops if isinstance(op.time, int)]
    assert len(times) == 800 and times == sorted(times)
    assert all(op.completion is not None and op.completion.error == "rate limited" for op in ops if not op.ok)


def test_stress_sync() -> None:
    sync = StressSync(noise=True)
    first = sync.now()
    lock = sync.lock()
    with lock:
        sync.point("anything")
    assert isinstance(first, int) and sync.now() >= first


def test_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"unknown stress target .leaky-queue. \(registered: leaky-bucket, token"):
        run_stress("leaky-queue")
    with pytest.raises(UsageError, match="no variant 'racy'"):
        run_stress("token-bucket", "racy")
    with pytest.raises(UsageError, match="at least one call per thread"):
        run_stress("token-bucket", threads=8, calls=4)
    with pytest.raises(UsageError, match="attempts must be at least 1"):
        stress_until("token-bucket", attempts=0)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["stress", "leaky-bucket", "--variant", "check-then-act", "--attempts", str(ATTEMPTS),
                            "--save", str(tmp_path / "h.jsonl")], capsys)
    assert code == 1, out
    assert "leaky-bucket/check-then-act: 2000 calls from 8 threads" in out and "VIOLATION" in out
    assert "rate limit exceeded" in out
    assert len(read_history(tmp_path / "h.jsonl").operations) == 2000
    code, out, _ = run_cli(["stress", "token-bucket", "--calls", "400", "--threads", "4"], capsys)
    assert code == 0 and "passed" in out
    code, _, err = run_cli(["stress", "token-bucket", "--variant", "racy"], capsys)
    assert code == 3 and "token-bucket has no variant 'racy'" in err
    code, _, err = run_cli(["stress", "leaky-queue"], capsys)
    assert code == 3 and "unknown stress target 'leaky-queue'" in err
