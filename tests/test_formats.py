"""History formats: the real corpus parses, each EDN variant reads, writers round-trip, detection works."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.histories import (
    FORMATS,
    History,
    Keyword,
    Op,
    OpType,
    detect_format,
    dumps_history,
    parse_history,
    read_history,
    write_history,
)
from splitbrain.histories.formats.edn import Symbol

# -- the Porcupine corpus ----------------------------------------------------------------------------

# The README's table of the 11 line shapes over the 102 non-empty etcd files.
ETCD_SHAPES = {
    ("invoke", "read", "nil"): 2939,
    ("invoke", "write", "N"): 2748,
    ("invoke", "cas", "[A B]"): 2836,
    ("ok", "read", "N"): 2719,
    ("ok", "read", "nil"): 203,
    ("ok", "write", "N"): 2122,
    ("ok", "cas", "[A B]"): 431,
    ("fail", "cas", "[A B]"): 1748,
    ("info", "write", ":timed-out"): 626,
    ("info", "cas", ":timed-out"): 657,
    ("fail", "read", ":timed-out"): 17,
}
KV_FILES = ["c01-ok.txt", "c01-bad.txt", "c10-ok.txt", "c10-bad.txt", "c50-ok.txt", "c50-bad.txt"]


def _shape(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, Keyword):
        return f":{value}"
    if isinstance(value, int):
        return "N"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return "[A B]"
    return f"unexpected {value!r}"


def _nonblank_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().split("\n") if line.strip())


def test_every_etcd_log_parses_with_the_readme_shapes(porcupine: Path) -> None:
    files = sorted((porcupine / "jepsen").glob("etcd_*.log"))
    assert len(files) == 103
    shapes: Counter[tuple[str, str, str]] = Counter()
    parsed = 0
    for path in files:
        if path.name == "etcd_095.log":
            continue
        assert detect_format(path.read_text()) == "jepsen-log", path.name
        history = read_history(path)
        assert len(history) == _nonblank_lines(path), path.name
        assert all(isinstance(op.process, int) for op in history)
        shapes.update((op.type, op.f, _shape(op.value)) for op in history)
        parsed += 1
    assert parsed == 102
    assert dict(shapes) == ETCD_SHAPES


def test_the_empty_etcd_log_is_an_error(porcupine: Path) -> None:
    with pytest.raises(InvalidHistory, match="the history is empty") as info:
        read_history(porcupine / "jepsen" / "etcd_095.log")
    assert "etcd_095.log" in str(info.value)


def test_etcd_000_in_detail(porcupine: Path) -> None:
    history = read_history(porcupine / "jepsen" / "etcd_000.log")
    assert len(history) == 170
    assert history.lines == tuple(range(1, 171))
    first = history.ops[0]
    assert (first.process, first.type, first.f, first.value) == (0, "invoke", "read", None)
    assert type(first.type) is str and type(first.f) is str
    timed_out = [op for op in history.operations if op.completion and op.completion.type == "info"]
    assert timed_out, "etcd_000 has :info :timed-out completions"
    for operation in timed_out:
        assert operation.status == "info" and operation.unknown
        assert operation.f in ("write", "cas")
        assert operation.completion is not None and operation.completion.value == Keyword("timed-out")


@pytest.mark.parametrize("number", [100, 101, 102])
def test_space_separated_logs_have_failed_timed_out_reads(porcupine: Path, number: int) -> None:
    path = porcupine / "jepsen" / f"etcd_{number:03d}.log"
    assert "\t" not in path.read_text()  # these three use runs of spaces, not tabs
    history = read_history(path, format="jepsen-log")
    failed_reads = [op for op in history.operations if op.f == "read" and op.status == "fail"]
    assert len(failed_reads) == {100: 5, 101: 5, 102: 7}[number]
    for operation in failed_reads:
        assert operation.completion is not None
        assert operation.completion.value == "timed-out"
        assert operation.ret == operation.completion.index


@pytest.mark.parametrize("name", KV_FILES)
def test_kv_histories_parse_as_edn(porcupine: Path, name: str) -> None:
    path = porcupine / "kv" / name
    assert detect_format(path.read_text()) == "edn"
    history = read_history(path)
    assert len(history) == _nonblank_lines(path)
    assert {op.type for op in history} == {"invoke", "ok"}
    assert {op.f for op in history} <= {"get", "put", "append"}
    for op in history:
        assert type(op.key) is str and op.key in {str(k) for k in range(10)}
        assert op.value is None or type(op.value) is str
        assert isinstance(op.process, int)
    assert all(operation.status == "ok" for operation in history.operations)
    assert len(history.operations) * 2 == len(history)


def test_kv_first_line(porcupine: Path) -> None:
    history = read_history(porcupine / "kv" / "c01-ok.txt")
    gets = [op for op in history if op.f == "get" and op.type == "invoke"]
    assert gets and all(op.value is None for op in gets)
    appended = [op for op in history if op.f == "append" and op.type == "ok"]
    assert all(op.value.startswith("x ") and op.value.endswith(" y") for op in appended)


# -- EDN variants ------------------------------------------------------------------------------------


def test_edn_vector_wrapped_history() -> None:
    text = (
        "[{:process 0, :type :invoke, :f :write, :value 1}\n {:process 0, :type :ok, :f :write, :value 1}]\n"
    )
    history = parse_history(text, source="h.edn")
    assert detect_format(text) == "edn"
    assert [(op.type, op.f, op.value) for op in history] == [("invoke", "write", 1), ("ok", "write", 1)]
    assert history.lines == (1, 2)
    assert history.source == "h.edn"


def test_edn_list_wrapped_history() -> None:
    text = "({:process 3 :type :invoke :f :read :value nil}\n\n {:process 3 :type :ok :f :read :value 4})"
    history = parse_history(text)
    assert history.lines == (1, 3)
    assert history.operations[0].output == 4


def test_edn_comments_commas_and_multiline_maps() -> None:
    text = (
        "; a Knossos-style history\n"  # 1
        "{:process 0,\n"  # 2
        " :type :invoke,   ; the call\n"  # 3
        " :f :cas,\n"  # 4
        " :value [1 2]}\n"  # 5
        ",,\n"  # 6
        "{:process 0 :type :ok :f :cas :value [1, 2]} ; done\n"  # 7
        "#_{:process 9 :type :invoke :f :read}\n"  # 8: discarded
        ";; the end"  # 9: a comment with no newline after it
    )
    history = parse_history(text)
    assert history.lines == (2, 7)
    assert [op.value for op in history] == [(1, 2), (1, 2)]
    assert history.operations[0].status == "ok"


def test_edn_extra_keys() -> None:
    text = (
        '{:process 1, :type :invoke, :f :read, :value nil, :time 1234, :index 7, :node "n2"}\n'
        '{:process 1, :type :fail, :f :read, :value nil, :time 1300, :index 8, :error "boom",'
        " :custom/tag #{:a :b}, :latency 2.5}\n"
    )
    invoke, fail = parse_history(text).ops
    assert (invoke.time, invoke.index, invoke.node) == (1234, 0, "n2")  # index is the position
    assert (fail.time, fail.error) == (1300, "boom")
    assert fail.extra == {"custom/tag": frozenset({"a", "b"}), "latency": 2.5}
    assert invoke.extra is None


def test_edn_cas_and_txn_values() -> None:
    text = (
        "{:process 0, :type :invoke, :f :cas, :value [1 2]}\n"
        "{:process 0, :type :ok, :f :cas, :value [1 2]}\n"
        "{:process 1, :type :invoke, :f :txn, :value [[:read :x nil] [:write :y 2]]}\n"
        "{:process 1, :type :ok, :f :txn, :value [[:read :x -1] [:write :y 2]]}\n"
    )
    history = parse_history(text)
    assert history.ops[0].value == (1, 2)
    txn = history.operations[1]
    assert txn.input == (("read", "x", None), ("write", "y", 2))
    assert txn.output == (("read", "x", -1), ("write", "y", 2))
    assert isinstance(txn.input[0][0], Keyword) and repr(txn.input[0][0]) == ":read"
    assert type(txn.f) is str and txn.f == "txn"


def test_edn_scalars_and_nemesis() -> None:
    text = (
        '{:process :nemesis, :type :info, :f :start, :value [:isolated {"n1" #{"n2" "n3"}}]}\n'
        '{:process 2, :type :invoke, :f :write, :value {:s "a \\"q\\" \\\\ b\\n", :t true, :u false,'
        " :x -1.5e3, :big 12345678901234567890N, :inf ##Inf, :sym foo}}\n"
        "{:process 2, :type :ok, :f :write, :value nil}\n"
    )
    history = parse_history(text)
    nemesis = history.ops[0]
    assert nemesis.process == "nemesis" and type(nemesis.process) is str
    assert history.faults == [nemesis]
    assert nemesis.value == ("isolated", {"n1": frozenset({"n2", "n3"})})
    value = history.ops[1].value
    assert value["s"] == 'a "q" \\ b\n'
    assert value["t"] is True and value["u"] is False
    assert value["x"] == -1500.0 and value["big"] == 12345678901234567890
    assert value["inf"] == float("inf")
    assert value["sym"] == "foo" and isinstance(value["sym"], Symbol)
    assert len(history.operations) == 1


def test_edn_writer_spells_ops_the_jepsen_way() -> None:
    op = Op(process=0, type="invoke", f="cas", value=(1, 2))
    assert dumps_history([op], "edn") == "{:process 0, :type :invoke, :f :cas, :value [1 2]}\n"
    read = Op(process="nemesis", type="info", f="start", value=None, key="k", time=5)
    assert dumps_history([read], "edn") == (
        '{:process :nemesis, :type :info, :f :start, :key "k", :value nil, :time 5}\n'
    )
    history = History.from_ops([op])
    assert ":index 0" in dumps_history(history, "edn")


# -- round trips ----------------------------------------------------------------------------------------

HAND_MADE = [
    Op(process=0, type="invoke", f="cas", value=(1, 2), time=10, node="n1", vclock={"n1": 1}),
    Op(process=0, type="ok", f="cas", value=(1, 2), time=12, node="n1", vclock={"n1": 2, "n2": 1}),
    Op(
        process=1,
        type="invoke",
        f="txn",
        key='acct "7"',
        value=((Keyword("read"), Keyword("x"), None), (Keyword("write"), Keyword("y"), 2)),
    ),
    Op(
        process=1,
        type="ok",
        f="txn",
        key='acct "7"',
        value=((Keyword("read"), Keyword("x"), -3), (Keyword("write"), Keyword("y"), 2)),
    ),
    Op(process="nemesis", type="info", f="start", value=(Keyword("isolated"), {"n1": ("n2", "n3")})),
    Op(process=2, type="invoke", f="write", value='say "hi" \\ back\nnew line\ttab', key="k"),
    Op(process=2, type="info", f="write", value=Keyword("timed-out"), error="timeout after 5 s"),
    Op(process=3, type="invoke", f="add", value=-7.25, extra={"tag": "x", "attempt": 2}),
    Op(process=3, type="fail", f="add", value=-7.25, error=(Keyword("not-found"), "no such key")),
    Op(process=4, type="invoke", f="my op", value=-(2**40)),
]


def _fields(op: Op) -> tuple[Any, ...]:
    return (op.process, op.type, op.f, op.value, op.key, op.time, op.node, op.vclock, op.error, op.extra)


@pytest.mark.parametrize("fmt", ["jsonl", "edn"])
def test_hand_made_round_trip(fmt: str, tmp_path: Path) -> None:
    original = History.from_ops(HAND_MADE)
    path = tmp_path / f"history.{fmt}"
    write_history(original, path, format=fmt)
    again = read_history(path)  # auto detection must pick the format that was written
    assert detect_format(path.read_text()) == fmt
    assert [_fields(op) for op in again] == [_fields(op) for op in original]
    assert [op.index for op in again] == list(range(len(HAND_MADE)))
    assert list(tmp_path.iterdir()) == [path]  # the temporary file was renamed, none left behind


def test_edn_round_trip_keeps_keywords_and_sets() -> None:
    op = Op(
        process=0,
        type="invoke",
        f="add",
        value=(Keyword("a"), "a", frozenset({1, 2}), {Keyword("k"): Symbol("sym"), 3: None}),
    )
    value = parse_history(dumps_history([op], "edn")).ops[0].value
    assert _typed(value) == _typed(op.value)


def test_write_history_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    write_history(History.from_ops(HAND_MADE[:2]), path)
    before = path.read_text()
    bad = Op(process=0, type="invoke", f="read", value=object())
    with pytest.raises(UsageError, match="cannot write op 0"):
        write_history([bad], path)
    assert path.read_text() == before  # a failed write leaves the old file whole
    assert list(tmp_path.iterdir()) == [path]


def test_jepsen_log_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="jsonl, edn"):
        write_history(History.from_ops(HAND_MADE[:2]), tmp_path / "h.log", format="jepsen-log")
    assert not (tmp_path / "h.log").exists()
    with pytest.raises(UsageError, match="unknown history format 'yaml'"):
        dumps_history(HAND_MADE[:2], "yaml")
    assert FORMATS == ("jsonl", "edn", "jepsen-log")


def _typed(value: Any) -> Any:
    """A value with every element tagged by its exact type, so equal-but-different types differ."""
    if isinstance(value, tuple):
        return ("vec", tuple(_typed(v) for v in value))
    if isinstance(value, dict):
        return ("map", frozenset((_typed(k), _typed(v)) for k, v in value.items()))
    if isinstance(value, frozenset):
        return ("set", frozenset(_typed(v) for v in value))
    return (type(value).__name__, value)


_NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True)
_INT64 = st.integers(-(2**63), 2**63 - 1)
_JSON_ATOMS = (
    st.none() | st.booleans() | _INT64 | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
_JSON_VALUES = st.recursive(
    _JSON_ATOMS,
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_EDN_ATOMS = _JSON_ATOMS | st.integers() | _NAMES.map(Keyword) | st.floats(allow_nan=False)
_EDN_VALUES = st.recursive(
    _EDN_ATOMS,
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_EDN_ATOMS, inner, max_size=3)
        | st.frozensets(_EDN_ATOMS, max_size=3)
    ),
    max_leaves=8,
)
_OP_FIELDS = {"process", "type", "f", "value", "index", "time", "node", "vclock", "key", "error"}


@st.composite
def _histories(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> list[Op]:
    """Calls that each complete before the next begins, plus nemesis events, with every field set."""
    ops: list[Op] = []
    for i in range(draw(st.integers(1, 4))):
        f = draw(_NAMES | st.text())
        common: dict[str, Any] = {
            "key": draw(st.none() | values),
            "node": draw(st.none() | st.text()),
            "vclock": draw(st.none() | st.dictionaries(st.text(), _INT64, max_size=3)),
            "extra": draw(
                st.none()
                | st.dictionaries(
                    st.text().filter(lambda k: k not in _OP_FIELDS), values, min_size=1, max_size=2
                )
            ),
        }
        process = i if draw(st.booleans()) else f"client-{i}"
        ops.append(Op(process=process, type="invoke", f=f, value=draw(values), time=draw(_INT64), **common))
        done: OpType = draw(st.sampled_from(["ok", "fail", "info"]))
        ops.append(Op(process=process, type=done, f=f, value=draw(values), error=draw(values), **common))
        if draw(st.booleans()):
            ops.append(Op(process="nemesis", type="info", f="kill", value=draw(values)))
    return ops


def _plain(value: Any) -> Any:
    """What JSON keeps of a value: keywords are strings."""
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value) if isinstance(value, str) else value


@settings(deadline=None)  # generation dominates; a loaded CI machine must not fail on time
@given(_histories(_JSON_VALUES))
def test_jsonl_round_trip_property(ops: list[Op]) -> None:
    again = parse_history(dumps_history(ops, "jsonl"), "jsonl")
    assert [_typed(_plain(_fields(op))) for op in again] == [_typed(_plain(_fields(op))) for op in ops]


@settings(deadline=None)
@given(_histories(_EDN_VALUES))
def test_edn_round_trip_property(ops: list[Op]) -> None:
    again = parse_history(dumps_history(ops, "edn"), "edn")
    assert [_typed(_fields(op)) for op in again] == [_typed(_fields(op)) for op in ops]


# -- jepsen-log details and detection ----------------------------------------------------------------


def test_jepsen_log_variants() -> None:
    text = (
        "INFO  jepsen.util - 17\t:invoke\t:cas\t[4 4]\n"
        "\n"
        "17 :info :cas :timed-out  socket read timed out\n"  # no prefix; error text after the value
        '2017-05-28 10:00:01,123{GMT}\tINFO\t[jepsen worker 3] jepsen.util: 3\t:invoke\t:write\t"s p"\n'
        "INFO  jepsen.util - :nemesis :info :start nil\n"
    )
    history = parse_history(text, "jepsen-log")
    cas, info, write, nemesis = history.ops
    assert history.lines == (1, 3, 4, 5)
    assert cas.value == (4, 4)
    assert info.value == "timed-out" and isinstance(info.value, Keyword)
    assert info.error == "socket read timed out"
    assert write.value == "s p" and write.process == 3
    assert nemesis.process == "nemesis" and nemesis.f == "start"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n", "jepsen-log"),
        ("\n\n0\t:invoke\t:read\tnil\n", "jepsen-log"),
        ("3   :ok   :write   3\n", "jepsen-log"),
        ('{"process": 0, "type": "invoke", "f": "read"}\n', "jsonl"),
        ('  {"process":0,"type":"invoke","f":"read"}', "jsonl"),
        ('{\n"process": 0}', "jsonl"),
        ("{}", "jsonl"),
        ("{:process 0, :type :invoke, :f :read}", "edn"),
        ("{\n :process 0}", "edn"),
        ("[{:process 0 :type :invoke :f :read}]", "edn"),
        ("({:process 0 :type :invoke :f :read})", "edn"),
        ("; Jepsen history\n{:process 0}", "edn"),
        ("#_{:a 1}\n{:process 0}", "edn"),
    ],
)
def test_detect_format(text: str, expected: str) -> None:
    assert detect_format(text) == expected


def test_explicit_format_overrides_detection() -> None:
    with pytest.raises(InvalidHistory, match="invalid JSON"):
        parse_history("{:process 0, :type :invoke, :f :read}", "jsonl", source="h")
    assert len(parse_history("{:process 0, :type :invoke, :f :read}", "edn")) == 1


def test_edn_fast_path_reads_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast EDN path tokenizes a chunk at a time; a string holding a line end that a chunk cuts
    sends the text to the full reader, which reads it whole (here: every line its own chunk)."""
    from splitbrain.histories.formats import edn

    text = ('{:process 0, :type :invoke, :f :write, :value "a\nb"}\n'
            '{:process 0, :type :ok, :f :write, :value "a\nb"}\n'
            '{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value "a\nb"}\n')
    whole = parse_history(text, "edn")
    monkeypatch.setattr(edn, "_CHUNK", 1)
    chunked = parse_history(text, "edn")
    assert chunked.ops == whole.ops and chunked.lines == whole.lines
    assert chunked.operations[1].output == "a\nb"
    plain = "".join(f"{{:process {p}, :type :{t}, :f :write, :value {p}}}\n"
                    for p in range(50) for t in ("invoke", "ok"))
    assert parse_history(plain, "edn").lines == tuple(range(1, 101))
