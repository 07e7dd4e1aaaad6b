"""pytest plugin (registered through the ``pytest11`` entry point). Kept cheap to import."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "splitbrain: a test that fuzzes a splitbrain workload")
