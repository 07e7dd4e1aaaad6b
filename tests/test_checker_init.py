"""Initial values (``--init``, ``init=``) and the memory budget (``--max-memory``, ``max_memory=``).

Knossos's models take an initial value — ``(multi-register {:x 0 :y 0})``, ``(cas-register 0)`` — and a
history recorded against a store that was not empty is checked wrongly without it. ``--init`` reads the
value in the history's own syntax: EDN for EDN and Jepsen-log histories, JSON for JSONL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitbrain import check
from splitbrain.cli import main
from splitbrain.errors import UsageError
from splitbrain.histories import History, Op
from splitbrain.models import CasRegister, get_model

#: Knossos-style: two registers that start at 0, transactions reading and writing both
MULTI = """{:process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:w :y 1]]}
{:process 1, :type :invoke, :f :txn, :value [[:r :y nil] [:w :x 2]]}
{:process 0, :type :ok, :f :txn, :value [[:r :x 0] [:w :y 1]]}
{:process 1, :type :ok, :f :txn, :value [[:r :y 1] [:w :x 2]]}
{:process 2, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}
{:process 2, :type :ok, :f :txn, :value [[:r :x 2] [:r :y 1]]}
"""

#: a cas register that starts at 0: the first cas succeeds
CAS_JSONL = "\n".join(json.dumps(e) for e in [
    {"process": 0, "type": "invoke", "f": "cas", "value": [0, 3]},
    {"process": 0, "type": "ok", "f": "cas", "value": [0, 3]},
    {"process": 1, "type": "invoke", "f": "read", "value": None},
    {"process": 1, "type": "ok", "f": "read", "value": 3},
]) + "\n"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture
def multi(tmp_path: Path) -> str:
    path = tmp_path / "multi.edn"
    path.write_text(MULTI)
    return str(path)


def test_multi_register_from_initial_values_cli(multi: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", multi, "-m", "multi-register"], capsys)
    assert code == 1 and "not linearizable" in out  # registers start as nil: :x cannot read 0
    code, out, _ = run(["check", multi, "-m", "multi-register", "--init", "{:x 0 :y 0}"], capsys)
    assert code == 0 and "multi.edn: linearizable" in out


def test_multi_register_from_initial_values_api(multi: str) -> None:
    assert check(multi, "multi-register").valid is False
    assert check(multi, "multi-register", init={"x": 0, "y": 0}).valid is True
    assert check(multi, "multi-register", init={"x": 0, "y": 5}).valid is True  # :y is written before read
    assert check(multi, "multi-register", init={"x": 1, "y": 0}).valid is False


def test_init_in_json_for_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cas.jsonl"
    path.write_text(CAS_JSONL)
    code, _, _ = run(["check", str(path), "-m", "cas-register"], capsys)
    assert code == 1
    code, out, _ = run(["check", str(path), "-m", "cas-register", "--init", "0"], capsys)
    assert code == 0, out
    code, _, err = run(["check", str(path), "-m", "cas-register", "--init", "{:x 0}"], capsys)
    assert code == 3 and "--init" in err and "JSON" in err


@pytest.mark.parametrize(
    ("model", "value", "message"),
    [
        ("multi-register", "{:x 0 :y", "not an EDN value"),  # not a value at all
        ("multi-register", "0 1", "more than one EDN value"),
        ("multi-register", "5", "multi-register starts from a map"),  # a value the model cannot start from
        ("mutex", "5", "mutex starts held (true) or free (false)"),
    ],
)
def test_bad_init_is_a_usage_error(
    multi: str, capsys: pytest.CaptureFixture[str], model: str, value: str, message: str
) -> None:
    code, out, err = run(["check", multi, "-m", model, "--init", value], capsys)
    assert code == 3  # as every other usage error of `splitbrain check`
    assert message in err and "Traceback" not in err and not out


def test_init_for_a_model_without_one_is_a_usage_error() -> None:
    class Fixed:
        name = "fixed"

        def init(self) -> int:
            return 0

        def step(self, state: int, op: object) -> tuple[int, ...]:
            return (state,)

    with pytest.raises(UsageError, match="takes no initial value"):
        get_model(Fixed(), init=1)
    history = History.from_ops([Op(process=0, type="invoke", f="read"), Op(process=0, type="ok", f="read")])
    with pytest.raises(UsageError, match="takes no model"):
        check(history, checker="causal", init=0)


def test_every_key_starts_from_init() -> None:
    events = []
    for k in ("a", "b"):
        events += [Op(process=0, type="invoke", f="read", key=k), Op(process=0, type="ok", f="read", value=7, key=k)]
    history = History.from_ops(events)
    assert check(history, "cas-register").valid is False
    assert check(history, "cas-register", init=7).valid is True


def test_a_workload_model_instance_carries_its_init() -> None:
    """A workload names its model as an instance to give it one: ``model = CasRegister(init=0)``."""
    model = CasRegister(init=0)
    history = History.from_ops([Op(process=0, type="invoke", f="read"), Op(process=0, type="ok", f="read", value=0)])
    assert get_model(model) is model and model.init() == 0
    assert check(history, model).valid is True
    assert check(history, CasRegister()).valid is False
    assert "init=0" in repr(model)


def test_max_memory_is_a_budget(multi: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="max_memory"):
        check(multi, "multi-register", max_memory=0)
    code, _, err = run(["check", multi, "-m", "multi-register", "--max-memory", "0"], capsys)
    assert code == 3 and "--max-memory" in err
    code, out, _ = run(["check", multi, "-m", "multi-register", "--init", "{:x 0 :y 0}", "--max-memory",
                        "100000000"], capsys)
    assert code == 0 and "linearizable" in out
