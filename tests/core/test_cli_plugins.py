"""Tests of ``asl-run plugins``: what it lists, with which provenance, and its exit codes."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from asl_core.cli import main

#: every built-in (kind, name) and the module that defines it
BUILTINS = {
    ("scorer", "random"): "asl_strategies.scorers.random",
    ("scorer", "equidistant"): "asl_strategies.scorers.equidistant",
    ("scorer", "apu"): "asl_strategies.scorers.apu",
    ("scorer", "gal"): "asl_strategies.scorers.gal",
    ("scorer", "aghdam"): "asl_strategies.scorers.aghdam",
    ("selector", "global"): "asl_strategies.selectors.global_greedy",
    ("selector", "local"): "asl_strategies.selectors.local",
    ("selector", "video"): "asl_strategies.selectors.video",
    ("loss", "masking"): "asl_strategies.losses.masking",
    ("loss", "interpolation"): "asl_strategies.losses.interpolation",
    ("loss", "mgw"): "asl_strategies.losses.mgw",
    ("task", "fake"): "asl_core.testing",
    ("task", "action_det"): "asl_action_det.task",
    ("dataset", "synthetic_actions"): "asl_action_det.synth",
    ("dataset", "ucf101_24"): "asl_action_det.datatools",
    ("dataset", "jhmdb21"): "asl_action_det.datatools",
    ("dataset", "act"): "asl_action_det.datatools",
    ("evaluator", "act"): "asl_action_det.act_eval",
    ("oracle", "simulated"): "asl_oracles.simulated",
}

pytestmark = pytest.mark.usefixtures("fresh_default_manager")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Run ``asl-run plugins --json ARGS`` in-process; return the exit code and parsed output."""
    code = main(["plugins", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def by_key(payload: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["kind"], p["name"]): p for p in payload["plugins"]}


def test_plugins_json_exits_zero_without_failures(capsys: pytest.CaptureFixture[str]) -> None:
    """``asl-run plugins --json`` exits 0 and reports no failed or disabled plugins."""
    code, payload = run_json(capsys)
    assert code == 0
    assert payload["failed"] == []
    assert payload["disabled"] == []


@pytest.mark.parametrize(("kind", "name"), sorted(BUILTINS), ids=lambda v: str(v))
def test_plugins_json_lists_builtin_with_provenance(
    capsys: pytest.CaptureFixture[str], kind: str, name: str
) -> None:
    """Each built-in is listed with dist asl-toolkit, its version and an existing module file."""
    _, payload = run_json(capsys)
    entry = by_key(payload).get((kind, name))
    assert entry is not None, f"{kind} {name!r} not listed"
    assert entry["dist"] == "asl-toolkit"
    assert entry["version"]
    assert entry["factory"].startswith(BUILTINS[(kind, name)] + ":")
    module = entry["module"]
    assert module and os.path.isfile(module)
    assert module.replace(os.sep, "/").endswith(BUILTINS[(kind, name)].replace(".", "/") + ".py")


def test_plugins_json_entries_have_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    """Every listed entry has kind, name, dist, version, plugin, factory, module and summary."""
    _, payload = run_json(capsys)
    fields = {"kind", "name", "dist", "version", "plugin", "factory", "module", "summary"}
    assert payload["plugins"]
    for entry in payload["plugins"]:
        assert set(entry) == fields


def test_plugins_kind_filters(capsys: pytest.CaptureFixture[str]) -> None:
    """``--kind scorer`` lists scorers only."""
    code, payload = run_json(capsys, "--kind", "scorer")
    assert code == 0
    kinds = {p["kind"] for p in payload["plugins"]}
    assert kinds == {"scorer"}
    assert {"random", "equidistant"} <= {p["name"] for p in payload["plugins"]}


def test_plugins_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown ``--kind`` exits with status 2."""
    assert main(["plugins", "--kind", "scorers"]) == 2
    assert "scorers" in capsys.readouterr().err


def test_plugins_table_names_every_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    """The human-readable table shows every built-in name with its distribution."""
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "asl-toolkit" in out
    for _, name in BUILTINS:
        assert name in out


def test_plugins_with_nothing_loaded_explains_installation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ASL_LOAD_PLUGINS empty, the table is empty, says why, and lists the skipped ones."""
    monkeypatch.setenv("ASL_LOAD_PLUGINS", "")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "No plugins are registered" in out
    assert "skipped by ASL_LOAD_PLUGINS/ASL_DISABLE_PLUGINS" in out
    assert "asl-toolkit:strategies" in out


def test_plugins_json_reports_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entry points disabled through ASL_DISABLE_PLUGINS are listed under 'disabled'."""
    monkeypatch.setenv("ASL_DISABLE_PLUGINS", "oracles")
    _, payload = run_json(capsys)
    assert payload["disabled"] == ["asl-toolkit:oracles"]
    assert "oracle" not in {p["kind"] for p in payload["plugins"]}


def test_plugins_with_no_installed_plugin_suggests_installing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no entry-point metadata at all, the listing explains how plugins are found."""
    from asl_core import cli
    from asl_core.plugins import make_plugin_manager

    monkeypatch.setattr(
        cli, "default_plugin_manager", lambda: make_plugin_manager(distributions=[])
    )
    assert main(["plugins"]) == 0
    assert "pip install -e ." in capsys.readouterr().out
