"""Step-level tests of the built-in models, and of the model registry.

Each model is exercised directly through ``step`` with hand-built operations: legal and illegal steps,
unknown outcomes (which must never constrain what is unknown), and canonical, hashable states.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, ClassVar

import pytest

import splitbrain.models as models
from splitbrain.errors import InvalidHistory, UnknownModel, UsageError
from splitbrain.histories import UNKNOWN, Keyword, Op, Operation
from splitbrain.models import (
    KV,
    MODELS,
    CasRegister,
    Counter,
    FifoQueue,
    Model,
    MultiRegister,
    Mutex,
    Register,
    Set,
    UnorderedQueue,
    get_model,
    register_model,
)


def op(f: str, input: Any = None, output: Any = None, *, key: Any = None, unknown: bool = False) -> Operation:
    """One operation: ``ok`` with ``output``, or with an unknown outcome (``info``) when ``unknown``."""
    invoke = Op(process=0, type="invoke", f=f, value=input, key=key, index=0)
    if unknown:
        done = Op(process=0, type="info", f=f, value=input, key=key, index=1)
        return Operation(id=0, process=0, f=f, key=key, input=input, output=UNKNOWN, status="info",
                         call=0, ret=None, invoke=invoke, completion=done)
    done = Op(process=0, type="ok", f=f, value=output, key=key, index=1)
    return Operation(id=0, process=0, f=f, key=key, input=input, output=output, status="ok",
                     call=0, ret=1, invoke=invoke, completion=done)


def run(model: Any, *ops: Operation) -> list[Any]:
    """The states reachable by applying ``ops`` in order from the initial state (empty: illegal)."""
    states = [model.init()]
    for o in ops:
        states = [s2 for s in states for s2 in model.step(s, o)]
    return states


def steps(model: Any, state: Any, o: Operation) -> tuple[Any, ...]:
    result = model.step(state, o)
    assert isinstance(result, tuple | list)
    return tuple(result)


# -- register / cas-register --------------------------------------------------------------------------

def test_register_reads_nil_then_the_last_write() -> None:
    m = Register()
    assert m.init() is None
    assert steps(m, None, op("read", output=None)) == (None,)
    assert steps(m, None, op("read", output=3)) == ()
    assert steps(m, None, op("write", 3, 3)) == (3,)
    assert run(m, op("write", 1, 1), op("write", 2, 2), op("read", output=2)) == [2]
    assert run(m, op("write", 1, 1), op("write", 2, 2), op("read", output=1)) == []


def test_register_unknown_outcomes() -> None:
    m = Register()
    assert steps(m, 5, op("read", unknown=True)) == (5,)  # an unknown read never constrains
    assert steps(m, 5, op("write", 7, unknown=True)) == (7,)  # an unknown write happened


def test_register_rejects_functions_it_does_not_know() -> None:
    assert steps(Register(), None, op("cas", (None, 1), (None, 1))) == ()


def test_cas_register_cas() -> None:
    m = CasRegister()
    assert steps(m, 1, op("cas", (1, 2), (1, 2))) == (2,)
    assert steps(m, 0, op("cas", (1, 2), (1, 2))) == ()
    assert steps(m, None, op("cas", (None, 4), (None, 4))) == (4,)
    # reads and writes as in `register`
    assert steps(m, 2, op("read", output=2)) == (2,)
    assert steps(m, 2, op("read", output=None)) == ()
    assert steps(m, 2, op("write", 0, 0)) == (0,)


def test_cas_register_unknown_cas_applies_or_leaves_the_value_alone() -> None:
    m = CasRegister()
    assert steps(m, 1, op("cas", (1, 2), unknown=True)) == (2,)
    assert steps(m, 3, op("cas", (1, 2), unknown=True)) == (3,)
    assert steps(m, None, op("cas", (1, 2), unknown=True)) == (None,)


def test_cas_register_ok_false_means_the_compare_failed() -> None:
    m = CasRegister()
    assert steps(m, 3, op("cas", (1, 2), False)) == (3,)
    assert steps(m, 1, op("cas", (1, 2), False)) == ()
    assert steps(m, 1, op("cas", (1, 2), True)) == (2,)


def test_cas_register_malformed_cas_is_reported() -> None:
    with pytest.raises(InvalidHistory, match=r"expected a pair \[old new\]"):
        CasRegister().step(1, op("cas", 3, 3))


# -- kv -----------------------------------------------------------------------------------------------

def test_kv_keys_start_empty() -> None:
    m = KV()
    assert m.init() == ()
    assert steps(m, (), op("get", None, "", key="x")) == ((),)
    assert steps(m, (), op("get", None, None, key="x")) == ((),)  # nil reads as ""
    assert steps(m, (), op("get", None, "a", key="x")) == ()


def test_kv_put_append_get() -> None:
    m = KV()
    (s,) = run(m, op("put", "a", "a", key="x"), op("append", "b", "b", key="x"),
               op("append", "c", "c", key="y"))
    assert s == (("x", "ab"), ("y", "c"))
    assert steps(m, s, op("get", None, "ab", key="x")) == (s,)
    assert steps(m, s, op("get", None, "a", key="x")) == ()
    assert steps(m, s, op("get", None, "c", key="y")) == (s,)
    assert steps(m, s, op("get", None, "", key="z")) == (s,)
    assert steps(m, s, op("put", "", "", key="x")) == ((("y", "c"),),)


def test_kv_unknown_outcomes() -> None:
    m = KV()
    s = (("x", "a"),)
    assert steps(m, s, op("get", unknown=True, key="x")) == (s,)
    assert steps(m, s, op("append", "b", unknown=True, key="x")) == ((("x", "ab"),),)
    assert steps(m, s, op("put", "z", unknown=True, key="x")) == ((("x", "z"),),)


def test_kv_state_is_canonical() -> None:
    m = KV()
    one = run(m, op("put", "1", "1", key="a"), op("put", "2", "2", key="b"))
    two = run(m, op("put", "2", "2", key="b"), op("put", "1", "1", key="a"))
    assert one == two and hash(one[0]) == hash(two[0])
    # a key put to "" is the same state as a key never written
    three = run(m, op("put", "1", "1", key="a"), op("put", "x", "x", key="c"), op("put", "2", "2", key="b"),
                op("put", "", "", key="c"))
    assert three == one


def test_kv_state_with_keys_of_mixed_types_is_canonical() -> None:
    m = KV()
    one = run(m, op("put", "1", "1", key=1), op("put", "2", "2", key="b"))
    two = run(m, op("put", "2", "2", key="b"), op("put", "1", "1", key=1))
    assert one == two


def test_kv_partition_by_key() -> None:
    ops = [op("put", "1", "1", key="a"), op("get", None, "", key="b"), op("append", "2", "2", key="a"),
           op("get", None, "12", key="a"), op("put", "3", "3", key="c")]
    parts = KV().partition(ops)
    assert [[o.key for o in part] for part in parts] == [["a", "a", "a"], ["b"], ["c"]]
    assert parts[0] == [ops[0], ops[2], ops[3]]


def test_kv_describe_state() -> None:
    assert KV().describe_state(()) == "{}"
    assert KV().describe_state((("x", "a"), ("y", "b"))) == '{"x": "a", "y": "b"}'


# -- multi-register -----------------------------------------------------------------------------------

def test_multi_register_reads_see_state_and_earlier_writes() -> None:
    m = MultiRegister()
    write = op("txn", (("w", "x", 1), ("w", "y", 2)), (("w", "x", 1), ("w", "y", 2)))
    (s,) = run(m, write)
    assert s == (("x", 1), ("y", 2))
    read = op("txn", (("r", "x", None), ("r", "z", None)), (("r", "x", 1), ("r", "z", None)))
    assert steps(m, s, read) == (s,)
    stale = op("txn", (("r", "x", None),), (("r", "x", None),))
    assert steps(m, s, stale) == ()
    own = op("txn", (("w", "x", 5), ("r", "x", None)), (("w", "x", 5), ("r", "x", 5)))
    assert steps(m, s, own) == ((("x", 5), ("y", 2)),)
    not_own = op("txn", (("w", "x", 5), ("r", "x", None)), (("w", "x", 5), ("r", "x", 1)))
    assert steps(m, s, not_own) == ()


def test_multi_register_accepts_both_spellings_and_keywords() -> None:
    m = MultiRegister()
    mops = ((Keyword("write"), Keyword("x"), 1), (Keyword("read"), Keyword("x"), 1))
    assert run(m, op("txn", mops, mops)) == [(("x", 1),)]
    assert run(m, op("txn", (("write", "x", 1),), (("write", "x", 1),)),
               op("txn", (("r", "x", None),), (("read", "x", 1),))) == [(("x", 1),)]


def test_multi_register_unknown_applies_the_writes() -> None:
    m = MultiRegister()
    txn = op("txn", (("r", "x", None), ("w", "x", 3)), unknown=True)
    assert steps(m, (("x", 1),), txn) == ((("x", 3),),)
    reads_only = op("txn", (("r", "x", None),), unknown=True)
    assert steps(m, (("x", 1),), reads_only) == ((("x", 1),),)


def test_multi_register_state_is_canonical() -> None:
    m = MultiRegister()
    a = run(m, op("txn", (("w", "b", 2), ("w", "a", 1)), (("w", "b", 2), ("w", "a", 1))))
    b = run(m, op("txn", (("w", "a", 1), ("w", "b", 2), ("w", "c", 9), ("w", "c", None)), None))
    assert a == b == [(("a", 1), ("b", 2))]


def test_multi_register_malformed_txn_is_reported() -> None:
    with pytest.raises(InvalidHistory, match="is not a micro-op"):
        MultiRegister().step((), op("txn", (("append", "x", 1),), (("append", "x", 1),)))
    with pytest.raises(InvalidHistory, match="is not a sequence of micro-ops"):
        MultiRegister().step((), op("txn", 5, 5))


# -- mutex --------------------------------------------------------------------------------------------

def test_mutex() -> None:
    m = Mutex()
    assert m.init() is False
    assert steps(m, False, op("acquire")) == (True,)
    assert steps(m, True, op("acquire")) == ()
    assert steps(m, True, op("release")) == (False,)
    assert steps(m, False, op("release")) == ()
    assert run(m, op("acquire"), op("release"), op("acquire")) == [True]


def test_mutex_unknown_steps_like_a_completed_call() -> None:
    m = Mutex()
    assert steps(m, False, op("acquire", unknown=True)) == (True,)
    assert steps(m, True, op("acquire", unknown=True)) == ()
    assert steps(m, True, op("release", unknown=True)) == (False,)
    assert steps(m, False, op("release", unknown=True)) == ()


# -- set ----------------------------------------------------------------------------------------------

def test_set_reads_compare_as_sets() -> None:
    m = Set()
    (s,) = run(m, op("add", 1, 1), op("add", 2, 2), op("add", 1, 1))
    assert s == frozenset({1, 2})
    assert steps(m, s, op("read", None, (2, 1))) == (s,)
    assert steps(m, s, op("read", None, frozenset({1, 2}))) == (s,)
    assert steps(m, s, op("read", None, (1, 2, 2))) == (s,)
    assert steps(m, s, op("read", None, (1,))) == ()
    assert steps(m, s, op("read", None, (1, 2, 3))) == ()
    assert steps(m, frozenset(), op("read", None, None)) == (frozenset(),)
    assert steps(m, s, op("read", None, None)) == ()


def test_set_unknown_outcomes() -> None:
    m = Set()
    s = frozenset({1})
    assert steps(m, s, op("read", unknown=True)) == (s,)
    assert steps(m, s, op("add", 2, unknown=True)) == (frozenset({1, 2}),)


def test_set_malformed_read_is_reported() -> None:
    with pytest.raises(InvalidHistory, match="expected the elements"):
        Set().step(frozenset(), op("read", None, 3))


# -- queues -------------------------------------------------------------------------------------------

def test_fifo_queue_order() -> None:
    m = FifoQueue()
    (s,) = run(m, op("enqueue", 1, 1), op("enqueue", 2, 2))
    assert s == (1, 2)
    assert steps(m, s, op("dequeue", None, 1)) == ((2,),)
    assert steps(m, s, op("dequeue", None, 2)) == ()
    assert steps(m, s, op("dequeue", None, None)) == ()
    assert steps(m, (), op("dequeue", None, None)) == ((),)
    assert steps(m, (), op("dequeue", None, 1)) == ()


def test_fifo_queue_unknown_dequeue_removes_the_head() -> None:
    m = FifoQueue()
    assert steps(m, (1, 2), op("dequeue", unknown=True)) == ((2,),)
    assert steps(m, (), op("dequeue", unknown=True)) == ((),)
    assert steps(m, (1,), op("enqueue", 2, unknown=True)) == ((1, 2),)


def test_unordered_queue_any_element() -> None:
    m = UnorderedQueue()
    (s,) = run(m, op("enqueue", 2, 2), op("enqueue", 1, 1), op("enqueue", 2, 2))
    assert s == ((1, 1), (2, 2))
    assert steps(m, s, op("dequeue", None, 1)) == (((2, 2),),)
    assert steps(m, s, op("dequeue", None, 2)) == (((1, 1), (2, 1)),)
    assert steps(m, s, op("dequeue", None, 3)) == ()
    assert steps(m, s, op("dequeue", None, None)) == ()
    assert steps(m, (), op("dequeue", None, None)) == ((),)
    assert run(m, op("enqueue", 1, 1), op("dequeue", None, 1), op("dequeue", None, 1)) == []


def test_unordered_queue_unknown_dequeue_branches_per_distinct_element() -> None:
    m = UnorderedQueue()
    s = ((1, 1), (2, 2))
    assert set(steps(m, s, op("dequeue", unknown=True))) == {((2, 2),), ((1, 1), (2, 1))}
    assert steps(m, (), op("dequeue", unknown=True)) == ((),)


def test_unordered_queue_state_is_canonical() -> None:
    m = UnorderedQueue()
    a = run(m, op("enqueue", "b", "b"), op("enqueue", "a", "a"), op("enqueue", "b", "b"))
    b = run(m, op("enqueue", "a", "a"), op("enqueue", "b", "b"), op("enqueue", "c", "c"),
            op("enqueue", "b", "b"), op("dequeue", None, "c"))
    assert a == b == [(("a", 1), ("b", 2))]
    assert m.describe_state(a[0]) == '#{"a" "b" "b"}'


# -- counter ------------------------------------------------------------------------------------------

def test_counter() -> None:
    m = Counter()
    assert m.init() == 0
    (s,) = run(m, op("add", 2, 2), op("add", 3, 3))
    assert s == 5
    assert steps(m, s, op("read", None, 5)) == (5,)
    assert steps(m, s, op("read", None, 4)) == ()
    assert steps(m, s, op("read", unknown=True)) == (5,)
    assert steps(m, s, op("add", -1, unknown=True)) == (4,)
    with pytest.raises(InvalidHistory, match="expected a number"):
        m.step(0, op("add", "one", "one"))


# -- every built-in model -----------------------------------------------------------------------------

BUILTINS = [Register, CasRegister, KV, MultiRegister, Mutex, Set, FifoQueue, UnorderedQueue, Counter]


@pytest.mark.parametrize("cls", BUILTINS, ids=lambda c: c.name)
def test_builtin_model_attributes(cls: type[Model]) -> None:
    assert MODELS[cls.name] is cls
    assert cls.summary and "\n" not in cls.summary
    assert cls.functions
    assert set(getattr(cls, "readonly", ())) <= set(cls.functions)
    model = cls()
    assert isinstance(model, models.ModelProtocol)
    assert isinstance(model.init(), Hashable)
    hash(model.init())
    assert isinstance(model.describe_state(model.init()), str)
    assert steps(model, model.init(), op("no-such-function", None, None)) == ()


def test_registry_lists_every_builtin_in_order() -> None:
    assert list(MODELS)[: len(BUILTINS)] == [
        "register", "cas-register", "kv", "multi-register", "mutex", "set", "fifo-queue",
        "unordered-queue", "counter",
    ]


def test_describe_state_examples() -> None:
    assert Register().describe_state(None) == "nil"
    assert Register().describe_state(3) == "3"
    assert Register().describe_state("a") == '"a"'
    assert Register().describe_state(Keyword("a")) == ":a"
    assert FifoQueue().describe_state((1, 2)) == "[1 2]"
    assert Set().describe_state(frozenset({2, 1})) == "#{1 2}"
    assert Mutex().describe_state(True) == "held"
    assert MultiRegister().describe_state((("x", None), ("y", 2))) == '{"x": nil, "y": 2}'


# -- registry -----------------------------------------------------------------------------------------

class Toggle:
    """A user model in plain Python: ``flip`` toggles a bit, ``read`` observes it."""

    name = "toggle"

    def init(self) -> bool:
        return False

    def step(self, state: bool, op: Operation) -> Iterable[bool]:
        if op.f == "flip":
            return (not state,)
        return (state,) if op.output is UNKNOWN or op.output == state else ()


def test_get_model_by_name_class_and_instance() -> None:
    assert isinstance(get_model("cas-register"), CasRegister)
    assert isinstance(get_model(KV), KV)
    instance = Counter()
    assert get_model(instance) is instance
    plain = Toggle()
    assert get_model(plain) is plain
    assert isinstance(get_model(Toggle), Toggle)
    assert get_model("register") is not get_model("register")  # a fresh instance each time


def test_get_model_unknown_name_lists_names_and_suggests() -> None:
    with pytest.raises(UnknownModel) as info:
        get_model("cas-regster")
    message = str(info.value)
    assert "did you mean 'cas-register'?" in message
    for name in ("register", "kv", "fifo-queue", "counter"):
        assert name in message
    assert isinstance(info.value, LookupError)
    with pytest.raises(UnknownModel, match="did you mean 'fifo-queue'"):
        get_model("fifo_queue")
    with pytest.raises(UnknownModel) as far:
        get_model("zzzzzzzz")
    assert "did you mean" not in str(far.value) and "known models: register" in str(far.value)


def test_get_model_rejects_non_models() -> None:
    with pytest.raises(UsageError, match="expected a model name"):
        get_model(42)
    with pytest.raises(UsageError, match="is not a model"):
        get_model(int)

    class NeedsArgs(Model):
        name = "needs-args"

        def __init__(self, size: int) -> None:
            self.size = size

    with pytest.raises(UsageError, match="pass an instance"):
        get_model(NeedsArgs)


def test_register_model_adds_a_user_model() -> None:
    @register_model
    class Gauge(Model):
        name: ClassVar[str] = "test-gauge"
        summary: ClassVar[str] = "a gauge for the registry test"
        functions: ClassVar[tuple[str, ...]] = ("set", "read")

        def init(self) -> Hashable:
            return 0

        def step(self, state: Any, op: Operation) -> tuple[Any, ...]:
            if op.f == "set":
                return (op.input,)
            return (state,) if op.output is UNKNOWN or op.output == state else ()

    try:
        assert MODELS["test-gauge"] is Gauge
        assert isinstance(get_model("test-gauge"), Gauge)
        assert register_model(Gauge) is Gauge  # registering the same class again is harmless

        class Impostor(Gauge):
            name: ClassVar[str] = "test-gauge"

        with pytest.raises(UsageError, match="already registered"):
            register_model(Impostor)

        class Unnamed(Gauge):
            pass

        with pytest.raises(UsageError, match="needs its own class attribute `name`"):
            register_model(Unnamed)
    finally:
        MODELS.pop("test-gauge", None)


def test_register_model_accepts_a_plain_class() -> None:
    try:
        assert register_model(Toggle) is Toggle
        assert isinstance(get_model("toggle"), Toggle)
        assert MODELS["toggle"].summary == "" and MODELS["toggle"].functions == ()
    finally:
        MODELS.pop("toggle", None)
    with pytest.raises(UsageError, match="expects a model class"):
        register_model(Toggle())  # type: ignore[type-var]


def test_public_names_match_all() -> None:
    public = {n for n in vars(models) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(models, n)).__name__ == "module"}
    helpers = {"annotations", "difflib", "Any", "TypeVar", "cast", "UnknownModel", "UsageError"}
    assert set(models.__all__) == public - modules - helpers
