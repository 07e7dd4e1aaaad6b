"""Histories: the `Op` and `History` data model, validation and file formats.

This layer imports nothing from the rest of the package (only ``splitbrain.errors``).
"""

from splitbrain.histories.history import UNKNOWN, History, Operation
from splitbrain.histories.op import NEMESIS, Op, OpType, freeze

__all__ = ["NEMESIS", "UNKNOWN", "History", "Op", "OpType", "Operation", "freeze"]
