"""Task registry: built-in tasks, the decorator, and third-party entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import clinrl.registry as registry
from clinrl.errors import ConfigError
from clinrl.tasks.medcalc import MedCalcTask


def test_builtin_lookup_and_listing():
    assert isinstance(registry.get_task("medcalc"), MedCalcTask)
    names = [row["name"] for row in registry.list_tasks()]
    assert "medcalc" in names and names == sorted(names)
    with pytest.raises(ConfigError, match="unknown task 'nope'.*medcalc"):
        registry.get_task("nope")


def test_entry_point_task(monkeypatch):
    # a third-party package declares: [project.entry-points."clinrl.tasks"] medcalc_zero_shot = "...:Class"
    ep = EntryPoint(name="thirdparty_medcalc", value="clinrl.tasks.medcalc:MedCalcTask", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    assert "thirdparty_medcalc" in registry.task_names()
    assert isinstance(registry.get_task("thirdparty_medcalc"), MedCalcTask)


def test_broken_third_party_task_does_not_hide_others(monkeypatch):
    ep = EntryPoint(name="broken", value="no_such_module_xyz:Task", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep])
    rows = {row["name"]: row for row in registry.list_tasks()}
    assert "failed to load" in rows["broken"]["summary"] and rows["medcalc"]["version"] == "1"


def test_register_decorator(monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))

    @registry.register_task("medcalc_copy")
    class Copy(MedCalcTask):
        pass

    assert isinstance(registry.get_task("medcalc_copy"), Copy)


def test_a_taken_name_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.get_task_class("medcalc")  # the built-in is registered once loaded

    with pytest.raises(ConfigError, match="'medcalc' is already registered by clinrl.tasks.medcalc"):
        @registry.register_task("medcalc")
        class Impostor(MedCalcTask):
            pass

    @registry.register_task("medcalc_twin")
    class Twin(MedCalcTask):
        pass

    with pytest.raises(ConfigError, match="'medcalc_twin' is already registered"):
        @registry.register_task("medcalc_twin")
        class Other(MedCalcTask):
            pass

    assert registry.register_task("medcalc_twin")(Twin) is Twin  # the same class again (a re-import) is fine
    assert registry.get_task_class("medcalc_twin") is Twin


def test_a_builtin_name_is_refused_before_the_builtin_loads(monkeypatch):
    monkeypatch.setattr(registry, "_registered", {})
    with pytest.raises(ConfigError, match="belongs to the built-in task"):
        @registry.register_task("trials")
        class NotTrials(MedCalcTask):
            pass
