"""Shared test helpers: where the reference histories live.

The Porcupine corpus (real Jepsen etcd histories and kv histories with known verdicts) is not part of
the project. Tests find it under ``$SPLITBRAIN_DATA/porcupine/test_data`` (``SPLITBRAIN_DATA`` defaults
to ``../shared/data`` next to the repository) and skip, saying how to get it, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The reference-data directory: ``$SPLITBRAIN_DATA``, or ``<repo root>/../shared/data``."""
    return Path(os.environ.get("SPLITBRAIN_DATA", REPO_ROOT.parent / "shared" / "data"))


def porcupine_dir() -> Path:
    """The Porcupine ``test_data`` directory (with ``jepsen/`` and ``kv/``); skips the test if absent."""
    path = data_dir() / "porcupine" / "test_data"
    if not (path / "jepsen").is_dir() or not (path / "kv").is_dir():
        pytest.skip(
            f"Porcupine test histories not found at {path}: set SPLITBRAIN_DATA to a directory "
            "containing porcupine/test_data (the test_data/ directory of "
            "github.com/anishathalye/porcupine)"
        )
    return path


@pytest.fixture
def porcupine() -> Path:
    """The Porcupine ``test_data`` directory; the test is skipped when the corpus is absent."""
    return porcupine_dir()
