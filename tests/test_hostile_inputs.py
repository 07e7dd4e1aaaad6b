"""Every input ends in a verdict or a clean error: a generated suite of hostile and malformed histories,
in every format, against every model and checker (issue #23).

Hypothesis writes histories from each format's grammar — well-formed records with values of every shape
the format can express (maps, sets, deep nesting, huge integers, Unicode, NaN), mixed with broken ones
(cut lines, wrong types, unknown op types, control characters, garbage) — and ``splitbrain check`` must
answer each with exit 0, 1 or 2 (a verdict) or 3 (a one-line error naming the file), never an internal
error (4), never a traceback, and within its time budget.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splitbrain.cli import main
from splitbrain.models import available_models

MODELS = [name for name, _ in available_models()]
TARGETS = [["--model", name] for name in MODELS] + [["--checker", "causal"], ["--checker", "txn"]]
FUNCTIONS = ["read", "write", "cas", "add", "get", "put", "append", "txn", "acquire", "release", "enqueue",
             "dequeue", "pick", "record", "restart", "send", "deliver", "final-read", "r", "w", "", "Ω"]
TYPES = ["invoke", "ok", "fail", "info"]

# -- values ----------------------------------------------------------------------------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63 - 2, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8), st.sampled_from(["", "x", "nil", "٣"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
    ),
    max_leaves=12,
)
micro_ops = st.lists(st.tuples(st.sampled_from(["r", "w", "append", "read", "inc"]),
                               st.sampled_from(["x", "y", 1, None]), scalars | st.lists(scalars, max_size=3)),
                     max_size=3).map(lambda ms: [list(m) for m in ms])


@st.composite
def ops(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A history that is mostly well formed: processes invoke and complete in turn, with values and
    functions drawn widely, and now and then a field of the wrong type or an unknown op type."""
    out: list[dict[str, Any]] = []
    open_calls: dict[Any, dict[str, Any]] = {}
    for _ in range(draw(st.integers(0, 12))):
        process = draw(st.sampled_from([0, 1, 2, "p", "nemesis"]) | st.just(True) if draw(st.integers(0, 20)) == 0
                       else st.sampled_from([0, 1, 2]))
        f = draw(st.sampled_from(FUNCTIONS))
        value = draw(micro_ops) if f == "txn" and draw(st.booleans()) else draw(values)
        op: dict[str, Any] = {"process": process, "f": f, "value": value}
        if process in open_calls and draw(st.integers(0, 5)):
            op["type"] = draw(st.sampled_from(TYPES[1:]))
            op["f"] = open_calls.pop(process)["f"]
        else:
            op["type"] = draw(st.sampled_from(TYPES) if draw(st.integers(0, 10)) == 0 else st.just("invoke"))
            if op["type"] == "invoke":
                open_calls[process] = op
        if draw(st.integers(0, 4)) == 0:
            op["key"] = draw(st.sampled_from(["a", "b", 1, None]) | values)
        if draw(st.integers(0, 6)) == 0:
            op["time"] = draw(st.integers() | st.text(max_size=3))
        if draw(st.integers(0, 8)) == 0:
            op[draw(st.sampled_from(["vclock", "node", "index", "error", "extra"]))] = draw(values)
        out.append(op)
    return out


# -- the three formats -----------------------------------------------------------------------------------
def edn(value: Any) -> str:
    if value is None:
        return "nil"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "##NaN" if math.isnan(value) else repr(value) if math.isfinite(value) else "##Inf"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + " ".join(edn(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + " ".join(f"{edn(k)} {edn(v)}" for k, v in value.items()) + "}"
    raise AssertionError(value)


def edn_op(op: dict[str, Any]) -> str:
    fields = []
    for k, v in op.items():
        shown = f":{v}" if k in ("type", "f") and isinstance(v, str) and v and v.isidentifier() else edn(v)
        fields.append(f":{k} {shown}")
    return "{" + " ".join(fields) + "}"


def jepsen_line(op: dict[str, Any]) -> str:
    return f"INFO  jepsen.util - {op['process']}\t:{op['type']}\t:{op['f']}\t{edn(op['value'])}"


garbage = st.one_of(
    st.text(max_size=30), st.sampled_from(["{", "[", "{:process", '{"process": 0', "\x00\x01", "\u2028",
                                            "1 :invoke :read", "##", "#{1 1}", "(", "]]]]", "[" * 300]),
)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, str]:
    """``(format, text)``: a history written in one format, with a few lines broken."""
    fmt = draw(st.sampled_from(["jsonl", "edn", "jepsen-log"]))
    lines = []
    for op in draw(ops()):
        if fmt == "jsonl":
            line = json.dumps(op)
        elif fmt == "edn":
            line = edn_op(op)
        else:
            line = jepsen_line(op)
        if draw(st.integers(0, 15)) == 0:
            line = line[: draw(st.integers(0, len(line)))]  # cut short
        lines.append(line)
        if draw(st.integers(0, 20)) == 0:
            lines.append(draw(garbage))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return fmt, end.join(lines) + end


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def run_check(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(doc=documents(), target=st.sampled_from(TARGETS), auto=st.booleans())
def test_every_document_gets_a_verdict_or_a_clean_error(
    workdir: Path, capsys: pytest.CaptureFixture[str], doc: tuple[str, str], target: list[str], auto: bool
) -> None:
    fmt, text = doc
    path = workdir / f"h.{fmt}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    started = time.monotonic()
    code, out, err = run_check(capsys, ["check", str(path), *target, "--time", "5",
                                        "--format", "auto" if auto else fmt])
    assert time.monotonic() - started < 60, "ran far past its 5 s budget"
    assert code in (0, 1, 2, 3), f"exit {code}:\n{out}\n{err}\n--- input ---\n{text!r}"
    assert "Traceback" not in out + err
    if code == 3:
        assert err.startswith("splitbrain: error: "), err
        assert str(path) in err or "--" in err, err  # names the file (or the option at fault)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t[-1])
@pytest.mark.parametrize("value", [
    {"a": {"b": [1, 2]}}, [[[[[[[[[[1]]]]]]]]]], 2**200, -(2**70), "٣", "\u2028", "", [], {},
    [["w", "x", {"nested": True}]],
], ids=["map", "nested", "huge", "negative-huge", "arabic-digit", "line-separator", "empty-str", "empty-list",
        "empty-map", "txn-map"])
def test_every_value_shape_against_every_target(
    workdir: Path, capsys: pytest.CaptureFixture[str], target: list[str], value: Any
) -> None:
    path = workdir / "shape.jsonl"
    f = {"--checker": {"txn": "txn", "causal": "write"}}.get(target[0], {}).get(target[1], "write")
    path.write_text("".join(json.dumps(op) + "\n" for op in [
        {"process": 0, "type": "invoke", "f": f, "value": value}, {"process": 0, "type": "ok", "f": f, "value": value},
    ]))
    code, out, err = run_check(capsys, ["check", str(path), *target, "--time", "5"])
    assert code in (0, 1, 2, 3) and "Traceback" not in out + err, f"exit {code}: {out}{err}"


def test_deep_nesting_is_refused_in_every_format(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep_json = "[" * 5000 + "]" * 5000
    cases = {
        "jsonl": '{"process": 0, "type": "invoke", "f": "write", "value": ' + deep_json + "}\n",
        "edn": "{:process 0 :type :invoke :f :write :value " + deep_json + "}\n",
        "jepsen-log": "0 :invoke :write " + deep_json + "\n",
    }
    for fmt, text in cases.items():
        path = workdir / f"deep.{fmt}"
        path.write_text(text)
        code, _, err = run_check(capsys, ["check", str(path), "--model", "register"])
        assert code == 3 and f"deep.{fmt}:1:" in err, (fmt, err)
