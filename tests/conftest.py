from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def run_playbook(playbook: Path, inventory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook), *args],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def write_inventory(directory: Path, group_vars: dict, host_vars: dict | None = None) -> Path:
    """An inventory whose only host is this machine, reached without a connection plugin that changes it."""
    hosts = {
        "chaton": {
            "hosts": {
                "testhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                    **(host_vars or {}),
                }
            }
        }
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    gv = directory / "group_vars" / "all"
    gv.mkdir(parents=True, exist_ok=True)
    (gv / "vars.yml").write_text(yaml.safe_dump(group_vars, allow_unicode=True), encoding="utf-8")
    return directory / "hosts.yml"


@pytest.fixture
def root() -> Path:
    return ROOT


def inventory_with(tmp_path: Path, base: dict, changes: dict) -> Path:
    """An inventory of ``base`` group variables with ``changes`` applied (None removes a variable)."""
    group_vars = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            group_vars.pop(key, None)
        else:
            group_vars[key] = value
    return write_inventory(tmp_path / "inventory", group_vars)
