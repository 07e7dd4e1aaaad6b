"""Unmodified asyncio code on the simulator: a deterministic event loop and a simulated network.

An :class:`AsyncNode` is a world node that hosts an asyncio program: its event loop
(:class:`~splitbrain.aio.loop.SimLoop`) runs one iteration per world step, on the node's virtual clock,
so the world's choice source decides which I/O completes first and how timers tie, and every strategy,
shrinker, replay and report of splitbrain applies unchanged. Streams, protocols and datagrams reach other
hosts over the simulated network as world messages (:mod:`splitbrain.aio.net`), where partitions, drops,
duplicates, delays, crashes and restarts act on them. ``time``, ``random``, ``uuid`` and ``socket`` are the
host's own while its code runs (:mod:`splitbrain.aio.env`); threads, processes and real files are refused.

An :class:`AsyncWorkload` turns a server's ``main`` and a client call into a workload:

.. code-block:: python

    class KV(AsyncWorkload):
        name = "my-kv"
        model = "cas-register"
        servers = {"correct": main}

        async def client(self, host, op):
            reader, writer = await asyncio.open_connection(host.ip, 7000)
            ...

This layer imports ``sim`` (and ``errors``), never ``fuzz`` or above.
"""

from splitbrain.aio.env import EPOCH, HostRandom
from splitbrain.aio.loop import NETWORK_ERRORS, SimLoop
from splitbrain.aio.net import host_addresses
from splitbrain.aio.node import AsyncNode, Fail, Host, current_host
from splitbrain.aio.workload import AsyncWorkload, Server

__all__ = [
    "EPOCH",
    "NETWORK_ERRORS",
    "AsyncNode",
    "AsyncWorkload",
    "Fail",
    "Host",
    "HostRandom",
    "Server",
    "SimLoop",
    "current_host",
    "host_addresses",
]
