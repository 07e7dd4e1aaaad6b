"""Helpers shared by the live-server tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from splitbrain.cli import main


def children() -> list[str]:
    """Names of this process's child processes (from /proc), zombies included."""
    names = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as comm:
                name = comm.read().strip()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            names.append(name)
    return names


def recheck(path: Path, capsys: pytest.CaptureFixture[str]) -> int:
    """``splitbrain check <path> --model cas-register``: its exit status."""
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(path), "--model", "cas-register"])
    capsys.readouterr()
    return int(exit_info.value.code or 0)
