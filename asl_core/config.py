"""Run configuration: mmengine ``Config`` files, ``_base_`` inheritance and overrides.

A config is a Python (or YAML/JSON) file of top-level sections::

    task = dict(type="fake", num_videos=8)
    scorer = dict(type="random")
    selector = dict(type="global")
    loss = dict(type="mgw", sigma=1.3)
    oracle = dict(type="simulated")
    budget = dict(init_pct=5.0, step_pct=5.0, cycles=3, total_pct=None)
    seed = 0

Missing sections take the defaults of ``asl_core/configs/default.py``. Precedence, lowest first:
defaults, ``--config`` file (with its ``_base_`` chain), the plain CLI flags (``--scorer`` ...,
``--seed``, ``--init-pct`` ...), then ``--cfg-options key=value``. Choosing another plugin with a
CLI flag drops the previous plugin's parameters. Unknown top-level keys are rejected here;
unknown plugin parameters are rejected when the plugin is built (:mod:`asl_core.params`),
because mmengine itself accepts any key.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from .errors import ConfigError
from .params import parse_params, suggest

__all__ = [
    "PLUGIN_SECTIONS",
    "TOP_LEVEL_KEYS",
    "BudgetParams",
    "budget_of",
    "build_config",
    "canonical_config",
    "default_config_path",
    "load_config_file",
    "parse_cfg_options",
    "render_config",
    "validate_config",
]

#: config section → plugin kind
PLUGIN_SECTIONS: dict[str, str] = {
    "task": "task",
    "scorer": "scorer",
    "selector": "selector",
    "loss": "loss",
    "oracle": "oracle",
}
TOP_LEVEL_KEYS = frozenset({*PLUGIN_SECTIONS, "budget", "seed"})


def _pct(name: str, *, allow_zero: bool = False):
    def check(_inst: Any, _attr: Any, value: float | None) -> None:
        if value is None:
            return
        low_ok = value >= 0 if allow_zero else value > 0
        if not (low_ok and value <= 100):
            bound = "[0, 100]" if allow_zero else "(0, 100]"
            raise ValueError(f"{name} must be a percentage in {bound}, got {value}")

    return check


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _opt_int(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, float) and not v.is_integer():
        raise ValueError(f"cycles must be a whole number, got {v}")
    return int(v)


def _positive(name: str):
    def check(_inst: Any, _attr: Any, value: float | None) -> None:
        if value is not None and not (value > 0 and value != float("inf")):
            raise ValueError(f"{name} must be a positive, finite annotation cost, got {value}")

    return check


@frozen
class BudgetParams:
    """The labelling budget schedule, in percent of all pool frames or in annotation cost.

    Attributes:
        init_pct: frames labelled at random in **each video** before the first cycle
            (1 % UCF-101-24, 3 % J-HMDB, 5 % YouTube-VOS in the paper); at least one per video.
        step_pct: frames bought per cycle, as a percentage of all pool frames (1 % or 5 %).
            Not used when ``step_cost`` is set.
        cycles: number of selection cycles after the initial labels (``None``: until
            ``total_pct``/``total_cost`` or the pool is exhausted).
        total_pct: stop when this percentage of all pool frames is labelled (``None``: no cap).
        step_cost: annotation cost (the oracle's unit, e.g. clicks) to spend per cycle instead
            of ``step_pct``; ``None``: budgets in frames. How a cost becomes a frame count is
            :func:`asl_core.budget.next_budget`.
        total_cost: stop when the cost of every purchase so far (initial labels included)
            reaches this (``None``: no cap).
    """

    init_pct: float = field(default=5.0, converter=float, validator=_pct("init_pct"))
    step_pct: float = field(default=5.0, converter=float, validator=_pct("step_pct"))
    cycles: int | None = field(default=3, converter=_opt_int)
    total_pct: float | None = field(default=None, converter=_opt_float, validator=_pct("total_pct"))
    step_cost: float | None = field(
        default=None, converter=_opt_float, validator=_positive("step_cost")
    )
    total_cost: float | None = field(
        default=None, converter=_opt_float, validator=_positive("total_cost")
    )

    @cycles.validator
    def _check_cycles(self, _attr: Any, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError(f"cycles must be >= 0, got {value}")

    def __attrs_post_init__(self) -> None:
        if self.cycles is None and self.total_pct is None and self.total_cost is None:
            raise ValueError("set budget.cycles, budget.total_pct or budget.total_cost")

    @property
    def by_cost(self) -> bool:
        """Whether each cycle's budget is an annotation cost (``step_cost``) or a frame share."""
        return self.step_cost is not None


def default_config_path() -> Path:
    """The built-in defaults file."""
    return Path(__file__).with_name("configs") / "default.py"


def load_config_file(path: Path | str) -> dict[str, Any]:
    """Load a config file (with ``_base_`` inheritance) as a plain dict.

    Raises:
        ConfigError: naming the file when it is missing or cannot be parsed.
    """
    from mmengine.config import Config  # lazily: listing plugins must stay light

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        return Config.fromfile(str(path)).to_dict()
    except Exception as exc:
        raise ConfigError(f"{path}: cannot load config ({type(exc).__name__}: {exc})") from None


def parse_cfg_options(options: list[str] | None) -> dict[str, Any]:
    """Parse ``key=value`` strings the way mmengine's ``DictAction`` does.

    Values are Python-ish literals: ``1``, ``0.5``, ``true``/``false``, ``None`` (also
    ``none``/``null``), lists ``[1,2]`` and tuples; anything else is a string.

    Raises:
        ConfigError: on an item without ``=``.
    """
    from mmengine.config import DictAction

    out: dict[str, Any] = {}
    for item in options or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--cfg-options: expected key=value, got {item!r}")
        # DictAction knows only the exact spelling "None"; accept the usual lower-case ones
        parsed = (
            None if value.strip().lower() in ("none", "null") else DictAction._parse_iterable(value)
        )
        out[key.strip()] = parsed
    return out


def _check_top_level(cfg: Mapping[str, Any], origin: str) -> None:
    for key in cfg:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(
                f"{origin}: unknown config key {key!r}{suggest(key, TOP_LEVEL_KEYS)}; "
                f"valid keys: {', '.join(sorted(TOP_LEVEL_KEYS))}"
            )


def _set_dotted(cfg: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    parts = dotted.split(".")
    _check_top_level({parts[0]: None}, origin)
    node = cfg
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: {dotted!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def build_config(
    *,
    config_file: Path | str | None = None,
    base: Mapping[str, Any] | None = None,
    plugins: Mapping[str, str | None] | None = None,
    values: Mapping[str, Any] | None = None,
    cfg_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge the config layers into one validated plain dict.

    Args:
        config_file: a user config file (merged over the defaults).
        base: start from this dict instead of the defaults (used by ``--resume``: the stored
            config).
        plugins: section → plugin name from the CLI flags (``None`` values are ignored).
        values: dotted key → value from the CLI flags (``"budget.init_pct"``, ``"seed"``...).
        cfg_options: dotted key → value from ``--cfg-options``.

    Raises:
        ConfigError: for unknown keys, sections without ``type`` or an invalid budget.
    """
    if base is not None:
        cfg = copy.deepcopy(dict(base))
    else:
        cfg = load_config_file(default_config_path())
        if config_file is not None:
            user = load_config_file(config_file)
            _check_top_level(user, str(config_file))
            for key, value in user.items():
                if isinstance(value, dict) and isinstance(cfg.get(key), dict):
                    if "type" in value and value["type"] != cfg[key].get("type"):
                        cfg[key] = copy.deepcopy(value)  # another plugin: drop old parameters
                    else:
                        cfg[key] = {**cfg[key], **copy.deepcopy(value)}
                else:
                    cfg[key] = copy.deepcopy(value)
    for section, name in (plugins or {}).items():
        if name is None:
            continue
        current = cfg.get(section) or {}
        if current.get("type") != name:
            cfg[section] = {"type": name}
    for dotted, value in (values or {}).items():
        if value is not None:
            _set_dotted(cfg, dotted, value, "command line")
    for dotted, value in (cfg_options or {}).items():
        _set_dotted(cfg, dotted, value, "--cfg-options")
    validate_config(cfg)
    return cfg


def validate_config(cfg: Mapping[str, Any]) -> BudgetParams:
    """Check the structure of a merged config; return its budget.

    Raises:
        ConfigError: naming the offending key.
    """
    _check_top_level(cfg, "config")
    for section in PLUGIN_SECTIONS:
        value = cfg.get(section)
        if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
            raise ConfigError(
                f"config: section {section!r} must be a dict with a 'type' (plugin name)"
            )
    seed = cfg.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"config: seed must be a non-negative integer, got {seed!r}")
    return parse_params(BudgetParams, cfg.get("budget") or {}, where="budget")


def budget_of(cfg: Mapping[str, Any]) -> BudgetParams:
    """The validated budget section of a merged config."""
    return parse_params(BudgetParams, cfg.get("budget") or {}, where="budget")


def canonical_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``cfg`` as plain JSON values with its budget section spelled out in full.

    What two configs are compared by (a grid resumed, a run checked against its grid): a
    config stored before a budget key existed (``step_cost`` came later) means the same as one
    that spells the key's default, so result folders stay resumable across versions.
    """
    import attrs

    plain = json.loads(json.dumps(dict(cfg)))
    plain["budget"] = json.loads(json.dumps(attrs.asdict(budget_of(cfg))))
    return plain


def render_config(cfg: Mapping[str, Any]) -> bytes:
    """Render ``cfg`` as an mmengine Python config (the text that ``Config.fromfile`` reads)."""
    from mmengine.config import Config

    return Config(copy.deepcopy(dict(cfg))).pretty_text.encode()
