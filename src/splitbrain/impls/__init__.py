"""The bug zoo: classic distributed and concurrent systems, each correct plus named bugs of real mistakes.

The zoo is a *plugin* of splitbrain: written as a user's package would be (it imports splitbrain's
modules, mostly the public API, and nothing imports it back) and it reaches the engine the way any
user's package does: through the entry-point groups ``splitbrain.workloads``, ``splitbrain.models`` and
``splitbrain.stress_targets`` (see ``pyproject.toml``). No core package imports it. One subpackage per
system, each holding its nodes, variants, model, workload, history checks and search settings together:

* :mod:`.primary_backup` — ``primary-backup``: a replicated register with view changes;
* :mod:`.raft` — ``raft-kv``: Raft behind a key-value store;
* :mod:`.paxos` — ``paxos``: a cas-register on a log of single-decree Paxos instances;
* :mod:`.bank` — ``bank-2pc``, ``bank-tcc``: money moved between shards by 2PC and by TCC;
* :mod:`.eventual` — ``gossip-kv``, ``crdt-counter``, ``crdt-set``, ``causal-broadcast``;
* :mod:`.traffic` — ``token-bucket``, ``leaky-bucket``, ``leaky-queue``, ``rate-limit-cluster``,
  ``circuit-breaker``, ``wrr``.
"""
