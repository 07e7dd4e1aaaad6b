"""Histories: the `Op` and `History` data model, validation and file formats.

This layer imports nothing from the rest of the package (only ``splitbrain.errors``).
"""

from splitbrain.histories.formats.edn import Keyword
from splitbrain.histories.history import UNKNOWN, History, Operation
from splitbrain.histories.io import (
    FORMATS,
    detect_format,
    dumps_history,
    parse_history,
    read_history,
    write_history,
)
from splitbrain.histories.op import NEMESIS, Op, OpType, freeze

__all__ = [
    "FORMATS",
    "NEMESIS",
    "UNKNOWN",
    "History",
    "Keyword",
    "Op",
    "OpType",
    "Operation",
    "detect_format",
    "dumps_history",
    "freeze",
    "parse_history",
    "read_history",
    "write_history",
]
