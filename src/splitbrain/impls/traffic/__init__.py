"""Traffic control under controlled threads: rate limiters (:mod:`.rate_limit`), a circuit breaker
(:mod:`.breaker`) and smooth weighted round robin (:mod:`.wrr`)."""

from splitbrain.impls.traffic.breaker import CircuitBreakerWorkload
from splitbrain.impls.traffic.rate_limit import (
    LeakyBucketWorkload,
    LeakyQueueWorkload,
    RateLimitClusterWorkload,
    TokenBucketWorkload,
)
from splitbrain.impls.traffic.wrr import WRRWorkload

__all__ = [
    "CircuitBreakerWorkload",
    "LeakyBucketWorkload",
    "LeakyQueueWorkload",
    "RateLimitClusterWorkload",
    "TokenBucketWorkload",
    "WRRWorkload",
]
