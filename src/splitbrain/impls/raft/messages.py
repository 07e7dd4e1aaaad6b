"""The messages of Raft (Ongaro & Ousterhout 2014, Figure 2), as immutable values.

A log entry is ``(term, command)``; a command is ``(request_id, f, key, value)``. ``seq`` numbers a
leader's heartbeat rounds and is echoed in replies, so that a ReadIndex read (Ongaro's thesis, 6.4)
knows which replies were sent after it arrived.
"""

from __future__ import annotations

from typing import Any

import msgspec

Command = tuple[int, str, Any, Any]
Entry = tuple[int, Command]


class RequestVote(msgspec.Struct, frozen=True):
    term: int
    last_index: int
    last_term: int


class Vote(msgspec.Struct, frozen=True):
    term: int
    granted: bool


class Append(msgspec.Struct, frozen=True):
    term: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int
    seq: int


class AppendReply(msgspec.Struct, frozen=True):
    """``match``: on success the index of the last entry now known to match; on failure a hint (the
    follower's log is no longer than ``match`` where it matches)."""

    term: int
    success: bool
    match: int
    seq: int
