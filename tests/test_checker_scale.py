"""Memory per search state is bounded by the history's concurrency, not its length (issue #19).

A configuration of the search is (first pending return, lanes of the open operations already
linearized, state, crash usage) — see ``docs/explanation/checker-scale.md`` — so a long Jepsen-style
history with crashed operations is decided in a memory budget that the previous configuration (a bitset
over every operation, plus one bit per crashed call used) ran out of: on the 20,000-operation invalid
history below it gave ``unknown`` with 1 GiB, and with 16 MiB it could not store a single state.
These tests assert verdicts under budgets, never timings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checker_support import cas_history
from splitbrain import check
from splitbrain.checker.layout import layout
from splitbrain.checker.linearizability import prepare
from splitbrain.cli import main
from splitbrain.histories import History
from splitbrain.models import get_model

MIB = 1 << 20


def test_a_configuration_is_as_wide_as_the_concurrency() -> None:
    """However long the history, five clients take at most five lanes (one 64-bit word of a memo key),
    and the crashed calls take none: they are a pool of a few classes, counted."""
    model = get_model("cas-register")
    for n in (2_000, 20_000):
        history = History.from_ops(cas_history(n, 5, seed=n))
        ops = prepare(history, model)
        lay = layout(ops, model)
        crashed = [i for i, op in enumerate(ops) if op.ret is None]
        assert len(crashed) > n // 400  # the history has crashed calls to pool
        assert lay.lanes == [5] and lay.width == 1
        assert all(lay.olane[i] == -1 and lay.oclass[i] >= 0 for i in crashed)
        assert len(lay.class_key) <= 5 + 25  # writes of 0-4 and cas of (0-4, 0-4): a class each at most
        assert len(lay.sym_rep) <= 3 * (5 + 25) + 6  # alike classes: reads of nil/0-4, writes, cas; ok or fail


@pytest.mark.parametrize(("engine", "n", "budget"), [("compiled", 20_000, 16 * MIB), ("pure", 4_000, 4 * MIB)])
def test_long_history_with_crashes_is_decided_in_a_small_budget(
    monkeypatch: pytest.MonkeyPatch, engine: str, n: int, budget: int
) -> None:
    if engine == "pure":
        monkeypatch.setenv("SPLITBRAIN_PURE_PYTHON", "1")
    good = History.from_ops(cas_history(n, 5, seed=3))
    bad = History.from_ops(cas_history(n, 5, seed=3, contradict=True))
    assert sum(op.status == "info" for op in good.operations) > n // 400
    assert check(good, "cas-register", max_memory=budget).valid is True
    result = check(bad, "cas-register", max_memory=budget)
    assert result.valid is False
    cx = result.counterexample
    assert cx is not None and cx.blocked is not None and cx.reason is None  # the search refuted it
    assert (cx.blocked.f, cx.blocked.output) == ("read", 8)  # the read of 8 after the write of 9


@pytest.mark.parametrize("pure", ["0", "1"])
def test_a_budget_too_small_ends_unknown(monkeypatch: pytest.MonkeyPatch, pure: str) -> None:
    monkeypatch.setenv("SPLITBRAIN_PURE_PYTHON", pure)
    bad = History.from_ops(cas_history(4_000, 5, seed=3, contradict=True))
    result = check(bad, "cas-register", max_memory=64 * 1024)
    assert result.valid == "unknown" and "MiB exhausted" in (result.reason or "")


def test_cli_max_memory_on_a_jepsen_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cas.log"
    lines = []
    for op in cas_history(20_000, 5, seed=4, contradict=True):
        value = "nil" if op.value is None else (f"[{op.value[0]} {op.value[1]}]" if isinstance(op.value, tuple)
                                                else str(op.value))
        lines.append(f"INFO  jepsen.util - {op.process}\t:{op.type}\t:{op.f}\t{value}")
    path.write_text("\n".join(lines) + "\n")
    for budget, code, says in ((16 * MIB, 1, "not linearizable"), (64 * 1024, 2, "unknown")):
        with pytest.raises(SystemExit) as info:
            main(["check", str(path), "-m", "cas-register", "--max-memory", str(budget)])
        out, _ = capsys.readouterr()
        assert info.value.code == code and says in out
