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


def test_service_scenarios_run_on_one_release_with_or_without_their_application(monkeypatch):
    """Etherpad and PeerTube run on the npm registry's Node.js build, the same on both releases: one each.

    EtherCalc and Framadate have their own scenario on 13; on 12 the restore scenario installs, re-converges and
    drives them.
    """
    monkeypatch.delenv("CHATON_ALL_RELEASES", raising=False)
    for mirror in ("", "/srv/mirror"):
        monkeypatch.setenv("CHATON_ARTIFACT_MIRROR", mirror)
        assert scenarios.releases_for("etherpad", ["12", "13"]) == ["12"]
        assert scenarios.releases_for("peertube", ["12", "13"]) == ["13"]
        assert scenarios.releases_for("framadate", ["12", "13"]) == ["13"]
        assert scenarios.releases_for("ethercalc", ["12", "13"]) == ["13"]
    monkeypatch.setenv("CHATON_ALL_RELEASES", "1")
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


def test_phase_seconds_times_each_molecule_action():
    actions = [
        (1.0, "INFO     [base > dependency] Executing\n"),
        (2.0, "INFO     [base > destroy] Executing\n"),
        (5.0, "INFO     [base > syntax] Executing\n"),
        (8.0, "INFO     [base > create] Executing\n"),
        (20.0, "INFO     [base > prepare] Executing\n"),
        (70.0, "INFO     [base > converge] Executing\n"),
        (270.0, "INFO     [base > idempotence] Executing\n"),
        (370.0, "INFO     [base > side_effect] Executing\n"),
        (371.0, "INFO     [base > verify] Executing\n"),
        (571.0, "INFO     [base > cleanup] Executing\n"),
        (572.0, "INFO     [base > destroy] Executing\n"),
    ]
    log = (
        "============ slowest 10 durations ============\n"
        "95.50s call     molecule/base/tests/test_base.py::test_check_mode_reports_no_change_on_converged_host\n"
        "12.00s call     molecule/base/tests/test_base.py::test_nftables_drops_unlisted_port_and_keeps_listed_ones\n"
    )
    phases = scenarios.phase_seconds(actions, 580.0, log)
    assert phases["create"] == 12.0
    assert phases["prepare"] == 50.0
    assert phases["converge"] == 200.0
    assert phases["idempotence"] == 100.0
    assert phases["check mode"] == 95.5
    assert phases["verify"] == 200.0 - 95.5
    # Both destroys: the one before create and the last one, up to the end of the run.
    assert phases["destroy"] == 3.0 + 8.0
    # Molecule's start, dependency, syntax, side_effect and cleanup.
    assert phases["other"] == 1.0 + 1.0 + 3.0 + 1.0 + 1.0
    assert sum(phases.values()) == 580.0


def test_phase_seconds_of_a_run_that_never_started_an_action():
    phases = scenarios.phase_seconds([], 4.0, "CRITICAL 'molecule/x/molecule.yml' glob failed.\n")
    assert phases["other"] == 4.0
    assert phases["converge"] == 0.0


def test_action_lines_match_what_molecule_prints():
    assert scenarios.ACTION_LINE.match("INFO     [ethercalc > converge] Executing").group("action") == "converge"
    assert not scenarios.ACTION_LINE.match("INFO     [ethercalc > converge] Executed: Successful")
    assert not scenarios.ACTION_LINE.match("TASK [Executing something] ****")
    verifier = "INFO     [ethercalc > verify] Executing Testinfra tests found in /x/molecule/ethercalc/tests/..."
    assert not scenarios.ACTION_LINE.match(verifier)


def test_times_table_has_a_row_per_run_and_their_sums(tmp_path):
    runs = [
        scenarios.Result("base", "13", True, 100.0, tmp_path, phases={"converge": 60.0, "verify": 40.0}),
        scenarios.Result("ethercalc", "13", True, 50.0, tmp_path, phases={"converge": 30.0, "verify": 20.0}),
    ]
    lines = scenarios.times_table(runs).splitlines()
    assert lines[0].startswith("| scenario | debian | create | prepare | converge |")
    assert lines[2] == "| base | 13 | 0 | 0 | 60 | 0 | 40 | 0 | 0 | 0 | 100 |"
    assert lines[-1] == "| all |  | 0 | 0 | 90 | 0 | 60 | 0 | 0 | 0 | 150 |"


def test_base_alone_starts_from_the_bare_image(monkeypatch):
    monkeypatch.delenv("CHATON_WARM_IMAGE", raising=False)
    assert not scenarios.warm("base")
    assert scenarios.warm("ethercalc") and scenarios.warm("restore")
    monkeypatch.setenv("CHATON_WARM_IMAGE", "0")
    assert not scenarios.warm("ethercalc")
