"""The example configs under examples/configs: one or more per task (file name ``<task>_*.py``)
and one per ``asl-run compare`` preset (``compare_<preset>.py``).

Every config loads; the ``fake_*`` ones run a cycle; the configs of the heavy tasks build every
component (the task on a tiny synthetic dataset in a temporary folder, so nothing large is
generated) without running; every cell of each preset's grid builds, and the preset configs
reproduce the grids the documentation runs, so their APU cells can be reused across grids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asl_core import parse_params
from asl_core.cli import main
from asl_core.config import budget_of, build_config, canonical_config
from asl_core.grid import PRESETS, grid_configs
from asl_core.loop import build_components
from asl_core.plugins import PluginManager

CONFIG_DIR = Path(__file__).resolve().parents[1] / "examples" / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.py"))
#: file-name prefix -> the task its configs run
TASK_OF_PREFIX = {"fake_": "fake", "action_det_": "action_det", "vos_": "vos"}
PRESET_CONFIGS = {
    p.stem.removeprefix("compare_"): p for p in CONFIGS if p.stem.startswith("compare_")
}
RUN_CONFIGS = [p for p in CONFIGS if p.stem not in {f"compare_{k}" for k in PRESET_CONFIGS}]
FAKE = [p for p in RUN_CONFIGS if p.name.startswith("fake_")]
HEAVY = [p for p in RUN_CONFIGS if not p.name.startswith("fake_")]

#: what the heavy tasks build on instead of their full synthetic datasets (generated once per
#: module into a temporary folder): only the data changes, every other task parameter is the
#: config's
TINY_DATA: dict[str, dict[str, Any]] = {
    "action_det": {
        "synth": {"num_train": 3, "num_test": 2, "min_frames": 10, "max_frames": 14, "size": 32}
    },
    "vos": {
        "synth": {"num_videos": 8, "min_frames": 6, "max_frames": 9, "size": [32, 48], "seed": 3},
        "val_videos": 2,
    },
}

#: the CLI flags each preset config stands for (docs/cli.md, docs/results.md): besides
#: ``--task action_det``, the step preset's config starts from 1 % like the paper's Fig. 1
DOCUMENTED_FLAGS: dict[str, dict[str, Any]] = {"step": {"budget.init_pct": 1.0}}

#: the method of each ablation that is Table 1's ``apu`` cell (what ``--reuse runs/table1`` copies)
TABLE1_APU_CELL = {
    "loss": "apu+mgw",
    "selector": "apu+global",
    "granularity": "apu+frames",
}


def task_of(config: Path) -> str:
    """The task a config's file name announces (preset configs: the paper's action task)."""
    if config.name.startswith("compare_"):
        return "action_det"
    return next(task for prefix, task in TASK_OF_PREFIX.items() if config.name.startswith(prefix))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the tiny datasets, shared by the module's tests."""
    return tmp_path_factory.mktemp("example-data")


def on_tiny_data(cfg: dict[str, Any], data_root: Path) -> dict[str, Any]:
    """``cfg`` with its task reading a tiny synthetic dataset under ``data_root``."""
    task = cfg["task"]["type"]
    if task not in TINY_DATA:
        return cfg
    options = {f"task.{k}": v for k, v in TINY_DATA[task].items()}
    options["task.data_root"] = str(data_root / task)
    return build_config(base=cfg, cfg_options=options)


def parsed_sections(cfg: dict[str, Any], manager: PluginManager) -> dict[str, Any]:
    """Every plugin section as ``(name, validated Params)``, plus the budget and the seed: two
    configs with equal results mean the same run, however many defaults they spell out."""
    out: dict[str, Any] = {"budget": budget_of(cfg), "seed": cfg["seed"]}
    for section in ("task", "scorer", "selector", "loss", "oracle"):
        params = dict(cfg[section])
        name = params.pop("type")
        cls = manager.get(section, name).load()
        out[section] = (name, parse_params(cls.Params, params, where=section))
    return out


def test_there_are_configs_for_every_task_and_every_preset():
    """At least one run config per task (fake, action_det, vos) and one config per
    ``asl-run compare`` preset."""
    assert {task_of(p) for p in RUN_CONFIGS} == {"fake", "action_det", "vos"}
    assert set(PRESET_CONFIGS) == set(PRESETS)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_file_name_announces_its_task(config):
    """A config loads and runs the task its file name starts with."""
    assert build_config(config_file=config)["task"]["type"] == task_of(config)


@pytest.mark.parametrize("config", FAKE, ids=lambda p: p.name)
def test_fake_config_runs_one_cycle(config, tmp_path, capsys):
    """Each fake-task config is valid and runs for one cycle on a small fake pool."""
    code = main(
        [
            "--config",
            str(config),
            "--work-dir",
            str(tmp_path / "run"),
            "--quiet",
            "--cfg-options",
            "budget.cycles=1",
            "task.num_videos=4",
            "task.train_steps=5",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "run" / "summary.json").is_file()


@pytest.mark.parametrize("config", HEAVY, ids=lambda p: p.name)
def test_heavy_config_builds_every_component(config, data_root, manager):
    """An action_det or vos config builds its task (on tiny data), scorer, selector, loss and
    oracle, and they fit together (the scorer's inputs are task outputs)."""
    cfg = on_tiny_data(build_config(config_file=config), data_root)
    components = build_components(cfg, manager)
    assert components.names["task"] == task_of(config)


@pytest.mark.parametrize(
    ("config", "flags"),
    [
        ("action_det_synthetic_apu_global.py", {"task": "action_det", "scorer": "apu"}),
        ("vos_synthetic_apu_global.py", {"task": "vos", "scorer": "apu"}),
    ],
)
def test_main_job_configs_are_the_documented_commands(config, flags, manager):
    """The APU examples are ``asl-run --task <task> --scorer apu --selector global``: the same
    validated parameters in every section (they only spell out some of the defaults)."""
    from_file = build_config(config_file=CONFIG_DIR / config)
    from_flags = build_config(plugins={**flags, "selector": "global"})
    assert parsed_sections(from_file, manager) == parsed_sections(from_flags, manager)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_config_builds_every_cell_of_its_grid(preset, data_root, manager):
    """Every method x seed cell of ``asl-run compare --config compare_<preset>.py --preset
    <preset>`` builds all its components."""
    base = on_tiny_data(build_config(config_file=PRESET_CONFIGS[preset]), data_root)
    cells = grid_configs(base, PRESETS[preset], [0, 1])
    assert len(cells) == 2 * len(PRESETS[preset])
    for (method, _seed), cfg in cells.items():
        components = build_components(cfg, manager)
        assert components.names["scorer"] == cfg["scorer"]["type"], method


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_config_is_the_documented_grid(preset):
    """The grid of a preset config equals, cell by cell, the grid of the documented command
    ``asl-run compare --task action_det --preset <preset>`` (plus ``--init-pct 1`` for step), so
    finished runs of either can be resumed or reused by the other."""
    from_file = grid_configs(build_config(config_file=PRESET_CONFIGS[preset]), PRESETS[preset], [0])
    from_flags = grid_configs(
        build_config(plugins={"task": "action_det"}, values=DOCUMENTED_FLAGS.get(preset, {})),
        PRESETS[preset],
        [0],
    )
    assert {k: canonical_config(v) for k, v in from_file.items()} == {
        k: canonical_config(v) for k, v in from_flags.items()
    }


@pytest.mark.parametrize("preset", sorted(TABLE1_APU_CELL))
def test_ablation_apu_cell_is_reused_from_table1(preset):
    """An ablation's plain-APU cell has exactly the config of Table 1's ``apu`` cell, which is
    what lets ``--reuse runs/table1`` copy it instead of training it again."""
    table1 = build_config(config_file=PRESET_CONFIGS["table1"])
    ablation = build_config(config_file=PRESET_CONFIGS[preset])
    apu = grid_configs(table1, PRESETS["table1"], [0])[("apu", 0)]
    cell = grid_configs(ablation, PRESETS[preset], [0])[(TABLE1_APU_CELL[preset], 0)]
    assert canonical_config(cell) == canonical_config(apu)
