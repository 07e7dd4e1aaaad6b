"""`Workload`: binds an implementation to its model, its clients, its invariants and its faults.

A workload names the node class of each variant (``"correct"`` plus named bugs), the model its history
must satisfy (by registered name, e.g. ``"cas-register"``), the operations clients issue, the invariants
checked on the world after every step, the faults it is exposed to, and its timing. Subclass it and set
the class attributes; any of them can be overridden per instance: ``MyWorkload(node_count=5)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from splitbrain.errors import UsageError
from splitbrain.sim.client import ClientOp
from splitbrain.sim.faults import FaultConfig
from splitbrain.sim.node import Node, Rand

if TYPE_CHECKING:
    from splitbrain.sim.world import World


@dataclass(frozen=True)
class Invariant:
    """A named safety property of world state: ``check(world)`` returns ``None`` or what is wrong."""

    name: str
    check: Callable[[World], str | None]


def invariant(fn: Callable[[World], str | None]) -> Invariant:
    """Decorator: an :class:`Invariant` named after the function (``one_primary`` -> ``one-primary``)."""
    return Invariant(fn.__name__.strip("_").replace("_", "-"), fn)


class Workload:
    """Base class of workloads. Required: ``name``, ``model``, ``variants`` and :meth:`generate`."""

    name: str = ""
    model: str = ""
    #: variant name -> node class; ``"correct"`` is the implementation that must never be flagged
    variants: Mapping[str, type[Node]] = {}
    node_count: int = 3
    clients: int = 3
    #: client timeout in virtual ticks: the operation completes as ``info`` and the process retires
    op_timeout: int = 100
    #: ticks a client waits before its next operation after a ``fail`` or ``info`` (retry back-off)
    backoff: int = 10
    #: message delay range in ticks, drawn per message
    delay: tuple[int, int] = (1, 5)
    faults: FaultConfig = FaultConfig()
    max_steps: int = 500
    invariants: Sequence[Invariant] = ()

    _settable: ClassVar[tuple[str, ...]] = (
        "name", "model", "variants", "node_count", "clients", "op_timeout", "backoff", "delay", "faults",
        "max_steps", "invariants",
    )

    def __init__(self, **overrides: Any) -> None:
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

    def generate(self, rand: Rand, process: int) -> ClientOp:
        """The next operation for ``process``; draw randomness only from ``rand``."""
        raise NotImplementedError(f"workload {self.name} must define generate(rand, process)")

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

    @property
    def bug_variants(self) -> list[str]:
        """The variants other than ``"correct"``: the bugs the harness must find."""
        return [v for v in self.variants if v != "correct"]

    @property
    def node_ids(self) -> tuple[str, ...]:
        return tuple(f"n{i}" for i in range(1, self.node_count + 1))

    def __repr__(self) -> str:
        return f"<workload {self.name} ({', '.join(self.variants)})>"
