"""The links between a target's nodes, and the shapes of partitions drawn over them (after Jepsen's
``jepsen.nemesis.combined``: one node, random halves, bridge, majority rings, one-way cuts, the leader).

A network fault is a set of **directed links** ``(a, b)``: "messages from ``a`` to ``b``". Jepsen cuts
them with iptables on every node; here every path between two nodes runs through a
:class:`~splitbrain.live.proxy.FaultProxy`, and a :class:`Route` says which one: the TCP connections that
``opener`` makes to ``acceptor`` go through ``proxy``, where they are classified as ``source``. On such a
connection, ``opener → acceptor`` bytes flow *up* and ``acceptor → opener`` bytes flow *down*, so:

* cutting ``opener → acceptor`` swallows ``up``; cutting ``acceptor → opener`` swallows ``down``; both
  is ``drop`` (a blackhole);
* a delay on either direction delays the connection (a proxy delays whole connections, both ways).

:class:`Links` keeps the routes and each route's *base* mode (what "healthy" means: ``pass``, or the
delayed replication link of ``redis-replica``) and turns a wanted state ``(cut, slow)`` into proxy
modes. The shape functions below are pure: nodes and a seeded RNG in, a set of cut links out.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from splitbrain.live.proxy import PASS, FaultProxy, Mode

__all__ = [
    "SHAPES",
    "Link",
    "Links",
    "Route",
    "bridge",
    "complete_cut",
    "halves",
    "isolate",
    "majority_ring",
    "oneway",
    "random_links",
]

Link = tuple[str, str]  # (from, to): messages from the first node to the second


@dataclass(frozen=True)
class Route:
    """Connections ``opener`` makes to ``acceptor`` pass ``proxy`` as ``source`` (``None``: the proxy's
    default mode, when every connection through it is of this route)."""

    opener: str
    acceptor: str
    proxy: FaultProxy
    source: str | None = None


class Links:
    """The routes of a target and the state of its network (which links are cut or slow)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.base: dict[Route, Mode] = {}
        self.cut: frozenset[Link] = frozenset()
        self.slow: dict[Link, float] = {}

    def add(self, route: Route, base: Mode = PASS) -> None:
        self.routes.append(route)
        self.base[route] = base

    def set_base(self, route: Route, base: Mode) -> None:
        self.base[route] = base
        self.apply(self.cut, self.slow)

    def clear(self) -> None:
        self.routes.clear()
        self.base.clear()
        self.cut, self.slow = frozenset(), {}

    def apply(self, cut: Collection[Link], slow: Mapping[Link, float] | None = None) -> None:
        """Make exactly ``cut`` blackholed and ``slow`` delayed (seconds); every other route is back to
        its base mode."""
        self.cut = frozenset(cut)
        self.slow = dict(slow or {})
        for route in self.routes:
            mode = self.mode_of(route)
            if route.source is None:
                route.proxy.set_mode(mode)
            elif mode == PASS:
                route.proxy.heal(route.source)
            else:
                route.proxy.set_mode(mode, route.source)

    def mode_of(self, route: Route) -> Mode:
        up = (route.opener, route.acceptor)
        down = (route.acceptor, route.opener)
        if up in self.cut and down in self.cut:
            return Mode("drop")
        if up in self.cut:
            return Mode("oneway", direction="up")
        if down in self.cut:
            return Mode("oneway", direction="down")
        delay = max(self.slow.get(up, 0.0), self.slow.get(down, 0.0))
        if delay > 0:
            base = self.base.get(route, PASS)
            return Mode("delay", delay=delay + (base.delay if base.kind == "delay" else 0.0))
        return self.base.get(route, PASS)

    def nodes(self) -> list[str]:
        seen: dict[str, None] = {}
        for route in self.routes:
            seen.setdefault(route.opener, None)
            seen.setdefault(route.acceptor, None)
        return list(seen)


# -- shapes ----------------------------------------------------------------------------------------
def complete_cut(groups: Iterable[Collection[str]]) -> frozenset[Link]:
    """Every directed link between two nodes that share no group (a partition into ``groups``; a node
    in two groups — a bridge — reaches both)."""
    groups = [frozenset(g) for g in groups]
    nodes = sorted(set().union(*groups)) if groups else []
    return frozenset(
        (a, b) for a in nodes for b in nodes
        if a != b and not any(a in g and b in g for g in groups)
    )


def isolate(nodes: Sequence[str], node: str) -> frozenset[Link]:
    """``node`` alone on one side."""
    return complete_cut([{node}, set(nodes) - {node}])


def halves(nodes: Sequence[str], rng: random.Random) -> tuple[frozenset[Link], str]:
    """Random halves: a random minority cut off from the majority."""
    shuffled = rng.sample(list(nodes), len(nodes))
    minority, majority = shuffled[: len(nodes) // 2], shuffled[len(nodes) // 2:]
    return complete_cut([minority, majority]), f"{_names(minority)} | {_names(majority)}"


def bridge(nodes: Sequence[str], rng: random.Random) -> tuple[frozenset[Link], str]:
    """Two halves that only one node — the bridge — belongs to both of (Jepsen's ``bridge``)."""
    shuffled = rng.sample(list(nodes), len(nodes))
    middle = len(shuffled) // 2
    left, mid, right = shuffled[:middle], shuffled[middle], shuffled[middle + 1:]
    return (complete_cut([[*left, mid], [mid, *right]]),
            f"{_names(left)} | bridge {mid} | {_names(right)}")


def majority_ring(nodes: Sequence[str], rng: random.Random) -> tuple[frozenset[Link], str]:
    """Every node hears a majority (itself and the next ones on a random ring), but no two nodes hear
    the same majority (Jepsen's ``majorities-ring``); for three nodes, a directed cycle of cuts."""
    ring = rng.sample(list(nodes), len(nodes))
    hears = len(ring) // 2 + 1
    cut = set()
    for i, node in enumerate(ring):
        heard = {ring[(i + j) % len(ring)] for j in range(hears)}
        cut |= {(other, node) for other in ring if other not in heard}
    return frozenset(cut), "ring " + " → ".join(ring)


def oneway(nodes: Sequence[str], rng: random.Random) -> tuple[frozenset[Link], str]:
    """One node can send but not hear the others, or hear but not send."""
    node = rng.choice(list(nodes))
    others = [n for n in nodes if n != node]
    if rng.random() < 0.5:
        return frozenset((node, o) for o in others), f"{node} cannot send"
    return frozenset((o, node) for o in others), f"{node} cannot hear"


def random_links(links: Sequence[Link], rng: random.Random, p: float = 0.5) -> frozenset[Link]:
    """Each directed link independently with probability ``p`` (at least one)."""
    chosen = frozenset(link for link in links if rng.random() < p)
    return chosen or frozenset({rng.choice(list(links))})


def _names(nodes: Iterable[str]) -> str:
    return " ".join(sorted(nodes)) or "-"


#: partition shapes by name (``leader`` is drawn by the nemesis, which asks the target for its leader)
SHAPES = ("one", "halves", "bridge", "ring", "oneway", "leader")
