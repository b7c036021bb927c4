"""The association's second server (`tube`): its own services and backups, not the association's own name."""

from __future__ import annotations

import json
import os

from chaton.testing import chaton_command, chaton_run, run_playbook

testinfra_hosts = ["ansible://tube"]

DOMAIN = "chaton.test"


def test_the_second_server_neither_serves_nor_certifies_the_portal_name(host):
    assert host.service("nginx").is_running
    assert not host.file(f"/etc/nginx/sites-enabled/{DOMAIN}.conf").exists, "the portal's host alone serves it"
    assert not host.file(f"/etc/letsencrypt/renewal/{DOMAIN}.conf").exists, "no certificate asked for the name"
    assert not host.file("/var/www/chaton/fr/index.html").exists, "no portal pages on this server"
    config = host.run("nginx -T")
    assert config.rc == 0 and f"server_name {DOMAIN};" not in config.stdout


def test_the_second_server_backs_up_its_own_data(host):
    assert host.service("chaton-backup.timer").is_enabled
    backup = host.run("systemctl start chaton-backup.service")
    assert backup.rc == 0, host.run("journalctl -u chaton-backup.service -n 30 --no-pager").stdout
    archives = host.run("borgmatic list --json")
    assert archives.rc == 0, archives.stderr
    repositories = json.loads(archives.stdout)
    assert sum(len(repository["archives"]) for repository in repositories) >= 1, archives.stdout


def test_a_restore_runs_on_the_server_that_backs_the_service_up(host):
    """`chaton restore --service demo` over both servers: the second server (which backs it up) restores it."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    run_playbook("molecule/portal/demo-service.yml")
    output, _ = chaton_command("backup", inventory)
    assert "demo (local repository):" in output, output
    host.run("rm -f /srv/demo-data/note.txt")
    output, _ = chaton_command("restore", inventory, "--service", "demo")
    assert host.file("/srv/demo-data/note.txt").content_string == "kept by the second server\n"
    restored = [line for line in output.splitlines() if "demo restored from" in line]
    assert len(restored) == 1 and restored[0].startswith(host.backend.get_hostname()), output
    code, output, _ = chaton_run("restore", inventory, "--service", "nosuch")
    assert code == 1 and "'nosuch' is backed up on no host" in output, output
