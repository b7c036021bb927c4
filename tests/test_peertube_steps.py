"""The PeerTube version steps the peertube role supports or refuses, with the messages an admin reads."""

import importlib.util
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1] / "roles/peertube/filter_plugins/peertube_steps.py"
_spec = importlib.util.spec_from_file_location("peertube_steps", PLUGIN)
steps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(steps)


@pytest.mark.parametrize(
    ("current", "target", "pg", "node"),
    [
        ("", "8.3.2", 15, 24),  # new install, Debian 12's PostgreSQL
        ("", "8.3.2", None, 24),  # new install, PostgreSQL not there yet
        ("8.0.1", "8.3.2", 15, 24),
        ("8.2.0", "8.3.2", 17, 24),
        ("8.3.2", "8.3.2", 15, 24),  # same release: nothing to do
        ("7.3.0", "8.3.2", 15, 24),  # next major
        ("8.3.2", "9.0.0", 15, 24),
        ("8.3.2", "9.0.0", 15, 22),
        ("6.3.0", "6.3.0", 13, 18),  # old release on an old host: no 8.x requirement applies
        ("6.3.0", "8.0.1", 17, 24),  # over 7.x: every step from 6.0 on is known (scripts below)
        ("6.3.0", "8.3.2", 15, 24),
    ],
)
def test_supported_steps(current, target, pg, node):
    assert steps.peertube_step_problems(current, target, pg, node) == []


@pytest.mark.parametrize(
    ("current", "target", "pg", "node", "words"),
    [
        ("8.3.2", "8.2.0", 15, 24, ["8.3.2 is installed", "downgrades are not supported", "restore a backup"]),
        ("5.2.1", "7.3.0", 15, 24, ["skips major version 6", "from 6.0 on only", "last 6.x release first"]),
        ("8.2.0", "8.3.2", 13, 24, ["needs PostgreSQL >= 14", "runs PostgreSQL 13", "stay on PeerTube 8.2.x"]),
        ("", "8.3.0", 12, 24, ["needs PostgreSQL >= 14"]),
        ("8.3.2", "9.0.0", 15, 20, ["Node.js 22 (>= 22.22) or 24 only", "peertube_nodejs_major is 20"]),
        ("8.3.2", "9.0.0", 15, 23, ["Node.js 22 (>= 22.22) or 24 only"]),
        ("8.1.5", "8.2.0", 15, 20, ["needs Node.js >= 22 (from 8.2)", "peertube_nodejs_major is 20"]),
        ("9.0.0", "10.0.0", 15, 24, ["does not know yet", "up to 9.x"]),
    ],
)
def test_refused_steps_say_why(current, target, pg, node, words):
    problems = steps.peertube_step_problems(current, target, pg, node)
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0]


def test_several_problems_are_all_reported():
    problems = steps.peertube_step_problems("5.2.1", "8.3.2", 13, 20)
    assert len(problems) == 3
    assert "skips major version 6" in problems[0]
    assert "PostgreSQL >= 14" in problems[1]
    assert "Node.js >= 22" in problems[2]


def test_a_version_that_is_not_a_release_is_an_error():
    with pytest.raises(ValueError, match="not a PeerTube release version"):
        steps.peertube_step_problems("", "latest", 15, 24)


@pytest.mark.parametrize(
    ("current", "target", "scripts"),
    [
        ("", "8.3.2", []),  # a new install has nothing to migrate
        ("8.0.1", "8.3.2", ["peertube-8.1.js", "peertube-8.3.js"]),
        ("8.1.5", "8.3.2", ["peertube-8.3.js"]),
        ("8.3.0", "8.3.2", []),
        ("7.3.0", "8.0.1", ["peertube-8.0.js"]),  # in 8.0.1's dist/scripts/migrations/
        ("7.1.1", "7.3.0", ["peertube-7.2.js"]),
        ("6.2.1", "6.3.0", ["peertube-6.3.js"]),
        ("6.3.0", "8.0.1", ["peertube-7.2.js", "peertube-8.0.js"]),  # in this order, both in 8.0.1's tree
        ("8.0.0", "8.0.1", []),
    ],
)
def test_one_off_scripts_of_the_steps_passed(current, target, scripts):
    assert steps.peertube_step_notes(current, target) == scripts


SHA512 = (
    "34e538c329b5553014ca8e8f4535997f96180a1d0f614339357449935350d924"
    "e22f8614682191264ec33d1462ac21561aff97f6bb18065351c162c7e8f6de67"
)


def test_package_manager_corepack_style():
    # PeerTube 8.0.1's own field; the hash is the registry's integrity of pnpm 10.15.1.
    declared = steps.peertube_package_manager({"packageManager": f"pnpm@10.15.1+sha512.{SHA512}"})
    assert declared == {"name": "pnpm", "version": "10.15.1", "sha512": SHA512}
    assert steps.peertube_package_manager({"packageManager": "pnpm@12.0.0"})["sha512"] == ""
    assert steps.peertube_package_manager({"engines": {"yarn": ">=1.x"}})["name"] == ""
    with pytest.raises(ValueError, match="unreadable packageManager"):
        steps.peertube_package_manager({"packageManager": "pnpm@latest"})


def test_registry_integrity_as_hex():
    integrity = "sha512-NOU4wym1VTAUyo6PRTWZf5YYCh0PYUM5NXRJk1NQ2STiL4YUaCGRJk7DPRRirCFWGv+X9rsYBlNRwWLH6PbeZw=="
    assert steps.peertube_sri_hex(integrity) == SHA512
    with pytest.raises(ValueError):
        steps.peertube_sri_hex("sha1-abc")


def test_the_role_refuses_a_downgrade_before_changing_anything(tmp_path):
    """The role's own check tasks (tasks/steps.yml) on this machine, against a fake installed release."""
    from conftest import run_playbook, write_inventory

    peertube_dir = tmp_path / "peertube"
    (peertube_dir / "versions/peertube-v8.3.2").mkdir(parents=True)
    (peertube_dir / "peertube-latest").symlink_to("versions/peertube-v8.3.2")
    playbook = tmp_path / "steps.yml"
    playbook.write_text(
        "- hosts: all\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - ansible.builtin.include_role:\n"
        "        name: peertube\n"
        "        tasks_from: steps\n"
    )
    group_vars = {
        "chaton_domain": "chatons.example.org",
        "chaton_admin_email": "admin@example.org",
        "peertube_dir": str(peertube_dir),
        "peertube_nodejs_major": 24,
    }

    refused = run_playbook(playbook, write_inventory(tmp_path / "down", {**group_vars, "peertube_version": "8.2.0"}))
    assert refused.returncode != 0
    assert "Nothing was changed for PeerTube: PeerTube 8.3.2 is installed" in refused.stdout
    assert "downgrades are not supported" in refused.stdout
    assert "changed=0" in refused.stdout

    accepted = run_playbook(playbook, write_inventory(tmp_path / "up", {**group_vars, "peertube_version": "8.3.2"}))
    assert accepted.returncode == 0, accepted.stdout
