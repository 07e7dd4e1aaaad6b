"""Malformed histories: every problem is an InvalidHistory naming the file, the line and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.histories import parse_history, read_history


def _error(tmp_path: Path, name: str, text: str | bytes, format: str = "auto") -> InvalidHistory:
    """Write ``text`` to ``name`` and return the error reading it raises."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(InvalidHistory) as info:
        read_history(path, format=format)
    return info.value


def _assert_names(error: InvalidHistory, name: str, line: int | None, *problem: str) -> None:
    message = str(error)
    where = f"{name}:{line}: " if line is not None else f"{name}: "
    assert where in message, message
    assert error.line == line
    assert error.source is not None and error.source.endswith(name)
    for words in problem:
        assert words in message, message


INVOKE_JSON = '{"process": 0, "type": "invoke", "f": "read", "value": null}\n'


def test_bad_json_syntax(tmp_path: Path) -> None:
    text = INVOKE_JSON + '{"process": 0, "type": "ok" "f": "read"}\n'
    error = _error(tmp_path, "h.jsonl", text)
    _assert_names(error, "h.jsonl", 2, "invalid JSON")


def test_truncated_json_line(tmp_path: Path) -> None:
    error = _error(tmp_path, "h.jsonl", INVOKE_JSON + "\n" + '{"process": 0, "type": "ok",\n')
    _assert_names(error, "h.jsonl", 3, "invalid JSON", "ends in the middle")


def test_wrong_field_type_names_the_field(tmp_path: Path) -> None:
    text = INVOKE_JSON + '{"process": 0, "type": "ok", "f": 3}\n'
    _assert_names(_error(tmp_path, "h.jsonl", text), "h.jsonl", 2, "field `f`", "expected str, got int")
    text = '{"process": 1.5, "type": "invoke", "f": "read"}\n'
    _assert_names(_error(tmp_path, "p.jsonl", text), "p.jsonl", 1, "field `process`", "got float")
    text = '{"process": 1, "type": "invoke", "f": "read", "vclock": {"n1": "x"}}\n'
    _assert_names(_error(tmp_path, "v.jsonl", text), "v.jsonl", 1, "field `vclock", "expected int, got str")


def test_missing_field_and_non_object(tmp_path: Path) -> None:
    text = '{"process": 0, "type": "invoke"}\n'
    _assert_names(_error(tmp_path, "m.jsonl", text), "m.jsonl", 1, "missing required field `f`")
    text = INVOKE_JSON + '["process", 0]\n'
    error = _error(tmp_path, "a.jsonl", text, format="jsonl")
    _assert_names(error, "a.jsonl", 2, "expected a JSON object")


UNKNOWN_TYPE = "unknown op type 'done' (expected one of invoke, ok, fail, info)"


def test_unknown_op_type_jsonl(tmp_path: Path) -> None:
    text = INVOKE_JSON + '{"process": 0, "type": "done", "f": "read"}\n'
    _assert_names(_error(tmp_path, "t.jsonl", text), "t.jsonl", 2, UNKNOWN_TYPE)


def test_unknown_op_type_edn_and_log(tmp_path: Path) -> None:
    text = "{:process 0 :type :invoke :f :read}\n{:process 0 :type :done :f :read}\n"
    _assert_names(_error(tmp_path, "t.edn", text), "t.edn", 2, UNKNOWN_TYPE)
    text = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:done\t:read\t1\n"
    _assert_names(_error(tmp_path, "t.log", text), "t.log", 2, UNKNOWN_TYPE)


def test_bad_edn_syntax_unclosed_map(tmp_path: Path) -> None:
    text = (
        "{:process 0, :type :invoke, :f :read, :value nil}\n"
        "{:process 0, :type :ok, :f :read, :value nil}\n"
        "{:process 1, :type :invoke, :f :read, :value nil\n"
    )
    _assert_names(_error(tmp_path, "u.edn", text), "u.edn", 3, "invalid EDN", "'{' is never closed")


def test_bad_edn_syntax_other(tmp_path: Path) -> None:
    text = "[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok, :f :read)]\n"
    _assert_names(_error(tmp_path, "b.edn", text), "b.edn", 2, "')' cannot close the '{' opened on line 2")
    text = '{:process 0, :type :invoke, :f :read}\n\n{:process 0, :type :ok, :f :read, :value "abc}\n'
    _assert_names(_error(tmp_path, "s.edn", text), "s.edn", 3, "unterminated string")
    text = "{:process 0, :type :invoke, :f :read, :value}\n"
    _assert_names(_error(tmp_path, "k.edn", text), "k.edn", 1, "key without a value")
    text = "{:process 0, :type :invoke, :f :read, :process 1}\n"
    _assert_names(_error(tmp_path, "d.edn", text), "d.edn", 1, "repeats the key :process")
    text = "{:process 0, :type :invoke, :f :read}\n}\n"
    _assert_names(_error(tmp_path, "c.edn", text), "c.edn", 2, "unexpected '}'")


def test_bad_edn_op_maps(tmp_path: Path) -> None:
    text = "[{:process 0, :type :invoke, :f :read}\n\n 42]"
    _assert_names(_error(tmp_path, "n.edn", text), "n.edn", 3, "expected an op map", "got integer")
    text = "{:process 0, :type :invoke}\n"
    _assert_names(_error(tmp_path, "f.edn", text), "f.edn", 1, "the op map has no :f")
    text = "{:process [0], :type :invoke, :f :read}\n"
    _assert_names(_error(tmp_path, "p.edn", text), "p.edn", 1, ":process must be an integer or a keyword")
    text = '{:process 0, :type :invoke, :f :read, :time "noon"}\n'
    _assert_names(_error(tmp_path, "t.edn", text), "t.edn", 1, ":time must be an integer", '"noon"')


def test_completion_without_invoke(tmp_path: Path) -> None:
    text = (
        INVOKE_JSON
        + '{"process": 0, "type": "ok", "f": "read", "value": 1}\n'
        + '{"process": 1, "type": "ok", "f": "write", "value": 2}\n'
    )
    error = _error(tmp_path, "c.jsonl", text)
    _assert_names(error, "c.jsonl", 3, "ok completion of write by process 1 has no open invoke")


def test_completion_without_invoke_in_a_multiline_map(tmp_path: Path) -> None:
    text = (
        "[{:process 0, :type :invoke, :f :read}\n"  # 1
        " {:process 0, :type :ok, :f :read}\n"  # 2
        " ; process 5 never invoked\n"  # 3
        " {:process 5,\n"  # 4: the map starts here
        "  :type :fail,\n"  # 5
        "  :f :write}]\n"  # 6
    )
    error = _error(tmp_path, "m.edn", text)
    _assert_names(error, "m.edn", 4, "fail completion of write by process 5 has no open invoke")


def test_two_open_calls(tmp_path: Path) -> None:
    text = (
        "INFO  jepsen.util - 3\t:invoke\t:write\t1\n"
        "INFO  jepsen.util - 4\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 3\t:invoke\t:read\tnil\n"
    )
    error = _error(tmp_path, "o.log", text)
    _assert_names(error, "o.log", 3, "process 3 invokes read while its write invoked on line 1 is still open")


def test_completion_with_a_different_f(tmp_path: Path) -> None:
    text = "{:process 0 :type :invoke :f :read}\n{:process 1 :type :invoke :f :cas :value [1 2]}\n" + (
        "{:process 0 :type :ok :f :write :value 3}\n"
    )
    error = _error(tmp_path, "f.edn", text)
    _assert_names(error, "f.edn", 3, "does not match its open invoke of read on line 1")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("empty.jsonl", ""),
        ("blank.jsonl", "\n  \n\t\n"),
        ("comments.edn", "; nothing here\n;; or here\n"),
        ("vector.edn", "[]\n"),
        ("list.edn", "( )"),
    ],
)
def test_empty_history(tmp_path: Path, name: str, text: str) -> None:
    _assert_names(_error(tmp_path, name, text), name, None, "the history is empty")


def test_undetectable_format(tmp_path: Path) -> None:
    error = _error(tmp_path, "what.txt", "\n\nprocess=0 type=invoke f=read\n")
    _assert_names(error, "what.txt", 3, "cannot tell the history format", "pass the format explicitly")


def test_nonexistent_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.jsonl"
    with pytest.raises(InvalidHistory, match="no such file") as info:
        read_history(path)
    assert info.value.source == str(path)
    assert str(info.value) == f"{path}: no such file"


def test_directory_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(InvalidHistory, match="directory"):
        read_history(tmp_path)
    error = _error(tmp_path, "latin1.edn", b'{:process 0 :type :invoke :f :read}\n{:value "\xe9"}\n')
    _assert_names(error, "latin1.edn", 2, "not UTF-8")


def test_not_a_jepsen_log_record(tmp_path: Path) -> None:
    text = (
        "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
        "INFO  jepsen.core - Run complete, writing\n"
        "INFO  jepsen.util - 0\t:ok\t:read\t1\n"
    )
    error = _error(tmp_path, "r.log", text)
    _assert_names(error, "r.log", 2, "not a jepsen log record: 'INFO  jepsen.core - Run complete, writing'")


def test_bad_value_in_a_jepsen_log(tmp_path: Path) -> None:
    text = "\nINFO  jepsen.util - 0\t:invoke\t:cas\t[1 2\n"
    _assert_names(_error(tmp_path, "v.log", text), "v.log", 2, "invalid EDN", "never closed")


def test_errors_are_value_errors_and_formats_are_checked() -> None:
    with pytest.raises(ValueError, match="history:1: unknown op type"):
        parse_history('{"process": 0, "type": "begin", "f": "read"}')
    with pytest.raises(UsageError, match="unknown history format 'json'"):
        parse_history(INVOKE_JSON, "json")
    with pytest.raises(UsageError, match="expected one of auto, jsonl, edn, jepsen-log"):
        read_history("whatever.jsonl", format="csv")
