"""The harness runs scenarios in a sensible order, on the releases each needs."""

from __future__ import annotations

from chaton import project_root
from chaton.harness import scenarios


def test_every_scenario_of_the_repository_is_ordered():
    found = scenarios.available(project_root())
    assert found[0] == "base"
    unordered = [s for s in found if s not in scenarios.ORDER]
    assert not unordered, f"add {unordered} to chaton.harness.scenarios.ORDER"


def test_release_independent_scenarios_run_once(monkeypatch):
    monkeypatch.delenv("CHATON_ALL_RELEASES", raising=False)
    assert scenarios.releases_for("base", ["12", "13"]) == ["12", "13"]
    assert scenarios.releases_for("upgrade", ["12", "13"]) == ["12"]
    assert scenarios.releases_for("upgrade", ["13"]) == ["13"]
    assert scenarios.releases_for("upgrade-fails", ["12", "13"]) == ["13"]
    monkeypatch.setenv("CHATON_ALL_RELEASES", "1")
    assert scenarios.releases_for("upgrade", ["12", "13"]) == ["12", "13"]
