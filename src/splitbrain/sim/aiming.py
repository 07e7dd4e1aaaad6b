"""The world side of aimed faults (:mod:`splitbrain.sim.aims`): arming them, firing them as steps, and
accepting their recorded steps in a replay.

After each step of the run phase the world asks :meth:`AimSteps._next_aimed` for an aimed fault; the
aims whose trigger holds resolve their target and queue a ``(key, params)`` — the same key a drawn fault
of that kind has (``crash:n2``, ``partition`` with ``groups``), plus ``aim`` for the trace — and the world
executes them one per step before asking its choice source again. A world that follows a recorded trace
fires nothing itself; instead :meth:`AimSteps._aimable` tells the replay which recorded aimed steps can
still run, whether or not the fault configuration would draw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splitbrain.errors import UsageError
from splitbrain.sim.aims import Aim, Event
from splitbrain.sim.runtime import WorldBase

__all__ = ["AimSteps"]

_ROLE_FREE = frozenset({"sender", "receiver", "replier", "message"})
_NODE_KINDS = frozenset({"crash", "power-loss", "restart", "pause", "resume", "skew"})
_MESSAGE_KINDS = frozenset({"drop", "duplicate", "delay"})


class AimSteps(WorldBase):
    """Arms the world's aims and turns the ones that fire into steps."""

    def _aim_setup(self) -> None:
        for aim in self.aims:
            if not isinstance(aim, Aim):
                raise UsageError(f"aims must be splitbrain.sim.Aim objects, got {aim!r}")
            target = aim.target
            if isinstance(target, str) and target not in self._nodes and target not in _ROLE_FREE \
                    and target not in self.workload.roles:
                raise UsageError(
                    f"aim {aim.label!r}: target {target!r} is not a node ({', '.join(self.node_ids)}), a role of "
                    f"workload {self.workload.name!r} ({', '.join(self.workload.roles) or 'none'}) or one of "
                    f"{', '.join(sorted(_ROLE_FREE))}"
                )
        #: [aim, times it may still fire]
        self._armed: list[list[Any]] = [[aim, aim.times] for aim in self.aims]
        self._aim_queue: list[tuple[str, dict[str, Any]]] = []
        self._aiming = bool(self.aims) and not self.source.follows_trace
        steps: Sequence[Any] = getattr(self._followed, "steps", ())
        #: a replay of a trace with aimed steps lets them run though the configuration would not draw them
        self._aim_replay = any(step.aim is not None for step in steps)

    def _aim_deadline(self) -> int | None:
        """The earliest ``at`` time of an armed aim still in the future (time stops there)."""
        best: int | None = None
        for aim, left in self._armed:
            if left > 0:
                t = aim.when.deadline()
                if t is not None and t > self.time and (best is None or t < best):
                    best = t
        return best

    def _next_aimed(self) -> tuple[str, dict[str, Any]] | None:
        """The aimed fault to run as the next step, if one fired."""
        while self._aim_queue:
            key, params = self._aim_queue.pop(0)
            if self._aimable(key):
                return key, params
        if not self.steps:
            return None
        last = len(self.steps) - 1
        event = Event(last, tuple(self._sent), self._delivered if self._delivered_at == last else None)
        for entry in self._armed:
            aim = entry[0]
            seen = event
            while entry[1] > 0:
                hit = aim.when.fires(self, seen)
                if hit is None:
                    break
                planned = self._plan(aim, hit)
                if planned is not None and self._aimable(planned[0]):
                    entry[1] -= 1
                    self._aim_queue.append(planned)
                if aim.target != "message" or hit.matched is None:
                    break
                # a message fault acts on each matching message of the step, while it may still fire
                seen = Event(event.step, tuple(m for m in seen.sent if m is not hit.matched), event.delivered)
        return self._aim_queue.pop(0) if self._aim_queue else None

    def _resolve(self, aim: Aim, event: Event) -> str | None:
        target = aim.target
        matched = event.matched
        if target in ("sender", "replier"):
            return matched.src if matched is not None else None
        if target == "receiver":
            return matched.dst if matched is not None else None
        if target == "message":
            return matched.id if matched is not None else None
        if isinstance(target, str):
            return target if target in self._nodes else self.role(target)
        if callable(target):
            found = target(self)  # type: ignore[arg-type]
            return found if found in self._nodes else None
        return None

    def _plan(self, aim: Aim, event: Event) -> tuple[str, dict[str, Any]] | None:
        """``(key, params)`` of the step ``aim`` asks for, or ``None`` when its target is not there."""
        params: dict[str, Any] = {"aim": aim.label}
        fault = aim.fault
        if fault == "heal":
            return "heal", params
        if fault == "partition":
            groups = []
            for group in aim.params["groups"]:
                members = [n if n in self._nodes else self.role(n) for n in group]
                if None in members:
                    return None
                groups.append(members)
            params["groups"] = groups
            return "partition", params
        target = self._resolve(aim, event)
        if target is None:
            return None
        params.update(aim.params)
        if fault == "isolate":
            params["groups"] = [[target], [n for n in self.node_ids if n != target]]
            return "partition", params
        if fault == "cross":
            sides = self._crossed(target)
            if sides is None:
                return None
            params["groups"] = sides
            return "partition", params
        return f"{fault}:{target}", params

    def _crossed(self, target: str) -> list[list[str]] | None:
        """The current partition's sides with ``target`` moved to the largest side it is cut off from (the
        first in node order on a tie), or ``None`` when nothing cuts it off or it is alone. The sides are
        read from the cut links: nodes that reach each other both ways share a side (a one-way cut splits
        them too)."""
        cuts = self.network.cuts
        sides: list[list[str]] = []
        for node in self.node_ids:
            for side in sides:
                if (node, side[0]) not in cuts and (side[0], node) not in cuts:
                    side.append(node)
                    break
            else:
                sides.append([node])
        mine = next(side for side in sides if target in side)
        others = [side for side in sides if side is not mine]
        if not others or len(mine) == 1:
            return None  # nothing cuts it off, or it is alone: joining the others would be a heal
        dest = max(others, key=len)
        mine.remove(target)
        dest.append(target)
        return [sorted(side, key=self.node_ids.index) for side in sides]

    def _aimable(self, key: str) -> bool:
        """Whether an aimed fault ``key`` can run now (its node in the right state, its message in
        flight), whatever the fault configuration allows."""
        kind, _, arg = key.partition(":")
        if kind in _NODE_KINDS:
            if arg not in self._nodes:
                return False
            up = self._nodes[arg] is not None
            if kind == "restart":
                return not up
            if kind == "resume":
                return self._paused[arg]
            if kind in ("crash", "power-loss"):
                return up
            return up and not self._paused[arg]
        if kind in _MESSAGE_KINDS:
            return arg in self.network.between_nodes
        if kind == "heal":
            return bool(self.network.cuts)
        return kind in ("partition", "oneway", "bridge")
