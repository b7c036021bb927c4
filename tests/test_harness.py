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
    monkeypatch.setenv("CHATON_ARTIFACT_MIRROR", "/srv/mirror")
    assert scenarios.releases_for("base", ["12", "13"]) == ["12", "13"]
    assert scenarios.releases_for("upgrade", ["12", "13"]) == ["13"]
    assert scenarios.releases_for("upgrade", ["12"]) == ["12"]
    assert scenarios.releases_for("restore", ["12", "13"]) == ["12"]
    monkeypatch.setenv("CHATON_ALL_RELEASES", "1")
    assert scenarios.releases_for("upgrade", ["12", "13"]) == ["12", "13"]


def test_a_failed_run_shows_its_first_failure_and_its_recap():
    lines = [f"TASK [step {i}]" for i in range(300)]
    # Molecule retries while the container starts: not the failure.
    lines[10] = "FAILED - RETRYING: [localhost]: Wait for instance(s) creation to complete (300 retries left)."
    lines[120] = "fatal: [chaton-base-debian13]: FAILED! =>"
    lines[-1] = "base : actions=8 failed=1"
    excerpt = scenarios.failure_excerpt(lines)
    assert "TASK [step 100]" in excerpt
    assert lines[10] not in excerpt
    assert lines[120] in excerpt
    assert excerpt[-1] == lines[-1]
    assert any(line.startswith("[... ") for line in excerpt)
    assert len(excerpt) < 100


def test_a_failed_test_is_found_in_the_verifier_output():
    lines = ["collected 3 items", "test_x.py::test_a PASSED", "E   AssertionError: 0750 != 0700", "1 failed"]
    assert "E   AssertionError: 0750 != 0700" in scenarios.failure_excerpt(lines)


def test_scenarios_without_their_application_run_on_one_release(monkeypatch):
    monkeypatch.delenv("CHATON_ALL_RELEASES", raising=False)
    monkeypatch.delenv("CHATON_ARTIFACT_MIRROR", raising=False)
    assert scenarios.releases_for("etherpad", ["12", "13"]) == ["12"]
    assert scenarios.releases_for("peertube", ["12", "13"]) == ["13"]
    assert scenarios.releases_for("framadate", ["12", "13"]) == ["12", "13"]
    assert scenarios.releases_for("ethercalc", ["12", "13"]) == ["12", "13"]
    monkeypatch.setenv("CHATON_ARTIFACT_MIRROR", "/srv/mirror")
    assert scenarios.releases_for("etherpad", ["12", "13"]) == ["12", "13"]
    assert scenarios.releases_for("peertube", ["12", "13"]) == ["12", "13"]


def test_every_skip_line_is_reported():
    text = "\n".join(
        [
            "SKIPPED etherpad: CHATON_ARTIFACT_MIRROR (unset)/etherpad/etherpad-v3.3.1.tar.gz",
            "    msg: SKIPPED framadate (debian libraries): framadate/framadate-1.1.19.tar.gz",
            "SKIPPED etherpad upgrade: CHATON_ARTIFACT_MIRROR (unset) lacks etherpad/etherpad-v3.2.0.tar.gz",
            "SKIPPED [1] tests/test_upgrade_etherpad.py:20: not in the mirror",
        ]
    )
    found = [m.group(0) for m in scenarios.SKIP_LINE.finditer(text)]
    assert [line.split(":")[0] for line in found] == [
        "SKIPPED etherpad",
        "SKIPPED framadate (debian libraries)",
        "SKIPPED etherpad upgrade",
    ]
