"""``crdt-counter`` and ``crdt-set``: CRDT replicas kept in sync by anti-entropy, judged on their values.

Each node holds one CRDT (:mod:`splitbrain.impls.eventual.crdts`) in durable storage, applies a client's update
locally, acknowledges it, and spreads its state by direct mail and push-pull anti-entropy
(:mod:`splitbrain.impls.eventual.anti_entropy`). No coordination, no leader: every replica accepts every update,
even alone in a partition.

After the faults heal and the world settles, every replica is read (``final-read``), and the checks ask
what a CRDT promises — that replicas converge to the value the acknowledged operations imply:

* ``crdt-value``, counter — a replica's value is the sum of the acknowledged adds plus some subset of the
  adds whose outcome is unknown (``info``: they may or may not have happened), never anything else. A
  read during the run returns the sum of some of the adds invoked before it returned, including every
  add its own replica acknowledged before it was invoked.
* ``crdt-value``, OR-set (add-wins) — an element is there if an acknowledged add of it could not have been
  observed by any remove (every remove of it had returned before the add began); it is not there if every
  add of it was acknowledged and then removed through the same replica (which had observed it); and
  nothing is there that no add added. Reads during the run are held to the first and last rules.
* ``convergence`` — the final reads agree (the causality checker's ``non-convergence``);
* ``clocks`` — the vector clocks stamped on the history agree with its message flow (the causality
  checker's clock checks; a sanity check of the recording).

A read's value is checked only against what is certain from the history, so these checks never flag a
correct replica; the bug variants break the certain part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from splitbrain.checker.causality import check_clocks, check_convergence, happens_before_graph
from splitbrain.histories import History
from splitbrain.histories.history import Operation
from splitbrain.impls.eventual.anti_entropy import AntiEntropyNode, require_settling
from splitbrain.impls.eventual.causal_checks import HistoryCheck, describe
from splitbrain.impls.eventual.crdts import ElementTombstoneSet, ORSet, PNCounter, SumMergePNCounter
from splitbrain.sim import ClientOp, FaultConfig, Rand, Request, Workload, World

ELEMENTS = (0, 1, 2, 3)
DELTAS = (-2, -1, 1, 2, 3)


class CRDTNode(AntiEntropyNode):
    """A replica of one CRDT, ``storage["crdt"]``; subclasses map client operations onto it."""

    crdt: ClassVar[type[Any]]  # the CRDT class; its no-argument instance is the initial state

    def on_start(self) -> None:
        self.storage.setdefault("crdt", self.crdt())
        super().on_start()

    def on_client(self, request: Request) -> None:
        s = self.storage
        if request.f == "read":
            self.reply(request, s["crdt"].value)
            return
        updated = self.update(s["crdt"], request)
        if updated is None:
            self.fail(request, f"unknown operation {request.f!r}")
            return
        s["crdt"] = updated
        self.reply(request)
        self.spread(updated)

    def update(self, state: Any, request: Request) -> Any:
        """The state after ``request``, or ``None`` when the operation is unknown."""
        raise NotImplementedError

    def snapshot(self) -> Any:
        return self.storage["crdt"]

    def absorb(self, state: Any) -> None:
        self.storage["crdt"] = self.storage["crdt"].merge(state)


class CounterNode(CRDTNode):
    crdt: ClassVar[type[Any]] = PNCounter

    def update(self, state: Any, request: Request) -> Any:
        return state.add(self.id, request.value) if request.f == "add" else None


class SumMergeCounterNode(CounterNode):
    crdt: ClassVar[type[Any]] = SumMergePNCounter


class SetNode(CRDTNode):
    crdt: ClassVar[type[Any]] = ORSet

    def update(self, state: Any, request: Request) -> Any:
        if request.f == "add":
            n = self.storage["tags"] = self.storage.get("tags", 0) + 1  # durable: tags never repeat
            return state.add(request.value, (self.id, n))
        return state.remove(request.value) if request.f == "remove" else None


class TombstoneSetNode(SetNode):
    crdt: ClassVar[type[Any]] = ElementTombstoneSet


# -- checks ----------------------------------------------------------------------------------------------
def _finals(history: History) -> list[Operation]:
    return [o for o in history.operations if o.f == "final-read" and o.ok]


def _server(op: Operation) -> str | None:
    return op.completion.node if op.completion is not None else op.invoke.node


def subset_sums(base: int, deltas: Sequence[int]) -> set[int]:
    """Every ``base + sum(s)`` for ``s`` a sub-multiset of ``deltas`` (a bitset over the range)."""
    low = sum(d for d in deltas if d < 0)
    mask = 1 << -low  # bit i stands for the sum low + i
    for d in deltas:
        mask |= mask << d if d >= 0 else mask >> -d
    return {base + low + i for i in range(mask.bit_length()) if mask >> i & 1}


def _show_sums(sums: set[int], limit: int = 12) -> str:
    shown = sorted(sums)
    return ", ".join(map(str, shown[:limit])) + (" …" if len(shown) > limit else "")


def check_counter(history: History) -> tuple[Any, str]:
    """The ``crdt-value`` check of a counter history (see the module docstring)."""
    ops = [o for o in history.operations if o.status != "fail"]
    adds = [o for o in ops if o.f == "add"]
    finals = _finals(history)
    if not finals:
        return "unknown", "crdt-value: no final reads in the history (did the run settle?)"
    acked = sum(o.input for o in adds if o.ok)
    unsure = [o.input for o in adds if not o.ok]
    allowed = subset_sums(acked, unsure)
    problems = []
    for f in finals:
        if f.output not in allowed:
            problems.append(
                f"{f.invoke.node} ended with {f.output}, but the {sum(o.ok for o in adds)} acknowledged adds sum "
                f"to {acked}" + (f" and the {len(unsure)} of unknown outcome ({', '.join(f'{d:+d}' for d in unsure)}) "
                                 f"allow only {_show_sums(allowed)}" if unsure else "")
            )
    for r in ops:
        if r.f != "read" or not r.ok or r.ret is None:
            continue
        node = _server(r)
        required = {o.id: o.input for o in adds if o.ok and o.ret is not None and o.ret < r.call and _server(o) == node}
        optional = [o.input for o in adds if o.call < r.ret and o.id not in required]
        possible = subset_sums(sum(required.values()), optional)
        if r.output not in possible:
            problems.append(
                f"p{r.process} read {r.output} at {node} (event {r.call}); {node} had acknowledged adds "
                f"summing to {sum(required.values())} before, and the {len(optional)} other adds begun "
                f"by then allow only {_show_sums(possible)}"
            )
    if problems:
        return False, "crdt-value: wrong counter value\n" + "\n".join(f"  {p}" for p in problems[:10])
    return True, f"crdt-value: every replica ended at a sum the {len(adds)} adds allow"


def _could_observe(remove: Operation, add: Operation) -> bool:
    """A remove can have seen an add's tag unless it returned before the add was invoked."""
    return remove.ret is None or remove.ret > add.call


def _removed_after(add: Operation, removes: list[Operation]) -> bool:
    """``add`` was acknowledged, then a remove of its element went through the same replica, which held
    the add's tag by then (it applied the add before acknowledging it, durably) and so tombstoned it."""
    return add.ret is not None and any(
        r.ok and r.input == add.input and _server(r) == _server(add) and r.call > add.ret for r in removes
    )


def check_set(history: History) -> tuple[Any, str]:
    """The ``crdt-value`` check of an OR-set history, add-wins (see the module docstring)."""
    ops = [o for o in history.operations if o.status != "fail"]
    adds = [o for o in ops if o.f == "add"]
    removes = [o for o in ops if o.f == "remove"]
    finals = _finals(history)
    if not finals:
        return "unknown", "crdt-value: no final reads in the history (did the run settle?)"
    problems = []

    def judge(read: Operation, got: tuple[Any, ...], invoked: int, returned: int) -> None:
        """``read`` (invoked and returned at those history indices) returned ``got``."""
        what = "final read" if read.f == "final-read" else f"p{read.process} read"
        where = f"{_server(read)} ({what}, event {read.call})"
        for e in got:
            if not any(a.input == e and a.call < returned for a in adds):
                problems.append(f"{where} holds {e!r}, which no add added before")
        for a in adds:
            if not a.ok or a.ret is None or a.ret >= invoked or a.input in got:
                continue
            rivals = [r for r in removes if r.input == a.input and r.call < returned and _could_observe(r, a)]
            if not rivals and (read.f == "final-read" or _server(a) == _server(read)):
                problems.append(
                    f"{where} lacks {a.input!r}: p{a.process} added it at {_server(a)} (event {a.call}, acknowledged) "
                    f"and no remove of it could have observed that add"
                )
        if read.f != "final-read":
            return
        for e in sorted({a.input for a in adds} & set(got)):
            if all(_removed_after(a, removes) for a in adds if a.input == e):
                problems.append(f"{where} holds {e!r}, though every add of it was removed afterwards at its replica")

    for f in finals:
        judge(f, tuple(f.output), len(history.ops), len(history.ops))
    for r in ops:
        if r.f == "read" and r.ok and r.ret is not None:
            judge(r, tuple(r.output), r.call, r.ret)
    if problems:
        return False, "crdt-value: the set breaks add-wins semantics\n" + "\n".join(f"  {p}" for p in problems[:10])
    return True, f"crdt-value: every set read agrees with the {len(adds)} adds and {len(removes)} removes"


def check_convergence_only(history: History) -> tuple[Any, str]:
    found = list(check_convergence([o for o in history.operations if o.status != "fail"]))
    if found:
        return False, "convergence: replicas disagree after settling\n" + describe(found)
    return (True, "convergence: every replica agrees") if _finals(history) else ("unknown", "no final reads")


def check_clock_flow(history: History) -> tuple[Any, str]:
    found = list(check_clocks(happens_before_graph(history)))
    return (False, "clocks:\n" + describe(found)) if found else (True, "clocks: consistent with the flow")


# -- workloads -------------------------------------------------------------------------------------------
CRDT_FAULTS = FaultConfig(weights={"partition": 20, "heal": 20, "crash": 6, "restart": 30, "duplicate": 5})

#: the faults and run length each bug variant is searched with; the correct versions pass them too
COUNTER_SEARCH: dict[str, tuple[FaultConfig, int]] = {"sum-merge": (FaultConfig(kinds=()), 60)}
SET_SEARCH: dict[str, tuple[FaultConfig, int]] = {"remove-unobserved": (CRDT_FAULTS, 100)}


class _CRDTWorkload(Workload):
    """What the two CRDT workloads share: three replicas, three clients, settling, final reads."""

    model = "eventual"  # judged by history_checks(), not by a sequential model
    disk = "durable"  # it never calls fsync: every storage write must be durable at once (a power loss = a crash)
    node_count = 3
    clients = 3
    op_timeout = 60
    delay = (1, 5)
    faults = CRDT_FAULTS
    max_steps = 200
    settle = 100  # enough for up to five replicas to converge (require_settling)
    value_check: ClassVar[Callable[[History], tuple[Any, str]]]

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        require_settling(self, CRDTNode.gossip_period)

    def final_reads(self, world: World) -> Iterator[tuple[str, Any, Any]]:
        for node in world.node_ids:
            yield node, None, world.storage(node)["crdt"].value

    def history_checks(self) -> list[tuple[str, HistoryCheck]]:
        return [("crdt-value", type(self).value_check), ("convergence", check_convergence_only),
                ("clocks", check_clock_flow)]


class CRDTCounterWorkload(_CRDTWorkload):
    """A PN-counter: adds of -2..3 and reads."""

    name = "crdt-counter"
    search = COUNTER_SEARCH  # the faults and steps each bug variant is searched with
    linearizability_model = "counter"  # what a linearizable counter would satisfy (``splitbrain cap``)
    variants = {"correct": CounterNode, "sum-merge": SumMergeCounterNode}
    value_check = check_counter

    def generate(self, rand: Rand, process: int) -> ClientOp:
        return ClientOp("read") if rand.randint(0, 2) == 0 else ClientOp("add", rand.choice(DELTAS))


class CRDTSetWorkload(_CRDTWorkload):
    """An add-wins OR-set over four elements: add, remove, read."""

    name = "crdt-set"
    search = SET_SEARCH  # the faults and steps each bug variant is searched with
    variants = {"correct": SetNode, "remove-unobserved": TombstoneSetNode}
    value_check = check_set

    def generate(self, rand: Rand, process: int) -> ClientOp:
        f = rand.choice(("add", "add", "remove", "read"))
        return ClientOp("read") if f == "read" else ClientOp(f, rand.choice(ELEMENTS))
