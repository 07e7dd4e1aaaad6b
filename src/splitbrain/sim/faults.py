"""`FaultConfig`: which faults a world may inject, how often, and how many.

The scheduler picks each step among the enabled events with integer weights; a message delivery weighs
1000, and the fault weights below are relative to it. Weights are integers so that every source (seeded
RNG, Hypothesis, replay) treats them the same way on every platform.

Fault kinds: ``drop``, ``duplicate``, ``delay`` (each acts on one node-to-node message in flight),
``reorder`` (links stop being FIFO), ``partition`` (nodes split into groups), ``oneway`` (one-way
partition), ``bridge`` (two sides that cannot talk, and one node that talks to both — Jepsen's bridge
nemesis; opt-in, see :data:`DEFAULT_KINDS`), ``crash`` (a node loses its memory; ``restart`` recovers
it from storage), ``pause`` (a node stops processing until ``resume``), ``skew`` (a node's clock gets
a new offset and drift) and ``power-loss`` (a node's machine loses power: a crash that also loses the
storage writes it did not sync, some of them torn — see :mod:`splitbrain.sim.disk`; opt-in, like
``bridge``). Recoveries (``heal``, ``restart``, ``resume``) come with their fault and do not count
against the budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from splitbrain.errors import UsageError

__all__ = [
    "DEFAULT_KINDS",
    "DEFAULT_WEIGHTS",
    "FAULT_KINDS",
    "NO_FAULTS",
    "FaultConfig",
]


FAULT_KINDS: tuple[str, ...] = (
    "drop", "duplicate", "delay", "reorder", "partition", "oneway", "bridge", "crash", "pause", "skew",
    "power-loss",
)

#: the kinds a ``FaultConfig()`` allows: all but ``bridge`` and ``power-loss``, which came later — enabling
#: them by default would change the schedule every saved seed and trace (whose header omits a default
#: config) stands for
DEFAULT_KINDS: tuple[str, ...] = tuple(k for k in FAULT_KINDS if k not in ("bridge", "power-loss"))

#: the weight of each kind of step, relative to a message delivery (1000). ``advance`` moves time to the
#: next deadline when nothing is ready; ``stall`` is the weight of the same step while events are ready
#: (they then run late: the whole system stalls, as under a long GC pause or a slow network). Message
#: faults weigh per message in flight, node faults per node.
DEFAULT_WEIGHTS: dict[str, int] = {
    "deliver": 1000, "timer": 1000, "timeout": 1000, "invoke": 250, "advance": 1000, "stall": 30,
    "drop": 3, "duplicate": 2, "delay": 3,
    "partition": 5, "oneway": 3, "bridge": 3, "heal": 20,
    "crash": 3, "restart": 20, "pause": 3, "resume": 20, "skew": 3, "power-loss": 3,
}


class FaultConfig(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The faults a world may inject.

    ``kinds`` lists the allowed fault kinds (default :data:`DEFAULT_KINDS`: every kind but ``bridge`` and
    ``power-loss``);
    ``weights`` overrides entries of :data:`DEFAULT_WEIGHTS`; ``budget`` caps the number of fault steps
    (``None``: no cap); ``max_down`` caps the nodes crashed or paused at once (``None``: a minority);
    skews are drawn from ``[-max_skew, max_skew]`` ticks, drifts from ``[-max_drift_ppm, max_drift_ppm]``
    and extra delays from ``[1, max_extra_delay]``.
    """

    kinds: tuple[str, ...] = DEFAULT_KINDS
    weights: dict[str, int] = msgspec.field(default_factory=dict)
    budget: int | None = None
    max_down: int | None = None
    max_skew: int = 100
    max_drift_ppm: int = 100_000
    max_extra_delay: int = 50

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in FAULT_KINDS]
        if unknown:
            raise UsageError(
                f"unknown fault kind {unknown[0]!r} (known: {', '.join(FAULT_KINDS)})"
            )
        for name, weight in self.weights.items():
            if name not in DEFAULT_WEIGHTS:
                raise UsageError(
                    f"unknown weight {name!r} in FaultConfig.weights (known: {', '.join(DEFAULT_WEIGHTS)})"
                )
            if not isinstance(weight, int) or weight < 0:
                raise UsageError(f"weight {name!r} must be a non-negative int, got {weight!r}")
        if self.budget is not None and self.budget < 0:
            raise UsageError(f"budget must be >= 0 or None, got {self.budget}")
        if not 0 <= self.max_drift_ppm < 1_000_000:
            raise UsageError(f"max_drift_ppm must be in [0, 1000000), got {self.max_drift_ppm}")

    @classmethod
    def coerce(cls, value: Any) -> FaultConfig:
        """A config from ``None`` (all faults), a config, or an iterable of kind names (``()``: none)."""
        if value is None:
            return cls()
        if isinstance(value, FaultConfig):
            return value
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if isinstance(value, Iterable):
            kinds = list(value)
            for kind in kinds:
                if kind not in FAULT_KINDS:
                    raise UsageError(f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})")
            return cls(kinds=tuple(k for k in FAULT_KINDS if k in kinds))
        raise UsageError(f"faults must be a FaultConfig, a list of fault kinds or None; got {value!r}")

    def weight(self, kind: str) -> int:
        return self.weights.get(kind, DEFAULT_WEIGHTS[kind])

    def allows(self, kind: str) -> bool:
        return kind in self.kinds


NO_FAULTS = FaultConfig(kinds=())
