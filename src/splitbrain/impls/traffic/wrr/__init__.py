"""Smooth weighted round robin with health checks (workload ``wrr``): the balancer (:mod:`.balancer`), its
model (:mod:`.model`, registered as model ``wrr``), the share checks (:mod:`.checks`) and the workload
(:mod:`.workload`)."""

from splitbrain.impls.traffic.wrr.balancer import SmoothWeightedRoundRobin
from splitbrain.impls.traffic.wrr.model import WeightedRoundRobinModel
from splitbrain.impls.traffic.wrr.workload import WRRWorkload

__all__ = ["SmoothWeightedRoundRobin", "WRRWorkload", "WeightedRoundRobinModel"]
