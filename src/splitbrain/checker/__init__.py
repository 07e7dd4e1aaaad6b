"""Checkers: linearizability (and later causality, transactions, invariants). Imports only histories and
models."""

from splitbrain.checker.linearizability import check_linearizability
from splitbrain.checker.result import CheckResult, Counterexample, SearchStats

__all__ = ["CheckResult", "Counterexample", "SearchStats", "check_linearizability"]
