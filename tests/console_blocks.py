"""The ```console blocks of the docs: the commands they show, run, and their output compared with the page.

A console block is a shell session as a reader would type it: ``$ command`` lines, each followed by what
it prints. :func:`sessions` splits a block into commands and expected lines; :func:`run_session` runs the
commands in one ``bash`` (so ``$ echo $?`` reports the command before it) and returns what each printed,
stdout and stderr together, and its exit status; :func:`mismatch` compares one command's expected lines
with what it printed.

The page may leave things out, as pages do:

* a line that is only ``...`` stands for any number of lines (none included);
* ``...`` inside a line stands for any text;
* a figure that measures time — ``2.7 s``, ``6.22s``, ``(111.5/s)``, ``3,150 events/s`` — matches any
  figure in its place: it is what a rerun does not repeat; so does the count in ``2 worker process(es)``,
  one per CPU of the machine.

Everything else must be there, in order: verdicts, counts, file names (a saved failure's name is a hash
of its trace, so a change in the search shows here), exit statuses shown with ``$ echo $?``. A command
shown with no output, or only ``...``, must exit 0.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Command", "console_env", "mismatch", "run_session", "sessions"]

#: a line of the page that stands for any number of lines
GAP = "..."
#: what a line of the page may leave open: ``...`` (any text); a figure that measures time, as the CLI
#: prints them — seconds (``2.7 s``, ``6.22s``), rates (``(111.5/s)``, ``3,150 events/s``); and the number
#: of worker processes, one per CPU of the machine (a ``--count`` campaign's result does not depend on it)
OPEN = re.compile(
    r"(?P<gap>\.\.\.)"
    r"|\d+(?:\.\d+)?(?= ?s\b)|(?<=\()\d+(?:\.\d+)?(?=/s\))|[\d,]+(?= events/s)|\d+(?= worker process)"
)
#: the separator printed after each command's output, with its exit status (a line no command prints)
MARK = "@@splitbrain-docs-command@@"


@dataclass(frozen=True)
class Command:
    """One ``$ command`` of a block and the lines the page shows under it."""

    line: int  # of the ``$`` line, counted from the block's first line (1)
    text: str
    expected: tuple[str, ...]


def sessions(code: str) -> list[Command]:
    """The commands of a console block, each with the lines shown under it (trailing blank lines dropped)."""
    found: list[Command] = []
    current: tuple[int, str, list[str]] | None = None
    for number, line in enumerate(code.splitlines(), 1):
        if line.startswith("$ "):
            if current is not None:
                found.append(_command(current))
            current = (number, line[2:], [])
        elif current is None:
            raise ValueError(f"line {number} of a console block is output with no '$ ' command before it: {line!r}")
        else:
            current[2].append(line)
    if current is not None:
        found.append(_command(current))
    return found


def _command(parts: tuple[int, str, list[str]]) -> Command:
    number, text, lines = parts
    while lines and not lines[-1].strip():
        lines.pop()
    return Command(number, text, tuple(line.rstrip() for line in lines))


def run_session(
    commands: list[Command], cwd: Path, env: Mapping[str, str], timeout: float = 300
) -> list[tuple[list[str], int]]:
    """Run ``commands`` one after another in one ``bash`` in ``cwd``; what each printed, as lines, and its
    exit status."""
    # each command sees the exit status of the one before it (for ``$ echo $?``), not the separators'; the
    # braces end on a line of their own, after any ``# comment`` the command carries
    script = "status=0\n" + "".join(
        f"(exit $status); {{\n{command.text}\n}} 2>&1\nstatus=$?\nprintf '\\n%s %d\\n' '{MARK}' $status\n"
        for command in commands
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout,
    )
    results = []
    rest = done.stdout
    for _ in commands:
        printed, found, rest = rest.partition(f"\n{MARK} ")
        if not found or done.stderr:
            raise AssertionError(f"the session did not run every command (exit {done.returncode}):\n"
                                 f"{done.stdout}\n{done.stderr}")
        status, _, rest = rest.partition("\n")
        results.append((printed.splitlines(), int(status)))
    return results


@cache
def _pattern(line: str) -> re.Pattern[str]:
    """The regular expression for one expected line: literal, except what :data:`OPEN` leaves open."""
    parts, at = [], 0
    for match in OPEN.finditer(line):
        parts.append(re.escape(line[at:match.start()]))
        parts.append(".*" if match["gap"] else r"[\d,]+(?:\.\d+)?")
        at = match.end()
    parts.append(re.escape(line[at:]))
    return re.compile("".join(parts) + r"\Z")


def _fits(expected: tuple[str, ...], actual: list[str]) -> bool:
    """Whether ``actual`` reads as ``expected``, gap lines standing for any run of lines."""
    memo: dict[tuple[int, int], bool] = {}

    def fits(i: int, j: int) -> bool:
        key = (i, j)
        if key not in memo:
            if i == len(expected):
                memo[key] = j == len(actual)
            elif expected[i].strip() == GAP:
                memo[key] = any(fits(i + 1, k) for k in range(j, len(actual) + 1))
            else:
                memo[key] = j < len(actual) and bool(_pattern(expected[i]).match(actual[j])) and fits(i + 1, j + 1)
        return memo[key]

    return fits(0, 0)


def mismatch(command: Command, printed: list[str], status: int = 0) -> str | None:
    """``None`` when what ``command`` printed reads as the page shows it; else both, to compare. A command
    the page shows no output of (or only ``...``) must also succeed: exit status 0."""
    actual = [line.rstrip() for line in printed]
    if status != 0 and all(line.strip() in ("", GAP) for line in command.expected):
        return f"$ {command.text}\n--- exit status {status}; it printed:\n" + "\n".join(actual)
    while actual and not actual[-1]:
        actual.pop()
    if _fits(command.expected, actual):
        return None
    shown = "\n".join(command.expected) or "(nothing)"
    return f"$ {command.text}\n--- the page shows:\n{shown}\n--- it printed:\n" + "\n".join(actual)


def console_env(extra_path: Path) -> dict[str, str]:
    """The environment a reader's shell would have: this interpreter's scripts first on ``PATH``, no CI
    variables (the pytest plugin reads ``CI``), a wide terminal (nothing wraps)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    env["PATH"] = f"{extra_path}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    return env
