"""The registries: tasks, methods and strategies are units found by name, discovered from their package."""
from __future__ import annotations

import sys
import textwrap

import pytest

from xlt.errors import XltError
from xlt.methods import METHODS
from xlt.methods.base import AdaptationMethod, MethodConfig
from xlt.protocol.strategies import STRATEGIES, ordered
from xlt.protocol.strategies.base import Strategy
from xlt.registry import Registry
from xlt.tasks import TASKS
from xlt.tasks.base import Task
from xlt.translate import TRANSLATORS


@pytest.mark.parametrize("registry", [TASKS, METHODS, STRATEGIES, TRANSLATORS], ids=lambda r: r.kind)
def test_every_module_of_a_registry_s_package_registers_a_unit(registry):
    """Discovery imports every module: each one (but the base) holds a registered unit, and the units
    xlt is built around are there."""
    import importlib
    import pkgutil

    package = importlib.import_module(registry.package)
    modules = {f"{registry.package}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
               if not m.name.startswith("_") and m.name != "base"}
    registered = {(u if isinstance(u, type) else type(u)).__module__ for u in registry}
    assert modules == registered
    core = {"task": {"classification", "ner", "pos"}, "method": {"frozen", "full", "lora", "madx"},
            "strategy": {"source", "target_only", "zero_shot", "self_training", "few_shot", "few_shot_self_training",
                         "full_shot", "joint", "translate_test", "translate_train"},
            "translator": {"apertium", "dictionary", "parallel", "hf"}}[registry.kind]
    assert core <= set(registry.names())
    assert all(isinstance(t, Task) for t in TASKS) and all(isinstance(s, Strategy) for s in STRATEGIES)
    assert all(issubclass(m, AdaptationMethod) and issubclass(m.config, MethodConfig) for m in METHODS)


@pytest.mark.parametrize("registry, wrong, nearest", [(TASKS, "nerr", "ner"), (METHODS, "lorra", "lora"),
                                                       (STRATEGIES, "few-shot", "few_shot")])
def test_an_unknown_name_lists_the_valid_ones_and_the_nearest(registry, wrong, nearest):
    with pytest.raises(XltError) as e:
        registry.get(wrong)
    assert f"unknown {registry.kind} {wrong!r}; did you mean {nearest!r}?" in str(e.value)
    assert all(name in str(e.value) for name in registry.names())


def test_declarations_are_complete_and_consistent():
    for m in METHODS:  # a method's config is tagged with the method's own name
        assert m.config.model_fields["name"].default == m.name
    orders = [s.order for s in STRATEGIES]
    assert len(set(orders)) == len(orders) and [s.name for s in ordered()][0] == "source"
    assert len({s.title for s in STRATEGIES}) == len(STRATEGIES)
    references = [s for s in STRATEGIES if s.scores_source]
    assert len(references) == 1 and not references[0].selectable and references[0].from_source
    assert {s.name for s in STRATEGIES if s.default} == {"target_only", "zero_shot", "self_training", "few_shot",
                                                          "full_shot"}
    assert [s.name for s in STRATEGIES if s.default and "tokens" not in s.default_for] == ["self_training"]
    for t in TASKS:
        assert t.data_kind in ("text", "tokens") and t.metric_name and t.primary and t.lora.r > 0


def test_a_unit_in_a_new_module_of_the_package_is_found(tmp_path, monkeypatch):
    pkg = tmp_path / "plugins"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from xlt.registry import Registry\nTHINGS = Registry('thing', 'plugins')\n")
    (pkg / "_private.py").write_text("raise RuntimeError('modules starting with _ are not imported')\n")
    (pkg / "shiny.py").write_text(textwrap.dedent("""
        from plugins import THINGS

        @THINGS.register
        class Shiny:
            name = "shiny"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import plugins

    try:
        assert plugins.THINGS.names() == ["shiny"] and plugins.THINGS.get("shiny").name == "shiny"
    finally:
        for mod in [m for m in sys.modules if m == "plugins" or m.startswith("plugins.")]:
            del sys.modules[mod]


def test_two_units_with_one_name_are_refused():
    reg = Registry("gadget")

    class A:
        name = "a"

    class B:
        name = "a"

    reg.register(A)
    with pytest.raises(RuntimeError, match="two gadgets named 'a'"):
        reg.register(B)
    instances = Registry("widget", instances=True)
    instances.register(A)
    assert isinstance(instances.get("a"), A)
