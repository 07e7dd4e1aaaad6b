"""The Raft bug zoo: each variant is one real mistake, made by flipping one switch of
:class:`~splitbrain.impls.raft.node.RaftNode` (Ongaro & Ousterhout 2014 name the rule each one breaks).
"""

from __future__ import annotations

from splitbrain.impls.raft.node import RaftNode
from splitbrain.sim import Node


class UnpersistedVote(RaftNode):
    """Term and vote live only in memory (Figure 2 requires them on stable storage): a restarted node
    recovers its term from its log, forgets its vote, and can vote twice in one term."""

    persist_vote = False


class UnsyncedVote(RaftNode):
    """Term and vote are written to storage but never synced before the node answers (it syncs only its
    log, as if they lived in a separate file written without ``fsync``). A process crash keeps them — the
    operating system still holds the write — so plain crashes never show it; a ``power-loss`` loses
    them, and the restarted node can grant a second vote in a term it already voted in (Figure 2: "updated
    on stable storage before responding to RPCs")."""

    sync_vote = False


class CommitOldTerm(RaftNode):
    """The leader commits entries of earlier terms by counting replicas — the Figure 8 case (section
    5.4.2): such an entry can still be overwritten by a leader elected without it."""

    commit_current_term_only = False


class StaleRead(RaftNode):
    """The leader answers reads from its state machine without confirming it is still leader: after a
    partition it serves values a newer leader has overwritten."""

    confirm_reads = False


class TruncateOnAppend(RaftNode):
    """A follower replaces everything after ``prev_index`` on each AppendEntries, even entries that match:
    a delayed (shorter) message erases entries that were already counted as committed (section 5.3 says
    to truncate only at a conflict)."""

    truncate_on_conflict_only = False


class NoStepDown(RaftNode):
    """Reply handlers ignore the term of the reply: a leader does not step down on a higher one (a
    rejection from a newer term even confirms its ReadIndex reads, so a deposed leader serves stale
    reads), and a candidate counts a late vote granted in one of its earlier elections."""

    heed_reply_terms = False


class VoteByLength(RaftNode):
    """A voter judges a candidate's log by its length alone (section 5.4.1 compares the last entries'
    terms first): a node holding a long tail of stale entries from a deposed leader wins an election over
    nodes holding a newer committed entry, and overwrites it. It takes a leader cut off while it keeps
    taking writes, a new leader committing fewer entries, and the old one winning an election after."""

    vote_by_last_term = False


class TruncateOffByOne(RaftNode):
    """On a conflicting entry a follower cuts its log after it instead of at it (``del log[i + 1:]``), so
    the stale entry stays and every new entry lands one index too late, while the follower reports the
    leader's index as matched. It takes diverged logs: a leader that appended entries no one else has,
    and a newer leader overwriting them."""

    cut_at_conflict = False


VARIANTS: dict[str, type[Node]] = {
    "correct": RaftNode,
    "unpersisted-vote": UnpersistedVote,
    "unsynced-vote": UnsyncedVote,
    "commit-old-term": CommitOldTerm,
    "stale-read": StaleRead,
    "truncate-on-append": TruncateOnAppend,
    "no-step-down": NoStepDown,
    "vote-by-length": VoteByLength,
    "truncate-off-by-one": TruncateOffByOne,
}
