"""Writing files safely: whole or not at all.

This module sits at the bottom of the layers (it imports nothing from splitbrain), so every layer that
writes — the failure store, the HTML reports, the history writers — shares one way to do it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["OutputRefused", "atomic_write", "check_output"]


class OutputRefused(OSError):
    """An output path that would destroy something: an input of the same command, or a file that is not
    a regular file (a device such as ``/dev/full``, a FIFO, a socket, a directory)."""


def check_output(path: str | os.PathLike[str], *, inputs: tuple[str | os.PathLike[str], ...] = ()) -> Path:
    """``path`` if writing a file there destroys nothing; :class:`OutputRefused` saying why otherwise.

    Writing replaces the file by a rename, so a device node or FIFO at ``path`` would be swapped for a
    regular file (as root, ``--html /dev/full`` did exactly that), and an input named as the output
    would be lost.
    """
    target = Path(path)
    if target.exists() or target.is_symlink():
        if not target.is_file():
            raise OutputRefused(f"{target}: not a regular file (a directory, device, FIFO or socket): refusing "
                                "to replace it; write the output to a new file")
        for given in inputs:
            try:
                same = os.path.samefile(target, given)
            except OSError:
                continue
            if same:
                raise OutputRefused(f"{target}: this is an input of the command ({given}); refusing to overwrite "
                                    "it; write the output to another file")
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; a saved failure or report should be as readable as any file the
        # user writes (a shared store on a Dask cluster is read by other accounts): 0666 less the umask
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
