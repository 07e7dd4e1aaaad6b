"""Linearizability checking: Wing & Gong's search with Lowe's memoisation, partitioned by the model.

The search itself (Wing & Gong 1993; Lowe 2017; the same shape as Porcupine's checker) lives in
:mod:`splitbrain.checker.search`, the plain-Python reference that defines correct answers. This module
prepares the operations, splits them, picks the engine and assembles the :class:`CheckResult`:

* Jepsen semantics: ``fail`` operations did not happen and are removed before the search. ``info``
  operations (and calls that never completed) may have happened at any point after their call, or not at
  all: the search may place them anywhere later, and succeeds without them. Unknown-outcome calls of
  read-only functions are dropped: they cannot change the state, so need not be placed.
* P-compositionality (Herlihy & Wing 1990; Horn & Kroening 2015): when the model partitions the
  operations (``kv`` by key), each part is checked on its own, in turns, and the first part proven
  non-linearizable ends the check.
* Keys (Jepsen's ``independent``): when the operations carry keys and the model does not read them
  itself (its ``keyed`` is false: every built-in model but ``kv``), each key's operations are checked on
  their own against a fresh model — a register per key, a counter per key. That is what a keyed history
  of such a model means, so it happens with ``partition=False`` too. A history where some operations have
  a key and others do not is refused: splitbrain cannot guess which object the unkeyed ones touched.
* With ``partition=False`` and a model that declares ``independence_key`` (``kv``), the whole history is
  searched at once with the partial-order reduction and per-key backjumping of
  :mod:`splitbrain.checker.reduced` — one search, one witness over every key.
* Engines: the compiled core (:mod:`splitbrain.checker.fast`) when it is built and not disabled by
  ``SPLITBRAIN_PURE_PYTHON=1``; otherwise the pure-Python searches. Both give the same verdicts
  (``tests/test_checker_fast.py``).
* Budgets: a deadline, a cap on memoised states and a cap on memory (:data:`DEFAULT_MAX_BYTES`).
  Exhausting any gives ``unknown`` — never a pass, and never an out-of-memory crash.
* Initial values: ``init`` starts the model from a given state (``Model.initial_state``), as Knossos's
  ``(cas-register 0)`` does; every key of a keyed history starts from it.

What a search state costs, and why it no longer grows with the history, is in
``docs/explanation/checker-scale.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from splitbrain.checker import fast, reduced, search
from splitbrain.checker.reachable import unreachable_result
from splitbrain.checker.result import CheckResult, Counterexample, SearchStats
from splitbrain.checker.search import DEFAULT_MAX_BYTES, DEFAULT_MAX_STATES, Budget, Outcome
from splitbrain.errors import InvalidHistory
from splitbrain.histories.history import History, Operation
from splitbrain.models.base import DEFAULT

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_STATES", "check_linearizability", "prepare"]


def _searcher(
    ops: Sequence[Operation],
    model: Any,
    budget: Budget,
    track_longest: bool,
    key_of: Callable[[Operation], Any] | None,
) -> Generator[None, None, Outcome]:
    """The search for one group of operations, on the fastest engine available."""
    if fast.available():
        return fast.searcher(ops, model, budget, track_longest, key_of)
    if key_of is not None:
        return reduced.searcher(ops, model, budget, track_longest, key_of)
    return search.searcher(ops, model, budget, track_longest)


def _run(search_: Generator[None, None, Outcome]) -> Outcome:
    while True:
        try:
            next(search_)
        except StopIteration as done:
            outcome: Outcome = done.value
            return outcome


def prepare(history: History, model: Any) -> list[Operation]:
    """The operations the search considers: failed ones removed (they did not happen), and unknown-outcome
    calls of read-only functions removed (they cannot change the state, so need not be placed)."""
    functions = tuple(getattr(model, "functions", ()) or ())
    readonly = frozenset(getattr(model, "readonly", ()) or ())
    ops: list[Operation] = []
    for op in history.operations:
        if functions and op.f not in functions:
            line = history.line_of(op.call) if history.lines else None
            raise InvalidHistory(
                f"operation {op.f!r} is not understood by model {getattr(model, 'name', model)!r} "
                f"(it knows: {', '.join(functions)})",
                source=history.source,
                line=line,
            )
        if op.status == "fail":
            continue
        if op.ret is None and op.f in readonly:
            continue
        ops.append(op)
    return ops


def _per_key(history: History, ops: Sequence[Operation], model: Any) -> list[list[Operation]] | None:
    """The operations split by key, when they carry keys the model does not read itself; else ``None``."""
    if getattr(model, "keyed", False) or not ops:
        return None
    with_key = [op for op in ops if op.key is not None]
    if not with_key:
        return None
    if len(with_key) != len(ops):
        lone = next(op for op in ops if op.key is None)
        line = history.line_of(lone.call) if history.lines else None
        raise InvalidHistory(
            f"{lone.f} by process {lone.process} has no key, but other operations have one (e.g. "
            f"{with_key[0].f} on key {with_key[0].key!r}); model {getattr(model, 'name', model)!r} is "
            "checked per key, so every operation needs one",
            source=history.source,
            line=line,
        )
    groups: dict[Any, list[Operation]] = {}
    for op in ops:
        groups.setdefault(op.key, []).append(op)
    return list(groups.values())


def check_linearizability(
    history: History,
    model: Any,
    *,
    timeout: float | None = None,
    max_states: int | None = None,
    max_memory: int | None = None,
    partition: bool = True,
    init: Any = DEFAULT,
) -> CheckResult:
    """Check ``history`` against ``model`` (a Model instance, class or registered name).

    ``timeout`` (seconds), ``max_states`` (memoised search states) and ``max_memory`` (bytes of search
    structures; default :data:`DEFAULT_MAX_BYTES`) bound the work; running out gives
    ``valid == "unknown"``. ``init`` starts the model from that value instead of its own initial state.
    ``partition=False`` does not call the model's ``partition``: one search covers the whole history
    (reduced by the model's ``independence_key`` when it declares one; see :mod:`.reduced`).
    A model that finds an operation malformed raises :class:`InvalidHistory`; it is reported with the
    history's source and the line of the event the model named.
    """
    try:
        return _check(history, model, timeout=timeout, max_states=max_states, max_memory=max_memory,
                      partition=partition, init=init)
    except InvalidHistory as exc:
        if exc.source is not None or history.source is None:
            raise
        line = exc.line
        if line is None and exc.event is not None and history.lines and 0 <= exc.event < len(history.lines):
            line = history.line_of(exc.event)
        raise InvalidHistory(exc.problem, source=history.source, line=line) from None


def _check(
    history: History, model: Any, *, timeout: float | None, max_states: int | None, max_memory: int | None,
    partition: bool, init: Any,
) -> CheckResult:
    from splitbrain.models import get_model  # models is a lower layer; imported lazily for start-up

    model = get_model(model, init=init)
    started = time.monotonic()
    budget = Budget(timeout, max_states, max_memory)
    ops = prepare(history, model)
    name = getattr(model, "name", type(model).__name__)
    keyed_groups = _per_key(history, ops, model)
    groups: list[list[Operation]] = keyed_groups or [ops]
    if partition and hasattr(model, "partition"):
        split: list[list[Operation]] = []
        for group in groups:
            parts = model.partition(group)
            split.extend([list(g) for g in parts if g] if parts is not None else [group])
        groups = split
    # one group over several independent keys: the reduced search (one key per group gains nothing)
    key_of: Callable[[Operation], Any] | None = getattr(model, "independence_key", None)
    if len(groups) > 1 or not callable(key_of) or keyed_groups:
        key_of = None
    common = {"model": name, "operations": len(ops), "source": history.source}
    keyed = keyed_groups is not None
    # a completed operation no reachable state allows refutes the history before any search
    refuted = _refuted_before_search(groups, model, started, common, keyed)
    if refuted is not None:
        return refuted
    totals = [0, 0, 0]
    failures: list[tuple[list[Operation], Outcome]] = []
    unknown = False
    # Search the partitions in turns (round robin); stop at the first one proven non-linearizable.
    # The compiled core notes each operation's longest prefix for about nothing, so it does so at once;
    # the pure-Python search does it (O(depth) per backtrack) only in a second pass over a failed group.
    track = fast.available()
    searches = {k: _searcher(group, model, budget, track, key_of) for k, group in enumerate(groups)}
    witnesses: dict[int, list[Operation]] = {}
    while searches and not failures and not unknown:
        for k in list(searches):
            try:
                next(searches[k])
                continue
            except StopIteration as done:
                outcome: Outcome = done.value
            del searches[k]
            totals[0] += outcome.states
            totals[1] += outcome.steps
            totals[2] += outcome.backtracks
            if outcome.valid is True:
                witnesses[k] = [groups[k][i] for i in outcome.witness]
            elif outcome.valid is False:
                failures.append((groups[k], outcome))
            else:
                unknown = True
            if failures or unknown:
                break
    witness = [witnesses[k] for k in sorted(witnesses)]
    stats = SearchStats(
        partitions=len(groups), states=totals[0], steps=totals[1], backtracks=totals[2],
        seconds=time.monotonic() - started,
    )
    if failures:
        group, outcome = min(failures, key=lambda f: len(f[0]))
        if not track:
            # the same (deterministic) search again, noting for each operation the longest prefix with it
            detail = _run(_searcher(group, model, Budget(timeout, max_states, max_memory), True, key_of))
            if detail.valid is False:
                outcome = detail
        stats = SearchStats(
            partitions=stats.partitions, states=stats.states, steps=stats.steps,
            backtracks=stats.backtracks, seconds=time.monotonic() - started,
        )
        describe = getattr(model, "describe_state", repr)
        cx = Counterexample(
            operations=group,
            prefix=[group[i] for i in outcome.deepest],
            state=describe(outcome.deepest_state),
            blocked=None if outcome.blocked is None else group[outcome.blocked],
            longest=_longest_ids(group, outcome.longest),
            partition=_partition_of(group, groups, keyed),
        )
        return CheckResult(valid=False, counterexample=cx, stats=stats, **common)  # type: ignore[arg-type]
    if unknown:
        return CheckResult(valid="unknown", reason=budget.reason, stats=stats, **common)  # type: ignore[arg-type]
    return CheckResult(valid=True, witness=witness, stats=stats, **common)  # type: ignore[arg-type]


def _refuted_before_search(
    groups: Sequence[list[Operation]], model: Any, started: float, common: dict[str, Any], keyed: bool,
) -> CheckResult | None:
    """An invalid result when some group holds a completed operation that no reachable state of the model
    allows (:mod:`.reachable`): no search needed."""
    for group in groups:
        found = unreachable_result(group, model)
        if found is None:
            continue
        describe = getattr(model, "describe_state", repr)
        cx = Counterexample(
            operations=group, prefix=[], state=describe(model.init()), blocked=group[found.index],
            partition=_partition_of(group, groups, keyed), reason=found.explain(describe),
        )
        stats = SearchStats(partitions=len(groups), seconds=time.monotonic() - started)
        return CheckResult(valid=False, counterexample=cx, stats=stats, **common)
    return None


def _partition_of(group: Sequence[Operation], groups: Sequence[Sequence[Operation]], keyed: bool) -> Any:
    """The key a counterexample names: its group's, when the history was split (by key or by the model)."""
    return group[0].key if len(groups) > 1 or keyed else None


def _longest_ids(group: Sequence[Operation], longest: dict[int, list[int]]) -> dict[int, list[int]]:
    """Each operation's longest prefix in operation ids. Operations that share a prefix share one list
    (a long history's counterexample has thousands of operations with one prefix of thousands)."""
    ids: dict[int, list[int]] = {}
    out: dict[int, list[int]] = {}
    for i, seq in longest.items():
        converted = ids.get(id(seq))
        if converted is None:
            converted = ids[id(seq)] = [group[k].id for k in seq]
        out[group[i].id] = converted
    return out
