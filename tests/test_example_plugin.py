"""The third-party plugin example, ``examples/asl-scorer-example``, used as a stranger would: once
installed (``make install`` does it) ``asl-run`` runs its scorer and lists it with its own
distribution and version; uninstalled, it is gone from the listing.

The example's own tests (its known answers and ``asl_core.testing`` conformance) are in
``examples/asl-scorer-example/tests``, collected by ``make test`` through ``testpaths``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from asl_core.cli import main
from asl_core.plugins import default_plugin_manager

tomllib = pytest.importorskip("tomllib")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "asl-scorer-example"
with (EXAMPLE / "pyproject.toml").open("rb") as _f:
    PROJECT = tomllib.load(_f)["project"]
DIST, VERSION = PROJECT["name"], PROJECT["version"]
SCORER = "motion_margin"

#: one tiny cycle of the action-detection task: 4 + 2 synthetic videos of 10-14 frames at
#: 32 x 32, two training iterations, two MC-dropout trials (plugins/asl_action_det/task.py)
TINY_ACTION_DET = [
    "task.synth.num_train=4",
    "task.synth.num_test=2",
    "task.synth.min_frames=10",
    "task.synth.max_frames=14",
    "task.synth.size=32",
    "task.iterations=2",
    "task.mc_trials=2",
    "budget.cycles=1",
]


def _env() -> dict[str, str]:
    """This environment without the ASL_* switches that would hide plugins from a listing."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ASL_")}


def listed_scorers(python: Path | str) -> dict[str, dict]:
    """``asl-run plugins --json`` of the interpreter ``python``: scorer name -> its entry."""
    proc = subprocess.run(
        [str(python), "-m", "asl_core.cli", "plugins", "--json", "--kind", "scorer"],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    doc = json.loads(proc.stdout)
    return {p["name"]: p for p in doc["plugins"]}


@pytest.fixture
def fresh_manager():
    """asl-run's cached plugin manager rebuilt from the installed entry points, and dropped
    after the test (another test may have built it under other ASL_* settings)."""
    default_plugin_manager.cache_clear()
    yield
    default_plugin_manager.cache_clear()


def test_asl_run_uses_the_example_scorer_on_action_det(tmp_path, monkeypatch, fresh_manager):
    """``asl-run --task action_det --scorer motion_margin --selector global`` runs one tiny
    cycle, and the cycle-1 purchase is the example scorer's: unlabelled frames with scores in
    [0, 1]. (In process: ``asl-run`` is ``asl_core.cli:main``; a subprocess would add the
    torch start-up to the test's time.)"""
    for key in [k for k in os.environ if k.startswith("ASL_")]:
        monkeypatch.delenv(key)
    run = tmp_path / "run"
    argv = ["--task", "action_det", "--scorer", SCORER, "--selector", "global"]
    options = [f"task.data_root={tmp_path / 'data'}", *TINY_ACTION_DET]
    code = main([*argv, "--work-dir", str(run), "--quiet", "--cfg-options", *options])
    assert code == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["plugins"]["scorer"] == SCORER
    initial = json.loads((run / "cycles" / "000" / "selection.json").read_text())
    bought = json.loads((run / "cycles" / "001" / "selection.json").read_text())
    assert (bought["scorer"], bought["selector"]) == (SCORER, "global")
    before = {(v, f) for v, f, _ in initial["frames"]}
    assert bought["frames"] and not before & {(v, f) for v, f, _ in bought["frames"]}
    assert all(0.0 <= s <= 1.0 for _, _, s in bought["frames"])


def test_listing_shows_the_example_with_its_distribution_and_version():
    """In this environment (``make install`` installs the example) ``asl-run plugins`` lists
    'motion_margin' from asl-scorer-example 0.1.0, its module inside the example package."""
    scorers = listed_scorers(sys.executable)
    assert SCORER in scorers, f"{DIST} is not installed here: run `make install`"
    entry = scorers[SCORER]
    assert (entry["dist"], entry["version"]) == (DIST, VERSION)
    assert entry["module"].endswith(os.path.join("asl_scorer_example", "motion_margin.py"))


def _venv_without_the_example(root: Path) -> Path:
    """A new virtual environment holding everything this one has installed except the example.

    Every entry of this environment's site-packages is symlinked into the new one, except the
    example's (its dist-info and its editable-install hook): the new environment is this one as
    ``pip uninstall asl-scorer-example`` would leave it, made without touching this one.

    Returns:
        The new environment's python.
    """
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = Path(sysconfig.get_path("purelib"))
    theirs = venv / ours.relative_to(sys.prefix)
    for item in ours.iterdir():
        if "asl_scorer_example" not in item.name.lower().replace("-", "_"):
            (theirs / item.name).symlink_to(item)
    return venv / "bin" / "python"


def test_installing_lists_it_and_uninstalling_removes_it(tmp_path):
    """In a copy of this environment without the example, ``asl-run plugins`` lists the
    built-ins but not 'motion_margin'; ``pip install`` of the example (a regular, non-editable install from a copy
    of its source, offline) lists it with its distribution and version; ``pip uninstall`` takes
    it out of the listing again.

    Why this way: uninstalling from the shared environment would break every other test running
    in it, and hiding the plugin (``ASL_DISABLE_PLUGINS``, or leaving it off ``PYTHONPATH``) is
    not uninstalling. A symlinked copy of the environment is the environment itself minus the
    example's files, in which pip really installs and uninstalls it; the shared environment is
    never written to.
    """
    python = _venv_without_the_example(tmp_path)
    source = shutil.copytree(
        EXAMPLE,
        tmp_path / "src",
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*_cache"),
    )
    before = listed_scorers(python)
    assert "apu" in before, "the copied environment lost the toolkit itself"
    assert SCORER not in before

    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # offline and fast: the dependencies and setuptools are already there
    install = ["install", "--no-deps", "--no-index", "--no-build-isolation", str(source)]
    subprocess.run([*pip, *install], check=True, env=_env(), capture_output=True)
    entry = listed_scorers(python).get(SCORER)
    assert entry is not None and (entry["dist"], entry["version"]) == (DIST, VERSION)
    # the copy just installed, not this environment's editable install
    assert Path(entry["module"]).resolve().is_relative_to((tmp_path / "venv").resolve())

    subprocess.run([*pip, "uninstall", "--yes", DIST], check=True, env=_env(), capture_output=True)
    assert SCORER not in listed_scorers(python)
