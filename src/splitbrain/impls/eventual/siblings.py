"""``siblings-register``: the sequential specification of one key of a store that keeps concurrent writes
as siblings, for checking such a store for linearizability (``splitbrain cap``).

A Dynamo-style store (``gossip-kv``) answers a read with every sibling it holds, and a write replaces only
the versions its writer had seen. A *linearizable* such store behaves as if each operation took effect at
one instant between its invoke and its completion, where

* a ``write v`` makes ``v`` a sibling and may replace any of the current siblings (which ones depends on
  what its writer had read — the history does not say, so the model allows any);
* a ``read`` returns exactly the current siblings (a tuple or set of values; the empty one before any
  write).

So a read must include the value of the last write before it, may include older siblings still standing,
and can never bring back a sibling that an earlier read showed gone. Written values must be unique.

The choice of which siblings a write replaces is left open until a read pins it, which keeps the model
deterministic: the state is ``(kept, maybe)`` — the siblings certainly there, and those a write may or
may not have replaced. ``write v`` gives ``({v}, kept | maybe)``; a read that returns ``S`` is legal when
``kept <= S <= kept | maybe`` and leaves ``(S, {})``. Keys are independent: the checker takes one key at
a time (the model is not ``keyed``).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from splitbrain.histories.history import UNKNOWN, Operation
from splitbrain.models import Model

__all__ = ["SiblingsRegister"]

State = tuple[frozenset[Any], frozenset[Any]]


class SiblingsRegister(Model):
    """One key of a multi-value store: writes add a sibling (replacing some), reads return them all."""

    name: ClassVar[str] = "siblings-register"
    summary: ClassVar[str] = "a multi-value register: write v adds a sibling, read returns every sibling"
    functions: ClassVar[tuple[str, ...]] = ("read", "write")
    readonly: ClassVar[tuple[str, ...]] = ("read",)

    def init(self) -> Hashable:
        return (frozenset(), frozenset())

    def step(self, state: State, op: Operation) -> tuple[State, ...]:
        kept, maybe = state
        if op.f == "write":
            return ((frozenset({op.input}), kept | maybe),)
        if op.f != "read":
            return ()
        out = op.output
        if out is UNKNOWN:
            return (state,)
        got = frozenset(out) if isinstance(out, tuple | list | frozenset | set) else frozenset(
            () if out is None else (out,)
        )
        if kept <= got <= kept | maybe:
            return ((got, frozenset()),)
        return ()

    def describe_state(self, state: State) -> str:
        kept, maybe = state
        shown = " ".join(repr(v) for v in sorted(kept, key=repr)) or "nothing"
        if maybe:
            shown += " (and maybe " + " ".join(repr(v) for v in sorted(maybe, key=repr)) + ")"
        return shown
