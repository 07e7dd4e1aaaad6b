"""`Clock`: a node's local clock, offset (skew) and running fast or slow (drift) against virtual time.

All times are integer ticks. A node reading its clock at virtual time ``t`` sees

    local(t) = t + (t * drift_ppm) // 1_000_000 + skew

so ``drift_ppm = 100_000`` runs 10 % fast. A skew fault replaces both numbers at once, which can make the
local clock jump backwards, as a stepped NTP clock does. Timers are set in local ticks and converted to
virtual ticks with the drift, so a fast clock fires its timers early in real (virtual) time: the failure
mode of leases.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PPM",
    "Clock",
]


PPM = 1_000_000


@dataclass(frozen=True, slots=True)
class Clock:
    """Skew in ticks and drift in parts per million; both zero for a perfect clock."""

    skew: int = 0
    drift_ppm: int = 0

    def __post_init__(self) -> None:
        if self.drift_ppm <= -PPM:
            raise ValueError(f"drift_ppm must be greater than -{PPM} (a clock must move forward)")

    def read(self, t: int) -> int:
        """The local time at virtual time ``t``."""
        return t + (t * self.drift_ppm) // PPM + self.skew

    def to_virtual(self, local_delay: int) -> int:
        """The virtual ticks that pass while this clock counts ``local_delay`` ticks (rounded up)."""
        if local_delay <= 0:
            return 0
        return -(-local_delay * PPM // (PPM + self.drift_ppm))
