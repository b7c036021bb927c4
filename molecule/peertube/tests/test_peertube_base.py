"""What holds with or without the PeerTube release: Node.js, databases, production.yaml, unit, nginx, firewall."""

import re

import pytest
import yaml
from conftest import APP_AVAILABLE

from chaton.testing import PEBBLE_ROOT, assert_check_mode_clean, curl, pebble_root, secret

DOMAIN = "tube.chaton.test"
RESOLVE = f"{DOMAIN}:443:127.0.0.1"
TOP = "/var/www/peertube"


@pytest.fixture(scope="module")
def app_installed(host):
    return host.file("/etc/systemd/system/peertube.service").exists


@pytest.fixture(scope="module")
def render_dir(host, app_installed):
    return f"{TOP}/config" if app_installed else "/root/chaton-peertube-render"


@pytest.fixture(scope="module")
def config(host, render_dir):
    text = host.file(f"{render_dir}/production.yaml").content_string
    assert text.startswith("# Managed by chaton")
    return yaml.safe_load(text)


def test_check_mode_reports_no_change_on_converged_host():
    # The service's play (the base host's check mode is the base scenario's); without its application, the
    # whole host, which is then mostly what this scenario converged.
    assert_check_mode_clean(only="peertube" if APP_AVAILABLE else None)


def test_node_is_the_one_peertube_needs(host, app_installed):
    if app_installed:
        # PeerTube 8.x runs on the Node.js 24 of the nodejs block, the binary its unit starts.
        unit = host.file("/etc/systemd/system/peertube.service").content_string
        node = re.search(r"^ExecStart=(\S+/node) ", unit, re.M).group(1)
        assert re.match(r"v24\.", host.check_output(f"{node} --version"))
        return
    release = host.system_info.release.split(".")[0]
    expected = {"12": "18", "13": "20"}[release]
    assert re.match(rf"v{expected}\.", host.check_output("/usr/bin/node --version"))


def test_database_belongs_to_peertube_with_its_extensions(host):
    psql = "runuser -u postgres -- psql -XAt -d peertube_prod -c %s"
    owner = host.check_output(psql, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'peertube_prod'")
    assert owner == "peertube"
    extensions = host.check_output(psql, "SELECT extname FROM pg_extension ORDER BY 1").split()
    assert {"pg_trgm", "unaccent"} <= set(extensions)
    login = host.run(
        "PGPASSWORD=%s psql -XAt -h 127.0.0.1 -U peertube -d peertube_prod -c 'SELECT current_user'",
        secret("peertube_db_password"),
    )
    assert login.rc == 0 and login.stdout.strip() == "peertube", login.stderr
    assert host.run("PGPASSWORD=wrong psql -XAt -h 127.0.0.1 -U peertube -d peertube_prod -c 'SELECT 1'").rc != 0


def test_redis_instance_answers_its_password_on_loopback_only(host):
    assert host.service("redis-server@peertube").is_running
    listening = host.check_output("ss -Hltn 'sport = :6381'")
    assert listening and all(line.split()[3] == "127.0.0.1:6381" for line in listening.splitlines())
    ping = host.run("REDISCLI_AUTH=%s redis-cli -p 6381 ping", secret("redis-peertube.password"))
    assert ping.stdout.strip() == "PONG"
    assert "NOAUTH" in host.run("redis-cli -p 6381 ping").stdout


def test_production_yaml_carries_host_secrets_and_settings(config):
    assert config["webserver"] == {"https": True, "hostname": DOMAIN, "port": 443}
    assert config["listen"] == {"hostname": "127.0.0.1", "port": 9000}
    assert re.fullmatch(r"[0-9a-f]{64}", config["secrets"]["peertube"])
    assert config["secrets"]["peertube"] == secret("peertube_secret").lower()
    assert config["trust_proxy"] == ["loopback"]
    db = config["database"]
    assert (db["hostname"], db["name"], db["username"]) == ("127.0.0.1", "peertube_prod", "peertube")
    assert db["password"] == secret("peertube_db_password")
    assert config["redis"]["hostname"] == "127.0.0.1" and config["redis"]["port"] == 6381
    assert config["redis"]["auth"] == secret("redis-peertube.password")
    assert (config["smtp"]["hostname"], config["smtp"]["port"]) == ("127.0.0.1", 25)
    assert config["admin"]["email"] == "admin@chaton.test"
    assert all(path.startswith(f"{TOP}/storage/") for path in config["storage"].values())
    assert config["signup"]["enabled"] is True and config["signup"]["requires_approval"] is True
    assert config["instance"]["name"] == "Framatube de test"
    assert config["federation"]["enabled"] is True
    assert config["live"]["enabled"] is True and config["live"]["rtmp"]["port"] == 1935
    assert config["peertube"]["check_latest_version"]["enabled"] is False


def test_transcoding_is_sized_to_the_host(host, config):
    cpus = int(host.check_output("grep -c ^processor /proc/cpuinfo"))
    memory_mb = int(host.check_output("awk '/^MemTotal/ {print $2}' /proc/meminfo")) // 1024
    transcoding = config["transcoding"]
    assert transcoding["threads"] == max(cpus // 2, 1)
    big = cpus >= 4 and memory_mb >= 3800
    assert transcoding["concurrency"] == (2 if big else 1)
    enabled = {r for r, on in transcoding["resolutions"].items() if on}
    expected = {"360p", "720p"} | ({"480p"} if big else set())
    expected |= {"1080p"} if cpus >= 8 and memory_mb >= 7600 else set()
    assert enabled == expected
    assert transcoding["hls"]["enabled"] is True


def test_unit_is_accepted_by_systemd(host, app_installed, render_dir):
    unit = "/etc/systemd/system/peertube.service" if app_installed else f"{render_dir}/peertube.service"
    result = host.run(f"systemd-analyze verify --man=no {unit}")
    assert result.rc == 0, result.stderr
    content = host.file(unit).content_string
    assert "ProtectSystem=strict" in content
    assert f"ReadWritePaths={TOP}/storage {TOP}/config\n" in content
    assert "EnvironmentFile=-/run/peertube-first-start.env" in content
    assert "PT_INITIAL_ROOT_PASSWORD" not in content


def test_nginx_serves_the_video_name_with_a_real_certificate(host):
    assert host.run("nginx -t").rc == 0
    effective = host.check_output("nginx -T 2>/dev/null")
    block = effective.split(f"server_name {DOMAIN}", 1)[1].split("\nserver {", 1)[0]
    assert "proxy_pass http://127.0.0.1:9000" in block
    assert f"root {TOP}/storage;" in block
    assert "client_max_body_size 12G;" in block
    assert "client_max_body_size 0;" in block
    assert "/private/)|^/download" in block
    # pebble forgets its root when the instance restarts (the application
    # tests do): use the root saved before, the one that signed the certificate.
    root = PEBBLE_ROOT if host.file(PEBBLE_ROOT).exists else pebble_root(host)
    result = curl(
        host,
        f"https://{DOMAIN}/",
        "--resolve",
        RESOLVE,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        cacert=root,
    )
    assert result.rc == 0, result.stderr  # the certificate chains to the ACME server's root
    assert result.stdout in ("200", "502")


def test_firewall_opens_the_rtmp_port_for_lives(host):
    rule = host.file("/etc/nftables.d/peertube.nft")
    assert rule.exists and "1935" in rule.content_string
    assert "1935" in host.check_output("nft list ruleset")
