"""A user's own system, end to end, the way a user meets splitbrain: a module of their own (public API only)
fuzzed from the command line by import path, across worker processes and Dask workers, its failure saved,
replayed from a fresh process, and the same through the pytest plugin.

The system is a register with a fixed primary ``n1`` that replicates each write to the two backups and
acknowledges it once one backup has it. Its bug, ``local-read``, lets a backup answer reads from its own
copy: a classic stale read.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

USER_SYSTEM = textwrap.dedent(
    '''
    """A replicated register: n1 is the primary; a write is acknowledged once one backup holds it."""

    from splitbrain import ClientOp, Node, Workload


    class Register(Node):
        def on_start(self):
            self.waiting = {}  # write id -> the client's request, until a backup acknowledges it

        def on_client(self, request):
            if request.f == "read" and self.serves_reads():
                self.reply(request, self.storage.get("value"))
            elif self.id != "n1":
                self.redirect(request, "n1")
            elif request.f == "write":
                self.storage["value"] = request.value
                self.waiting[request.id] = request
                self.broadcast(("replicate", request.id, request.value))

        def serves_reads(self):
            return self.id == "n1"

        def on_message(self, src, msg):
            kind, write_id, value = msg
            if kind == "replicate":
                self.storage["value"] = value
                self.send(src, ("ack", write_id, value))
            elif kind == "ack" and write_id in self.waiting:
                self.reply(self.waiting.pop(write_id), value)


    class LocalRead(Register):
        def serves_reads(self):
            return True  # the bug: a backup answers from a copy that may be behind


    class RegisterWorkload(Workload):
        name = "user-register"
        model = "register"
        variants = {"correct": Register, "local-read": LocalRead}

        def generate(self, rand, process):
            if rand.randint(0, 1):
                return ClientOp("write", rand.randint(0, 4))
            return ClientOp("read")


    workload = RegisterWorkload()
    '''
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding the user's module, as a user's project would."""
    (tmp_path / "replicated.py").write_text(USER_SYSTEM)
    return tmp_path


def splitbrain(project: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the ``splitbrain`` command in a fresh process, from the user's project directory."""
    return subprocess.run(
        [sys.executable, "-m", "splitbrain", *args], cwd=project, capture_output=True, text=True, timeout=timeout,
    )


@pytest.mark.parametrize("executor", [["--workers", "2"], ["--executor", "dask-local", "--workers", "2"]],
                         ids=["process-pool", "dask-local"])
def test_the_cli_finds_shrinks_saves_and_replays_a_users_bug(project: Path, executor: list[str]) -> None:
    if "dask-local" in executor:
        pytest.importorskip("distributed", reason="the dask extra is not installed: pip install 'splitbrain[dask]'")
    found = splitbrain(project, "fuzz", "replicated:workload", "--variant", "local-read", "--count", "400",
                       "--seed", "1", *executor)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "FAILURE checker:linearizability" in found.stdout
    # the failure the campaign reports (with two workers, a second shard may have saved one too)
    reported = found.stdout.split("FAILURE checker:linearizability", 1)[1].split("saved to ", 1)[1].split()[0]
    saved = project / reported
    assert saved.parent == project / ".splitbrain" / "failures" and saved.name.startswith("user-register--local-read--")
    record = json.loads(saved.read_text())
    assert record["workload_ref"] == "replicated:workload"
    assert record["steps"]["shrunk"] < record["steps"]["found"]

    again = splitbrain(project, "replay", str(saved))
    assert again.returncode == 1, again.stdout + again.stderr
    assert "identical traces and histories" in again.stdout and "still fails: checker:linearizability" in again.stdout
    shown = splitbrain(project, "show", str(saved), "--plain")
    assert shown.returncode == 0 and "user-register/local-read" in shown.stdout

    correct = splitbrain(project, "fuzz", "replicated:workload", "--count", "300", "--seed", "1", *executor)
    assert correct.returncode == 0, correct.stdout + correct.stderr
    assert "300 schedules" in correct.stdout and "0 failure(s)" in correct.stdout


def test_a_workload_by_import_path_that_does_not_exist_is_a_clear_error(project: Path) -> None:
    missing = splitbrain(project, "fuzz", "nosuchmodule:workload", "--count", "1")
    assert missing.returncode == 3 and "cannot import module 'nosuchmodule'" in missing.stderr
    no_attr = splitbrain(project, "fuzz", "replicated:nope", "--count", "1")
    assert no_attr.returncode == 3 and "has no attribute 'nope'" in no_attr.stderr
    unknown = splitbrain(project, "fuzz", "raft_kv", "--count", "1")
    assert unknown.returncode == 3 and "did you mean 'raft-kv'" in unknown.stderr
    assert "Traceback" not in missing.stderr + no_attr.stderr + unknown.stderr


def test_the_pytest_plugin_fuzzes_a_users_workload_by_import_path(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(replicated=USER_SYSTEM)
    pytester.makepyfile(
        test_register=
        """
        import pytest

        def test_correct(splitbrain_fuzz):
            assert splitbrain_fuzz("replicated:workload", examples=150, seed=3) == 150

        def test_local_read(splitbrain_fuzz):
            splitbrain_fuzz("replicated:workload", variant="local-read", examples=400, seed=3)

        @pytest.mark.splitbrain(workload="replicated:workload", variant="local-read", examples=400, seed=3)
        def test_marked():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--splitbrain-store", "store")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*FuzzFailure*user-register/local-read failed: checker:linearizability*",
        "*replay: splitbrain replay store/failures/user-register--local-read--*.json*",
    ])
    (saved, *_) = sorted((pytester.path / "store" / "failures").glob("*.json"))
    assert json.loads(saved.read_text())["workload_ref"] == "replicated:workload"
