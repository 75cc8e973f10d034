"""Tests of plugin discovery: entry points, provenance, failures kept as data, clashes, env vars."""

from __future__ import annotations

import re
import sys

import pluggy
import pytest

from asl_core import (
    AslUsageError,
    DuplicatePluginError,
    PluginError,
    UnknownPluginError,
    hookimpl,
)
from asl_core.plugins import FailedPlugin, PluginManager, make_plugin_manager
from asl_core.testing import FakePlugin, fake_distribution, make_test_plugin_manager, registered

IMPL_SOURCE = """
class Thing:
    '''A factory that records its parameters.'''

    def __init__(self, **params):
        self.params = params
"""


class Thing:
    """A factory registered as a class (not a lazy string)."""

    def __init__(self, **params: object) -> None:
        self.params = params


def scorer_plugin(*names: str) -> object:
    """A plugin object whose register_scorers registers ``names`` (factory :class:`Thing`)."""

    class _Plugin:
        @hookimpl
        def register_scorers(self, register):
            for name in names:
                register(name, Thing)

    return _Plugin()


# --------------------------------------------------------------------------- discovery


@pytest.fixture
def demo(modules):
    """A fake ``asl-demo-plugin`` 1.2.3 whose ``demo`` entry point registers scorer ``demo``
    lazily as ``<impl module>:Thing``; returns (manager, hooks module, impl module)."""
    impl = modules.write(IMPL_SOURCE, prefix="demo_mod_impl")
    hooks = modules.hooks(demo=f"{impl}:Thing")
    dist = fake_distribution("asl-demo-plugin", {"demo": hooks}, version="1.2.3")
    manager = make_plugin_manager(distributions=[dist], environ={})
    return manager, hooks, impl


def test_discovered_entry_records_dist_version_and_plugin(demo) -> None:
    """An entry found through a distribution's entry point carries that dist, version and name."""
    manager, _, impl = demo
    entry = manager.get("scorer", "demo")
    assert entry.dist == "asl-demo-plugin"
    assert entry.version == "1.2.3"
    assert entry.plugin == "demo"
    assert entry.target == f"{impl}:Thing"
    assert entry.summary == "test demo"
    assert manager.failed == []


def test_listing_imports_the_hooks_module_but_not_the_lazy_factory(demo) -> None:
    """Listing (entries, to_dict, module_file) imports the entry-point module but not the factory."""
    manager, hooks, impl = demo
    listed = [e.to_dict() for e in manager.entries()]
    assert [d["name"] for d in listed] == ["demo"]
    assert listed[0]["module"].endswith(f"{impl}.py")
    assert hooks in sys.modules
    assert impl not in sys.modules


def test_build_imports_the_lazy_factory(demo) -> None:
    """Building an entry imports its lazy factory and calls it with the params."""
    manager, _, impl = demo
    obj = manager.build("scorer", "demo", {"type": "demo", "alpha": 2})
    assert impl in sys.modules
    assert type(obj).__name__ == "Thing"
    assert obj.params == {"alpha": 2}


def test_missing_lazy_factory_fails_at_build_naming_the_dist(modules) -> None:
    """A lazy factory whose module is missing lists fine and fails at build with a PluginError
    naming the distribution."""
    hooks = modules.hooks(ghost="no_such_module_xyz:Ghost")
    dist = fake_distribution("asl-ghost", {"ghost": hooks})
    manager = make_plugin_manager(distributions=[dist], environ={})
    assert manager.names("scorer") == ["ghost"]
    assert manager.get("scorer", "ghost").module_file() is None
    with pytest.raises(PluginError, match=r"asl-ghost.*no_such_module_xyz"):
        manager.build("scorer", "ghost")


def test_distributions_of_other_groups_are_ignored(modules) -> None:
    """Entry points outside the ``asl`` group are not loaded."""
    hooks = modules.hooks(other=f"{__name__}:Thing")
    dist = fake_distribution("asl-other", {"other": hooks}, group="console_scripts")
    manager = make_plugin_manager(distributions=[dist], environ={})
    assert manager.entries() == []
    assert hooks not in sys.modules


# --------------------------------------------------------------------------- import failures


@pytest.fixture
def broken_and_working(modules):
    """Two fake distributions: ``asl-broken`` raises ImportError at import, ``asl-working``
    registers scorer ``good``."""
    broken = modules.write(
        "raise ImportError('No module named capsnet_ops (boom)')\n", prefix="asl_broken"
    )
    working = modules.hooks(good=f"{__name__}:Thing")
    return [
        fake_distribution("asl-broken", {"broken": broken}, version="0.3"),
        fake_distribution("asl-working", {"working": working}),
    ]


def test_import_error_is_recorded_and_others_still_load(broken_and_working) -> None:
    """A plugin that fails to import is recorded with stage 'import'; the other plugins load."""
    manager = make_plugin_manager(distributions=broken_and_working, environ={})
    assert manager.names("scorer") == ["good"]
    assert len(manager.failed) == 1
    failed = manager.failed[0]
    assert isinstance(failed, FailedPlugin)
    assert (failed.plugin, failed.dist, failed.version, failed.stage) == (
        "broken",
        "asl-broken",
        "0.3",
        "import",
    )
    assert "ImportError" in failed.error
    assert "capsnet_ops (boom)" in failed.error


def test_import_error_is_raised_when_strict(broken_and_working) -> None:
    """With strict=True the import error propagates instead of being recorded."""
    with pytest.raises(ImportError, match="boom"):
        make_plugin_manager(distributions=broken_and_working, environ={}, strict=True)


def test_strict_defaults_from_asl_strict_plugins(broken_and_working) -> None:
    """ASL_STRICT_PLUGINS=1 in the environment makes the manager strict."""
    with pytest.raises(ImportError, match="boom"):
        make_plugin_manager(distributions=broken_and_working, environ={"ASL_STRICT_PLUGINS": "1"})


def test_entry_point_naming_a_missing_module_is_an_import_failure(modules) -> None:
    """An entry point whose module does not exist is recorded at stage 'import'."""
    missing = modules.name("asl_never_written")
    manager = make_plugin_manager(
        distributions=[fake_distribution("asl-stale", {"stale": missing})], environ={}
    )
    [failed] = manager.failed
    assert (failed.dist, failed.stage) == ("asl-stale", "import")
    assert "ModuleNotFoundError" in failed.error
    assert missing in failed.error


# --------------------------------------------------------------------------- hook failures


@pytest.fixture
def raising_hook(modules):
    """A distribution whose register_scorers registers one scorer, then raises."""
    source = f"""
        from asl_core import hookimpl

        @hookimpl
        def register_scorers(register):
            register("half", "{__name__}:Thing")
            raise RuntimeError("kaboom in hook")
    """
    return fake_distribution("asl-raising", {"raising": modules.write(source)})


def test_error_inside_hook_is_recorded_and_contributes_nothing(raising_hook) -> None:
    """A plugin raising inside a registration hook is recorded at stage 'hook' with no entries."""
    manager = make_plugin_manager(distributions=[raising_hook], environ={})
    assert manager.entries() == []
    [failed] = manager.failed
    assert (failed.plugin, failed.dist, failed.stage) == ("raising", "asl-raising", "hook")
    assert "RuntimeError: kaboom in hook" in failed.error
    assert manager.pm.get_plugin("raising") is None


def test_error_inside_hook_is_raised_when_strict(raising_hook) -> None:
    """With strict=True an error inside a registration hook propagates."""
    with pytest.raises(RuntimeError, match="kaboom"):
        make_plugin_manager(distributions=[raising_hook], environ={}, strict=True)


# --------------------------------------------------------------------------- duplicates


@pytest.fixture
def clashing(modules):
    """Two distributions (entry points ``one`` and ``two``) that both register scorer ``same``;
    ``asl-two`` also registers ``only_two``."""
    a = modules.hooks(same=f"{__name__}:Thing")
    b = modules.hooks(same=f"{__name__}:Thing", only_two=f"{__name__}:Thing")
    return [fake_distribution("asl-one", {"one": a}), fake_distribution("asl-two", {"two": b})]


def test_duplicate_name_get_raises_naming_both_dists(clashing) -> None:
    """Looking up a name registered by two distributions raises an error naming both."""
    manager = make_plugin_manager(distributions=clashing, environ={})
    with pytest.raises(DuplicatePluginError) as info:
        manager.get("scorer", "same")
    assert "asl-one" in str(info.value)
    assert "asl-two" in str(info.value)
    assert "ASL_DISABLE_PLUGINS" in str(info.value)


def test_duplicate_name_is_recorded_and_not_listed(clashing) -> None:
    """A clashing name is a 'duplicate' failure and is not listed; other names still are."""
    manager = make_plugin_manager(distributions=clashing, environ={})
    assert manager.names("scorer") == ["only_two"]
    [failed] = manager.failed
    assert (failed.stage, failed.dist) == ("duplicate", "asl-two")
    assert "asl-one" in failed.error


def test_duplicate_name_raises_at_build_when_strict(clashing) -> None:
    """With strict=True a name clash raises while the manager is built."""
    with pytest.raises(DuplicatePluginError, match=r"asl-one.*asl-two"):
        make_plugin_manager(distributions=clashing, environ={}, strict=True)


def test_same_name_for_different_kinds_is_no_clash(modules) -> None:
    """The same name may be registered once per kind."""
    a = modules.hooks("register_scorers", fake=f"{__name__}:Thing")
    b = modules.hooks("register_losses", fake=f"{__name__}:Thing")
    dists = [fake_distribution("asl-a", {"a": a}), fake_distribution("asl-b", {"b": b})]
    manager = make_plugin_manager(distributions=dists, environ={}, strict=True)
    assert manager.get("scorer", "fake").dist == "asl-a"
    assert manager.get("loss", "fake").dist == "asl-b"


def test_every_hookspec_registers_its_kind_in_listing_order() -> None:
    """Each registration hook, evaluators and datasets included, yields entries of its kind,
    listed in the order of hookspecs.KINDS."""
    from asl_core.hookspecs import KINDS as HOOK_KINDS

    class _AllKinds:
        pass

    for hook, kind in HOOK_KINDS.items():

        def impl(self, register, _kind=kind):
            register(f"only_{_kind}", Thing)

        impl.__name__ = hook
        setattr(_AllKinds, hook, hookimpl(impl))
    manager = make_test_plugin_manager()
    manager.add_plugin(_AllKinds(), "all-kinds")
    assert [(e.kind, e.name) for e in manager.entries()] == [
        (kind, f"only_{kind}") for kind in HOOK_KINDS.values()
    ]
    assert "evaluator" in HOOK_KINDS.values()
    assert manager.get("evaluator", "only_evaluator").build({}).params == {}


def test_triple_clash_message_is_not_nested() -> None:
    """A name registered by three distributions gives one readable message naming all three."""
    manager = make_plugin_manager(load_entrypoints=False, strict=False)
    for i in range(3):
        manager.add_plugin(scorer_plugin("x"), f"p{i}", dist=f"asl-d{i}")
    with pytest.raises(DuplicatePluginError) as info:
        manager.get("scorer", "x")
    message = str(info.value)
    assert all(f"asl-d{i}" in message for i in range(3))
    assert message.count("registered twice") <= 1


@pytest.fixture
def shared_entry_point(modules):
    """Two distributions declaring the same entry-point name ``shared``."""
    a = modules.hooks(from_a=f"{__name__}:Thing")
    b = modules.hooks(from_b=f"{__name__}:Thing")
    dists = [
        fake_distribution("asl-first", {"shared": a}),
        fake_distribution("asl-second", {"shared": b}),
    ]
    return dists, a, b


def test_entry_point_name_clash_is_reported_naming_both(shared_entry_point) -> None:
    """A second distribution reusing an entry-point name is a 'duplicate' failure naming both
    distributions, and is not imported."""
    dists, _, b = shared_entry_point
    manager = make_plugin_manager(distributions=dists, environ={})
    assert manager.names("scorer") == ["from_a"]
    [failed] = manager.failed
    assert (failed.plugin, failed.dist, failed.stage) == ("shared", "asl-second", "duplicate")
    assert "asl-first" in failed.error
    assert "asl-second" in failed.error
    assert b not in sys.modules


def test_entry_point_name_clash_raises_when_strict(shared_entry_point) -> None:
    """With strict=True an entry-point name clash raises DuplicatePluginError."""
    dists, _, _ = shared_entry_point
    with pytest.raises(DuplicatePluginError, match=r"asl-first.*asl-second"):
        make_plugin_manager(distributions=dists, environ={}, strict=True)


def test_entry_point_clash_advice_disables_exactly_one(shared_entry_point) -> None:
    """Setting ASL_DISABLE_PLUGINS as the entry-point clash message advises leaves one plugin."""
    dists, _, _ = shared_entry_point
    manager = make_plugin_manager(distributions=dists, environ={})
    advice = re.search(r"ASL_DISABLE_PLUGINS=(\S+)", manager.failed[0].error)
    assert advice is not None
    value = advice.group(1).rstrip(".,;")
    retry = make_plugin_manager(distributions=dists, environ={"ASL_DISABLE_PLUGINS": value})
    assert retry.failed == []
    assert len(retry.names("scorer")) == 1


# --------------------------------------------------------------------------- hookimpl typos


TYPO_HOOK_NAME = """
from asl_core import hookimpl

@hookimpl
def register_scorer(register):
    register("typo", "json:loads")
"""

TYPO_ARG_NAME = """
from asl_core import hookimpl

@hookimpl
def register_scorers(registr):
    registr("typo", "json:loads")
"""


@pytest.mark.parametrize("source", [TYPO_HOOK_NAME, TYPO_ARG_NAME], ids=["hook_name", "arg_name"])
def test_hookimpl_typo_fails_at_register_stage(modules, source: str) -> None:
    """A misspelled hook or hook argument fails at stage 'register' and leaves nothing behind."""
    dist = fake_distribution("asl-typo", {"typo": modules.write(source)})
    manager = make_plugin_manager(distributions=[dist], environ={})
    assert manager.entries() == []
    [failed] = manager.failed
    assert (failed.plugin, failed.dist, failed.stage) == ("typo", "asl-typo", "register")
    assert "register_scorer" in failed.error
    assert manager.pm.get_plugin("typo") is None


@pytest.mark.parametrize("source", [TYPO_HOOK_NAME, TYPO_ARG_NAME], ids=["hook_name", "arg_name"])
def test_hookimpl_typo_does_not_block_later_plugins(modules, source: str) -> None:
    """A plugin loaded after one with a hookimpl typo still registers."""
    typo = modules.write(source)
    good = modules.hooks(good=f"{__name__}:Thing")
    dists = [
        fake_distribution("asl-typo", {"typo": typo}),
        fake_distribution("asl-ok", {"ok": good}),
    ]
    manager = make_plugin_manager(distributions=dists, environ={})
    assert manager.names("scorer") == ["good"]
    assert [f.plugin for f in manager.failed] == ["typo"]


@pytest.mark.parametrize("source", [TYPO_HOOK_NAME, TYPO_ARG_NAME], ids=["hook_name", "arg_name"])
def test_hookimpl_typo_raises_when_strict(modules, source: str) -> None:
    """With strict=True a hookimpl typo raises pluggy's PluginValidationError."""
    dist = fake_distribution("asl-typo", {"typo": modules.write(source)})
    with pytest.raises(pluggy.PluginValidationError, match="register_scorer"):
        make_plugin_manager(distributions=[dist], environ={}, strict=True)


# --------------------------------------------------------------------------- invalid registrations


@pytest.mark.parametrize("name", ["Bad-Name", "UPPER", "1abc", "has space", "", "_private"])
def test_invalid_registered_name_is_recorded(modules, name: str) -> None:
    """A registered name that is not lowercase snake case is a 'hook' failure naming it."""
    hooks = modules.hooks(**{name: f"{__name__}:Thing"})
    manager = make_plugin_manager(
        distributions=[fake_distribution("asl-bad", {"bad": hooks})], environ={}
    )
    assert manager.entries() == []
    [failed] = manager.failed
    assert (failed.dist, failed.stage) == ("asl-bad", "hook")
    assert repr(name) in failed.error


@pytest.mark.parametrize(
    "factory", ["no_colon", "mod:", ":Attr", "a b:C", "mod:Attr:Extra", "mod-x:Attr"]
)
def test_malformed_factory_string_is_recorded(modules, factory: str) -> None:
    """A lazy factory string that is not 'package.module:Attr' is a 'hook' failure naming it."""
    hooks = modules.hooks(ok_name=factory)
    manager = make_plugin_manager(
        distributions=[fake_distribution("asl-bad", {"bad": hooks})], environ={}
    )
    assert manager.entries() == []
    [failed] = manager.failed
    assert failed.stage == "hook"
    assert repr(factory) in failed.error


def test_non_callable_factory_is_recorded() -> None:
    """A factory that is neither a string nor callable is a 'hook' failure."""

    class Plugin:
        @hookimpl
        def register_losses(self, register):
            register("num", 42)

    manager = make_plugin_manager(load_entrypoints=False, strict=False)
    assert manager.add_plugin(Plugin(), "num-plugin") is False
    assert manager.entries() == []
    assert manager.failed[0].stage == "hook"
    assert "not callable" in manager.failed[0].error


def test_invalid_name_raises_plugin_error_when_strict() -> None:
    """With a strict manager an invalid registered name raises PluginError."""
    with pytest.raises(PluginError, match="Bad-Name"):
        make_test_plugin_manager().add_plugin(scorer_plugin("Bad-Name"), "bad")


# --------------------------------------------------------------------------- environment


@pytest.fixture
def alpha_beta(modules):
    """Distributions ``asl-alpha`` (entry point ``alpha``, scorer ``a``) and ``asl-beta``
    (entry point ``beta``, scorer ``b``); returns (dists, alpha module)."""
    a = modules.hooks(a=f"{__name__}:Thing")
    b = modules.hooks(b=f"{__name__}:Thing")
    dists = [
        fake_distribution("asl-alpha", {"alpha": a}),
        fake_distribution("asl-beta", {"beta": b}),
    ]
    return dists, a


@pytest.mark.parametrize(
    ("environ", "names", "disabled"),
    [
        ({}, ["a", "b"], []),
        ({"ASL_DISABLE_PLUGINS": "alpha"}, ["b"], ["asl-alpha:alpha"]),
        ({"ASL_DISABLE_PLUGINS": "asl-alpha"}, ["b"], ["asl-alpha:alpha"]),
        ({"ASL_DISABLE_PLUGINS": " alpha , beta "}, [], ["asl-alpha:alpha", "asl-beta:beta"]),
        ({"ASL_DISABLE_PLUGINS": ""}, ["a", "b"], []),
        ({"ASL_LOAD_PLUGINS": "beta"}, ["b"], ["asl-alpha:alpha"]),
        ({"ASL_LOAD_PLUGINS": "asl-beta"}, ["b"], ["asl-alpha:alpha"]),
        ({"ASL_LOAD_PLUGINS": "alpha,asl-beta"}, ["a", "b"], []),
        ({"ASL_LOAD_PLUGINS": ""}, [], ["asl-alpha:alpha", "asl-beta:beta"]),
        (
            {"ASL_LOAD_PLUGINS": "alpha,beta", "ASL_DISABLE_PLUGINS": "beta"},
            ["a"],
            ["asl-beta:beta"],
        ),
    ],
    ids=[
        "none",
        "disable_by_entry_point",
        "disable_by_dist",
        "disable_both_with_spaces",
        "disable_empty",
        "load_by_entry_point",
        "load_by_dist",
        "load_mixed",
        "load_empty_means_none",
        "disable_wins_over_load",
    ],
)
def test_environment_selects_plugins(alpha_beta, environ, names, disabled) -> None:
    """ASL_DISABLE_PLUGINS and ASL_LOAD_PLUGINS pick which entry points load; skipped ones are
    listed in ``disabled``."""
    dists, _ = alpha_beta
    manager = make_plugin_manager(distributions=dists, environ=environ)
    assert manager.names("scorer") == names
    assert manager.disabled == disabled
    assert manager.failed == []


def test_disabled_plugin_is_not_imported(alpha_beta) -> None:
    """A disabled entry point's module is never imported."""
    dists, alpha = alpha_beta
    make_plugin_manager(distributions=dists, environ={"ASL_DISABLE_PLUGINS": "alpha"})
    assert alpha not in sys.modules


def test_explicit_environ_ignores_os_environ(alpha_beta, monkeypatch) -> None:
    """With ``environ=`` given, the process environment is not consulted."""
    dists, _ = alpha_beta
    monkeypatch.setenv("ASL_LOAD_PLUGINS", "")
    manager = make_plugin_manager(distributions=dists, environ={})
    assert manager.names("scorer") == ["a", "b"]


def test_process_environment_is_the_default(alpha_beta, monkeypatch) -> None:
    """Without ``environ=``, the ASL_* variables are read from os.environ."""
    dists, _ = alpha_beta
    monkeypatch.delenv("ASL_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("ASL_LOAD_PLUGINS", raising=False)
    monkeypatch.setenv("ASL_DISABLE_PLUGINS", "beta")
    manager = make_plugin_manager(distributions=dists)
    assert manager.names("scorer") == ["a"]


def test_disable_by_dist_name_is_normalised(alpha_beta) -> None:
    """ASL_DISABLE_PLUGINS matches a distribution name spelled with '_' or capitals, as pip does."""
    dists, _ = alpha_beta
    manager = make_plugin_manager(distributions=dists, environ={"ASL_DISABLE_PLUGINS": "ASL_Alpha"})
    assert manager.names("scorer") == ["b"]


def test_trace_plugins_builds_a_working_manager(alpha_beta) -> None:
    """ASL_TRACE_PLUGINS=1 installs hook-call monitoring without changing what loads."""
    dists, _ = alpha_beta
    manager = make_plugin_manager(distributions=dists, environ={"ASL_TRACE_PLUGINS": "1"})
    assert manager.names("scorer") == ["a", "b"]


# --------------------------------------------------------------------------- lookup errors


def test_unknown_name_lists_available_and_suggests_closest() -> None:
    """An unknown name raises UnknownPluginError listing the names and the closest match."""
    manager = make_test_plugin_manager()
    with (
        registered(manager, scorer_plugin("entropy", "margin")),
        pytest.raises(UnknownPluginError) as info,
    ):
        manager.get("scorer", "entropi")
    message = str(info.value)
    assert "did you mean 'entropy'" in message
    assert "available: entropy, margin" in message


def test_unknown_name_without_close_match_has_no_suggestion() -> None:
    """An unknown name far from every registered one gets no 'did you mean'."""
    manager = make_test_plugin_manager()
    with registered(manager, scorer_plugin("entropy")), pytest.raises(UnknownPluginError) as info:
        manager.get("scorer", "zzzzzz")
    assert "did you mean" not in str(info.value)


def test_unknown_name_in_empty_kind_explains_installation() -> None:
    """Looking up a name of a kind with no entries explains that the toolkit may not be
    installed."""
    with pytest.raises(UnknownPluginError, match=re.escape("pip install -e .")):
        make_test_plugin_manager().get("task", "fake")


def test_unknown_plugin_error_is_a_usage_error() -> None:
    """UnknownPluginError is an AslUsageError, so the CLI exits with status 2."""
    assert issubclass(UnknownPluginError, AslUsageError)


def test_unknown_kind_is_rejected_naming_the_kinds() -> None:
    """Asking for a kind that does not exist raises UnknownPluginError listing the kinds."""
    with pytest.raises(UnknownPluginError, match="scorer, selector, loss, task"):
        make_test_plugin_manager().get("scorers", "random")


def test_unknown_name_mentions_failed_plugins(broken_and_working) -> None:
    """When some plugin failed to load, an unknown-name error says which one."""
    manager = make_plugin_manager(distributions=broken_and_working, environ={})
    with pytest.raises(UnknownPluginError, match="failed to load: broken"):
        manager.get("scorer", "apu")


# --------------------------------------------------------------------------- test helpers


def test_make_test_plugin_manager_is_strict_and_empty() -> None:
    """make_test_plugin_manager() gives a strict manager with no plugins and no failures."""
    manager = make_test_plugin_manager()
    assert isinstance(manager, PluginManager)
    assert manager.strict is True
    assert manager.entries() == []
    assert manager.pm.get_plugins() == set()
    assert manager.failed == []
    assert manager.disabled == []


def test_make_test_plugin_managers_are_independent() -> None:
    """Each make_test_plugin_manager() call returns a fresh manager."""
    first = make_test_plugin_manager()
    first.add_plugin(scorer_plugin("only_here"), "p")
    assert make_test_plugin_manager().entries() == []


def test_registered_adds_entries_for_the_block_only() -> None:
    """registered() registers a plugin inside the block and removes it and its entries after."""
    manager = make_test_plugin_manager()
    with registered(manager, scorer_plugin("temp"), "temp-plugin") as inside:
        assert inside is manager
        entry = manager.get("scorer", "temp")
        assert (entry.plugin, entry.dist, entry.version) == ("temp-plugin", None, None)
        assert manager.pm.get_plugin("temp-plugin") is not None
    assert manager.entries() == []
    assert manager.pm.get_plugin("temp-plugin") is None


def test_registered_unregisters_when_the_block_raises() -> None:
    """registered() unregisters the plugin even when the block raises."""
    manager = make_test_plugin_manager()
    with pytest.raises(KeyError), registered(manager, scorer_plugin("temp")):
        raise KeyError("inside")
    assert manager.entries() == []


def test_registered_reports_a_failing_plugin_as_assertion_error() -> None:
    """On a non-strict manager, registered() turns a recorded failure into an AssertionError."""
    manager = make_plugin_manager(load_entrypoints=False, strict=False)
    with (
        pytest.raises(AssertionError, match="Bad-Name"),
        registered(manager, scorer_plugin("Bad-Name"), "bad"),
    ):
        pass


def test_registered_fake_plugin_builds_task_and_oracle() -> None:
    """FakePlugin registers task and oracle 'fake', both of which build."""
    with registered(make_test_plugin_manager(), FakePlugin()) as manager:
        assert manager.names("task") == ["fake"]
        assert manager.names("oracle") == ["fake"]
        task = manager.build("task", "fake", {"num_videos": 2, "num_test_videos": 1})
        assert len(task.pool()) == 2
        assert manager.build("oracle", "fake", {}).name == "fake"


def test_registered_clash_is_undone_after_the_block() -> None:
    """After registered() exits, a name it temporarily clashed with is usable again."""
    manager = make_plugin_manager(load_entrypoints=False, strict=False)
    manager.add_plugin(scorer_plugin("x"), "original")
    with registered(manager, scorer_plugin("x"), "temporary"):
        pass
    assert manager.get("scorer", "x").plugin == "original"


def test_strict_duplicate_leaves_no_half_registered_plugin() -> None:
    """A strict add_plugin that fails on a clash leaves neither the plugin nor its other entries."""
    manager = make_test_plugin_manager()
    manager.add_plugin(scorer_plugin("x"), "first")
    with pytest.raises(DuplicatePluginError):
        manager.add_plugin(scorer_plugin("y", "x"), "second")
    assert manager.names("scorer") == ["x"]
    assert manager.pm.get_plugin("second") is None


def test_remove_plugin_forgets_its_entries_only() -> None:
    """remove_plugin() drops that plugin's entries and keeps the others."""
    manager = make_test_plugin_manager()
    manager.add_plugin(scorer_plugin("keep"), "keeper")
    manager.add_plugin(scorer_plugin("drop"), "dropper")
    manager.remove_plugin("dropper")
    assert manager.names("scorer") == ["keep"]
