"""Testing real servers: start them on loopback, drive them with concurrent clients, inject faults.

* :mod:`~splitbrain.live.processes` — start, pause, kill and restart server processes (always reaped,
  with a parent-death signal);
* :mod:`~splitbrain.live.proxy` — a fault-injecting TCP proxy (delay, drop, cut, one-way cut; passes
  refusals through);
* :mod:`~splitbrain.live.network` — directed links, routes through proxies, partition shapes;
* :mod:`~splitbrain.live.target` — the adapter interface a system under test implements;
* :mod:`~splitbrain.live.targets` — Redis, etcd and PySyncObj adapters;
* :mod:`~splitbrain.live.workloads` — registers over independent keys, list-append transactions;
* :mod:`~splitbrain.live.nemesis` — a seeded, randomized schedule of overlapping faults;
* :mod:`~splitbrain.live.journal`, :mod:`~splitbrain.live.orphans` — the history streamed to disk, the
  pidfile, and the cleanup after a runner that was killed;
* :mod:`~splitbrain.live.verdicts` — per-key and transaction checks, and when the first violation came;
* :mod:`~splitbrain.live.runner` — client threads + nemesis + recorder, heal and final reads, check.

This layer sits beside ``fuzz``: it records into ``histories`` and checks with ``checker``.
"""

__all__: list[str] = []
