"""The pytest plugin, exercised the way a user meets it: through pytester-run test files."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def test_fixture_passes_for_the_correct_version(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_primary_backup(splitbrain_fuzz):
            assert splitbrain_fuzz("primary-backup", examples=20, seed=4) == 20
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_fixture_fails_with_minimal_trace_and_replay_command(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_early_ack(splitbrain_fuzz):
            splitbrain_fuzz("primary-backup", variant="early-ack", examples=400, seed=2)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--splitbrain-store", "store")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*FuzzFailure*primary-backup/early-ack failed: checker:linearizability, trace of * steps (shrunk from *)*",
        "*cannot place*",
        "*replay: splitbrain replay store/failures/primary-backup--early-ack--*.json*",
    ])
    # a second run replays the saved failure first and fails at once with it
    again = pytester.runpytest("-p", "no:cacheprovider", "--splitbrain-store", "store")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*a saved failure still fails*"])


def test_marker_fuzzes_before_the_body(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.splitbrain(workload="primary-backup", examples=10, seed=1)
        def test_marked():
            pass

        @pytest.mark.splitbrain(workload="primary-backup", variant="early-ack", examples=400, seed=2)
        def test_marked_bug():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--splitbrain-store", "store")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_marked_bug*", "*replay: splitbrain replay*"])


def test_profiles_are_namespaced_and_never_replace_the_users(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(
        """
        from hypothesis import settings

        settings.register_profile("ci", max_examples=7, derandomize=False)
        settings.load_profile("ci")
        """
    )
    pytester.makepyfile(
        """
        from hypothesis import settings

        def test_profile():
            assert settings().max_examples == 7 and settings().derandomize is False  # the user's own
            assert settings.get_profile("splitbrain-ci").derandomize is True
            assert settings.get_profile("splitbrain-ci").database is None
        """
    )
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_fuzzing_under_ci_is_reproducible(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """With $CI set, splitbrain's fuzzing runs under splitbrain-ci: two runs find the same shrunk failure."""
    pytester.makepyfile(
        """
        import pathlib
        import pytest
        from splitbrain import FuzzFailure

        def test_bug(splitbrain_fuzz, tmp_path):
            with pytest.raises(FuzzFailure) as info:
                splitbrain_fuzz("primary-backup", variant="early-ack", examples=300, store=tmp_path,
                                replay_saved=False)
            with open(pathlib.Path(__file__).parent / "saved.txt", "a") as out:
                print(info.value.path.name, file=out)
        """
    )
    monkeypatch.setenv("CI", "true")
    for _ in range(2):
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
    names = (pytester.path / "saved.txt").read_text().split()
    assert len(names) == 2 and names[0] == names[1]


def test_marker_without_workload_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.splitbrain(examples=1)
        def test_nothing():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*needs a workload*"]) if result.stderr.lines else None


def test_a_failure_shows_the_trace_not_the_librarys_source(pytester: pytest.Pytester) -> None:
    """The fixture's and fuzz_workload's frames are hidden: a failing test shows the user's line, the shrunk
    trace, the verdict and a replay command — not splitbrain's source or docstrings."""
    pytester.makepyfile(
        """
        import pytest

        def test_fixture(splitbrain_fuzz):
            splitbrain_fuzz("primary-backup", variant="early-ack", examples=400, seed=2)

        @pytest.mark.splitbrain(workload="primary-backup", variant="early-ack", examples=400, seed=2)
        def test_marker():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--splitbrain-store", "store")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "def fuzz_workload" not in text and "splitbrain/fuzz/assertions.py" not in text
    assert "def run(" not in text and "pytest_runtest_call" not in text
    assert text.count("replay: splitbrain replay store/failures/primary-backup--early-ack--") >= 2
    assert "cannot place" in text


def test_fuzz_workload_searches_like_the_cli_unless_told_otherwise(tmp_path: Path) -> None:
    """The default strategy is the CLI's portfolio (the failure names its deviations from the default
    order, as a campaign reports them); ``strategy="hypothesis"`` still runs Hypothesis's schedules; an
    unknown strategy is a usage error naming the known ones."""
    from splitbrain import FuzzFailure, fuzz_workload
    from splitbrain.errors import UsageError

    with pytest.raises(FuzzFailure) as portfolio:
        fuzz_workload("primary-backup", "early-ack", examples=300, seed=1, store=tmp_path / "a")
    assert "deviation" in str(portfolio.value) and portfolio.value.path is not None
    assert fuzz_workload("primary-backup", examples=10, seed=1, store=tmp_path / "b", strategy="hypothesis") == 10
    with pytest.raises(UsageError, match="portfolio"):
        fuzz_workload("primary-backup", examples=5, store=tmp_path / "c", strategy="bogus")
