"""A Raft node serving a replicated key-value store (Ongaro & Ousterhout 2014, "In Search of an
Understandable Consensus Algorithm"; ReadIndex from Ongaro's thesis, section 6.4).

* Durable (``self.storage``): ``term``, ``vote`` and ``log`` (a list of ``(term, command)``), written
  *and synced* (``fsync``) before any message that depends on them is sent — a vote, an acknowledgement
  of entries, a leader counting its own copy of an entry. Figure 2 calls this "updated on stable storage
  before responding to RPCs"; a write the disk has not synced does not survive a ``power-loss``.
  Everything else — role, commit index, the state machine — is rebuilt after a restart.
* Elections: randomized timeouts; a candidate re-sends RequestVote each heartbeat to peers that have not
  granted (lost messages would otherwise stall an election for a whole timeout).
* Replication: AppendEntries with at most ``MAX_BATCH`` entries, consistency check on
  ``(prev_index, prev_term)``, back-off on the follower's hint. A leader commits an entry only when a
  majority holds it and it is of the leader's own term (Figure 8): earlier entries commit with it.
* The state machine applies committed ``get``/``put``/``append`` commands, remembering each request's
  result, so a command applied twice (a retried request) takes effect once.
* Reads: once the leader has committed an entry of its term, a read takes ReadIndex — note the commit
  index, confirm leadership with a heartbeat round a majority answers *in this term*, wait until applied,
  answer. Before that, a read goes through the log like a write (which also commits earlier entries).
* Clients: a follower redirects to the leader it knows; without one it parks the request and retries a
  few heartbeats before failing it (it did nothing with it). A leader answers a request when its entry is
  applied; if another command was committed at that index, the request can never commit (each request
  is appended once), so it fails.

The bug variants (:mod:`splitbrain.impls.raft.variants`) flip the class switches below.
"""

from __future__ import annotations

from typing import Any, ClassVar

from splitbrain.impls.raft.messages import Append, AppendReply, Command, Entry, RequestVote, Vote
from splitbrain.sim import Node, Request

HEARTBEAT = 10
ELECTION_TIMEOUT = (40, 80)
MAX_BATCH = 4
PARK_TRIES = 3


class RaftNode(Node):
    """The correct Raft node; the ``ClassVar`` switches are the bug variants' knobs."""

    persist_vote: ClassVar[bool] = True  # term and vote are written to storage
    sync_vote: ClassVar[bool] = True  # ... and synced before anything depends on them
    commit_current_term_only: ClassVar[bool] = True  # Figure 8's rule
    confirm_reads: ClassVar[bool] = True  # ReadIndex round before answering a read
    truncate_on_conflict_only: ClassVar[bool] = True  # keep matching entries on AppendEntries
    heed_reply_terms: ClassVar[bool] = True  # step down on a higher term in a reply
    vote_by_last_term: ClassVar[bool] = True  # "up to date" compares last terms first, then lengths
    cut_at_conflict: ClassVar[bool] = True  # a conflicting entry is itself removed, not only what follows it

    role: str
    term: int
    vote: str | None
    log: list[Entry]

    def on_start(self) -> None:
        s = self.storage
        if "log" not in s:
            self.persist(term=0, vote=None, log=[])
        self.log = s["log"]
        if self.persist_vote:
            self.term, self.vote = s.get("term", 0), s.get("vote")
        else:  # the bug: recover the term from the log, and forget the vote
            self.term, self.vote = (self.log[-1][0] if self.log else 0), None
        self.role = "follower"
        self.leader: str | None = None
        self.commit = 0
        self.applied: list[Command] = []  # the state machine's input, in log order
        self.kv: dict[Any, str] = {}
        self.results: dict[int, Any] = {}  # request id -> result: duplicates apply once
        self.votes: set[str] = set()
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.acked: dict[str, int] = {}  # peer -> newest heartbeat round it answered in this term
        self.seq = 0
        self.waiting: dict[int, Request] = {}  # log index -> the request appended there
        self.reads: list[tuple[int, int, Request]] = []  # (round, read index, request)
        self.parked: list[list[Any]] = []  # [request, tries]
        self._reset_election()

    # -- helpers -------------------------------------------------------------------------------------
    @property
    def majority(self) -> int:
        return len(self.nodes) // 2 + 1

    def _save(self) -> None:
        if self.persist_vote:
            self.storage.update(term=self.term, vote=self.vote)
            if self.sync_vote:
                self.fsync("term", "vote")

    def _reset_election(self) -> None:
        self.set_timer(self.randint(*ELECTION_TIMEOUT), "election")

    def _last_term(self) -> int:
        return self.log[-1][0] if self.log else 0

    def _become_follower(self, term: int) -> None:
        if term > self.term:
            self.term, self.vote, self.leader = term, None, None
            self._save()
        was = self.role
        self.role = "follower"
        if was == "leader":
            self.cancel_timer("heartbeat")
            self._reset_election()
            for _, _, req in self.reads:
                self.fail(req, "leadership lost before the read was confirmed")
            self.reads.clear()
        elif was == "candidate":
            self.cancel_timer("heartbeat")

    # -- timers --------------------------------------------------------------------------------------
    def on_timer(self, name: str) -> None:
        if name == "election" and self.role != "leader":
            self._start_election()
        elif name == "heartbeat" and self.role == "leader":
            self._broadcast_append()
            self.set_timer(HEARTBEAT, "heartbeat")
        elif name == "heartbeat" and self.role == "candidate":
            self._request_votes()
            self.set_timer(HEARTBEAT, "heartbeat")
        elif name == "park":
            self._retry_parked(tick=True)

    def _start_election(self) -> None:
        self.term += 1
        self.vote, self.role, self.leader, self.votes = self.id, "candidate", None, {self.id}
        self._save()
        self._request_votes()
        self._reset_election()
        self.set_timer(HEARTBEAT, "heartbeat")
        if len(self.votes) >= self.majority:
            self._become_leader()

    def _request_votes(self) -> None:
        msg = RequestVote(self.term, len(self.log), self._last_term())
        for peer in self.peers:
            if peer not in self.votes:
                self.send(peer, msg)

    def _become_leader(self) -> None:
        self.role, self.leader = "leader", self.id
        nxt = len(self.log) + 1  # the first entry this leader appends: what it sends in its first round
        self._open_term()
        self.next_index = dict.fromkeys(self.peers, nxt)
        self.match_index = dict.fromkeys(self.peers, 0)
        self.acked = {}
        self.cancel_timer("election")
        self._broadcast_append()
        self.set_timer(HEARTBEAT, "heartbeat")
        self._retry_parked()

    def _open_term(self) -> None:
        """What a new leader appends before its first round (nothing here; a subclass may append a no-op)."""

    # -- messages ------------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is Append:
            self._on_append(src, msg)
        elif kind is AppendReply:
            self._on_append_reply(src, msg)
        elif kind is RequestVote:
            self._on_request_vote(src, msg)
        elif kind is Vote:
            self._on_vote(src, msg)

    def _on_request_vote(self, src: str, m: RequestVote) -> None:
        if m.term > self.term:
            self._become_follower(m.term)
        granted = (
            m.term == self.term and self.vote in (None, src)
            and self._up_to_date(m.last_term, m.last_index)
        )
        if granted:
            self.vote = src
            self._save()
            self._reset_election()
        self.send(src, Vote(self.term, granted))

    def _up_to_date(self, last_term: int, last_index: int) -> bool:
        """A candidate's log is at least as up to date as ours (section 5.4.1)."""
        if not self.vote_by_last_term:
            return last_index >= len(self.log)  # the bug: the longer log wins, whatever its terms
        return (last_term, last_index) >= (self._last_term(), len(self.log))

    def _on_vote(self, src: str, m: Vote) -> None:
        if self.heed_reply_terms and m.term > self.term:
            self._become_follower(m.term)
        elif self.role == "candidate" and (m.term == self.term or not self.heed_reply_terms) and m.granted:
            self.votes.add(src)
            if len(self.votes) >= self.majority:
                self._become_leader()

    def _on_append(self, src: str, m: Append) -> None:
        log = self.log
        if m.term < self.term:
            self.send(src, AppendReply(self.term, False, len(log), m.seq))
            return
        if m.term > self.term or self.role != "follower":
            self._become_follower(m.term)
        self.leader = src
        self._reset_election()
        prev = m.prev_index
        if prev > len(log) or (prev and log[prev - 1][0] != m.prev_term):
            self.send(src, AppendReply(self.term, False, min(len(log), prev - 1), m.seq))
            self._retry_parked()
            return
        self._store(prev, m.entries)
        self.fsync("log")  # the entries are on disk before the reply says so
        last = prev + len(m.entries)
        if m.commit > self.commit and last > self.commit:
            self.commit = min(m.commit, last)
            self._apply()
        self.send(src, AppendReply(self.term, True, last, m.seq))
        self._retry_parked()

    def _store(self, prev: int, entries: tuple[Entry, ...]) -> None:
        """Append ``entries`` after ``prev``, cutting the log only at the first conflicting entry."""
        log = self.log
        if not self.truncate_on_conflict_only:
            del log[prev:]  # the bug: a stale, shorter message erases entries that matched
            log.extend(entries)
            return
        i = prev
        for entry in entries:
            if i < len(log):
                if log[i][0] != entry[0]:
                    del log[i if self.cut_at_conflict else i + 1:]  # the bug keeps the conflicting entry
                    log.append(entry)
            else:
                log.append(entry)
            i += 1

    def _on_append_reply(self, src: str, m: AppendReply) -> None:
        if self.heed_reply_terms:
            if m.term > self.term:
                self._become_follower(m.term)
                return
            if m.term < self.term:
                return
        if self.role != "leader":
            return
        if m.seq > self.acked.get(src, 0):
            self.acked[src] = m.seq
            self._serve_reads()
        if m.success:
            if m.match > self.match_index[src]:
                self.match_index[src] = m.match
                self._advance_commit()
            self.next_index[src] = max(self.next_index[src], m.match + 1)
            if self.next_index[src] <= len(self.log):
                self._send_append(src)
        else:
            old = self.next_index[src]
            new = max(1, self.match_index[src] + 1, min(old - 1, m.match + 1))
            if new < old:
                self.next_index[src] = new
                self._send_append(src)

    def _send_append(self, peer: str) -> None:
        prev = self.next_index[peer] - 1
        prev_term = self.log[prev - 1][0] if prev else 0
        entries = tuple(self.log[prev:prev + MAX_BATCH])
        self.send(peer, Append(self.term, prev, prev_term, entries, self.commit, self.seq))

    def _broadcast_append(self) -> None:
        self.seq += 1
        for peer in self.peers:
            self._send_append(peer)

    # -- commitment and the state machine ---------------------------------------------------------------
    def _held(self) -> list[int]:
        """How much of its log each voter is known to hold, this leader's own copy included."""
        return [len(self.log), *self.match_index.values()]

    def _advance_commit(self) -> None:
        matches = sorted(self._held(), reverse=True)
        n = matches[self.majority - 1]
        if n > self.commit and (not self.commit_current_term_only or self.log[n - 1][0] == self.term):
            self.commit = n
            self._apply()

    def _apply(self) -> None:
        log, applied = self.log, self.applied
        while len(applied) < self.commit and len(applied) < len(log):
            index = len(applied) + 1
            command = log[index - 1][1]
            applied.append(command)
            result = self._execute(command)
            req = self.waiting.pop(index, None)
            if req is not None:
                if req.id == command[0]:
                    self.reply(req, result)
                else:
                    self.fail(req, f"another command was committed at index {index}")
        if self.reads:
            self._serve_reads()

    def _execute(self, command: Command) -> Any:
        rid, f, key, value = command
        if rid in self.results:
            return self.results[rid]
        current = self.kv.get(key, "")
        result: Any = None
        if f == "get":
            result = current
        elif f == "put":
            self.kv[key] = value
        elif f == "append":
            self.kv[key] = current + value
        self.results[rid] = result
        return result

    # -- clients -------------------------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        if self.role != "leader":
            if self.leader is not None and self.leader != self.id:
                self.redirect(request, self.leader)
            else:
                if not self.parked:
                    self.set_timer(HEARTBEAT, "park")
                self.parked.append([request, 0])
            return
        if request.f not in ("get", "put", "append"):
            self.fail(request, f"unknown operation {request.f!r}")
            return
        if request.f == "get":
            if not self.confirm_reads:
                self.reply(request, self.kv.get(request.key, ""))  # the bug: maybe no longer leader
                return
            if self.commit and self.log[self.commit - 1][0] == self.term:
                self._broadcast_append()
                self.reads.append((self.seq, self.commit, request))
                self._serve_reads()
                return
        self.log.append((self.term, (request.id, request.f, request.key, request.value)))
        self.fsync("log")  # the leader counts its own copy towards the majority: it must be durable
        self.waiting[len(self.log)] = request
        for peer in self.peers:
            if self.next_index[peer] == len(self.log):
                self._send_append(peer)
        self._advance_commit()

    def _read_confirmed(self) -> int:
        """The newest heartbeat sequence a majority (this leader included) has acknowledged: reads
        registered at or before it are confirmed (ReadIndex)."""
        need = self.majority - 1
        acks = sorted(self.acked.values(), reverse=True)
        return (1 << 62) if need == 0 else (acks[need - 1] if len(acks) >= need else 0)

    def _serve_reads(self) -> None:
        confirmed = self._read_confirmed()
        keep = []
        for seq, index, req in self.reads:
            if seq <= confirmed and len(self.applied) >= index:
                self.reply(req, self.kv.get(req.key, ""))
            else:
                keep.append((seq, index, req))
        self.reads = keep

    def _retry_parked(self, tick: bool = False) -> None:
        """Hand parked requests to the leader once one is known; fail them after ``PARK_TRIES``."""
        if not self.parked:
            return
        parked, self.parked = self.parked, []
        for item in parked:
            req = item[0]
            if self.role == "leader":
                self.on_client(req)
            elif self.leader is not None and self.leader != self.id:
                self.redirect(req, self.leader)
            elif tick and item[1] + 1 >= PARK_TRIES:
                self.fail(req, "no leader known")
            else:
                item[1] += int(tick)
                self.parked.append(item)
        if self.parked:
            self.set_timer(HEARTBEAT, "park")
