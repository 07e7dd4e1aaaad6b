"""Helpers shared by the live-server tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from splitbrain.cli import main
from splitbrain.live import processes, proxy


def children() -> list[str]:
    """This process's child processes (from /proc), zombies included: each its name and command line
    (``"python -m splitbrain.live.targets.syncobj_server ..."``), so a test can tell a server it started
    from another Python child (a process pool's worker left by an earlier test)."""
    names = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as comm:
                name = comm.read().strip()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                args = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            names.append(f"{name} {args}" if args else name)
    return names


def recheck(path: Path, capsys: pytest.CaptureFixture[str]) -> int:
    """``splitbrain check <path> --model cas-register``: its exit status."""
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path), "--model", "cas-register"])
    capsys.readouterr()
    return int(exit_info.value.code or 0)


def cleanup_fixtures(server: str) -> tuple[Callable[[], Iterator[None]], Callable[[], Iterator[None]]]:
    """Two autouse fixtures for a live-server test module: stop every server and proxy after each test
    (even one that failed half-way through a run), and after the module assert that no child process
    whose name or command line contains ``server`` is left running. Bind both names in the module:
    ``a, b = cleanup_fixtures("etcd")``."""

    @pytest.fixture(autouse=True, scope="module")
    def nothing_left_behind() -> Iterator[None]:
        yield
        leftovers = [name for name in children() if server in name]
        processes.stop_all()
        proxy.stop_all()
        assert not leftovers, f"servers still running after the module: {leftovers}"

    @pytest.fixture(autouse=True)
    def stop_everything() -> Iterator[None]:
        yield
        processes.stop_all()
        proxy.stop_all()

    return nothing_left_behind, stop_everything
