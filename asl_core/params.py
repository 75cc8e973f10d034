"""Validated plugin parameters: attrs classes built from config mappings.

mmengine's ``Config`` silently adds any key it is given, so a misspelled ``sigmaa=2`` would be
ignored. This module is the defence: every plugin declares its parameters as an attrs class
(``<Name>Params``) and is built through :func:`parse_params`, which rejects unknown keys with a
"did you mean" hint and runs the attrs validators.

Example::

    @frozen
    class MGWParams:
        sigma: float = field(default=1.3, converter=float, validator=gt(0))

    class MGWLoss(Configurable):
        Params = MGWParams
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import attrs

from .errors import ConfigError

__all__ = ["Configurable", "NoParams", "parse_params", "suggest"]

P = TypeVar("P")
C = TypeVar("C", bound="Configurable")


@attrs.frozen
class NoParams:
    """Parameters of a plugin that takes none."""


def suggest(name: str, choices: Any) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_params(cls: type[P], config: Mapping[str, Any] | None, *, where: str = "") -> P:
    """Build the attrs parameter class ``cls`` from ``config``, rejecting unknown keys.

    Args:
        cls: an attrs class whose fields are the accepted keys.
        config: the mapping from the config file (``type`` is ignored: it names the plugin).
        where: what is being configured, for messages (e.g. ``"scorer 'apu'"``).

    Raises:
        ConfigError: on an unknown key (with the closest valid key as a hint) or a value that
            a converter or validator rejects.
    """
    config = dict(config or {})
    config.pop("type", None)
    fields = {a.name: a for a in attrs.fields(cls)}  # type: ignore[arg-type]
    init_names = {(a.alias or a.name): a.name for a in fields.values() if a.init}
    label = f"{where}: " if where else ""
    for key in config:
        if key not in init_names:
            valid = ", ".join(sorted(init_names)) or "none"
            raise ConfigError(
                f"{label}unknown parameter {key!r}{suggest(key, init_names)}; valid parameters: {valid}"
            )
    try:
        return cls(**config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{label}invalid parameter value: {exc}") from exc


class Configurable:
    """Mixin for plugins with validated parameters (see :func:`parse_params`).

    Subclasses set ``Params`` to an attrs class. The plugin is then built with
    ``Cls.from_config(mapping)`` by the core, or ``Cls()`` / ``Cls(Params(...))`` in code.
    """

    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any = None) -> None:
        if params is None:
            params = self.Params()
        elif not isinstance(params, self.Params):
            raise TypeError(
                f"{type(self).__name__} expects {self.Params.__name__}, got {type(params).__name__}"
            )
        self.params = params

    @classmethod
    def from_config(cls: type[C], config: Mapping[str, Any] | None = None, *, where: str = "") -> C:
        """Build the plugin from a config mapping, rejecting unknown keys."""
        return cls(parse_params(cls.Params, config, where=where or cls.__name__))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params == other.params  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.params))
