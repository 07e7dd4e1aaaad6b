"""The exit statuses of every ``splitbrain`` verb, defined once.

They are part of the interface (a CI job reads them), so each means one thing in every verb:

====  ======================================================================================
0     something was checked and held (every history valid, every schedule passed)
1     a violation: a history is invalid, a campaign found a failure, a saved failure still fails
2     unknown: a check gave up (time or memory budget) and nothing was found invalid
3     bad input or usage: a malformed file, an unknown name, an unacceptable option value
4     internal error: splitbrain itself crashed (a bug to report; ``--debug`` shows the traceback)
130   interrupted (Ctrl-C)
====  ======================================================================================

A crash is never reported as a verdict: it has its own status, distinct from 1 and 2.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_UNKNOWN", "EXIT_USAGE", "EXIT_VIOLATION", "for_verdicts",
]

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_UNKNOWN = 2
EXIT_USAGE = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130


def for_verdicts(verdicts: list[Any]) -> int:
    """The status for a list of verdicts: any invalid wins, then any unknown; an empty list checked
    nothing and is not a pass (:data:`EXIT_USAGE`, the callers refuse empty input before this)."""
    if not verdicts:
        return EXIT_USAGE
    if any(v is False for v in verdicts):
        return EXIT_VIOLATION
    if any(v is not True for v in verdicts):
        return EXIT_UNKNOWN
    return EXIT_OK
