"""Tests that keep the documentation true.

What is checked, over ``docs/**/*.md``, ``README.md`` and ``CONTRIBUTING.md``:

- **Hooks** (``docs/plugins.md``): every hook specification of :mod:`asl_core.hookspecs` has a
  heading whose text (backticks aside) is its exact signature, derived with :mod:`inspect`
  (``register_scorers(register: RegisterFn) -> None``); no heading names a hook that does not
  exist; and every hook has a test (defined at :func:`_hooks_with_a_test`).
- **Command lines**: every ``asl-run`` command written in the docs (in code blocks, including
  ``$ asl-run ...`` and ``torchrun ... -m asl_core.cli ...`` lines, and in inline code spans)
  names a subcommand that exists and only flags its parser accepts, and its ``--config`` names
  an existing file when it is one of the repository's (``configs/...``, ``examples/...``); in
  ``docs/cli.md`` also
  every flag in the first column of a table, under the section of its subcommand. The parsers
  are the ``_<subcommand>_parser`` functions of :mod:`asl_core.cli`, one per ``SUBCOMMANDS``
  entry.
- **Runnable blocks**: a fenced code block right after a ``<!-- runnable -->`` line is a bash
  script that must exit 0. A document's runnable blocks run in order in one fresh temporary
  directory (so a later block can resume a run an earlier one started), with the directory of
  this interpreter (the project's ``.venv/bin``) first on ``PATH``. Only cheap commands without
  side effects outside that directory are marked.
- **The example plugin of docs/plugins.md**: blocks after ``<!-- file: PATH -->`` lines are the
  files of the example distribution; they are written out, their own tests run, and, with the
  distribution's metadata written as an installer would, ``asl-run`` lists and runs the plugin.
- **Links**: every relative link resolves to an existing file or folder, and an ``#anchor`` into
  a Markdown file names one of its headings (GitHub's slugs).
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from asl_core import cli, hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOC_FILES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
BIN = Path(sys.executable).parent  # the venv's bin: asl-run lives next to this python

RUNNABLE = "<!-- runnable -->"
FILE_MARKER = re.compile(r"^<!-- file: (\S+) -->$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


# --------------------------------------------------------------------------- markdown helpers


class Block:
    """One fenced code block: ``line`` (1-based, the opening fence), ``info`` string, ``body``
    and ``marker``, the nearest non-blank line above the fence (``""`` if none)."""

    def __init__(self, line: int, info: str, body: str, marker: str) -> None:
        self.line, self.info, self.body, self.marker = line, info, body, marker


def _parse(text: str) -> tuple[list[Block], list[tuple[int, str]]]:
    """Split Markdown into its fenced code blocks and its prose lines (``(line number, text)``,
    code blocks left out), so headings, links and inline code are read from prose only."""
    blocks: list[Block] = []
    prose: list[tuple[int, str]] = []
    lines = text.splitlines()
    last_text = ""  # the nearest non-blank prose line above, "" right after a block
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose.append((i + 1, lines[i]))
            last_text = lines[i].strip() or last_text
            i += 1
            continue
        indent, fence, info = m.groups()
        start, body = i, []
        i += 1
        close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        while i < len(lines) and not close.match(lines[i]):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1  # the closing fence
        blocks.append(Block(start + 1, info.strip(), "\n".join(body), last_text))
        last_text = ""
    return blocks, prose


def _without_code_spans(line: str) -> str:
    return re.sub(r"`+[^`]*`+", "", line)


def _heading_text(line: str) -> str | None:
    """The text of an ATX heading line, or None."""
    m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
    return m.group(1) if m else None


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation other than ``-``/``_`` dropped,
    spaces to ``-`` (``Annotating with people: `asl-run export` / `asl-run import```
    → ``annotating-with-people-asl-run-export--asl-run-import``)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, duplicates numbered as GitHub does."""
    _, prose = _parse(path.read_text())
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose:
        text = _heading_text(line)
        if text is None:
            continue
        slug = _slug(text)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --------------------------------------------------------------------------- (a) hooks


def _hookspecs() -> dict[str, Callable[..., object]]:
    """Hook name → its specification function (pluggy marks them ``asl_spec``)."""
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, f"{hookspecs.PROJECT}_spec")
    }


def _signature(fn: Callable[..., object]) -> str:
    """``name(param: Annotation, ...) -> Return`` as written in the source (annotations are
    strings under ``from __future__ import annotations``; classes are shown by name)."""

    def shown(annotation: object) -> str:
        return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")

    sig = inspect.signature(fn)
    params = []
    for p in sig.parameters.values():
        text = p.name if p.annotation is p.empty else f"{p.name}: {shown(p.annotation)}"
        params.append(text if p.default is p.empty else f"{text} = {p.default!r}")
    ret = "" if sig.return_annotation is sig.empty else f" -> {shown(sig.return_annotation)}"
    return f"{fn.__name__}({', '.join(params)}){ret}"


def _plugins_md_headings() -> list[str]:
    _, prose = _parse((DOCS / "plugins.md").read_text())
    return [t.replace("`", "") for _, ln in prose if (t := _heading_text(ln)) is not None]


HOOKS = _hookspecs()


def test_hookspecs_are_found() -> None:
    """The hook specifications are found (guards the tests below against an empty list)."""
    assert "register_scorers" in HOOKS and len(HOOKS) >= 7


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_heading_equal_to_its_signature(name: str) -> None:
    """docs/plugins.md has a heading that is exactly the hook's signature."""
    expected = _signature(HOOKS[name])
    headings = _plugins_md_headings()
    assert expected in headings, (
        f"docs/plugins.md has no heading '### `{expected}`'; hook headings there: "
        f"{[h for h in headings if h.startswith('register_')]}"
    )


def test_no_heading_documents_a_hook_that_does_not_exist() -> None:
    """Every ``register_...(...)`` heading of docs/plugins.md is the signature of a real hook."""
    signatures = {_signature(fn) for fn in HOOKS.values()}
    stale = [h for h in _plugins_md_headings() if h.startswith("register_") and h not in signatures]
    assert not stale, f"docs/plugins.md documents hooks that do not exist (or are stale): {stale}"


def test_every_hook_is_dispatched() -> None:
    """Every hook specification is in ``hookspecs.KINDS``, the table the plugin manager calls
    hooks from: a hook missing there would be documented but never called."""
    assert set(HOOKS) == set(hookspecs.KINDS)


@functools.cache
def _hooks_with_a_test() -> frozenset[str]:
    """The hooks that have a test.

    A hook has a test when a module under ``tests/`` other than this one
    (1) names it in code: defines a hook implementation ``def register_x(...)`` (a test plugin),
    calls or reads it (``manager.hook.register_x``) or uses the exact string ``"register_x"``;
    or (2) loops (``for ... in``) over ``asl_core.hookspecs.KINDS``, the table of every hook,
    registering through each one: that test covers every hook in ``KINDS`` by name
    (tests/core/test_plugins.py ``test_every_hookspec_registers_its_kind_in_listing_order``
    builds one ``@hookimpl`` per entry and checks what each registered). Mentions in docstrings
    and comments do not count.
    """
    names = set(HOOKS)
    found: set[str] = set()
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.resolve() == Path(__file__).resolve():
            continue
        tree = ast.parse(path.read_text())
        kinds_aliases = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "asl_core.hookspecs"
            for alias in node.names
            if alias.name == "KINDS"
        }
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
                found.add(node.name)
            elif isinstance(node, ast.Attribute) and node.attr in names:
                found.add(node.attr)
            elif isinstance(node, ast.Name) and node.id in names:
                found.add(node.id)
            elif (
                isinstance(node, ast.Constant)
                and node.value in names
                and id(node) not in docstrings
            ):
                found.add(node.value)
            elif isinstance(node, ast.For):
                loops_kinds = any(
                    (isinstance(n, ast.Name) and n.id in kinds_aliases)
                    or (
                        isinstance(n, ast.Attribute)
                        and n.attr == "KINDS"
                        and isinstance(n.value, ast.Name)
                        and n.value.id == "hookspecs"
                    )
                    for n in ast.walk(node.iter)
                )
                if loops_kinds:
                    found |= names & set(hookspecs.KINDS)
    return frozenset(found)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_test(name: str) -> None:
    """Some test outside this file exercises the hook (see ``_hooks_with_a_test``)."""
    assert name in _hooks_with_a_test(), f"no test under tests/ registers through {name}"


# --------------------------------------------------------------------------- (b) command lines

PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    name: getattr(cli, f"_{name}_parser") for name in cli.SUBCOMMANDS
}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """The option strings a parser accepts (``--help`` included)."""
    return set(parser._option_string_actions)  # argparse keeps no public list


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Action name → parser of a parser with subcommands (``asl-run data``), else ``{}``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


WORD = re.compile(r"^[a-z][a-z_-]*$")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
COMMAND_START = re.compile(r"(?:^|[\s/])asl-run(?=\s|$)|-m asl_core\.cli(?=\s|$)")


class Command:
    """An ``asl-run`` command line found in a document."""

    def __init__(self, path: Path, line: int, text: str) -> None:
        self.path, self.line, self.text = path, line, text

    def __repr__(self) -> str:
        return f"{_rel(self.path)}:{self.line}: {self.text}"

    def arguments(self) -> str:
        """What follows ``asl-run`` (or ``-m asl_core.cli``), without a trailing comment."""
        m = COMMAND_START.search(self.text)
        assert m is not None
        rest = self.text[m.end() :]
        return re.split(r"\s#\s", rest)[0]


def _commands(path: Path) -> Iterator[Command]:
    """``asl-run`` command lines of a document: lines of code blocks that start with one
    (after an optional ``$ `` prompt, a path to the binary, or ``torchrun ...``), joined with
    their continuation lines (a trailing ``\\``, or the synopsis style: the next lines indented
    and starting with ``[`` or ``-``); and inline code spans that start with ``asl-run``."""
    blocks, prose = _parse(path.read_text())
    for block in blocks:
        if block.info.split()[:1] in (["python"], ["json"], ["toml"]):
            continue
        lines = block.body.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i].strip().removeprefix("$ ")
            start = i
            i += 1
            while line.endswith("\\") and i < len(lines):
                line = line.removesuffix("\\") + " " + lines[i].strip()
                i += 1
            first = line.split()[0] if line.split() else ""
            if not (
                first.endswith("asl-run") or (first == "torchrun" and "-m asl_core.cli" in line)
            ):
                continue
            while i < len(lines) and re.match(r"^\s+[\[-]", lines[i]):
                line += " " + lines[i].strip()
                i += 1
            yield Command(path, block.line + 1 + start, line)
    for number, line in prose:
        for span in re.findall(r"`([^`]+)`", line):
            if span.startswith("asl-run ") or span == "asl-run":
                yield Command(path, number, span)


ALL_COMMANDS = [c for path in DOC_FILES for c in _commands(path)]


def _check_command(command: Command) -> list[str]:
    """Problems of one command line: an unknown subcommand or data action, unknown flags."""
    args = command.arguments().split()
    sub = "run"
    if args and args[0] in cli.SUBCOMMANDS:
        sub, args = args[0], args[1:]
    elif args and WORD.match(args[0]):
        return [f"'asl-run {args[0]}' is not a subcommand ({', '.join(cli.SUBCOMMANDS)})"]
    parser = PARSERS[sub]()
    nested = _subparsers(parser)
    if nested and args and WORD.match(args[0]):
        if args[0] not in nested:
            return [f"'asl-run {sub} {args[0]}' is not an action ({', '.join(nested)})"]
        parser = nested[args[0]]
    elif nested:
        # no action given: a flag must belong to one of the actions
        accepted = set().union(*(_options(p) for p in nested.values()), _options(parser))
        bad = sorted({f for f in FLAG.findall(" ".join(args)) if f not in accepted})
        return [f"asl-run {sub}: unknown flag {f}" for f in bad]
    accepted = _options(parser)
    bad = sorted({f for f in FLAG.findall(" ".join(args)) if f not in accepted})
    problems = [f"{parser.prog}: unknown flag {f}" for f in bad]
    # config files of this repository must exist (user paths such as my_run.py are not checked)
    for config in re.findall(r"--config[ =](\S+)", " ".join(args)):
        if config.startswith(("configs/", "examples/")) and not (ROOT / config).is_file():
            problems.append(f"--config {config}: no such file in the repository")
    return problems


def test_docs_have_asl_run_commands() -> None:
    """The command-line extraction finds the commands of docs/cli.md (guards the next test)."""
    in_cli = [c for c in ALL_COMMANDS if c.path.name == "cli.md"]
    assert len(in_cli) > 30
    assert {c.arguments().split()[0] for c in in_cli if c.arguments().split()} >= {
        "plugins",
        "select",
        "compare",
        "eval",
        "export",
        "import",
        "data",
    }


@pytest.mark.parametrize("path", DOC_FILES, ids=_rel)
def test_documented_commands_exist_with_their_flags(path: Path) -> None:
    """Every asl-run command in the document names a real subcommand and only accepted flags."""
    problems = [
        f"{c!r}\n    {p}" for c in ALL_COMMANDS if c.path == path for p in _check_command(c)
    ]
    assert not problems, "\n".join(problems)


def _cli_md_flag_tables() -> Iterator[tuple[int, str, str]]:
    """``(line, subcommand, flag)`` for every flag in the first cell of a table row of
    docs/cli.md, the subcommand taken from the ``##`` section the table is in (``asl-run X`` in
    the heading; "Running" is the run command; sections naming none are skipped)."""
    _, prose = _parse((DOCS / "cli.md").read_text())
    subs: list[str] = []
    for number, line in prose:
        if line.startswith("## "):
            named = re.findall(r"asl-run (\w+)", line)
            subs = [s for s in named if s in cli.SUBCOMMANDS] or (
                ["run"] if "asl-run [run options]" in line else []
            )
            continue
        if subs and line.startswith("|") and not re.match(r"^\|[\s|:-]+\|?$", line):
            first = line.split("|")[1]
            for flag in FLAG.findall(first):
                yield number, "/".join(subs), flag


def test_cli_md_tables_list_flags() -> None:
    """The table extraction finds flags of several subcommands (guards the next test)."""
    subs = {sub for _, sub, _ in _cli_md_flag_tables()}
    assert {"run", "select", "compare", "eval", "plugins"} <= subs


@pytest.mark.parametrize(("line", "sub", "flag"), list(_cli_md_flag_tables()), ids=lambda v: str(v))
def test_cli_md_table_flag_is_accepted(line: int, sub: str, flag: str) -> None:
    """A flag documented in a table of docs/cli.md is accepted by its subcommand's parser."""
    accepted = set().union(*(_options(PARSERS[s]()) for s in sub.split("/")))
    assert flag in accepted, f"docs/cli.md:{line}: asl-run {sub} does not accept {flag}"


def test_every_subcommand_is_documented_in_cli_md() -> None:
    """docs/cli.md shows every subcommand of asl-run (``asl-run NAME`` somewhere)."""
    text = (DOCS / "cli.md").read_text()
    missing = [s for s in cli.SUBCOMMANDS if f"asl-run {s}" not in text]
    assert not missing, f"docs/cli.md never shows: {missing}"


@pytest.mark.parametrize("sub", cli.SUBCOMMANDS)
def test_every_subcommand_answers_help(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``asl-run SUB --help`` exits 0 through ``asl_core.cli.main``: the subcommand is wired up,
    not only its parser defined."""
    assert cli.main([sub, "--help"]) == 0
    assert f"asl-run {sub}" in capsys.readouterr().out or sub == "run"


# --------------------------------------------------------------------------- (c) runnable blocks


def _runnable(path: Path) -> list[Block]:
    blocks, _ = _parse(path.read_text())
    return [b for b in blocks if b.marker == RUNNABLE]


RUNNABLE_DOCS = [p for p in DOC_FILES if _runnable(p)]


def test_runnable_markers_precede_code_blocks() -> None:
    """Every ``<!-- runnable -->`` line is followed by a code block (a misplaced marker would
    silently leave a block unchecked)."""
    for path in DOC_FILES:
        count = sum(line.strip() == RUNNABLE for line in path.read_text().splitlines())
        assert count == len(_runnable(path)), f"{_rel(path)}: a runnable marker precedes no block"


def test_the_guides_have_runnable_blocks() -> None:
    """The quickstart, the plugin guide and the reproduction guide each have runnable blocks."""
    names = {p.name for p in RUNNABLE_DOCS}
    assert {"quickstart.md", "plugins.md", "reproducing-the-paper.md"} <= names


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASL_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.mark.parametrize("path", RUNNABLE_DOCS, ids=_rel)
def test_runnable_blocks_run(path: Path, tmp_path: Path) -> None:
    """The document's runnable blocks, in order, in one fresh directory, each exit 0."""
    for block in _runnable(path):
        proc = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block.body],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, (
            f"{_rel(path)}:{block.line}: runnable block exited {proc.returncode}\n"
            f"{block.body}\n--- stdout\n{proc.stdout[-2000:]}\n--- stderr\n{proc.stderr[-2000:]}"
        )


# --------------------------------------------------------------------------- the plugin example


def _example_files() -> dict[str, str]:
    """PATH → content of the ``<!-- file: PATH -->`` blocks of docs/plugins.md."""
    blocks, _ = _parse((DOCS / "plugins.md").read_text())
    out = {}
    for block in blocks:
        m = FILE_MARKER.match(block.marker)
        if m:
            out[m.group(1)] = block.body + "\n"
    return out


def _write_example(tmp_path: Path) -> tuple[Path, dict]:
    """Write the example distribution; return its folder and its parsed pyproject.toml."""
    files = _example_files()
    for rel, content in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (pyproject,) = [tmp_path / p for p in files if p.endswith("pyproject.toml")]
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return pyproject.parent, tomllib.loads(pyproject.read_text())


def _install_metadata(folder: Path, project: dict) -> None:
    """Write the ``.dist-info`` an installer would (name, version, ``asl`` entry points) next to
    the package, so ``importlib.metadata`` finds the distribution on ``PYTHONPATH``."""
    name, version = project["name"], project["version"]
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    eps = project["entry-points"]["asl"]
    (info / "entry_points.txt").write_text(
        "[asl]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
    )


def test_plugins_md_example_files_are_complete() -> None:
    """The example's files are all marked: a pyproject, a hooks module, a test module."""
    files = _example_files()
    assert any(p.endswith("/pyproject.toml") for p in files)
    assert any(p.endswith("/hooks.py") for p in files)
    assert any("/tests/test_" in p for p in files)


def test_plugins_md_example_passes_its_own_tests(tmp_path: Path) -> None:
    """The example distribution's own tests (conformance, known answer, registration,
    discovery) pass against this checkout of the toolkit."""
    folder, _ = _write_example(tmp_path)
    env = _env()
    env["PYTHONPATH"] = str(folder)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_plugins_md_example_is_discovered_and_runs(tmp_path: Path) -> None:
    """Installed (its metadata written as pip would), the example is listed by ``asl-run
    plugins`` with its distribution and version, and ``asl-run --scorer NAME`` runs a cycle."""
    folder, pyproject = _write_example(tmp_path)
    project = pyproject["project"]
    _install_metadata(folder, project)
    env = _env()
    env["PYTHONPATH"] = str(folder)
    listing = subprocess.run(
        [str(BIN / "asl-run"), "plugins", "--json", "--kind", "scorer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    mine = [p for p in json.loads(listing.stdout)["plugins"] if p["dist"] == project["name"]]
    assert mine and all(p["version"] == project["version"] for p in mine), listing.stdout
    run = subprocess.run(
        [
            *(str(BIN / "asl-run"), "--scorer", mine[0]["name"], "--cycles", "1", "--quiet"),
            *("--work-dir", str(tmp_path / "run")),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"scorer={mine[0]['name']}" in run.stdout


# --------------------------------------------------------------------------- (d) links

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _links(path: Path) -> Iterator[tuple[int, str]]:
    _, prose = _parse(path.read_text())
    for number, line in prose:
        for target in LINK.findall(_without_code_spans(line)):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                yield number, target


def test_docs_have_links() -> None:
    """The link extraction finds links (guards the next test)."""
    assert sum(1 for p in DOC_FILES for _ in _links(p)) > 50


@pytest.mark.parametrize("path", DOC_FILES, ids=_rel)
def test_relative_links_resolve(path: Path) -> None:
    """Every relative link of the document names an existing file or folder, and its
    ``#anchor`` (if any) a heading of the Markdown file it points to."""
    problems = []
    for number, target in _links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{_rel(path)}:{number}: {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            problems.append(f"{_rel(path)}:{number}: {target}: no heading with that anchor")
    assert not problems, "\n".join(problems)
