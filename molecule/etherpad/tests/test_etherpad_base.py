"""What holds with or without the Etherpad release: Node.js, PostgreSQL, settings.json, unit, nginx."""

import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import APP_AVAILABLE

from chaton import project_root
from chaton.testing import assert_check_mode_clean

DOMAIN = "pad.chaton.test"
NODEJS_DEFAULTS = yaml.safe_load((project_root() / "roles" / "nodejs" / "defaults" / "main.yml").read_text())


@pytest.fixture(scope="module")
def app_installed(host):
    return host.file("/etc/systemd/system/etherpad.service").exists


@pytest.fixture(scope="module")
def render_dir(host, app_installed):
    return "/etc/etherpad" if app_installed else "/root/chaton-etherpad-render"


def secret(name: str) -> str:
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    [path] = ephemeral.glob(f"secrets/*/{name}")
    assert path.stat().st_mode & 0o077 == 0, f"{path} must be readable by its owner only"
    return path.read_text().split()[0]


def test_a_secret_set_in_the_inventory_is_not_generated():
    # molecule.yml sets etherpad_api_key; the other secrets are generated.
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    assert not list(ephemeral.glob("secrets/*/etherpad_api_key"))
    assert list(ephemeral.glob("secrets/*/etherpad_db_password"))


def test_check_mode_reports_no_change_on_converged_host():
    # The service's play (the base host's check mode is the base scenario's); without its application, the
    # whole host, which is then mostly what this scenario converged.
    assert_check_mode_clean(only="etherpad" if APP_AVAILABLE else None)


def test_node_runs_at_the_wanted_major(host):
    # The pinned build from the npm registry (Debian's 18/20 are too old for Etherpad 3).
    version = NODEJS_DEFAULTS["nodejs_binary_version"]
    result = host.run(f"/opt/nodejs/versions/{version}/bin/node --version")
    assert result.stdout.strip() == f"v{version}", result.stderr
    assert host.file("/opt/nodejs/24").linked_to == f"/opt/nodejs/versions/{version}"
    assert host.file(f"/opt/nodejs/versions/{version}/bin/node").user == "root"
    assert host.file(f"/opt/nodejs/versions/{version}/include/node/node.h").is_file


def test_database_belongs_to_etherpad_and_its_password_works(host):
    owner = host.check_output(
        "runuser -u postgres -- psql -XAtc \"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname='etherpad'\""
    )
    assert owner == "etherpad"
    password = secret("etherpad_db_password")
    login = host.run("PGPASSWORD=%s psql -XAt -h 127.0.0.1 -U etherpad -d etherpad -c 'SELECT current_user'", password)
    assert login.rc == 0 and login.stdout.strip() == "etherpad", login.stderr
    wrong = host.run("PGPASSWORD=wrong psql -XAt -h 127.0.0.1 -U etherpad -d etherpad -c 'SELECT 1'")
    assert wrong.rc != 0


def test_postgresql_listens_on_loopback_only(host):
    listening = host.check_output("ss -Hltn 'sport = :5432'")
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines()}
    assert addresses and addresses <= {"127.0.0.1", "[::1]"}, addresses


def test_settings_are_valid_and_carry_no_upstream_default_secret(host, render_dir):
    text = host.check_output(f"cat {render_dir}/settings.json")
    assert text.startswith("/*\n * Managed by chaton")
    settings = json.loads(text.split("*/", 1)[1])
    assert settings["publicURL"] == f"https://{DOMAIN}"
    assert settings["trustProxy"] is True
    assert settings["exposeVersion"] is False
    assert settings["updates"]["tier"] == "off"
    assert settings["ipLogging"] == "anonymous"
    assert settings["dbType"] == "postgres"
    assert settings["ip"] == "127.0.0.1"
    assert settings["authenticationMethod"] == "apikey"
    assert settings["padOptions"]["lang"] == "fr"
    assert settings["users"]["admin"]["password"] == secret("etherpad_admin_password")
    secrets = [c["client_secret"] for c in settings["sso"]["clients"]]
    assert sorted(secrets) == sorted([secret("etherpad_sso_admin_secret"), secret("etherpad_sso_user_secret")])
    assert not {"admin", "user", "changeme1"} & {*secrets, settings["users"]["admin"]["password"]}


def test_unit_is_accepted_by_systemd(host, app_installed, render_dir):
    unit = "/etc/systemd/system/etherpad.service" if app_installed else f"{render_dir}/etherpad.service"
    result = host.run(f"systemd-analyze verify --man=no {unit}")
    assert result.rc == 0, result.stderr
    content = host.file(unit).content_string
    assert "ProtectSystem=strict" in content
    assert "ReadWritePaths=/var/lib/etherpad /opt/etherpad/current/src/plugin_packages\n" in content


def test_nginx_serves_the_pad_name_with_websocket(host):
    assert host.run("nginx -t").rc == 0
    effective = host.check_output("nginx -T 2>/dev/null")
    block = effective.split(f"server_name {DOMAIN}", 1)[1]
    assert "proxy_pass http://127.0.0.1:9001" in block
    assert "Upgrade $http_upgrade" in effective
