"""Helpers for driving a bank world by hand: deliver a named message, fire a timer, let time pass."""

from __future__ import annotations

from splitbrain.sim import World


def enabled(world: World) -> list[str]:
    return [key for key, _ in world.enabled()]


def deliver(world: World, msg: str) -> None:
    """Advance time until message ``msg`` (``"n1>n2#1"``) is deliverable, then deliver it."""
    for _ in range(50):
        if f"deliver:{msg}" in enabled(world):
            world.step(f"deliver:{msg}")
            return
        assert "advance" in enabled(world), f"{msg} can never be delivered (enabled: {enabled(world)})"
        world.step("advance")
    raise AssertionError(f"{msg} was not deliverable after 50 advances")


def fire(world: World, node: str, timer: str) -> None:
    """Advance time until ``node``'s timer ``timer`` is due, then fire it."""
    key = f"timer:{node}:{timer}"
    for _ in range(50):
        if key in enabled(world):
            world.step(key)
            return
        assert "advance" in enabled(world), f"{key} never comes due (enabled: {enabled(world)})"
        world.step("advance")
    raise AssertionError(f"{key} was not due after 50 advances")


def sent_last(world: World) -> list[str]:
    """The messages the last step sent."""
    return list(world.steps[-1].sent or [])


def transfer(world: World, client: int, src: str, dst: str, amount: int) -> None:
    """Client ``client`` invokes a transfer at the coordinator, and the coordinator receives it."""
    world.step(f"invoke:{client}", f="transfer", value=(src, dst, amount), node="n1")
    deliver(world, sent_last(world)[0])
