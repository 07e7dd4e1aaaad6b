"""The messages of Raft (Ongaro & Ousterhout 2014, Figure 2), as immutable values.

A log entry is ``(term, command)``; a command is ``(request_id, f, key, value)``. ``seq`` numbers a
leader's heartbeat rounds and is echoed in replies, so that a ReadIndex read (Ongaro's thesis, 6.4)
knows which replies were sent after it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Command = tuple[int, str, Any, Any]
Entry = tuple[int, Command]


@dataclass(frozen=True, slots=True)
class RequestVote:
    term: int
    last_index: int
    last_term: int


@dataclass(frozen=True, slots=True)
class Vote:
    term: int
    granted: bool


@dataclass(frozen=True, slots=True)
class Append:
    term: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int
    seq: int


@dataclass(frozen=True, slots=True)
class AppendReply:
    """``match``: on success the index of the last entry now known to match; on failure a hint (the
    follower's log is no longer than ``match`` where it matches)."""

    term: int
    success: bool
    match: int
    seq: int
