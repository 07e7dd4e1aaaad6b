"""The small defects of issue #22, each pinned: a message sent from ``on_start`` to a node that starts
later arrives; a stale reply is labelled as one; ``show`` prints one seed and, with ``--plain``, what
each message carried; ``fuzz --no-shrink`` does not claim a trace was shrunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from splitbrain.cli import main
from splitbrain.sim import ClientOp, Node, Rand, Step, Workload, World


class Greeter(Node):
    """n1 greets every peer from on_start, before they have started."""

    def on_start(self) -> None:
        self.heard: list[tuple[str, Any]] = []
        if self.id == "n1":
            self.broadcast(("hello", self.id))

    def on_message(self, src: str, msg: Any) -> None:
        self.heard.append((src, msg))


class Greeting(Workload):
    name = "greeting"
    model = "register"
    variants = {"correct": Greeter}
    clients = 0
    faults = ()  # type: ignore[assignment]

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("read")


def test_a_message_sent_from_on_start_to_a_later_node_arrives() -> None:
    run = World(Greeting(), seed=0).run()
    start = run.trace.steps[0]
    assert start.sent == ["n1>n2#1", "n1>n3#1"] and not start.lost
    for node in ("n2", "n3"):
        greeter = run.world.node(node)
        assert isinstance(greeter, Greeter) and greeter.heard == [("n1", ("hello", "n1"))]


def test_a_stale_reply_says_so_instead_of_pnone() -> None:
    line = Step(step=9, t=27, kind="deliver", msg="n1>c1#2", src="n1", dst="c1", result="stale").describe()
    assert "pNone" not in line and "(stale reply: its operation had already completed)" in line


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out + err


@pytest.fixture(scope="module")
def unshrunk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    store = tmp_path_factory.mktemp("store")
    with pytest.raises(SystemExit) as info:
        main(["fuzz", "raft-kv", "--variant", "unsynced-vote", "--search", "--count", "40", "--strategy", "random",
              "--store", str(store), "--no-shrink"])
    assert info.value.code == 1
    (path,) = (store / "failures").glob("*.json")
    return path, str(store)


def test_no_shrink_does_not_claim_a_shrink(unshrunk: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, store = unshrunk
    code, out = cli(["fuzz", "raft-kv", "--variant", "unsynced-vote", "--search", "--count", "40", "--strategy",
                     "random", "--store", store + "-again", "--no-shrink"], capsys)
    assert code == 1
    assert "not shrunk (--no-shrink)" in out and "trace shrunk from" not in out


def test_show_prints_one_seed_and_plain_shows_message_contents(
    unshrunk: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = unshrunk
    code, out = cli(["show", "--plain", str(path)], capsys)
    assert code == 0
    assert out.count("seed") == 1 and "seed=None" not in out
    assert "RequestVote(term=" in out and "Vote(term=" in out  # what the deliveries carried
    assert "power-loss n" in out
