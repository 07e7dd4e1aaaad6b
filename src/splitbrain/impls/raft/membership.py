"""Raft with cluster membership changes, one server at a time (Ongaro's dissertation, 2014, sections
4.1-4.2), and the bug variants that get them wrong.

A *configuration* is the set of servers whose votes and acknowledgements count. It changes through the
log: a leader appends a ``config`` entry naming the whole new set, which differs from the current one by
a single server (``add`` or ``remove`` it). Because two configurations one server apart always have
overlapping majorities, no two leaders can be chosen in one term by disjoint majorities — provided every
server follows these rules, which :class:`MembershipNode` does:

* A server uses the newest configuration *in its log*, committed or not (section 4.1), and the initial
  one (the first ``len(nodes) // 2 + 1`` servers) while its log holds none. If a conflicting leader
  truncates the config entry away, the server goes back to the one before.
* Elections and commitment count the current configuration only: a candidate asks and counts members'
  votes, a leader commits an index that a majority of members hold (itself only if it is a member), and
  a ReadIndex read waits for a majority of members. A server outside its configuration never campaigns
  (it still answers RPCs: section 4.1 lets servers vote without consulting their configuration).
* A leader starts a change only when (a) the previous config entry is committed — else two changes in
  flight can make two configurations two servers apart, whose majorities may be disjoint — and (b) it has
  committed an entry of its own term. Rule (b) is the fix Ongaro posted to raft-dev in July 2015 ("bug in
  single-server membership changes"): without it, a new leader's change can commit alongside an
  uncommitted change of a deposed leader's configuration, and the deposed leader, voted in by its own
  configuration's majority, overwrites the committed entry. To satisfy (b) promptly, a new leader
  appends a no-op entry at once (the dissertation's section 6.4 does the same for reads).
* A leader that removes itself keeps leading (without counting itself) until the change commits, then
  steps down (section 4.2.2).

A leader replicates to the members of its configuration only, as in the dissertation: a server being
added starts receiving entries when the change is appended (it catches up as it counts; section 4.2.1's
non-voting phase is left out), and a removed server hears no more — if it missed its removal it times
out and campaigns, and the others ignore its RequestVote while they hear from a leader (section 4.2.3),
so it cannot depose a leader that still has its majority.

Requests: ``reconfigure`` with a configuration as value (any :data:`MIN_MEMBERS` or more servers), as an
operator asks for one (``etcdctl member``, Consul's autopilot): the leader walks there one server at a
time — additions first, its own removal last — starting each change once the one before has committed,
and answers with the configuration once the last commits. It fails a request while a walk is under way
or before rule (b) holds (it does not queue it: ``fail`` tells the client nothing happened); a walk cut
short by a lost leadership leaves the request to time out (some steps may have happened).
"""

from __future__ import annotations

from typing import Any, ClassVar

from splitbrain.impls.raft.messages import Append, Command, Entry, RequestVote, Vote
from splitbrain.impls.raft.node import ELECTION_TIMEOUT, RaftNode
from splitbrain.sim import Node, Request

#: the fewest members a change may leave: three keep the cluster available through one failure
MIN_MEMBERS = 3
#: the command of a new leader's no-op entry (request id -1: no client's)
NOOP: Command = (-1, "noop", None, None)
#: the client operation that changes the membership: its value is the configuration wanted (a list of
#: servers); the reply is that configuration, once it is committed
RECONFIGURE = "reconfigure"


def initial_members(nodes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The configuration before any config entry: every server but the last (n1-n4 of five; n5 is a spare)."""
    return tuple(nodes[:-1]) if len(nodes) > MIN_MEMBERS else tuple(nodes)


def config_of(log: list[Entry], nodes: tuple[str, ...] | list[str]) -> tuple[int, tuple[str, ...]]:
    """``(index, members)`` of the newest config entry of ``log`` (index 0 and the initial members if none)."""
    for index in range(len(log), 0, -1):
        command = log[index - 1][1]
        if command[1] == "config":
            return index, command[3]
    return 0, initial_members(nodes)


class MembershipNode(RaftNode):
    """Raft with single-server membership changes; the ``ClassVar`` switches are the bug variants' knobs."""

    one_change_at_a_time: ClassVar[bool] = True  # no change while an earlier config entry is uncommitted
    change_after_own_commit: ClassVar[bool] = True  # Ongaro 2015: a leader first commits an entry of its term
    removed_leader_steps_down: ClassVar[bool] = True  # once its own removal commits (section 4.2.2)

    members: tuple[str, ...]
    config_index: int

    def on_start(self) -> None:
        super().on_start()
        self.heard: int | None = None  # local time of the last AppendEntries from a current leader
        self.walk: tuple[Request, tuple[str, ...]] | None = None  # a reconfiguration under way: (request, goal)
        self._load_config()

    def _load_config(self) -> None:
        self.config_index, self.members = config_of(self.log, self.nodes)

    # -- who counts ----------------------------------------------------------------------------------
    @property
    def majority(self) -> int:
        return len(self.members) // 2 + 1

    def _store(self, prev: int, entries: tuple[Entry, ...]) -> None:
        super()._store(prev, entries)
        if self.config_index > prev or any(e[1][1] == "config" for e in entries):
            self._load_config()  # a config entry arrived, or may have been cut away: use the newest left

    def _start_election(self) -> None:
        if self.id not in self.members:  # not a voting member: never campaign
            self._reset_election()
            return
        super()._start_election()

    def _request_votes(self) -> None:
        msg = RequestVote(self.term, len(self.log), self._last_term())
        for peer in self.members:
            if peer != self.id and peer not in self.votes:
                self.send(peer, msg)

    def _send_append(self, peer: str) -> None:
        if peer in self.members:  # a leader replicates to its configuration's members only
            super()._send_append(peer)

    def _on_append(self, src: str, m: Append) -> None:
        if m.term >= self.term:
            self.heard = self.now()  # from a current leader (a stale one is rejected below)
        super()._on_append(src, m)

    def _on_request_vote(self, src: str, m: RequestVote) -> None:
        """Ignored — no term update, no vote, no reply — within the minimum election timeout of hearing
        from a current leader, or by a leader (section 4.2.3): a removed server that never learned it was
        removed times out and campaigns, and must not depose a leader that still has its majority."""
        if self.role == "leader" or (self.heard is not None and 0 <= self.now() - self.heard < ELECTION_TIMEOUT[0]):
            return
        super()._on_request_vote(src, m)

    def _on_vote(self, src: str, m: Vote) -> None:
        if src in self.members or m.term > self.term:  # a non-member's vote does not count
            super()._on_vote(src, m)

    def _open_term(self) -> None:
        """A no-op of the new term, appended first and sent with the first round; no walk carries over."""
        self.walk = None
        self.log.append((self.term, NOOP))
        self.fsync("log")

    def _held(self) -> list[int]:
        """The current configuration's members only (this leader's own copy if it is one)."""
        held = [self.match_index.get(p, 0) for p in self.members if p != self.id]
        if self.id in self.members:
            held.append(len(self.log))
        return held

    def _advance_commit(self) -> None:
        super()._advance_commit()
        if self.walk is not None and self.commit >= self.config_index:
            if self.role == "leader":
                self._step_toward()
                return
            self.walk = None  # leadership lost: the client hears nothing, and its request times out
        if (self.removed_leader_steps_down and self.role == "leader" and self.id not in self.members
                and self.commit >= self.config_index):
            self._become_follower(self.term)  # removed, and the removal is committed: step down
            self.leader = None

    def _read_confirmed(self) -> int:
        """As in Raft, counting the current configuration's members only (this leader, if a member)."""
        members = self.members
        need = self.majority - (1 if self.id in members else 0)
        acks = sorted((self.acked.get(p, 0) for p in members if p != self.id), reverse=True)
        return (1 << 62) if need <= 0 else (acks[need - 1] if len(acks) >= need else 0)

    def _execute(self, command: Command) -> Any:
        if command[1] == "config":
            return command[3]  # the new configuration: what a reconfigure request answers
        if command[1] == "noop":
            return None
        return super()._execute(command)

    # -- membership changes --------------------------------------------------------------------------
    def on_client(self, request: Request) -> None:
        if self.id not in self.members and self.leader is None:
            self.fail(request, f"{self.id} is not a member and knows no leader")  # none will tell it
            return
        if self.role != "leader" or request.f != RECONFIGURE:
            super().on_client(request)
            return
        members, nodes = self.members, self.nodes
        desired = tuple(sorted(set(request.value or ())))
        if not set(desired) <= set(nodes) or len(desired) < MIN_MEMBERS:
            self.fail(request, f"a configuration is {MIN_MEMBERS} or more of {', '.join(nodes)}; got {request.value!r}")
            return
        if desired == members:
            self.reply(request, members)  # nothing to change
            return
        if self.walk is not None:
            self.fail(request, "another reconfiguration is in progress")
            return
        if self.one_change_at_a_time and self.config_index > self.commit:
            self.fail(request, f"the change at index {self.config_index} is not committed yet")
            return
        if self.change_after_own_commit and not (self.commit and self.log[self.commit - 1][0] == self.term):
            self.fail(request, f"no entry of term {self.term} is committed yet")
            return
        if self.one_change_at_a_time:
            self.walk = (request, desired)
            self._step_toward()
        else:  # the bug: every step of the walk at once, each applied before the one before commits
            for new in steps(members, desired, self.id):
                self._append_config(request, new)
            self.waiting[len(self.log)] = request
            self._advance_commit()

    def _step_toward(self) -> None:
        """Append the next single-server change of the walk (once the previous one has committed)."""
        assert self.walk is not None
        request, desired = self.walk
        new = steps(self.members, desired, self.id)[0]
        self._append_config(request, new)
        if new == desired:
            self.walk = None
            self.waiting[len(self.log)] = request  # answered with the configuration once it commits
        self._advance_commit()

    def _append_config(self, request: Request, new: tuple[str, ...]) -> None:
        self.log.append((self.term, (request.id, "config", None, new)))
        self.fsync("log")
        self.config_index, self.members = len(self.log), new  # in effect at once, before it commits
        for peer in self.members:
            if peer != self.id and self.next_index.get(peer, 0) == len(self.log):
                self._send_append(peer)


def steps(members: tuple[str, ...], desired: tuple[str, ...], me: str) -> list[tuple[str, ...]]:
    """The single-server changes from ``members`` to ``desired``: additions first (so the cluster never
    shrinks below either size), then removals, the leader's own (``me``) last."""
    out, now = [], set(members)
    for server in sorted(set(desired) - now):
        now.add(server)
        out.append(tuple(sorted(now)))
    for server in sorted(now - set(desired), key=lambda s: (s == me, s)):
        now.discard(server)
        out.append(tuple(sorted(now)))
    return out


class ConcurrentConfig(MembershipNode):
    """The leader appends every step of a walk at once — each a single-server change, but each started
    before the one before it committed. Two changes in flight make configurations two servers apart
    (``{n1,n2,n3}`` and ``{n1,n2,n4}``), whose majorities can be disjoint: two leaders can be elected in
    one term, or an entry committed by one majority is overwritten by a leader of the other
    (dissertation, section 4.1: a leader does not begin a new change until the previous one commits)."""

    one_change_at_a_time = False


class ConfigBeforeNoop(MembershipNode):
    """A new leader starts a change before it has committed any entry of its term — Ongaro's 2015 bug in
    single-server changes. From four servers: a leader adds a fifth, reaching only it, and is deposed; the
    new leader removes a server and commits that with the smaller configuration's majority; the deposed
    leader, whose configuration of five does not hold the newer entry, is voted in by the server the new
    leader did not reach and the fifth, and overwrites the committed change. The default search finds it
    through its ``kingmaker`` arm (that voter moved to the deposed leader's side of a cut right after its
    vote); ``ongaro_2015`` in ``tests/test_raft_reconfig.py`` also drives that schedule by hand."""

    change_after_own_commit = False


VARIANTS: dict[str, type[Node]] = {
    "correct": MembershipNode,
    "concurrent-config": ConcurrentConfig,
    "config-before-noop": ConfigBeforeNoop,
}

__all__ = ["MIN_MEMBERS", "RECONFIGURE", "VARIANTS", "MembershipNode", "config_of", "initial_members"]
