"""Last: etherpad_enabled false removes Etherpad cleanly, keeps the pads, and purges them on request."""

import pytest
from conftest import APP_AVAILABLE

from chaton.testing import converge

if not APP_AVAILABLE:
    pytest.skip("etherpad release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)


def test_disabling_removes_etherpad_and_keeps_the_pads(host):
    converge("-e", "etherpad_enabled=false", only="etherpad")
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
    converge("-e", "etherpad_enabled=false", "-e", "etherpad_purge_data=true", only="etherpad")
    databases = host.check_output("runuser -u postgres -- psql -XAtc 'SELECT datname FROM pg_database'").split()
    assert "etherpad" not in databases
    roles = host.check_output("runuser -u postgres -- psql -XAtc 'SELECT rolname FROM pg_roles'").split()
    assert "etherpad" not in roles
    assert not host.file("/var/lib/etherpad").exists
    assert host.run("id etherpad").rc != 0
    assert host.run("id etherpad-build").rc != 0
    assert host.run("nginx -t").rc == 0
    assert host.service("postgresql").is_running, "the shared PostgreSQL stays for other services"
