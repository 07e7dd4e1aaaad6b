"""VectorClock: tick, merge, the four comparisons, dict conversion, immutability."""

from __future__ import annotations

import pytest

from splitbrain.sim import VectorClock


def test_tick_is_a_new_clock() -> None:
    a = VectorClock()
    b = a.tick("n1")
    assert a.to_dict() == {}
    assert b.to_dict() == {"n1": 1}
    assert b.tick("n1").tick("n2")["n1"] == 2
    assert b["n9"] == 0


def test_compare_covers_all_four_orders() -> None:
    base = VectorClock({"n1": 1, "n2": 1})
    assert base.compare(VectorClock({"n1": 1, "n2": 1})) == "equal"
    assert base.compare(base.tick("n1")) == "before"
    assert base.tick("n2").compare(base) == "after"
    assert base.tick("n1").compare(base.tick("n2")) == "concurrent"
    assert VectorClock().compare(VectorClock({"n1": 1})) == "before"
    assert base < base.tick("n1") and base <= base and not base.tick("n1") <= base.tick("n2")
    assert base.happened_before(base.tick("n3"))


def test_merge_is_entrywise_max() -> None:
    a = VectorClock({"n1": 3, "n2": 1})
    b = VectorClock({"n2": 4, "n3": 2})
    merged = a.merge(b)
    assert merged.to_dict() == {"n1": 3, "n2": 4, "n3": 2}
    assert a.compare(merged) == "before" and b.compare(merged) == "before"
    assert a.to_dict() == {"n1": 3, "n2": 1}  # unchanged


def test_dict_conversion_sorted_and_zero_free() -> None:
    clock = VectorClock.from_dict({"n2": 2, "n1": 1, "n3": 0})
    assert list(clock.to_dict()) == ["n1", "n2"]
    assert list(clock) == ["n1", "n2"] and len(clock) == 2
    assert clock == VectorClock({"n1": 1, "n2": 2})
    assert hash(clock) == hash(VectorClock({"n2": 2, "n1": 1}))
    assert repr(clock) == "VectorClock({n1: 1, n2: 2})"


def test_rejects_negative_entries() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        VectorClock({"n1": -1})
