"""Built-in targets, by name. Each module is imported only when its target is used, so that listing
the names (for the CLI) costs nothing."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from splitbrain.errors import UsageError

if TYPE_CHECKING:  # importing a target pulls in asyncio and subprocess: keep the CLI start-up light
    from splitbrain.live.target import Target

__all__ = [
    "TARGETS",
    "get_target",
]


#: target name -> (module, class)
TARGETS: dict[str, tuple[str, str]] = {
    "redis": ("splitbrain.live.targets.redis", "RedisTarget"),
    "redis-replica": ("splitbrain.live.targets.redis", "RedisReplicaTarget"),
    "redis-append": ("splitbrain.live.targets.redis", "RedisAppendTarget"),
    "redis-append-weak": ("splitbrain.live.targets.redis", "RedisAppendWeakTarget"),
    "etcd": ("splitbrain.live.targets.etcd", "EtcdTarget"),
    "etcd-serializable": ("splitbrain.live.targets.etcd", "EtcdSerializableTarget"),
    "etcd-append": ("splitbrain.live.targets.etcd", "EtcdAppendTarget"),
    "etcd-append-weak": ("splitbrain.live.targets.etcd", "EtcdAppendWeakTarget"),
    "pysyncobj": ("splitbrain.live.targets.pysyncobj", "SyncObjTarget"),
    "pysyncobj-leader-reads": ("splitbrain.live.targets.pysyncobj", "SyncObjLeaderReadsTarget"),
    "pysyncobj-log-reads": ("splitbrain.live.targets.pysyncobj", "SyncObjLogReadsTarget"),
}


def get_target(name: str) -> type[Target]:
    """The target class registered as ``name``."""
    try:
        module, cls = TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target {name!r} (known: {', '.join(TARGETS)})") from None
    target: type[Target] = getattr(importlib.import_module(module), cls)
    return target
