"""Testing real servers: start them on loopback, drive them with concurrent clients, inject faults.

* :mod:`~splitbrain.live.processes` — start, pause, kill and restart server processes (always reaped);
* :mod:`~splitbrain.live.proxy` — a fault-injecting TCP proxy (delay, drop, cut, one-way cut);
* :mod:`~splitbrain.live.target` — the adapter interface a system under test implements;
* :mod:`~splitbrain.live.targets` — Redis and etcd adapters;
* :mod:`~splitbrain.live.nemesis` — a seeded schedule of faults against a target;
* :mod:`~splitbrain.live.runner` — client threads + nemesis + recorder, then the checker.

This layer sits beside ``fuzz``: it records into ``histories`` and checks with ``checker``.
"""

__all__: list[str] = []
