"""pytest plugin (registered through the ``pytest11`` entry point). Cheap to import: the heavy modules
load only when a test uses them.

Gives tests:

* the ``splitbrain_fuzz`` fixture — ``splitbrain_fuzz("mypkg.mymod:workload", variant="correct")`` fuzzes a
  workload (an instance, an import path or a registered name), replaying saved failures first, and fails
  the test with the minimal trace and the command that replays it;
* the ``splitbrain`` marker — ``@pytest.mark.splitbrain(workload="mypkg.mymod:workload")`` turns a test into
  a fuzz run of that workload (the test body runs afterwards, e.g. for extra checks);
* the Hypothesis profiles ``splitbrain-ci`` (derandomized, no deadline, no example database: every run
  the same), ``splitbrain-dev`` (the defaults) and ``splitbrain-fuzz`` (many more examples);
* ``--splitbrain-store DIR`` (where failures are saved, default ``.splitbrain``) and
  ``--splitbrain-profile NAME`` (the profile fuzzing uses).

The plugin is a guest in the user's test run: its profiles carry its own prefix, so they never replace a
user's ``ci`` profile, and it never loads a profile globally — only splitbrain's own fuzzing runs under
the chosen one. That is ``--splitbrain-profile`` when given, else ``splitbrain-ci`` when the ``CI``
environment variable is set (so CI runs are reproducible), else the active Hypothesis profile (so
``--hypothesis-profile`` applies).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["PROFILES"]

PROFILES = ("splitbrain-ci", "splitbrain-dev", "splitbrain-fuzz")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("splitbrain")
    group.addoption(
        "--splitbrain-store", default=".splitbrain", help="directory where fuzz failures are saved and replayed"
    )
    group.addoption(
        "--splitbrain-profile", default=None, choices=PROFILES,
        help="Hypothesis profile splitbrain's fuzzing runs under (default: splitbrain-ci when $CI is set, "
             "else the active Hypothesis profile)",
    )


def _register_profiles() -> None:
    # Registered at import. Importing hypothesis here costs nothing extra: its pytest plugin has imported
    # it already.
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "splitbrain-ci", derandomize=True, deadline=None, database=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("splitbrain-dev", deadline=None)
    settings.register_profile("splitbrain-fuzz", max_examples=5_000, deadline=None)


_register_profiles()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "splitbrain(workload, variant='correct', examples=None, seed=None): fuzz a splitbrain workload",
    )


def _profile(config: pytest.Config) -> str | None:
    chosen = config.getoption("splitbrain_profile", default=None)
    if chosen is not None:
        return str(chosen)
    return "splitbrain-ci" if os.environ.get("CI") else None


def _options(config: pytest.Config, options: dict[str, Any]) -> dict[str, Any]:
    options.setdefault("store", config.getoption("splitbrain_store"))
    options.setdefault("profile", _profile(config))
    return options


@pytest.fixture
def splitbrain_fuzz(request: pytest.FixtureRequest) -> Callable[..., int]:
    """Fuzz a workload inside a test; raises ``FuzzFailure`` (an AssertionError) on a failure."""
    from splitbrain.fuzz.assertions import fuzz_workload

    def run(workload: Any, variant: str = "correct", **options: Any) -> int:
        __tracebackhide__ = True  # the failure shows the user's test line and the shrunk trace
        return fuzz_workload(workload, variant, **_options(request.config, options))

    return run


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    __tracebackhide__ = True
    marker = item.get_closest_marker("splitbrain")
    if marker is None:
        return
    from splitbrain.fuzz.assertions import fuzz_workload

    options = dict(marker.kwargs)
    workload = options.pop("workload", marker.args[0] if marker.args else None)
    if workload is None:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.splitbrain needs a workload")
    try:
        fuzz_workload(workload, options.pop("variant", "correct"), **_options(item.config, options))
    except AssertionError as exc:
        # report the failure itself, not the plugin's frames: the message holds the trace and the replay
        pytest.fail(str(exc), pytrace=False)
