"""`Workload`: binds an implementation to its model, its clients, its invariants and its faults.

A workload names the node class of each variant (``"correct"`` plus named bugs), the model its history
must satisfy (by registered name, e.g. ``"cas-register"``), the operations clients issue, the invariants
checked on the world after every step, the faults it is exposed to, and its timing. Subclass it and set
the class attributes; any of them can be overridden per instance: ``MyWorkload(node_count=5)``.

Eventually consistent systems are judged on the state they converge to, so two optional hooks extend the
quiesce phase: ``settle`` keeps the world running (timers and messages only) for that many ticks after
the last client operation completed, and :meth:`Workload.final_reads` then reads every replica into the
history as ``final-read`` operations. A workload that sets neither runs exactly as before.

Four settings reach past the nodes: ``disk`` says what a power loss keeps of ``storage``
(:mod:`splitbrain.sim.disk`), ``client_class`` gives each client its own state and failover policy
(:class:`~splitbrain.sim.client.Client`), ``roles`` names the nodes that play a part at a given moment
(``"leader"``), and ``aims`` lists faults aimed at roles and events (:mod:`splitbrain.sim.aims`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, overload

from splitbrain.errors import UsageError
from splitbrain.sim.client import Client, ClientOp
from splitbrain.sim.disk import DISKS
from splitbrain.sim.faults import FaultConfig
from splitbrain.sim.node import Node, Rand
from splitbrain.sim.properties import Property, validate

if TYPE_CHECKING:
    from splitbrain.histories import History
    from splitbrain.sim.aims import Aim
    from splitbrain.sim.world import World

__all__ = [
    "Invariant",
    "Workload",
    "invariant",
]


@dataclass(frozen=True)
class Invariant:
    """A named safety property of world state: ``check(world)`` returns ``None`` or what is wrong.

    ``state_only`` declares that the check reads nothing but the nodes and their storage (not the time,
    the clients or the network): the world then skips it after a step that ran no node code — time
    advancing, a message fault, a partition, a client sending a request or hearing back — since such a
    step cannot change its verdict. Most steps of a run are such steps.
    """

    name: str
    check: Callable[[World], str | None]
    state_only: bool = False


@overload
def invariant(fn: Callable[[World], str | None], /) -> Invariant: ...


@overload
def invariant(*, state_only: bool = False) -> Callable[[Callable[[World], str | None]], Invariant]: ...


def invariant(fn: Any = None, /, *, state_only: bool = False) -> Any:
    """Decorator: an :class:`Invariant` named after the function (``one_primary`` -> ``one-primary``);
    ``@invariant(state_only=True)`` for a check that reads only node state (see :class:`Invariant`)."""
    if fn is None:
        return lambda f: Invariant(f.__name__.strip("_").replace("_", "-"), f, state_only)
    return Invariant(fn.__name__.strip("_").replace("_", "-"), fn, state_only)


class Workload:
    """Base class of workloads. Required: ``name``, ``model``, ``variants`` and :meth:`generate`."""

    name: str = ""
    """the name campaigns, saved failures and ``splitbrain workloads`` know it by"""
    model: Any = ""
    """what its histories are checked against: a model (a registered name, an import path ``pkg.mod:Model``, a
    model class or instance); a workload judged by its own ``history_checks()`` names here what those check
    ("eventual", "rate-limit")"""
    variants: Mapping[str, type[Node]] = {}
    """variant name -> node class; ``"correct"`` is the implementation that must never be flagged"""
    node_count: int = 3
    """how many nodes (``n1`` ... ``nN``)"""
    clients: int = 3
    """how many client slots (``c0`` ...), each running one operation at a time"""
    op_timeout: int = 100
    """client timeout in virtual ticks: the operation completes as ``info`` and the process retires"""
    backoff: int = 10
    """ticks a client waits before its next operation after a ``fail`` or ``info`` (retry back-off)"""
    delay: tuple[int, int] = (1, 5)
    """message delay range in ticks, drawn per message"""
    faults: FaultConfig = FaultConfig()
    """the faults drawn by default (``splitbrain fuzz --faults`` overrides them)"""
    max_steps: int = 500
    """steps of the run phase, before the quiesce phase heals everything and lets operations finish"""
    invariants: Sequence[Invariant] = ()
    """safety properties of world state (:func:`invariant`), checked after every step (a ``state_only`` one
    only after the steps that ran node code)"""
    settle: int = 0
    """virtual ticks the quiesce phase keeps running timers and messages (no faults, no new operations) after
    every client's operation has completed, e.g. for anti-entropy to converge; 0: stop at once"""
    search: Mapping[str, tuple[FaultConfig, int]] = {}
    """bug variant -> ``(faults, max_steps)`` it is searched with (``splitbrain fuzz --search``): the faults its
    scenario needs, made frequent; optional, and only for named bugs"""
    disk: str = "fsync"
    """what survives a ``power-loss`` fault: ``"fsync"`` — what the node synced (``Node.fsync``), plus whichever
    unsynced writes happen to land, some torn; ``"durable"`` — every write, at once (a power loss is then a
    crash). A plain ``crash`` keeps every write either way (see :mod:`splitbrain.sim.disk`)"""
    client_class: type[Client] = Client
    """each client slot's own state and policy (:class:`~splitbrain.sim.client.Client`)"""
    roles: Mapping[str, Callable[[World], str | None]] = {}
    """role name -> ``fn(world)`` giving the node that plays it now (or ``None``), for aimed faults: ``{"leader":
    current_leader}``"""
    aims: Sequence[Aim] = ()
    """faults aimed at roles and events, fired as explicit steps (:mod:`splitbrain.sim.aims`)"""
    properties: Sequence[Property] = ()
    """liveness and reachability properties — :func:`~splitbrain.sim.properties.eventually`,
    :func:`~splitbrain.sim.properties.leads_to`, :func:`~splitbrain.sim.properties.sometimes`"""

    _settable: ClassVar[tuple[str, ...]] = (
        "name", "model", "variants", "node_count", "clients", "op_timeout", "backoff", "delay", "faults",
        "max_steps", "invariants", "settle", "search", "disk", "client_class", "roles", "aims", "properties",
    )

    def __init__(self, **overrides: Any) -> None:
        #: the settings given to the constructor, kept so that a worker process can build the same workload
        self.overrides: dict[str, Any] = dict(overrides)
        for key, value in overrides.items():
            if key not in self._settable:
                raise UsageError(
                    f"{type(self).__name__} has no setting {key!r} (settings: {', '.join(self._settable)})"
                )
            setattr(self, key, value)
        if not self.name or not self.model or not self.variants:
            raise UsageError(f"workload {type(self).__name__} needs a name, a model and variants")
        if self.node_count < 1 or self.clients < 0:
            raise UsageError(f"workload {self.name}: node_count must be >= 1 and clients >= 0")
        lo, hi = self.delay
        if not 0 <= lo <= hi:
            raise UsageError(
                f"workload {self.name}: delay must be (lo, hi) with 0 <= lo <= hi, got {self.delay}"
            )
        if not isinstance(self.settle, int) or self.settle < 0:
            raise UsageError(f"workload {self.name}: settle must be an int >= 0 (ticks), got {self.settle!r}")
        if self.disk not in DISKS:
            raise UsageError(f"workload {self.name}: disk must be one of {', '.join(DISKS)}; got {self.disk!r}")
        self.properties = validate(self.properties, self.name)
        if not (isinstance(self.client_class, type) and issubclass(self.client_class, Client)):
            raise UsageError(
                f"workload {self.name}: client_class must be a subclass of splitbrain.sim.Client, got "
                f"{self.client_class!r}"
            )

    def generate(self, rand: Rand, process: int) -> ClientOp:
        """The next operation for ``process``; draw randomness only from ``rand``."""
        raise NotImplementedError(f"workload {self.name} must define generate(rand, process)")

    def final_reads(self, world: World) -> Iterable[tuple[str, Any, Any]]:
        """``(node, key, value)`` for each replica read to record when the run has quiesced and settled.

        Each becomes a ``final-read`` operation of process ``node`` at that node (an invoke and its ``ok``
        with ``value``), stamped with the node's vector clock, one tick per read: what the causality
        checker's convergence and lost-update checks read. Read the nodes' state through ``world``
        (``world.node(id)``, ``world.storage(id)``), in a fixed order. Default: none.
        """
        return ()

    def abstract_state(self, world: World) -> Hashable | None:
        """A small hashable summary of what matters in ``world`` now (roles, terms, commit points — what
        the protocol's correctness turns on), or ``None`` to declare none. Default: ``None``.

        Campaigns count the distinct abstract states their schedules reach (coverage, reported as it
        grows) and the default ``portfolio`` strategy steers toward schedules that reach new ones
        (:mod:`splitbrain.fuzz.portfolio`). It is called after every step that ran node code, so keep it
        cheap and coarse: raw counters (terms, sequence numbers, timestamps) make every run look new, and
        then novelty steers nowhere; lags and caps ("one term behind the newest") keep it meaningful.
        Read nodes with ``world.node(id)`` (``None`` when crashed) and ``world.storage(id)``, in node
        order. A workload that declares none is summarised generically: each live node's ``role``,
        ``term`` and ``view`` attributes, if it has them.
        """
        return None

    def history_checks(self) -> Sequence[tuple[str, Callable[[History], tuple[Any, str]]]] | None:
        """The checks each run's history goes through, as ``(name, check)`` pairs; ``check(history)``
        returns ``(valid, explanation)`` with ``valid`` ``True``, ``False`` or ``"unknown"`` (a
        :class:`~splitbrain.checker.result.CheckResult` unpacks that way). ``None`` (the default):
        linearizability against :attr:`model`. Override it for a system judged otherwise — causal
        consistency, transactional isolation, a rate limit (the zoo's eventual and bank systems do). A
        failing check's name is the failure's signature: ``checker:NAME``."""
        return None

    def choose_node(self, rand: Rand, nodes: Sequence[str], process: int) -> str:
        """The node a client sends its next operation to (default: any, uniformly)."""
        return rand.choice(nodes)

    def node_class(self, variant: str) -> type[Node]:
        try:
            return self.variants[variant]
        except KeyError:
            raise UsageError(
                f"workload {self.name!r} has no variant {variant!r} (variants: {', '.join(self.variants)})"
            ) from None

    def search_settings(self, variant: str) -> tuple[FaultConfig, int]:
        """``(faults, max_steps)`` the bug ``variant`` is searched with; a clear error when it has none."""
        if variant not in self.search:
            which = ", ".join(self.search) or "none"
            raise UsageError(
                f"workload {self.name!r} has no search settings for variant {variant!r} (variants with them: "
                f"{which}); search settings belong to bug variants — fuzz without --search, or with "
                "--faults/--max-steps"
            )
        return self.search[variant]

    @property
    def bug_variants(self) -> list[str]:
        """The variants other than ``"correct"``: the bugs the harness must find."""
        return [v for v in self.variants if v != "correct"]

    @property
    def node_ids(self) -> tuple[str, ...]:
        return tuple(f"n{i}" for i in range(1, self.node_count + 1))

    def __repr__(self) -> str:
        return f"<workload {self.name} ({', '.join(self.variants)})>"
