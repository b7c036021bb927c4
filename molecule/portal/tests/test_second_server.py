"""The association's second server (`tube`): its own services and backups, not the association's own name."""

from __future__ import annotations

import json

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
