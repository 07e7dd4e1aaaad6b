"""The simloom side of ``benchmarks/aio_speed.py``: the same asyncio primary-backup server, on simloom.

Run by ``aio_speed.py`` under an interpreter that has simloom (Python >= 3.12; simloom is not a dependency
of splitbrain). It loads ``src/splitbrain/impls/aio_primary_backup/server.py`` by path — that module
imports nothing but the standard library — starts three replicas on simloom hosts ``n1``..``n3``, runs
three clients (one per host, each sending its operations to its own host's server and following
redirects, as the splitbrain workload's clients do), lets ``SECONDS`` of virtual time pass with no faults,
and prints one JSON line per seed: wall seconds, simloom scheduler steps, operations completed, virtual
seconds.

Usage: python3.12 benchmarks/aio_simloom.py SEEDS SECONDS
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import simloom

SERVER = Path(__file__).resolve().parent.parent / "src/splitbrain/impls/aio_primary_backup/server.py"
spec = importlib.util.spec_from_file_location("aio_pb_server", SERVER)
assert spec is not None and spec.loader is not None
server = importlib.util.module_from_spec(spec)
spec.loader.exec_module(server)
NODES = ("n1", "n2", "n3")


class HostInfo:
    """What the server's ``main`` reads from its host: names double as addresses on simloom."""

    def __init__(self, name: str) -> None:
        self.id = self.ip = name
        self.addresses = {n: n for n in NODES}
        self.storage: dict[str, Any] = {}
        self.exports: dict[str, Any] = {}


async def request(address: str, msg: dict[str, Any]) -> Any:
    for _ in range(3):
        reader, writer = await asyncio.open_connection(address, server.PORT)
        try:
            writer.write(server.encode(msg))
            line = await reader.readline()
        finally:
            writer.close()
        answer = json.loads(line)
        if "redirect" not in answer:
            return answer
        address = answer["redirect"]
    return None


def scenario(seconds: float, done: list[int]) -> Any:
    async def main(world: Any) -> None:
        hosts = {n: world.host(n) for n in NODES}
        for name, host in hosts.items():
            info = HostInfo(name)
            host.spawn(lambda info=info: server.main(info))

        async def client(name: str) -> None:
            rng = random.Random(name)
            await asyncio.sleep(0.01)
            while True:
                f = rng.choice(("read", "write", "cas"))
                value = None if f == "read" else rng.randrange(5) if f == "write" else [rng.randrange(5)] * 2
                try:
                    answer = await asyncio.wait_for(request(name, {"op": f, "value": value}), 0.2)
                except (OSError, TimeoutError):
                    continue
                if answer is not None and "ok" in answer:
                    done[0] += 1

        for name, host in hosts.items():
            host.spawn(lambda name=name: client(name))
        await world.sleep(seconds)

    return main


def measure(seed: int, seconds: float) -> dict[str, Any]:
    done = [0]
    start = time.perf_counter()
    # the teardown cancels the servers' connection handlers, which asyncio reports: recorded, not raised
    result = simloom.run(scenario(seconds, done), seed=seed, virtual_time=True, seed_randomness=True,
                         on_unhandled="record", raise_on_error=False)
    wall = time.perf_counter() - start
    steps = sum(1 for event in result.log.events if event.get("kind") == "step")
    return {"seed": seed, "wall": wall, "steps": steps, "ops": done[0], "virtual": seconds,
            "outcome": result.outcome}


if __name__ == "__main__":
    seeds, seconds = int(sys.argv[1]), float(sys.argv[2])
    for seed in range(seeds):
        print(json.dumps(measure(seed, seconds)), flush=True)
