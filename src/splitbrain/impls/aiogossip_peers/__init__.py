"""The PyPI package ``aiogossip``, unmodified, under simulation (workload ``aiogossip``).

Not installed with splitbrain (it pins ``networkx==2.8.8``, older than splitbrain needs): the test setup
installs it with ``pip install --no-deps aiogossip==0.0.20 protobuf==4.21.12``; its code runs as
published.
"""

from splitbrain.impls.aiogossip_peers.workload import AiogossipWorkload, check_gossip, peer_main

__all__ = ["AiogossipWorkload", "check_gossip", "peer_main"]
