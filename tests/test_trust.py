"""An exit status a CI can trust: each reproducer of issue #24 ends in a correct verdict, a clean exit 3,
``unknown`` within its budget, or a refusal — never a false or vacuous 0, never a traceback, never a
destroyed file. Every case runs the command as a user would, in a fresh process."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splitbrain.cli.exits import EXIT_INTERNAL, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VIOLATION

STALE = [  # write 1 then a read of 2: not linearizable on a register
    ("0", ":invoke", ":write", "1"), ("0", ":ok", ":write", "1"),
    ("1", ":invoke", ":read", "nil"), ("1", ":ok", ":read", "2"),
]


def splitbrain(
    *args: str, cwd: Path | None = None, timeout: float = 120, **kw: object
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "splitbrain", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, **kw)  # type: ignore[call-overload]
    assert "Traceback" not in result.stderr, result.stderr
    return result  # type: ignore[no-any-return]


def jepsen_log(tmp_path: Path, end: str, name: str = "h.log") -> Path:
    path = tmp_path / name
    path.write_bytes(end.join("INFO  jepsen.util - " + "\t".join(r) for r in STALE).encode() + end.encode())
    return path


def jsonl(tmp_path: Path, ops: list[dict[str, object]], name: str = "h.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(op) + "\n" for op in ops))
    return path


OK_WRITE = [
    {"process": 0, "type": "invoke", "f": "write", "value": 1}, {"process": 0, "type": "ok", "f": "write", "value": 1},
]


# -- false passes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_ending_a_logger_writes_gives_the_same_verdict(tmp_path: Path, end: str) -> None:
    result = splitbrain("check", str(jepsen_log(tmp_path, end)), "--model", "register")
    assert result.returncode == EXIT_VIOLATION, result.stdout + result.stderr
    assert "2 operations" in result.stdout


def test_a_unicode_line_separator_or_a_cut_record_is_refused_with_its_line(tmp_path: Path) -> None:
    result = splitbrain("check", str(jepsen_log(tmp_path, "\u2028")), "--model", "register")
    assert result.returncode == EXIT_USAGE and "h.log:1:" in result.stderr and "U+2028" in result.stderr
    cut = tmp_path / "cut.log"
    cut.write_text("1 :invoke :read nil\n1 :ok :read\n")
    result = splitbrain("check", str(cut), "--model", "register")
    assert result.returncode == EXIT_USAGE and "cut.log:2:" in result.stderr and "no value" in result.stderr


@pytest.mark.parametrize(("value", "problem"), [
    ([["r", "x"]], "not a micro-op"),
    ([["inc", "x", 1]], "has function"),
    ([["w", "x", None]], "writes nil"),
    ([["w", None, 1]], "has no key"),
    ("not a list", "list of micro-ops"),
])
def test_the_txn_checker_refuses_what_it_cannot_read(tmp_path: Path, value: object, problem: str) -> None:
    path = jsonl(tmp_path, [{"process": 0, "type": "invoke", "f": "txn", "value": value},
                            {"process": 0, "type": "ok", "f": "txn", "value": value}])
    result = splitbrain("check", str(path), "--checker", "txn")
    assert result.returncode == EXIT_USAGE and "h.jsonl:" in result.stderr and problem in result.stderr


def test_the_txn_and_causal_checkers_refuse_unknown_functions(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [{"process": 0, "type": "invoke", "f": "frobnicate", "value": 1},
                            {"process": 0, "type": "ok", "f": "frobnicate", "value": 1}])
    for checker in ("txn", "causal"):
        result = splitbrain("check", str(path), "--checker", checker)
        assert result.returncode == EXIT_USAGE, (checker, result.stderr)
        assert "h.jsonl:1:" in result.stderr and "frobnicate" in result.stderr


def test_a_read_of_nan_after_a_write_of_nan_is_linearizable(tmp_path: Path) -> None:
    path = tmp_path / "nan.edn"
    path.write_text(
        "{:process 0 :type :invoke :f :write :value ##NaN}\n{:process 0 :type :ok :f :write :value ##NaN}\n"
        "{:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value ##NaN}\n"
    )
    assert splitbrain("check", str(path), "--model", "register").returncode == EXIT_OK


# -- vacuous passes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["fuzz", "primary-backup", "--count", "0"],
    ["fuzz", "primary-backup", "--examples", "-1"],
    ["fuzz", "primary-backup", "--time", "-5"],
    ["fuzz", "primary-backup", "--time", "nan"],
    ["fuzz", "primary-backup", "--time", "inf"],
    ["fuzz", "primary-backup", "--workers", "0"],
    ["fuzz", "primary-backup", "--workers", "many"],
    ["fuzz", "primary-backup", "--strategy", "pct", "--depth", "100000"],
    ["check", "{h}", "--model", "register", "--timeout", "nan"],
    ["check", "{h}", "--model", "register", "--time", "-1"],
    ["check", "{h}", "--model", "register", "--max-states", "-5"],
    ["check", "{h}", "--model", "register", "--max-states", "0"],
])
def test_budgets_that_would_check_nothing_are_refused(tmp_path: Path, args: list[str]) -> None:
    history = str(jsonl(tmp_path, OK_WRITE))
    result = splitbrain(*(history if a == "{h}" else a for a in args), "--out" if args[0] == "fuzz" else "--json",
                        *( [str(tmp_path / "store")] if args[0] == "fuzz" else []), cwd=tmp_path)
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    assert "Invalid value" in result.stderr or "error" in result.stderr


def test_a_huge_state_budget_still_checks(tmp_path: Path) -> None:
    result = splitbrain("check", str(jsonl(tmp_path, OK_WRITE)), "--model", "register", "--max-states", str(2**64))
    assert result.returncode == EXIT_OK and "linearizable" in result.stdout


def test_an_empty_history_is_never_a_pass(tmp_path: Path) -> None:
    for text in ("", "\n\n", "   \n"):
        (tmp_path / "empty.jsonl").write_text(text)
        result = splitbrain("check", str(tmp_path / "empty.jsonl"), "--model", "register")
        assert result.returncode == EXIT_USAGE and "empty" in result.stderr


@pytest.mark.parametrize("checker", [["--model", "register"], ["--checker", "txn"], ["--checker", "causal"]])
def test_a_history_with_nothing_to_check_is_not_a_pass(tmp_path: Path, checker: list[str]) -> None:
    only_failures = jsonl(tmp_path, [{"process": 0, "type": "invoke", "f": "write", "value": 1},
                                     {"process": 0, "type": "fail", "f": "write", "value": 1}], "fail.jsonl")
    only_faults = jsonl(tmp_path, [{"process": "nemesis", "type": "info", "f": "kill", "value": None}], "nem.jsonl")
    for path in (only_failures, only_faults):
        if checker[-1] == "txn" and path is only_failures:
            continue  # a failed write is not a transaction: refused as bad input, tested above
        result = splitbrain("check", str(path), *checker)
        assert result.returncode == EXIT_UNKNOWN and "nothing to check" in result.stdout, result.stdout + result.stderr


def test_a_campaign_that_ran_no_schedule_does_not_pass(tmp_path: Path) -> None:
    result = splitbrain("fuzz", "raft-kv", "--time", "0.000001", "--out", str(tmp_path))
    assert result.returncode == EXIT_UNKNOWN, result.stdout + result.stderr
    assert "no schedule ran" in result.stdout


# -- a crash never looks like a verdict ----------------------------------------------------------------
BROKEN_MODEL = """
from splitbrain import Model

class Broken(Model):
    name = "broken"
    functions = ("write",)
    def init(self):
        return None
    def step(self, state, op):
        raise RuntimeError("a bug in the model")
"""


def test_an_internal_error_has_its_own_status_and_a_debug_traceback(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(BROKEN_MODEL)
    history = str(jsonl(tmp_path, OK_WRITE))
    result = splitbrain("check", history, "--model", "broken:Broken", cwd=tmp_path)
    assert result.returncode == EXIT_INTERNAL and "internal error: RuntimeError: a bug in the model" in result.stderr
    assert "--debug" in result.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "splitbrain", "--debug", "check", history, "--model", "broken:Broken"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert debug.returncode == EXIT_INTERNAL and "Traceback" in debug.stderr and "broken.py" in debug.stderr


@pytest.mark.parametrize("corrupt", ["null-trace", "steps-not-a-list", "unknown-fault"])
def test_a_malformed_failure_file_is_bad_input(tmp_path: Path, corrupt: str) -> None:
    # one worker: with several, a shard above the reported one may save a failure of its own as well
    found = splitbrain("fuzz", "primary-backup", "--variant", "early-ack", "--count", "400", "--seed", "1",
                       "--no-shrink", "--workers", "1", "--out", str(tmp_path / "store"))
    assert found.returncode == EXIT_VIOLATION
    (saved,) = (tmp_path / "store" / "failures").glob("*.json")
    record = json.loads(saved.read_text())
    if corrupt == "null-trace":
        record["trace"] = None
    elif corrupt == "steps-not-a-list":
        record["trace"]["steps"] = 5
    else:
        record["trace"]["faults"]["kinds"] = ["meteor"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    for verb, extra in (("replay", ["-v"]), ("show", ["-v"]), ("shrink", ["--out", str(tmp_path / "s2")])):
        result = splitbrain(verb, str(bad), *extra)
        assert result.returncode == EXIT_USAGE, (verb, result.stdout, result.stderr)
        assert "bad.json" in result.stderr


# -- budgets are bounds --------------------------------------------------------------------------------
def test_a_long_history_under_a_memory_limit_ends_unknown_not_out_of_memory(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from samples import register_history
    from splitbrain import write_history

    write_history(register_history(200_000, processes=10, seed=1), tmp_path / "long.jsonl")

    def limit() -> None:  # 2 GiB of address space: a structure that grew with the history would not fit
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    result = splitbrain("check", str(tmp_path / "long.jsonl"), "--model", "register", "--max-states", "1000",
                        preexec_fn=limit, timeout=300)
    assert result.returncode == EXIT_UNKNOWN, result.stdout + result.stderr
    assert "gave up" in result.stdout


def test_the_txn_checker_keeps_to_its_time_budget(tmp_path: Path) -> None:
    writes = [["w", k, k] for k in range(50_000)]
    reads = [["r", k, k] for k in range(50_000)]
    path = jsonl(tmp_path, [
        {"process": 0, "type": "invoke", "f": "txn", "value": writes},
        {"process": 0, "type": "ok", "f": "txn", "value": writes},
        {"process": 1, "type": "invoke", "f": "txn", "value": [["r", k, None] for k in range(50_000)]},
        {"process": 1, "type": "ok", "f": "txn", "value": reads},
    ])
    result = splitbrain("check", str(path), "--checker", "txn", "--time", "2", timeout=120)
    assert result.returncode in (EXIT_OK, EXIT_UNKNOWN), result.stdout + result.stderr


# -- output never destroys anything --------------------------------------------------------------------
def test_a_report_never_overwrites_an_input_or_a_special_file(tmp_path: Path) -> None:
    history = jepsen_log(tmp_path, "\n")
    before = history.read_bytes()
    result = splitbrain("check", str(history), "--model", "register", "--html", str(history))
    assert result.returncode == EXIT_USAGE and "input" in result.stderr
    assert history.read_bytes() == before
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = splitbrain("check", str(history), "--model", "register", "--html", str(fifo))
    assert result.returncode == EXIT_USAGE and "not a regular file" in result.stderr
    assert fifo.is_fifo()


def test_a_huge_value_is_shown_cut_short(tmp_path: Path) -> None:
    big = "x" * 2_000_000
    path = jsonl(tmp_path, [{"process": 0, "type": "invoke", "f": "write", "value": big},
                            {"process": 0, "type": "ok", "f": "write", "value": big},
                            {"process": 1, "type": "invoke", "f": "read", "value": None},
                            {"process": 1, "type": "ok", "f": "read", "value": "y"}])
    result = splitbrain("check", str(path), "--model", "register")
    assert result.returncode == EXIT_VIOLATION
    assert len(result.stdout) < 5_000 and "2,000,000 chars" in result.stdout


def test_special_files_are_not_read_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in ("/dev/zero", "/dev/urandom", str(fifo)):
        result = splitbrain("check", path, "--model", "register", timeout=30)
        assert result.returncode == EXIT_USAGE and "not a regular file" in result.stderr, path


# -- campaign hygiene ----------------------------------------------------------------------------------
def test_a_store_that_cannot_be_written_is_refused_before_the_campaign(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "failures").write_text("a file where the failures folder should be")
    result = splitbrain("fuzz", "primary-backup", "--variant", "early-ack", "--count", "400", "--out",
                        str(tmp_path / "store"))
    assert result.returncode == EXIT_USAGE and "cannot save failures" in result.stderr


def test_campaigns_sharing_a_store_do_not_trip_over_each_other(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "splitbrain", "fuzz", "primary-backup", "--variant", "early-ack", "--count",
            "400", "--out", str(tmp_path / "store")]
    runs = [
        subprocess.Popen([*args, "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for seed in range(4)
    ]
    for run in runs:
        out, err = run.communicate(timeout=240)
        assert run.returncode == EXIT_VIOLATION, out + err
        assert "Traceback" not in err


def test_workers_die_with_a_killed_campaign(tmp_path: Path) -> None:
    campaign = subprocess.Popen(
        [sys.executable, "-m", "splitbrain", "fuzz", "primary-backup", "--time", "60", "--workers", "2", "--out",
         str(tmp_path / "store")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert campaign.stderr is not None
    campaign.stderr.readline()  # "fuzzing ...": the pool is about to start
    children: set[int] = set()
    deadline = time.monotonic() + 30
    while len(children) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        children = _children(campaign.pid)
    assert children, "the campaign started no worker"
    campaign.send_signal(signal.SIGKILL)
    campaign.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "workers outlived their campaign"


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
