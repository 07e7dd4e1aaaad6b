"""pytest plugin (registered through the ``pytest11`` entry point). Cheap to import: the heavy modules
load only when a test uses them.

Gives tests:

* the ``splitbrain_fuzz`` fixture — ``splitbrain_fuzz("raft-kv", variant="correct")`` fuzzes a workload
  (name or instance), replaying saved failures first, and fails the test with the minimal trace and the
  command that replays it;
* the ``splitbrain`` marker — ``@pytest.mark.splitbrain(workload="primary-backup", variant="correct")``
  turns a test into a fuzz run of that workload (the test body runs afterwards, e.g. for extra checks);
* the Hypothesis profiles ``ci`` (derandomized, no deadline, no example database: every run the same),
  ``dev`` (the defaults) and ``fuzz`` (many more examples). ``ci`` is loaded automatically when the ``CI``
  environment variable is set and no ``--hypothesis-profile`` was given;
* ``--splitbrain-store DIR`` — where failures are saved (default ``.splitbrain``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

PROFILES = ("ci", "dev", "fuzz")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("splitbrain")
    group.addoption(
        "--splitbrain-store", default=".splitbrain", help="directory where fuzz failures are saved and replayed"
    )


def _register_profiles() -> None:
    # Registered at import, before Hypothesis's own plugin reads --hypothesis-profile. Importing
    # hypothesis here costs nothing extra: its pytest plugin has imported it already.
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci", derandomize=True, deadline=None, database=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", deadline=None)
    settings.register_profile("fuzz", max_examples=5_000, deadline=None)


_register_profiles()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "splitbrain(workload, variant='correct', examples=None, seed=None): fuzz a splitbrain workload",
    )
    chosen = config.getoption("hypothesis_profile", default=None)
    if chosen is None and os.environ.get("CI"):
        from hypothesis import settings

        settings.load_profile("ci")


@pytest.fixture
def splitbrain_fuzz(request: pytest.FixtureRequest) -> Callable[..., int]:
    """Fuzz a workload inside a test; raises ``FuzzFailure`` (an AssertionError) on a failure."""
    from splitbrain.fuzz.assertions import fuzz_workload

    store = request.config.getoption("splitbrain_store")

    def run(workload: Any, variant: str = "correct", **options: Any) -> int:
        options.setdefault("store", store)
        return fuzz_workload(workload, variant, **options)

    return run


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    marker = item.get_closest_marker("splitbrain")
    if marker is None:
        return
    from splitbrain.fuzz.assertions import fuzz_workload

    options = dict(marker.kwargs)
    workload = options.pop("workload", marker.args[0] if marker.args else None)
    if workload is None:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.splitbrain needs a workload")
    options.setdefault("store", item.config.getoption("splitbrain_store"))
    fuzz_workload(workload, options.pop("variant", "correct"), **options)
