"""`AsyncWorkload`: a workload whose nodes run asyncio programs and whose clients are async functions.

The user gives what they already have — each variant's entry coroutine (their server's ``main``, taking a
:class:`~splitbrain.aio.node.Host`) in ``servers``, and their client call as :meth:`AsyncWorkload.client`
— plus the model, the generator and the invariants, as for any workload. It is fuzzed, shrunk, replayed,
run from the pytest plugin and named by import path (``mypkg.mymod:workload``) exactly like the others:
``variants`` are made from ``servers`` (one :class:`~splitbrain.aio.node.AsyncNode` subclass each), so
the engine sees an ordinary workload.

Time: a tick is ``tick`` seconds (default a millisecond), so ``delay``, ``op_timeout`` and ``backoff``,
which the world counts in ticks, are milliseconds here, and so are the defaults below: a network delay of
1-5 ms, a client timeout of 1 s. A client operation that times out, or meets a network error, completes
as ``info``; one that raises :class:`~splitbrain.aio.node.Fail` (or whose connection is refused)
as ``fail``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from splitbrain.aio.node import AsyncNode, Host
from splitbrain.errors import UsageError
from splitbrain.sim import Node, Request, Workload

__all__ = ["AsyncWorkload", "Server"]

Server = Callable[[Host], Awaitable[Any]]
"""A host's entry coroutine function: ``async def main(host: Host) -> None``."""


class AsyncWorkload(Workload):
    """Base class of workloads of asyncio programs (see the module docstring).

    Required: ``name``, ``model``, ``servers`` (variant name -> entry coroutine function, ``"correct"``
    first), :meth:`client` and ``generate``. Settings beyond :class:`~splitbrain.sim.Workload`'s: ``tick``,
    ``rto``, ``rto_max``, ``ack_delay`` and ``tcp_timeout`` (seconds; see :class:`~splitbrain.aio.node.AsyncNode`).
    """

    #: variant name -> the entry coroutine function each host runs in that variant
    servers: Mapping[str, Server] = {}
    tick: float = 0.001
    rto: float = 0.2
    rto_max: float = 1.0
    tcp_timeout: float = 3.0
    ack_delay: float = 0.04

    delay = (1, 5)
    op_timeout = 1000
    backoff = 50
    max_steps = 1500

    _settable: ClassVar[tuple[str, ...]] = (
        *Workload._settable, "servers", "tick", "rto", "rto_max", "tcp_timeout", "ack_delay",
    )

    def __init__(self, **overrides: Any) -> None:
        servers = overrides.get("servers", type(self).servers)
        if not isinstance(servers, Mapping) or not servers:
            raise UsageError(
                f"workload {type(self).__name__} needs servers: a mapping of variant name to the async function "
                "each host runs, e.g. servers = {'correct': main}"
            )
        for variant, fn in servers.items():
            if not callable(fn):
                raise UsageError(f"workload {type(self).__name__}: servers[{variant!r}] is {fn!r}, not a function")
        super().__init__(**overrides)
        tick = self.tick
        if not (isinstance(tick, int | float) and tick > 0):
            raise UsageError(f"workload {self.name}: tick must be a positive number of seconds, got {tick!r}")
        self.variants = {variant: self._host_class(variant, fn) for variant, fn in servers.items()}

    @property
    def variants(self) -> Mapping[str, type[Node]]:
        """Variant name -> the :class:`AsyncNode` class running that variant's server."""
        return self._variants if hasattr(self, "_variants") else {v: AsyncNode for v in self.servers}

    @variants.setter
    def variants(self, value: Mapping[str, type[Node]]) -> None:
        self._variants = value

    def _host_class(self, variant: str, main: Server) -> type[AsyncNode]:
        workload = self
        client_timeout = max(5.0, 2 * self.op_timeout * self.tick)

        async def client(node: AsyncNode, host: Host, request: Request) -> Any:
            return await workload.client(host, request)

        attrs = {
            "main": staticmethod(main), "client": client, "tick": float(self.tick), "rto": float(self.rto),
            "rto_max": float(self.rto_max), "tcp_timeout": float(self.tcp_timeout),
            "ack_delay": float(self.ack_delay),
            "client_timeout": client_timeout, "__module__": AsyncNode.__module__,
            "code_modules": tuple(m for m in (getattr(main, "__module__", None), type(self).__module__) if m),
            "__qualname__": f"AsyncNode[{self.name}/{variant}]",
        }
        return type(f"AsyncNode[{self.name}/{variant}]", (AsyncNode,), attrs)

    async def client(self, host: Host, op: Request) -> Any:
        """Perform ``op`` (``op.f``, ``op.value``, ``op.key``) as a client on ``host``, against the system
        (usually the server on ``host`` itself, over loopback); return the result. Raise
        :class:`~splitbrain.aio.node.Fail` when the operation definitely did not take effect."""
        raise NotImplementedError(f"workload {self.name} must define async client(host, op)")
