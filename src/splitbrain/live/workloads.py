"""What the client threads of a live run do: the register workload and the list-append workload, over
independent keys.

**Independent keys** (Jepsen's ``jepsen.independent``): the operations are spread over ``keys`` keys at
a time, and a key that has had ``per_key`` operations is retired and replaced by a fresh one. Each key
is a separate object, so its sub-history is checked on its own (P-compositionality): the operations
whose outcome is unknown — the ``info`` left by crashes and timeouts, which a linearizability search
must try at every later point — stay few per key, and a long run with many clients still ends in a
verdict. ``keys=1`` and no ``per_key`` is one register for the whole run.

* ``register`` — ``read``, ``write v``, ``cas [old new]`` with values 0-4 on one key per operation
  (Jepsen's etcd ``register`` workload), checked against the target's model (``cas-register``).
* ``append`` — transactions of 1-4 micro-ops ``[append k v]`` / ``[r k nil]`` over the active keys, each
  value appended once per key (Elle's list-append, Kingsbury & Alvaro 2020): a read returns the whole
  list, so the version order of every key is known, and the transaction checker looks for dependency
  cycles. A key takes ``per_key`` appends before it is retired (reads stay short).

Every op is drawn from the client's own seeded RNG; the shared key pool is the one place clients meet.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from splitbrain.errors import UsageError

__all__ = [
    "VALUES",
    "AppendWorkload",
    "KeyPool",
    "OpSpec",
    "RegisterWorkload",
    "Workload",
    "make_workload",
]

VALUES = 5  # register values are 0..VALUES-1: small, so reads often meet the writes they depend on


@dataclass(frozen=True)
class OpSpec:
    """One operation to invoke: ``f`` and ``value`` on ``key`` (``None``: the single register)."""

    f: str
    value: Any
    key: Any = None


class KeyPool:
    """``size`` active keys; a key is replaced by the next fresh one after ``per_key`` uses."""

    def __init__(self, size: int, per_key: int | None) -> None:
        if size < 1:
            raise UsageError(f"keys must be at least 1, not {size}")
        if per_key is not None and per_key < 1:
            raise UsageError(f"operations per key must be at least 1, not {per_key}")
        self.per_key = per_key
        self.active = list(range(size))
        self.left = {k: per_key for k in self.active}
        self.next_key = size
        self.used: dict[int, None] = {}
        self._lock = threading.Lock()

    def take(self, rng: random.Random, count: int = 1) -> list[int]:
        """``count`` distinct active keys (fewer if fewer are active), each charged one use."""
        with self._lock:
            keys = rng.sample(self.active, min(count, len(self.active)))
            for k in keys:
                self.used.setdefault(k, None)
                left = self.left[k]
                if left is not None:
                    self.left[k] = left - 1
                    if left - 1 <= 0:
                        self._retire(k)
            return keys

    def _retire(self, key: int) -> None:
        self.active[self.active.index(key)] = self.next_key
        self.left[self.next_key] = self.per_key
        self.next_key += 1

    def keys_used(self) -> list[int]:
        with self._lock:
            return list(self.used)


class Workload:
    """Draws operations for client threads and lists the final reads."""

    name = "workload"
    readonly: frozenset[str] = frozenset()

    def __init__(self, keys: int = 1, per_key: int | None = None) -> None:
        self.pool = KeyPool(keys, per_key)
        self.keyed = keys > 1 or per_key is not None

    def draw(self, rng: random.Random) -> OpSpec:
        raise NotImplementedError

    def final_ops(self) -> list[OpSpec]:
        """One read of every key the run touched (Jepsen's final reads, after the heal)."""
        raise NotImplementedError


class RegisterWorkload(Workload):
    """Half reads, a quarter writes, a quarter CAS, on one key per operation."""

    name = "register"
    readonly = frozenset({"read"})

    def draw(self, rng: random.Random) -> OpSpec:
        (key,) = self.pool.take(rng)
        roll = rng.random()
        k = key if self.keyed else None
        if roll < 0.5:
            return OpSpec("read", None, k)
        if roll < 0.75:
            return OpSpec("write", rng.randrange(VALUES), k)
        return OpSpec("cas", (rng.randrange(VALUES), rng.randrange(VALUES)), k)

    def final_ops(self) -> list[OpSpec]:
        if not self.keyed:
            return [OpSpec("read", None, None)]
        return [OpSpec("read", None, k) for k in self.pool.keys_used()]


class AppendWorkload(Workload):
    """List-append transactions: 1-4 micro-ops over distinct active keys, half appends, half reads."""

    name = "append"
    max_length = 4

    def __init__(self, keys: int = 8, per_key: int | None = 32) -> None:
        super().__init__(keys, per_key)
        self.keyed = True
        self._counters: dict[int, int] = {}
        self._lock = threading.Lock()

    def draw(self, rng: random.Random) -> OpSpec:
        keys = self.pool.take(rng, rng.randint(1, self.max_length))
        mops: list[tuple[str, Any, Any]] = []
        for k in keys:
            if rng.random() < 0.5:
                mops.append(("r", k, None))
            else:
                with self._lock:  # unique per key: a read names the transaction that appended each value
                    value = self._counters.get(k, 0) + 1
                    self._counters[k] = value
                mops.append(("append", k, value))
        return OpSpec("txn", tuple(mops))

    def final_ops(self) -> list[OpSpec]:
        return [OpSpec("txn", (("r", k, None),)) for k in self.pool.keys_used()]


def make_workload(kind: str, *, keys: int | None = None, per_key: int | None = None) -> Workload:
    """The workload ``kind`` (``register`` or ``append``) over ``keys`` keys.

    Register: one key unless ``keys`` is given; with several keys a key is retired after ``per_key``
    operations (300 when not given). Append: 8 keys, 32 appends per key unless given.
    """
    if kind == "register":
        count = keys or 1
        limit = per_key if per_key is not None else (300 if count > 1 else None)
        return RegisterWorkload(count, limit)
    if kind == "append":
        return AppendWorkload(keys or 8, per_key if per_key is not None else 32)
    raise UsageError(f"unknown workload {kind!r} (register, append)")
