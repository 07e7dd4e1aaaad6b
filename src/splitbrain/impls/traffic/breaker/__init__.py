"""A circuit breaker with bounded half-open probes (workload ``circuit-breaker``): the thread-safe object
(:mod:`.breaker`), its sequential model (:mod:`.model`, registered as model ``circuit-breaker``), the
history of its actions (:mod:`.history`) and the workload (:mod:`.workload`)."""

from splitbrain.impls.traffic.breaker.breaker import CircuitBreaker
from splitbrain.impls.traffic.breaker.model import CircuitBreakerModel
from splitbrain.impls.traffic.breaker.workload import CircuitBreakerWorkload

__all__ = ["CircuitBreaker", "CircuitBreakerModel", "CircuitBreakerWorkload"]
