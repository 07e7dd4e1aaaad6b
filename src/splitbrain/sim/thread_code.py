"""Which code is "the code under test" of a controlled thread, and the line tracer that stops there.

Line-level scheduling (``ThreadedNode.interleave = "lines"``) makes every line of the code under test a
scheduling point, as Lincheck's model-checking mode (Koval et al., CAV 2023) makes every shared-memory
access one on the JVM. Which code that is matters twice: a point per line of the standard library or of
splitbrain itself would multiply the steps of a schedule by hundreds without exploring anything new, and
a point inside the engine's own hand-over would deadlock it. So :class:`CodeScope` names it:

* what ``ThreadedNode.code_under_test`` lists — modules by dotted name (a package covers its
  submodules), files by path, module objects, classes (their methods and those of their bases, nested
  functions included) and functions;
* by default, the files that define the class of the object ``create()`` returned and of its bases.

The standard library and splitbrain's engine (everything but the bug zoo, ``splitbrain.impls``, which is
a user like any other) are never in a scope: naming them is refused with an error.

The tracer is ``sys.settrace`` (per thread, so only controlled threads pay for it, and only they stop):
a ``call`` event asks the scope whether the new frame's code is under test — once per code object, the
answer is cached — and only such frames get a local tracer, whose ``line`` events park the thread. Module
bodies (``<module>`` code) never count: an import runs only the first time, and a point there would make
the first schedule in a process differ from the next; nor do finalisers (``__del__``), which run whenever
the garbage collector gets to them. ``sys.monitoring`` (3.12+) could restrict the events
to the code under test without a call event per frame; ``sys.settrace`` works on every supported version,
3.11 included, and is what this module uses.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import sysconfig
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import CodeType, FrameType, FunctionType, ModuleType
from typing import Any

from splitbrain.errors import UsageError

__all__ = ["CodeScope", "engine_or_stdlib", "line_tracer"]

_ENGINE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../splitbrain
_ZOO = os.path.join(_ENGINE, "impls") + os.sep
_PATHS = sysconfig.get_paths()
_THIRD_PARTY = {os.path.normcase(os.path.abspath(_PATHS[k])) for k in ("purelib", "platlib") if k in _PATHS}
_STDLIB = tuple(sorted({os.path.normcase(os.path.abspath(_PATHS[k])) + os.sep for k in ("stdlib", "platstdlib")
                        if k in _PATHS}))
_verdicts: dict[str, bool] = {}
#: code that runs when something else decides, not the schedule: a module body (only at the first import
#: in a process) and a finaliser (whenever the garbage collector gets to it, on whichever thread)
_NEVER = frozenset({"<module>", "__del__"})


def engine_or_stdlib(filename: str) -> bool:
    """True for code that is never under test: the standard library, splitbrain's engine (not its zoo),
    and code without a file (``<frozen ...>``, ``<string>``)."""
    verdict = _verdicts.get(filename)
    if verdict is None:
        path = os.path.normcase(os.path.abspath(filename))
        if filename.startswith("<"):
            verdict = True
        elif path.startswith(_ENGINE + os.sep):
            verdict = not path.startswith(os.path.normcase(_ZOO))
        else:
            third_party = any(path.startswith(p + os.sep) for p in _THIRD_PARTY) or (
                f"{os.sep}site-packages{os.sep}" in path or f"{os.sep}dist-packages{os.sep}" in path
            )
            verdict = not third_party and path.startswith(_STDLIB)
        _verdicts[filename] = verdict
    return verdict


def _nested(code: CodeType) -> Iterator[CodeType]:
    """``code`` and every code object defined inside it (nested functions, lambdas, comprehensions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _nested(const)


def _class_codes(cls: type) -> Iterator[CodeType]:
    for klass in cls.__mro__:
        if klass is object or engine_or_stdlib(_source(klass) or "<builtin>"):
            continue
        for value in vars(klass).values():
            if isinstance(value, staticmethod | classmethod):
                value = value.__func__
            parts = (value.fget, value.fset, value.fdel) if isinstance(value, property) else (value,)
            for part in parts:
                code = getattr(part, "__code__", None)
                if isinstance(code, CodeType):
                    yield from _nested(code)


def _source(thing: Any) -> str:
    try:
        return inspect.getsourcefile(thing) or ""
    except TypeError:
        return ""


class CodeScope:
    """The code under test: whole files, whole directories (packages), and single code objects."""

    def __init__(self, files: Iterable[str] = (), dirs: Iterable[str] = (), codes: Iterable[CodeType] = (),
                 described: str = "") -> None:
        self.files = frozenset(os.path.normcase(os.path.abspath(f)) for f in files)
        self.dirs = tuple(sorted(os.path.normcase(os.path.abspath(d)) + os.sep for d in dirs))
        self.codes = frozenset(codes)
        self.described = described
        #: code object -> the note name of its file (``"racy.py"``), or None when not under test
        self._names: dict[CodeType, str | None] = {}

    def __bool__(self) -> bool:
        return bool(self.files or self.dirs or self.codes)

    def covers(self, code: CodeType) -> str | None:
        """The base name of ``code``'s file when ``code`` is under test, else ``None`` (cached)."""
        try:
            return self._names[code]
        except KeyError:
            pass
        name: str | None = None
        if code.co_name not in _NEVER and not engine_or_stdlib(code.co_filename):
            path = os.path.normcase(os.path.abspath(code.co_filename))
            if code in self.codes or path in self.files or path.startswith(self.dirs):
                name = os.path.basename(code.co_filename)
        self._names[code] = name
        return name

    @classmethod
    def resolve(cls, named: Sequence[Any], obj: Any, owner: str) -> CodeScope:
        """The scope ``code_under_test`` names (``owner`` is the node class, for messages); empty names the
        files of ``obj``'s class and its bases."""
        if isinstance(named, str | ModuleType | type | FunctionType):
            named = (named,)
        files: list[str] = []
        dirs: list[str] = []
        codes: list[CodeType] = []
        if not named:
            for klass in type(obj).__mro__:
                source = _source(klass)
                if source and not engine_or_stdlib(source):
                    files.append(source)
            return cls(files, described=f"the files defining {type(obj).__qualname__}")
        for item in named:
            where: str
            if isinstance(item, str) and (item.endswith(".py") or os.sep in item or "/" in item):
                if not os.path.isfile(item):
                    raise UsageError(f"{owner}.code_under_test names {item!r}, which is not a file")
                where = item
                files.append(item)
            elif isinstance(item, str | ModuleType):
                module = item if isinstance(item, ModuleType) else _import(item, owner)
                where = getattr(module, "__file__", None) or ""
                if not where:
                    raise UsageError(f"{owner}.code_under_test names module {module.__name__}, which has no file")
                if os.path.basename(where) == "__init__.py":
                    dirs.append(os.path.dirname(where))
                else:
                    files.append(where)
            elif isinstance(item, type):
                where = _source(item)
                codes.extend(_class_codes(item))
            elif isinstance(item, FunctionType):
                where = item.__code__.co_filename
                codes.extend(_nested(item.__code__))
            else:
                raise UsageError(
                    f"{owner}.code_under_test lists {item!r}; give modules (dotted names or objects), file "
                    "paths, classes or functions"
                )
            if not where or engine_or_stdlib(where):
                raise UsageError(
                    f"{owner}.code_under_test names {item!r}, which is part of the standard library or of "
                    "splitbrain's engine: a scheduling point in every line there would explore nothing "
                    "but the harness; name your own modules, classes or files"
                )
        return cls(files, dirs, codes, described=", ".join(_describe(i) for i in named))


def _import(name: str, owner: str) -> ModuleType:
    try:
        return sys.modules.get(name) or importlib.import_module(name)
    except ImportError as exc:
        raise UsageError(f"{owner}.code_under_test names module {name!r}, which cannot be imported: {exc}") from None


def _describe(item: Any) -> str:
    return getattr(item, "__qualname__", None) or getattr(item, "__name__", None) or str(item)


Tracer = Callable[[FrameType, str, Any], Any]


def line_tracer(scope: CodeScope, park: Callable[[str], None]) -> Tracer:
    """A ``sys.settrace`` function that calls ``park("at file.py:17")`` before every line of the scope."""
    covers = scope.covers

    def local(frame: FrameType, event: str, arg: Any) -> Tracer:
        if event == "line":
            park(f"at {covers(frame.f_code)}:{frame.f_lineno}")
        return local

    def on_call(frame: FrameType, event: str, arg: Any) -> Tracer | None:
        return local if covers(frame.f_code) is not None else None

    return on_call
