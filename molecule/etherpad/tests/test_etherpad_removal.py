"""Last: etherpad_enabled false removes Etherpad cleanly, keeps the pads, and purges them on request."""

import os
import subprocess
from pathlib import Path

import pytest
from conftest import APP_AVAILABLE

from chaton.testing import RECAP, molecule_env

if not APP_AVAILABLE:
    pytest.skip("etherpad release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)


def converge(*extra: str) -> str:
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    env = molecule_env()
    cfg = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ansible.cfg"
    if cfg.is_file():
        env["ANSIBLE_CONFIG"] = str(cfg)
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(scenario / "converge.yml"), *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and RECAP.search(out), out[-6000:]
    return out


def test_disabling_removes_etherpad_and_keeps_the_pads(host):
    converge("-e", "etherpad_enabled=false")
    assert not host.file("/etc/systemd/system/etherpad.service").exists
    assert host.run("systemctl is-active etherpad").stdout.strip() != "active"
    assert not host.file("/etc/nginx/sites-enabled/pad.chaton.test.conf").exists
    assert not host.file("/opt/etherpad").exists
    assert not host.file("/etc/etherpad").exists
    assert host.run("nginx -t").rc == 0
    assert host.file("/var/lib/etherpad/var").is_directory
    pads = host.check_output(
        "runuser -u postgres -- psql -XAt -d etherpad -c \"SELECT count(*) FROM store WHERE key LIKE 'pad:%'\""
    )
    assert int(pads) > 0, "the pads must survive the removal"
    # Out of the backups; the archives stay.
    assert not host.file("/etc/borgmatic.d/etherpad.yaml").exists
    assert not host.file("/etc/chaton/backup/services/etherpad.json").exists
    assert host.run("id etherpad").rc == 0


def test_purging_deletes_the_pads_database_data_and_users(host):
    converge("-e", "etherpad_enabled=false", "-e", "etherpad_purge_data=true")
    databases = host.check_output("runuser -u postgres -- psql -XAtc 'SELECT datname FROM pg_database'").split()
    assert "etherpad" not in databases
    roles = host.check_output("runuser -u postgres -- psql -XAtc 'SELECT rolname FROM pg_roles'").split()
    assert "etherpad" not in roles
    assert not host.file("/var/lib/etherpad").exists
    assert host.run("id etherpad").rc != 0
    assert host.run("id etherpad-build").rc != 0
    assert host.run("nginx -t").rc == 0
    assert host.service("postgresql").is_running, "the shared PostgreSQL stays for other services"
