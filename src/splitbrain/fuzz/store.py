"""The failure store: every failure a campaign finds is written atomically under ``.splitbrain/failures/``
before it is reported, so that killing a campaign (even with SIGKILL) loses nothing.

Each failure is one JSON file named by workload, variant and a content digest. Writing goes to a temporary
file in the same directory, which is flushed and fsynced, then renamed over the final name: readers see
either nothing or the whole file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from splitbrain.errors import InvalidHistory, UsageError
from splitbrain.files import atomic_write

__all__ = [
    "DEFAULT_ROOT",
    "FailureStore",
    "load_failure",
]


DEFAULT_ROOT = Path(".splitbrain")


@dataclass(frozen=True)
class FailureStore:
    """Saved failures under ``root/failures``."""

    root: Path = DEFAULT_ROOT

    @property
    def directory(self) -> Path:
        return Path(self.root) / "failures"

    def save(self, record: dict[str, Any]) -> Path:
        """Save a failure record (a JSON-able dict with at least ``workload`` and ``trace``)."""
        data = msgspec.json.format(msgspec.json.encode(record), indent=1)
        digest = hashlib.sha256(msgspec.json.encode(record.get("trace"))).hexdigest()[:12]
        variant = record.get("variant") or "correct"
        path = self.directory / f"{record['workload']}--{variant}--{digest}.json"
        atomic_write(path, data + b"\n")
        return path

    def check_writable(self) -> None:
        """Refuse, before a campaign spends its budget, a store where a found failure could not be saved:
        a file in the way, a folder without write permission, a full or read-only disk."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / f".probe-{os.getpid()}"
            with open(probe, "wb") as fh:
                fh.write(b"splitbrain")
            probe.unlink()
        except OSError as exc:
            raise UsageError(
                f"cannot save failures under {self.directory}: {exc.strerror or exc}; choose another --out"
            ) from None

    def paths(self, workload: str | None = None, variant: str | None = None) -> list[Path]:
        if not self.directory.is_dir():
            return []
        prefix = f"{workload}--" if workload else ""
        if workload and variant is not None:
            prefix += f"{variant or 'correct'}--"
        return sorted(p for p in self.directory.glob(f"{prefix}*.json"))

    def __iter__(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        for path in self.paths():
            yield path, load_failure(path)


def load_failure(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a saved failure file; a malformed one raises :class:`InvalidHistory` naming it."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InvalidHistory("no such file", source=str(p)) from None
    try:
        record = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidHistory(f"not a splitbrain failure file: {exc}", source=str(p)) from None
    if not isinstance(record, dict) or "workload" not in record or "trace" not in record:
        raise InvalidHistory(
            "not a splitbrain failure file (expected a JSON object with 'workload' and 'trace')",
            source=str(p),
        )
    if not isinstance(record["workload"], str) or not record["workload"]:
        raise InvalidHistory("the failure's 'workload' must be a workload name", source=str(p))
    ref = record.get("workload_ref")
    if ref is not None and not isinstance(ref, str):
        raise InvalidHistory("the failure's 'workload_ref' must be an import path or null", source=str(p))
    options = record.get("workload_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidHistory("the failure's 'workload_options' must be an object", source=str(p))
    from splitbrain.sim.trace import READS_VERSIONS, TRACE_VERSIONS, Trace  # the trace's shape is the simulator's

    try:
        trace = msgspec.convert(record["trace"], Trace)
    except (msgspec.ValidationError, UsageError, ValueError, TypeError) as exc:
        raise InvalidHistory(f"the failure's trace is malformed: {exc}", source=str(p)) from None
    if trace.version not in TRACE_VERSIONS:
        raise InvalidHistory(f"the trace is version {trace.version}; {READS_VERSIONS}", source=str(p))
    return record
