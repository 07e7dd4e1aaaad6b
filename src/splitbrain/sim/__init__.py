"""The deterministic simulator: nodes, network, faults, clocks, clients, scheduler and trace.

Write a :class:`Node` subclass and a :class:`Workload`, then ``World(workload, seed=7).run()`` gives a
:class:`RunResult` with the trace and the history; :func:`replay` runs a saved :class:`Trace` again.
This layer imports only ``histories``, ``models`` (by name) and ``errors``.

The re-exported names keep their defining ``__module__``: msgspec resolves a Struct's annotations in the
module named there, so trio's habit of rewriting it to the public path would break decoding.
"""

from splitbrain.sim.aims import (
    Aim,
    Trigger,
    after_deliver,
    after_reply,
    after_role_change,
    after_send,
    at,
    when,
    when_role,
)
from splitbrain.sim.client import Client, ClientOp
from splitbrain.sim.clock import Clock
from splitbrain.sim.disk import Disk
from splitbrain.sim.faults import DEFAULT_WEIGHTS, FAULT_KINDS, NO_FAULTS, FaultConfig
from splitbrain.sim.network import Message
from splitbrain.sim.node import Node, Rand, Request
from splitbrain.sim.properties import Property, eventually, leads_to, sometimes
from splitbrain.sim.runtime import Delivery, Violation
from splitbrain.sim.scheduler import Choice, ChoiceSource, Enabled, HypothesisSource, RandomSource, ReplaySource
from splitbrain.sim.trace import Step, Trace
from splitbrain.sim.vclock import VectorClock
from splitbrain.sim.workload import Invariant, Workload, invariant
from splitbrain.sim.world import RunResult, World, replay

__all__ = [
    "DEFAULT_WEIGHTS",
    "FAULT_KINDS",
    "NO_FAULTS",
    "Aim",
    "Choice",
    "ChoiceSource",
    "Client",
    "ClientOp",
    "Clock",
    "Delivery",
    "Disk",
    "Enabled",
    "FaultConfig",
    "HypothesisSource",
    "Invariant",
    "Message",
    "Node",
    "Property",
    "Rand",
    "RandomSource",
    "ReplaySource",
    "Request",
    "RunResult",
    "Step",
    "Trace",
    "Trigger",
    "VectorClock",
    "Violation",
    "Workload",
    "World",
    "after_deliver",
    "after_reply",
    "after_role_change",
    "after_send",
    "at",
    "eventually",
    "invariant",
    "leads_to",
    "replay",
    "sometimes",
    "when",
    "when_role",
]
