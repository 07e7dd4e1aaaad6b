"""`splitbrain check` and `splitbrain models` as a user meets them: output, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitbrain.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


GOOD = """{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 1}
"""
BAD = GOOD.replace(":f :read, :value 1}", ":f :read, :value 2}")


def test_valid_and_invalid_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "good.edn", GOOD)
    bad = write(tmp_path / "bad.edn", BAD)
    code, out, _ = run(["check", good, "--model", "cas-register"], capsys)
    assert code == 0 and "good.edn: linearizable" in out
    code, out, _ = run(["check", good, bad, "-m", "cas-register"], capsys)
    assert code == 1
    assert "bad.edn: not linearizable" in out
    assert "cannot place" in out and "p1 read nil -> 2" in out


def test_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "good.edn", GOOD)
    bad = write(tmp_path / "bad.edn", BAD)
    code, out, _ = run(["check", good, bad, "-m", "cas-register", "--json"], capsys)
    assert code == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["file"] for r in rows] == [good, bad]
    assert [r["valid"] for r in rows] == [True, False]
    assert all(r["operations"] == 2 and r["seconds"] >= 0 for r in rows)
    assert rows[1]["counterexample"]["blocked"]["text"] == "p1 read nil -> 2"


def test_unknown_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [f"{{:process {p}, :type :invoke, :f :write, :value {p}}}" for p in range(12)]
    lines += [f"{{:process {p}, :type :ok, :f :write, :value {p}}}" for p in range(12)]
    # two reads, one after the other, of two values written: only the search can refute that
    lines += ["{:process 99, :type :invoke, :f :read}", "{:process 99, :type :ok, :f :read, :value 1}",
              "{:process 99, :type :invoke, :f :read}", "{:process 99, :type :ok, :f :read, :value 2}"]
    path = write(tmp_path / "hard.edn", "\n".join(lines))
    code, out, _ = run(["check", path, "-m", "register", "--max-states", "20", "--json"], capsys)
    assert code == 2
    row = json.loads(out)
    assert row["valid"] == "unknown" and "memory budget" in row["reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "missing.edn", "-m", "kv"], "missing.edn: no such file"),
        (["check", "{good}", "-m", "kvv"], "did you mean 'kv'"),
        (["check", "{good}"], "Missing option '--model'"),
        (["check", "{broken}", "-m", "cas-register"], "broken.edn:2: ok completion of read"),
        (["check", "{good}", "-m", "kv"], "'write' is not understood by model 'kv'"),
        (["frobnicate"], "No such command"),
    ],
)
def test_user_errors_exit_3_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    good = write(tmp_path / "good.edn", GOOD)
    broken = write(tmp_path / "broken.edn", "{:process 0, :type :invoke, :f :write, :value 1}\n"
                   "{:process 1, :type :ok, :f :read, :value 1}\n")
    args = [a.format(good=good, broken=broken) for a in args]
    code, _, err = run(args, capsys)
    assert code == 3
    assert message in err
    assert "Traceback" not in err


def test_models_lists_every_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["models"], capsys)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names[:3] == ["register", "cas-register", "kv"]
    assert {"mutex", "set", "fifo-queue", "unordered-queue", "counter", "multi-register"} <= set(names)


def test_html_report_for_one_and_several_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "good.edn", GOOD)
    bad = write(tmp_path / "bad.edn", BAD)
    out = tmp_path / "bad.html"
    code, _, _ = run(["check", bad, "-m", "cas-register", "--html", str(out)], capsys)
    assert code == 1
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "not linearizable" in page
    reports = tmp_path / "reports"
    reports.mkdir()
    code, out_text, _ = run(["check", good, bad, "-m", "cas-register", "--html", str(reports)], capsys)
    assert code == 1
    assert sorted(p.name for p in reports.iterdir()) == ["bad.edn.html", "good.edn.html"]
    assert f"report: {reports / 'good.edn.html'}" in out_text
