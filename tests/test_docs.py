"""The documentation is tested like code: README.md and every page under docs/.

* Every ```python block runs (with snippet lines, ``--8<-- "docs/examples/x.py"``, expanded as the site
  expands them). The blocks of one page run in order, in one fresh namespace, in a fresh temporary
  working directory (which is also importable). A block whose fence carries a file name,
  ```python title="replicated.py"```, is written to that file instead of being executed, and imported;
  the files named ``test_*.py`` are run with pytest, in one process after the page's blocks, and must
  pass. A block that deliberately does not run is preceded by ``<!-- not-run: reason -->``; those are
  few, and still have to compile. A block preceded by ``<!-- needs: redis-server -->`` runs where that
  program is installed (the test command installs it); where it is not, the page's test is skipped after
  running every other block. A ```text block preceded by ``<!-- output -->`` is what the python block
  just before it prints, exactly: the page says what a reader will see, and a change that alters it
  fails here instead of leaving the page stale.
* Every ```console block runs too, in the same working directory, where it stands among the page's
  python blocks (so it finds the files they wrote): its ``$ `` commands run one after another in one
  ``bash``, and what each prints must read as the page shows it (:mod:`console_blocks` has the rules:
  ``...`` for what the page leaves out, any figure where a time is shown). ``../shared/data`` in a
  command means the reference data (``$SPLITBRAIN_DATA``); a page whose commands need it is skipped
  where it is absent, as are commands needing a program the page names in ``<!-- needs: ... -->``.
  ``<!-- with: tests/x.py -->`` copies project files into the working directory first. A block
  that shows a command without running it (an install, a real cluster, a benchmark, a placeholder) is
  marked ``<!-- not-run: reason -->``.
* Every ``docs/...`` path named in src/, tests/, README.md and mkdocs.yml exists.
* ``mkdocs build --strict`` succeeds, and the site holds the API reference and the CLI reference.
* README.md stays a page: at most 300 lines, starting with the two set-up commands.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from conftest import data_dir
from console_blocks import console_env, mismatch, run_session, sessions

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]

#: a fenced block: its indentation (blocks inside admonitions or lists are indented), language, the rest
#: of the info string (``title="x.py"``) and its body
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>.*?)\s*-->\s*\Z", re.S)
#: a block that needs a server installed (``<!-- needs: redis-server -->``) runs only where it is
NEEDS = re.compile(r"<!--\s*needs:\s*(?P<binary>[\w.-]+)\s*-->\s*\Z", re.S)
#: at most this many python blocks may opt out of running, across README and docs
MAX_NOT_RUN = 8
#: at least this many console blocks run (most that do not are installs, real servers and benchmarks)
MIN_CONSOLE_RUN = 15
#: a text block that must be exactly what the python block before it printed
OUTPUT = re.compile(r"<!--\s*output\s*-->\s*\Z", re.S)
#: project files a console block needs in its working directory (``<!-- with: tests/bounded_counter.py -->``)
WITH = re.compile(r"<!--\s*with:\s*(?P<files>[^>]*?)\s*-->\s*\Z", re.S)
#: how a console block names the reference data, as a reader's clone next to ``shared/`` has it
DATA = "../shared/data"
#: what a python block "printed" when it did not run
SKIPPED = "<not run>"


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    title: str | None
    code: str
    not_run: str | None
    needs: str | None = None
    output: bool = False  # a text block: what the python block before it prints
    with_files: tuple[str, ...] = ()  # a console block: project files copied into its working directory

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


#: a pymdownx.snippets line, ``--8<-- "docs/examples/quorum.py"``: the site shows the file in its place
SNIPPET = re.compile(r'^(?P<indent>[ \t]*)--8<--[ \t]+"(?P<path>[^"]+)"[ \t]*$', re.M)


def expand_snippets(text: str) -> str:
    """A block as the site shows it: every snippet line replaced by the file it names, indented alike."""
    return SNIPPET.sub(
        lambda m: textwrap.indent((ROOT / m["path"]).read_text().rstrip("\n"), m["indent"]), text
    )


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip(" \t")
        marker = NOT_RUN.search(before)
        needs = NEEDS.search(before)
        with_files = WITH.search(before)
        title = TITLE.search(match["info"])
        found.append(Block(
            page=page,
            line=text.count("\n", 0, match.start()) + 1,
            lang=match["lang"],
            title=title["title"] if title else None,
            code=textwrap.dedent(expand_snippets(match["body"])),
            not_run=marker["reason"] if marker else None,
            needs=needs["binary"] if needs else None,
            output=bool(OUTPUT.search(before)),
            with_files=tuple(with_files["files"].split()) if with_files else (),
        ))
    return found


def python_blocks(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.lang in ("python", "py")]


def runs(block: Block) -> bool:
    return block.not_run is None and block.lang in ("python", "py", "console")


RUNNABLE = [page for page in PAGES if any(runs(b) for b in blocks(page))]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, importable working directory; modules imported from it are forgotten afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if module is not None and str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def run_pytest(blocks: list[Block], workdir: Path) -> None:
    """Run the test files a page wrote, in one pytest process (each must pass)."""
    names = [block.title or "" for block in blocks]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(workdir), *names],
        cwd=workdir, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")},
    )
    where = ", ".join(block.where() for block in blocks)
    assert done.returncode == 0, f"{where}: {' '.join(names)} do not pass:\n{done.stdout}\n{done.stderr}"


def run_console(block: Block, workdir: Path) -> str | None:
    """Run a console block's commands in ``workdir``; assert each printed what the page shows. Returns
    why it could not run here (the reference data or a program missing), else ``None``."""
    commands = sessions(block.code)
    assert commands, f"{block.where()}: a console block with no '$ ' command"
    data = data_dir()
    if any(DATA in c.text for c in commands) and not (data / "porcupine").is_dir():
        return f"{block.where()} needs the reference data at {data} (set SPLITBRAIN_DATA)"
    if block.needs is not None and shutil.which(block.needs) is None:
        return f"{block.where()} needs {block.needs}"
    for name in block.with_files:
        shutil.copy(ROOT / name, workdir / Path(name).name)
    here = str(data.resolve())
    commands = [
        replace(c, text=c.text.replace(DATA, here), expected=tuple(line.replace(DATA, here) for line in c.expected))
        for c in commands
    ]
    printed = run_session(commands, workdir, console_env(Path(sys.executable).parent))
    for command, (out, status) in zip(commands, printed, strict=True):
        wrong = mismatch(command, out, status)
        assert wrong is None, f"{block.where()} (line {block.line + command.line} of the page):\n{wrong}"
    return None


@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_every_block_runs(page: Path, workdir: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    missing: list[str] = []
    tests: list[Block] = []
    printed: str | None = None  # what the last python block that ran printed
    for block in blocks(page):
        if block.output:
            if printed is SKIPPED:
                continue  # the block before it needs a program not installed here
            assert printed is not None, f"{block.where()}: an output block with no python block run before it"
            assert printed == block.code, f"{block.where()}: the block before it printed\n{printed}"
            continue
        if block.lang == "console" and block.not_run is None:
            why = run_console(block, workdir)
            if why is not None:
                missing.append(why)
            continue
        if block.lang not in ("python", "py"):
            continue
        code = compile(block.code, block.where(), "exec")  # even a block that does not run must compile
        if block.not_run is not None:
            continue
        if block.needs is not None and shutil.which(block.needs) is None:
            missing.append(f"{block.where()} needs {block.needs}")
            printed = SKIPPED
            continue
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                if block.title is None:
                    exec(code, namespace)
                    continue
                path = workdir / block.title
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(block.code)
                if path.name.startswith("test_"):
                    tests.append(block)  # run with the page's other test files, after its blocks
                elif path.suffix == ".py":
                    sys.modules.pop(path.stem, None)
                    importlib.invalidate_caches()
                    importlib.import_module(path.stem)
        except BaseException as exc:
            exc.add_note(f"in the block at {block.where()}; its output:\n{out.getvalue()}")
            raise
        finally:
            printed = out.getvalue()
    if tests:
        run_pytest(tests, workdir)
    if missing:
        pytest.skip("every other block ran; not installed here: " + "; ".join(missing))


def test_blocks_that_do_not_run_are_few_and_say_why() -> None:
    skipped = [b for page in PAGES for b in python_blocks(page) if b.not_run is not None]
    assert all(b.not_run for b in skipped), [b.where() for b in skipped if not b.not_run]
    assert len(skipped) <= MAX_NOT_RUN, [f"{b.where()}: {b.not_run}" for b in skipped]
    shown = [b for page in PAGES for b in blocks(page) if b.lang == "console"]
    assert all(b.not_run != "" for b in shown), [b.where() for b in shown if b.not_run == ""]
    running = [b for b in shown if b.not_run is None]
    assert len(running) >= MIN_CONSOLE_RUN, f"only {len(running)} console blocks run: {[b.where() for b in running]}"


#: a path under docs/ as code and pages name it (not part of a URL or of a longer path)
DOCS_PATH = re.compile(r"(?<![\w/.-])docs/[\w./-]*[\w/]")


def named_docs_paths() -> list[tuple[str, str]]:
    sources = [
        *sorted((ROOT / "src").rglob("*.py")),
        *sorted(p for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name),
        README,
        ROOT / "mkdocs.yml",
    ]
    return [
        (f"{source.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}", match.group())
        for source in sources
        for text in [source.read_text()]
        for match in DOCS_PATH.finditer(text)
    ]


def test_every_docs_path_named_in_code_and_readme_exists() -> None:
    named = named_docs_paths()
    assert any(where.startswith("README.md") for where, _ in named), "the README links into docs/"
    missing = [f"{where}: {path}" for where, path in named if not (ROOT / path).exists()]
    assert not missing, "named but missing:\n" + "\n".join(missing)


def test_readme_links_into_the_site_resolve() -> None:
    text = README.read_text()
    targets = re.findall(r"\]\((?!https?://|#)([^)#\s]+)", text)
    assert targets
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, missing


def test_readme_is_one_page_that_starts_with_the_set_up_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines; the rest belongs in docs/"
    first = blocks(README)[0]
    assert first.line <= 3 and first.lang in ("bash", "sh", "console")
    assert [line.split("#")[0].strip() for line in first.code.splitlines()] == [
        "bash scripts/demo.sh", "bash scripts/test.sh",
    ]


def test_the_site_builds_strictly_with_the_api_and_cli_reference(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
    pytest.importorskip("mkdocs_click", reason="the docs extra is not installed: pip install -e '.[docs]'")
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stdout + built.stderr
    api = (site / "reference" / "api" / "index.html").read_text()
    for name in ("splitbrain.check", "splitbrain.Workload", "splitbrain.Node", "splitbrain.World",
                 "splitbrain.fuzz_workload", "splitbrain.Model", "splitbrain.Recorder", "splitbrain.SplitbrainError"):
        assert f'id="{name}"' in api, name
    cli = (site / "reference" / "cli" / "index.html").read_text()
    for verb in ("check", "models", "workloads", "fuzz", "replay", "shrink", "show", "run", "stress"):
        assert f"splitbrain {verb} [OPTIONS]" in cli, verb
    generated = cli.split('id="the-verbs"', 1)[1]
    assert "--variant TEXT" in generated and "--examples" not in generated  # hidden aliases stay hidden


def test_a_console_block_whose_output_went_stale_fails(tmp_path: Path) -> None:
    """The console comparison can fail: a changed count, a missing line or a failing command is caught;
    what the page may leave open (``...``, timings, the number of workers) is not."""
    block = sessions(
        "$ printf 'fuzzing w: 300 schedules, 2 worker process(es)\\nprogress\\nw: 25 schedules in 1.9 s (12.9/s)\\n'\n"
        "fuzzing w: 300 schedules, 8 worker process(es)\n"
        "...\n"
        "w: 25 schedules in 0.4 s (60.0/s)\n"
        "$ false\n"
        "$ echo $?\n"
        "1\n"
    )
    printed = run_session(block, tmp_path, console_env(Path(sys.executable).parent))
    assert [status for _, status in printed] == [0, 1, 0]
    assert mismatch(block[0], *printed[0]) is None
    assert mismatch(block[2], *printed[2]) is None
    assert mismatch(block[1], *printed[1]) is not None  # shown with no output, so it must succeed
    header = "fuzzing w: 300 schedules, 2 worker process(es)"
    stale = replace(block[0], expected=(header, "...", "w: 26 schedules in 1.9 s (12.9/s)"))
    assert mismatch(stale, *printed[0]) is not None
    short = replace(block[0], expected=(header, "w: 25 schedules in 1.9 s (12.9/s)"))
    assert mismatch(short, *printed[0]) is not None  # an unshown line needs a "..."
