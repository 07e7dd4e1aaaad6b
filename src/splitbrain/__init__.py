"""splitbrain: Jepsen-style testing for distributed and concurrent Python code.

The public API is re-exported here; the implementation lives in the layer packages (see DESIGN.md).
"""

from splitbrain.api import assert_linearizable, check
from splitbrain.checker.result import CheckResult
from splitbrain.errors import (
    CheckIncomplete,
    InvalidHistory,
    NotLinearizable,
    SplitbrainError,
    UnknownModel,
    UsageError,
)
from splitbrain.histories import UNKNOWN, History, Op, Operation

__version__ = "0.1.0"

__all__ = [
    "UNKNOWN",
    "CheckIncomplete",
    "CheckResult",
    "History",
    "InvalidHistory",
    "NotLinearizable",
    "Op",
    "Operation",
    "SplitbrainError",
    "UnknownModel",
    "UsageError",
    "__version__",
    "assert_linearizable",
    "check",
]
