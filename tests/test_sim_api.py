"""The simulator's public surface: ``__all__``, errors that say what to fix, the workload registry, the
layering rule, and the documentation example (it must run)."""

from __future__ import annotations

import ast
import gc
import re
from pathlib import Path

import pytest

import splitbrain.sim as sim
from splitbrain import load_workload
from splitbrain.errors import UsageError
from splitbrain.sim import FaultConfig, Trace, World

ROOT = Path(__file__).resolve().parent.parent


def test_all_lists_exactly_the_public_names() -> None:
    # (pytest rewrites asserts in this distribution, which adds "@py_..." names)
    public = {name for name in vars(sim) if not name.startswith(("_", "@"))}
    submodules = {
        "client", "clock", "faults", "nemesis", "network", "node", "runtime", "scheduler", "sessions",
        "threads", "trace", "vclock", "workload", "world", "loading",
        "thread_code", "thread_control", "thread_primitives", "thread_watchdog", "aims", "aiming", "audit", "disk",
        "properties",
    }
    assert set(sim.__all__) == public - submodules
    assert len(set(sim.__all__)) == len(sim.__all__)


def test_sim_imports_only_lower_layers() -> None:
    allowed = ("splitbrain.sim", "splitbrain.histories", "splitbrain.models", "splitbrain.errors", "splitbrain.plugins")
    for path in sorted((ROOT / "src" / "splitbrain" / "sim").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("splitbrain"):
                assert node.module.startswith(allowed), f"{path.name} imports {node.module}"


def test_unknown_names_are_explained() -> None:
    with pytest.raises(UsageError, match=r"unknown workload 'primary_backup'; did you mean 'primary-backup'"):
        load_workload("primary_backup")
    with pytest.raises(UsageError, match=r"no variant 'buggy' \(variants: correct, early-ack, local-read\)"):
        World(load_workload("primary-backup"), "buggy")
    with pytest.raises(UsageError, match=r"unknown fault kind 'flood' \(known: drop, duplicate"):
        FaultConfig.coerce(["partition", "flood"])
    with pytest.raises(UsageError, match="either seed or source"):
        World(load_workload("primary-backup"), seed=1, source=sim.RandomSource(1))


class _Probe(sim.Node):
    seen: list[bool] = []

    def on_start(self) -> None:
        _Probe.seen.append(gc.isenabled())


class _ProbeWorkload(sim.Workload):
    name = "probe"
    model = "register"
    variants = {"correct": _Probe}
    node_count = 1
    clients = 0
    faults = sim.NO_FAULTS


def test_run_pauses_the_cyclic_collector_and_puts_it_back() -> None:
    _Probe.seen.clear()
    assert gc.isenabled()
    World(_ProbeWorkload(), seed=0, max_steps=5).run()
    assert _Probe.seen == [False] and gc.isenabled()
    gc.disable()
    try:
        World(_ProbeWorkload(), seed=0, max_steps=5).run()
        assert not gc.isenabled()  # a caller who turned it off keeps it off
    finally:
        gc.enable()


def test_step_refuses_an_event_that_is_not_enabled() -> None:
    world = World(load_workload("primary-backup"), seed=0, faults=())
    with pytest.raises(UsageError, match=r"'crash:n1' is not enabled .* enabled: \['invoke:0'"):
        world.step("crash:n1")


def test_bad_trace_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"workload": 3}')
    with pytest.raises(UsageError, match=r"t.json: not a splitbrain trace"):
        Trace.load(path)


def test_replay_checks_the_workload() -> None:
    trace = World(load_workload("primary-backup"), seed=0, max_steps=10).run().trace
    other = load_workload("primary-backup").__class__(name="other")
    with pytest.raises(UsageError, match="workload 'primary-backup', not 'other'"):
        sim.replay(trace, other)


def test_handler_errors_say_where_they_happened() -> None:
    class Broken(sim.Node):
        def on_start(self) -> None:
            raise KeyError("boom")

    workload = load_workload("primary-backup").__class__(name="broken", variants={"correct": Broken})
    with pytest.raises(KeyError) as info:
        World(workload, seed=0).run()
    assert any("Broken n1>.on_start at step 0" in note for note in info.value.__notes__)


def test_documentation_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def example(page: str, marker: str) -> str:
        blocks = re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), re.S)
        return next(block for block in blocks if marker in block)

    register = example("docs/how-to/write-a-workload.md", "class ForgetfulRegister")
    threads = example("docs/how-to/controlled-threads.md", "class CounterNode")
    monkeypatch.chdir(tmp_path)
    exec(compile(register, "write-a-workload.md", "exec"), {"__name__": "docs_example"})
    assert (tmp_path / "forgetful.json").exists()
    assert Trace.load(tmp_path / "forgetful.json").variant == "forgetful"
    namespace: dict[str, object] = {"__name__": "docs_threads_example"}
    exec(compile(threads, "controlled-threads.md", "exec"), namespace)
    small = namespace["small"]
    assert small.result.verdict.signature == "checker:linearizability"  # type: ignore[attr-defined]
    assert "-> at 'write value'" in small.trace.describe()  # type: ignore[attr-defined]
