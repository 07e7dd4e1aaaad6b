"""Rate limiters: token bucket, leaky bucket (meter and queue), and a distributed limiter.

* :mod:`~splitbrain.impls.traffic.rate_limit.token_bucket` — :class:`TokenBucket`;
* :mod:`~splitbrain.impls.traffic.rate_limit.leaky_bucket` — :class:`LeakyBucketMeter` (GCRA) and
  :class:`LeakyQueue` (a bounded queue drained at a fixed rate);
* :mod:`~splitbrain.impls.traffic.rate_limit.threaded` — workloads ``token-bucket``, ``leaky-bucket`` and
  ``leaky-queue``: one object under controlled threads on a node whose clock skews;
* :mod:`~splitbrain.impls.traffic.rate_limit.cluster` — workload ``rate-limit-cluster``: gateways sharing a
  bucket in a store node;
* :mod:`~splitbrain.impls.traffic.rate_limit.clock_frame` — a node's clock rebuilt from the history, for the
  checks in :mod:`splitbrain.checker.rate_limit`.

The thread-safe classes take a ``sync`` (default :data:`~splitbrain.sim.threads.REAL_SYNC`) and are
ordinary production objects outside the simulator; bug variants are subclasses named after the bug.
"""

from splitbrain.impls.traffic.rate_limit.cluster import RateLimitClusterWorkload
from splitbrain.impls.traffic.rate_limit.leaky_bucket import LEAKY_METERS, LEAKY_QUEUES, LeakyBucketMeter, LeakyQueue
from splitbrain.impls.traffic.rate_limit.threaded import LeakyBucketWorkload, LeakyQueueWorkload, TokenBucketWorkload
from splitbrain.impls.traffic.rate_limit.token_bucket import TOKEN_BUCKETS, TokenBucket

__all__ = [
    "LEAKY_METERS",
    "LEAKY_QUEUES",
    "TOKEN_BUCKETS",
    "LeakyBucketMeter",
    "LeakyBucketWorkload",
    "LeakyQueue",
    "LeakyQueueWorkload",
    "RateLimitClusterWorkload",
    "TokenBucket",
    "TokenBucketWorkload",
]
