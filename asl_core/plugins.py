"""Plugin discovery through the ``asl`` entry-point group, with pluggy.

:func:`make_plugin_manager` loads entry points **one at a time**: a plugin that fails to import,
to register or inside a registration hook is recorded as a :class:`FailedPlugin` (distribution,
entry point, error) and the others keep working. Registration stores lazy factories, so listing
plugins imports no plugin implementation (and no torch).

Environment variables:

``ASL_DISABLE_PLUGINS``
    comma-separated distribution or entry-point names that are not loaded.
``ASL_LOAD_PLUGINS``
    when set, only these distributions or entry points are loaded (empty: none).
``ASL_STRICT_PLUGINS=1``
    re-raise the first plugin failure instead of recording it (tests run strict).
``ASL_TRACE_PLUGINS=1``
    log every hook call (logger ``asl_core.plugins``).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as md
import importlib.util
import inspect
import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import pluggy
from attrs import field, frozen

from . import hookspecs
from .errors import ConfigError, DuplicatePluginError, PluginError, UnknownPluginError
from .params import suggest

__all__ = [
    "FailedPlugin",
    "PluginEntry",
    "PluginManager",
    "default_plugin_manager",
    "make_plugin_manager",
]

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_FACTORY_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")
KINDS: tuple[str, ...] = tuple(hookspecs.KINDS.values())


def _env_list(environ: Mapping[str, str], key: str) -> set[str] | None:
    """Names in a comma-separated variable, normalised like distribution names (PEP 503)."""
    if key not in environ:
        return None
    return {_canonical(part.strip()) for part in environ[key].split(",") if part.strip()}


def _canonical(name: str | None) -> str:
    return re.sub(r"[-_.]+", "-", name or "").lower()


@frozen
class PluginEntry:
    """One registered factory, with where it came from.

    Attributes:
        kind: ``scorer``, ``selector``, ``loss``, ``task``, ``oracle``, ``dataset`` or
            ``evaluator`` (:data:`KINDS`).
        name: the name configs and the CLI use (``apu``, ``global``...).
        factory: a class/callable or a lazy ``"package.module:Attr"`` string.
        plugin: the pluggy plugin name (the entry-point name for installed plugins).
        dist: distribution that provides it (``None`` for plugins registered in code).
        version: that distribution's version.
        summary: one line for listings.
    """

    kind: str
    name: str
    factory: Any = field(eq=False)
    plugin: str
    dist: str | None = None
    version: str | None = None
    summary: str = ""

    @property
    def module(self) -> str:
        """Dotted name of the module defining the factory."""
        if isinstance(self.factory, str):
            return self.factory.partition(":")[0]
        return getattr(self.factory, "__module__", type(self.factory).__module__)

    @property
    def target(self) -> str:
        """``module:attr`` of the factory."""
        if isinstance(self.factory, str):
            return self.factory
        return f"{self.module}:{getattr(self.factory, '__qualname__', repr(self.factory))}"

    def module_file(self) -> str | None:
        """File of the factory's module, found without importing that module itself."""
        if not isinstance(self.factory, str):
            try:
                return inspect.getsourcefile(self.factory)
            except TypeError:
                return None
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return None
        return spec.origin if spec else None

    def load(self) -> Any:
        """Import and return the factory.

        Raises:
            PluginError: naming the plugin, its distribution and the import error.
        """
        if not isinstance(self.factory, str):
            return self.factory
        mod_name, _, attr = self.factory.partition(":")
        try:
            obj: Any = importlib.import_module(mod_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            raise PluginError(
                f"{self.kind} {self.name!r} from {self.dist or self.plugin}: cannot import "
                f"{self.factory!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return obj

    def build(self, params: Mapping[str, Any] | None = None) -> Any:
        """Import the factory and build it from ``params`` (validated).

        Uses ``factory.from_config(params, where=...)`` when the factory has it, else
        ``factory(**params)``.
        """
        factory = self.load()
        params = {k: v for k, v in dict(params or {}).items() if k != "type"}
        where = f"{self.kind} {self.name!r}"
        from_config = getattr(factory, "from_config", None)
        if callable(from_config):
            try:
                return from_config(params, where=where)
            except TypeError as exc:
                if "where" not in str(exc):
                    raise
                return from_config(params)
        try:
            return factory(**params)
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (used by ``asl-run plugins --json``)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "dist": self.dist,
            "version": self.version,
            "plugin": self.plugin,
            "factory": self.target,
            "module": self.module_file(),
            "summary": self.summary,
        }


@frozen
class FailedPlugin:
    """A plugin that could not be used, and why.

    Attributes:
        plugin: entry-point (or plugin) name.
        dist: its distribution, when known.
        version: that distribution's version.
        stage: ``import``, ``register``, ``hook`` or ``duplicate``.
        error: the error message.
    """

    plugin: str
    dist: str | None
    version: str | None
    stage: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return attrs.asdict(self)


class _Source:
    """Provenance of a pluggy plugin while it registers."""

    __slots__ = ("dist", "version")

    def __init__(self, dist: str | None, version: str | None) -> None:
        self.dist = dist
        self.version = version


class PluginManager:
    """The registry of ASL plugins: built by :func:`make_plugin_manager`, never at import time.

    Attributes:
        pm: the underlying ``pluggy.PluginManager``.
        failed: plugins that could not be used.
        disabled: entry points skipped because of ``ASL_DISABLE_PLUGINS``/``ASL_LOAD_PLUGINS``.
        strict: re-raise failures instead of recording them.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict
        self.disabled: list[str] = []
        self._failures: list[FailedPlugin] = []
        # every registration of every (kind, name), in registration order; a name with more
        # than one is a clash and unusable until all but one are removed
        self._registrations: dict[tuple[str, str], list[PluginEntry]] = {}

    @property
    def failed(self) -> list[FailedPlugin]:
        """Plugins that could not be used: load failures, then one record per clashing name."""
        clashes = [
            FailedPlugin(e.plugin, e.dist, e.version, "duplicate", self._clash_message(key))
            for key, regs in self._registrations.items()
            if len(regs) > 1
            for e in regs[1:]
        ]
        return [*self._failures, *clashes]

    # ------------------------------------------------------------------ registration

    def _fail(self, plugin: str, source: _Source, stage: str, exc: BaseException) -> None:
        if self.strict:
            raise exc
        msg = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
        self._failures.append(FailedPlugin(plugin, source.dist, source.version, stage, msg))
        # recorded for `asl-run plugins` and the run header; logged at INFO so a library user
        # without logging configured is not spammed on stderr
        log.info("plugin %s (%s) failed at %s: %s", plugin, source.dist, stage, msg)

    def add_plugin(
        self, obj: Any, name: str, *, dist: str | None = None, version: str | None = None
    ) -> bool:
        """Register a plugin object (a module or any object with hookimpls) and collect its
        registrations. Returns False when it failed (recorded in :attr:`failed`).

        Raises:
            PluginError: in strict mode, instead of recording a failure; the plugin is then
                not registered at all.
        """
        source = _Source(dist, version)
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:
            self._fail(name, source, "register", exc)
            return False
        try:
            # a hookimpl whose name matches no hookspec (e.g. ``register_scorer``) is a typo
            self.pm.check_pending()
            collected = self._collect(name, source)
            if self.strict:
                self._check_no_clash(collected)
        except Exception as exc:
            self.pm.unregister(obj)
            stage = "register" if isinstance(exc, pluggy.PluginValidationError) else "hook"
            if isinstance(exc, DuplicatePluginError):
                stage = "duplicate"
            self._fail(name, source, stage, exc)
            return False
        for entry in collected:
            regs = self._registrations.setdefault((entry.kind, entry.name), [])
            regs.append(entry)
            if len(regs) == 2:
                log.info("%s", self._clash_message((entry.kind, entry.name)))
        return True

    def remove_plugin(self, name: str) -> None:
        """Unregister a plugin and forget its registrations (a clash it caused goes too)."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        for key in list(self._registrations):
            regs = [e for e in self._registrations[key] if e.plugin != name]
            if regs:
                self._registrations[key] = regs
            else:
                del self._registrations[key]

    def _check_no_clash(self, collected: list[PluginEntry]) -> None:
        seen: dict[tuple[str, str], PluginEntry] = {}
        for entry in collected:
            key = (entry.kind, entry.name)
            first = self._registrations.get(key, [None])[0] or seen.get(key)
            if first is not None:
                raise DuplicatePluginError(self._clash_message(key, [first, entry]))
            seen[key] = entry

    def _clash_message(self, key: tuple[str, str], regs: list[PluginEntry] | None = None) -> str:
        regs = self._registrations[key] if regs is None else regs
        sources = ", ".join(f"{e.dist or 'code'} (entry point {e.plugin!r})" for e in regs)
        return (
            f"{key[0]} {key[1]!r} is registered {len(regs)} times: by {sources}; uninstall all "
            "but one, or block the others with ASL_DISABLE_PLUGINS=<distribution or entry point>"
        )

    def _collect(self, plugin_name: str, source: _Source) -> list[PluginEntry]:
        collected: list[PluginEntry] = []
        for hook_name, kind in hookspecs.KINDS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                if impl.plugin_name != plugin_name:
                    continue

                def register(
                    name: str, factory: Any, *, summary: str = "", _kind: str = kind
                ) -> None:
                    collected.append(
                        self._make_entry(_kind, name, factory, summary, plugin_name, source)
                    )

                impl.function(register=register)
        return collected

    def _make_entry(
        self, kind: str, name: Any, factory: Any, summary: str, plugin: str, source: _Source
    ) -> PluginEntry:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise PluginError(
                f"plugin {plugin!r} registered an invalid {kind} name {name!r}: "
                "use lowercase letters, digits and '_', starting with a letter"
            )
        if isinstance(factory, str):
            if not _FACTORY_RE.match(factory):
                raise PluginError(
                    f"plugin {plugin!r}: {kind} {name!r} factory {factory!r} is not 'package.module:Attr'"
                )
        elif not callable(factory):
            raise PluginError(
                f"plugin {plugin!r}: {kind} {name!r} factory {factory!r} is not callable"
            )
        return PluginEntry(kind, name, factory, plugin, source.dist, source.version, str(summary))

    # ------------------------------------------------------------------ lookup

    def entries(self, kind: str | None = None) -> list[PluginEntry]:
        """Usable entries (of one kind; clashing names excluded), sorted by kind then name."""
        if kind is not None and kind not in KINDS:
            raise UnknownPluginError(f"unknown plugin kind {kind!r}; kinds: {', '.join(KINDS)}")
        out = [
            regs[0]
            for (k, _), regs in self._registrations.items()
            if len(regs) == 1 and (kind is None or k == kind)
        ]
        return sorted(out, key=lambda e: (KINDS.index(e.kind), e.name))

    def names(self, kind: str) -> list[str]:
        """Registered names of one kind, sorted."""
        return [e.name for e in self.entries(kind)]

    def get(self, kind: str, name: str) -> PluginEntry:
        """The entry registered as ``name`` for ``kind``.

        Raises:
            DuplicatePluginError: when two distributions registered that name.
            UnknownPluginError: listing the available names (and a likely cause when none).
        """
        regs = self._registrations.get((kind, name), [])
        if len(regs) > 1:
            raise DuplicatePluginError(self._clash_message((kind, name)))
        if regs:
            return regs[0]
        available = self.names(kind)
        if not available:
            raise UnknownPluginError(
                f"no {kind} plugins are registered, so {kind} {name!r} is unavailable. "
                "Is the toolkit installed in this environment (pip install -e .)? "
                "Plugins are found only through installed entry-point metadata."
                + self._failure_hint()
            )
        raise UnknownPluginError(
            f"unknown {kind} {name!r}{suggest(name, available)}; available: {', '.join(available)}"
            + self._failure_hint()
        )

    def _failure_hint(self) -> str:
        if not self.failed:
            return ""
        names = ", ".join(sorted({f.plugin for f in self.failed}))
        return f" (plugins that failed to load: {names}; see 'asl-run plugins')"

    def build(self, kind: str, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """Build the ``kind`` plugin ``name`` from ``params``."""
        return self.get(kind, name).build(params)


# --------------------------------------------------------------------------- loading


def _iter_asl_entry_points(
    distributions: Iterable[md.Distribution],
) -> Iterable[tuple[md.EntryPoint, md.Distribution]]:
    seen: set[str] = set()
    for dist in distributions:
        key = _canonical(dist.metadata["Name"] if dist.metadata else None)
        if key in seen:  # the same distribution found twice on sys.path: the first one wins
            continue
        seen.add(key)
        for ep in dist.entry_points:
            if ep.group == hookspecs.ENTRY_POINT_GROUP:
                yield ep, dist


def make_plugin_manager(
    *,
    load_entrypoints: bool = True,
    strict: bool | None = None,
    distributions: Iterable[md.Distribution] | None = None,
    environ: Mapping[str, str] | None = None,
) -> PluginManager:
    """Build a fresh :class:`PluginManager`.

    Args:
        load_entrypoints: load the installed ``asl`` entry points (False: an empty manager,
            e.g. for tests that register plugins by hand).
        strict: re-raise plugin failures; defaults to ``ASL_STRICT_PLUGINS=1``.
        distributions: distributions to scan instead of the installed ones (tests use
            :func:`asl_core.testing.fake_distribution`).
        environ: environment to read the ``ASL_*`` variables from (default ``os.environ``).
    """
    env = os.environ if environ is None else environ
    if strict is None:
        strict = env.get("ASL_STRICT_PLUGINS", "") not in ("", "0")
    manager = PluginManager(strict=strict)
    if env.get("ASL_TRACE_PLUGINS", "") not in ("", "0"):
        manager.pm.add_hookcall_monitoring(
            lambda name, impls, kw: log.info("hook %s -> %s", name, [i.plugin_name for i in impls]),
            lambda outcome, name, impls, kw: None,
        )
    if not load_entrypoints:
        return manager

    blocked = _env_list(env, "ASL_DISABLE_PLUGINS") or set()
    allowed = _env_list(env, "ASL_LOAD_PLUGINS")
    dists = md.distributions() if distributions is None else distributions
    owners: dict[str, str] = {}
    for ep, dist in _iter_asl_entry_points(dists):
        dist_name = dist.metadata["Name"]
        version = dist.version
        source = _Source(dist_name, version)
        names = {_canonical(ep.name), _canonical(dist_name)}
        if names & blocked or (allowed is not None and not names & allowed):
            manager.disabled.append(f"{dist_name}:{ep.name}")
            continue
        if ep.name in owners:
            # pluggy would silently skip the second plugin of that name; say so instead
            manager._fail(
                ep.name,
                source,
                "duplicate",
                DuplicatePluginError(
                    f"entry point {ep.name!r} of group 'asl' is declared by both {owners[ep.name]} "
                    f"and {dist_name}; the second is not loaded. Uninstall one, or keep the other "
                    f"with ASL_DISABLE_PLUGINS={dist_name} (or ={owners[ep.name]})"
                ),
            )
            continue
        owners[ep.name] = dist_name
        try:
            module = ep.load()
        except Exception as exc:
            manager._fail(ep.name, source, "import", exc)
            continue
        manager.add_plugin(module, ep.name, dist=dist_name, version=version)
    return manager


@functools.lru_cache(maxsize=1)
def default_plugin_manager() -> PluginManager:
    """The CLI's plugin manager, built once per process from the installed entry points."""
    return make_plugin_manager()
