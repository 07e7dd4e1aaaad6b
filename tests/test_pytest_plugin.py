"""The pytest plugin, exercised the way a user meets it: through pytester-run test files."""

from __future__ import annotations

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


def test_ci_profile_is_chosen_when_ci_is_set(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(
        """
        from hypothesis import settings

        def test_profile():
            current = settings()
            assert current.derandomize is True
            assert current.database is None
            assert current.deadline is None
        """
    )
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    monkeypatch.delenv("CI")
    other = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--hypothesis-profile", "fuzz")
    other.assert_outcomes(failed=1)  # the fuzz profile is not derandomized: the user's choice wins


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
