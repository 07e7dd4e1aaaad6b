"""Models: sequential specifications, and how a model is found by name.

``MODELS`` maps each built-in model's ``name`` to its class (plus any a program registers in-process with
the ``register_model`` decorator); ``get_model`` turns a name, an import path (``pkg.mod:MyModel``), an
entry-point name (group ``splitbrain.models``, how installed packages such as the bug zoo add models), a
class or an instance into a model instance. ``available_models`` lists all of them with where each comes
from. Each model class documents its semantics in its module.
"""

from __future__ import annotations

import difflib
from typing import Any, TypeVar, cast

from splitbrain import plugins as _plugins
from splitbrain.errors import UnknownModel, UsageError
from splitbrain.models.base import DEFAULT, Model, ModelProtocol, with_init
from splitbrain.models.counter import Counter
from splitbrain.models.kv import KV
from splitbrain.models.multi_register import MultiRegister
from splitbrain.models.mutex import Mutex
from splitbrain.models.queues import FifoQueue, UnorderedQueue
from splitbrain.models.register import CasRegister, Register
from splitbrain.models.set import Set

__all__ = [
    "DEFAULT",
    "KV",
    "MODELS",
    "CasRegister",
    "Counter",
    "FifoQueue",
    "Model",
    "ModelProtocol",
    "MultiRegister",
    "Mutex",
    "Register",
    "Set",
    "UnorderedQueue",
    "available_models",
    "get_model",
    "register_model",
    "with_init",
]

MODELS: dict[str, type[Model]] = {}

_C = TypeVar("_C", bound=type)


def _is_model(obj: Any) -> bool:
    return callable(getattr(obj, "init", None)) and callable(getattr(obj, "step", None))


def register_model(cls: _C) -> _C:
    """Register a model class under its ``name`` so that ``get_model(name)`` and the CLI find it.

    The class needs a string ``name`` and ``init``/``step`` methods; subclassing :class:`Model` gives the
    rest. A name already taken by another class is an error (re-registering the same class is not).
    """
    if not isinstance(cls, type) or not _is_model(cls):
        raise UsageError(f"register_model expects a model class with init() and step(); got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or (issubclass(cls, Model) and "name" not in vars(cls)):
        raise UsageError(
            f"model class {cls.__qualname__} needs its own class attribute `name` (a non-empty string), "
            "the name users pass to get_model and `splitbrain check --model`"
        )
    taken = MODELS.get(name)
    if taken is not None and taken is not cls:
        raise UsageError(
            f"model name {name!r} is already registered by {taken.__module__}.{taken.__qualname__}; "
            f"give {cls.__qualname__} another name"
        )
    # plain classes that do not subclass Model get the attributes `splitbrain models` lists
    if not hasattr(cls, "summary"):
        cls.summary = ""  # type: ignore[attr-defined]
    if not hasattr(cls, "functions"):
        cls.functions = ()  # type: ignore[attr-defined]
    MODELS[name] = cast("type[Model]", cls)
    return cls


def get_model(name_or_model: Any, *, init: Any = DEFAULT) -> Model:
    """A model instance from a registered name, a model class (instantiated without arguments) or a
    model instance (any object with ``init`` and ``step``, returned as it is); with ``init``, a copy
    that starts from that value (``get_model("cas-register", init=0)``; see ``Model.initial_state``).

    An unknown name raises :class:`UnknownModel`, listing the known names and the closest one. A user's
    object need not subclass :class:`Model`; it is typed as one for convenience, so look its optional
    methods (``partition``, ``describe_state``) up with ``getattr``.
    """
    if init is not DEFAULT:
        return cast(Model, with_init(get_model(name_or_model), init))
    spec = name_or_model
    if isinstance(spec, str):
        found: Any = MODELS.get(spec)
        if found is None and _plugins.is_import_path(spec):
            found = _plugins.import_path(spec, what="model")
        elif found is None:
            found = _plugins.load_entry_point(_plugins.MODEL_GROUP, spec)
        if found is None:
            raise UnknownModel(_unknown_message(spec))
        if isinstance(found, str):
            raise UsageError(f"model {spec!r} names a string ({found!r}), not a model class or instance")
        return get_model(found)
    if isinstance(spec, type):
        if not _is_model(spec):
            raise UsageError(f"{spec.__qualname__} is not a model: it needs init() and step() methods")
        try:
            return cast(Model, spec())
        except TypeError as exc:
            raise UsageError(
                f"cannot create model {spec.__qualname__} without arguments ({exc}); pass an instance"
            ) from None
    if _is_model(spec):
        return cast(Model, spec)
    raise UsageError(
        f"expected a model name, a model class or a model instance with init() and step(); got {spec!r}"
    )


def available_models() -> list[tuple[str, str]]:
    """``(name, origin)`` of every model a name can reach: the built-ins (and any registered in this
    process), then the entry points of group ``splitbrain.models`` with the distribution that registered
    each."""
    listed = [(name, "built-in" if cls.__module__.startswith("splitbrain.models") else cls.__module__)
              for name, cls in MODELS.items()]
    seen = {name for name, _ in listed}
    plugins = _plugins.entry_points(_plugins.MODEL_GROUP)
    listed += [(e.name, f"entry point of {e.origin}") for e in plugins if e.name not in seen]
    return listed


def _unknown_message(name: str) -> str:
    names = [n for n, _ in available_models()]
    close = difflib.get_close_matches(name, names, n=1)
    if not close:
        close = [n for n in names if n.lower() == name.lower().replace("_", "-")]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (f"unknown model {name!r}{hint} (known models: {', '.join(names)}; or give an import path "
            "'package.module:Model')")


for _builtin in (
    Register, CasRegister, KV, MultiRegister, Mutex, Set, FifoQueue, UnorderedQueue, Counter,
):
    register_model(_builtin)
del _builtin
