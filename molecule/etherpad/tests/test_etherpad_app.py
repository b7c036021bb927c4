"""Etherpad itself, driven as a user through the HTTPS proxy (needs the release in the mirror)."""

import json
import os
import re
import shlex
import time
from pathlib import Path

import pytest
from conftest import APP_AVAILABLE

from chaton.testing import curl, etherpad_api, etherpad_wait, pebble_root, restart_instance, run_playbook

if not APP_AVAILABLE:
    pytest.skip("etherpad release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)

DOMAIN = "pad.chaton.test"
BASE = f"https://{DOMAIN}"
PAD = "chaton-test-pad"
VERSION = "3.3.1"
# Docker rewrites /etc/hosts when the instance restarts: name the address here.
RESOLVE = f"{DOMAIN}:443:127.0.0.1"
# Set in molecule.yml's inventory: an inventory secret wins over generation.
INVENTORY_API_KEY = "molecule-inventory-api-key-4d9b2e61f0c84a7e"
PLUGIN, PLUGIN_VERSION = "ep_headings2", "0.2.68"
REPO = "/var/backups/chaton/borg"
BORG_ENV = "BORG_PASSCOMMAND='cat /etc/chaton/backup/passphrase'"

BROWSER_SCRIPT = r"""
import sys, time
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

url, line, profile = sys.argv[1:4]
options = Options()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile):
    options.add_argument(flag)
driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
try:
    driver.get(url)
    wait = WebDriverWait(driver, 90)
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.NAME, "ace_outer")))
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.NAME, "ace_inner")))
    body = wait.until(ec.element_to_be_clickable((By.ID, "innerdocbody")))
    body.click()
    body.send_keys(Keys.CONTROL, Keys.END)
    body.send_keys(Keys.ENTER, line)
    time.sleep(5)  # the changeset leaves through socket.io
    print(driver.find_element(By.ID, "innerdocbody").text)
finally:
    driver.quit()
"""


@pytest.fixture(scope="module")
def root(host):
    return pebble_root(host)


@pytest.fixture(scope="module")
def apikey(host):
    key = host.file("/etc/etherpad/APIKEY.txt")
    assert key.mode == 0o640 and key.user == "root" and key.group == "etherpad"
    value = host.run("cat /etc/etherpad/APIKEY.txt").stdout.strip()
    assert value == INVENTORY_API_KEY, "the inventory's key must win over a generated one"
    return value


def api(host, root, method, apikey, **params):
    return etherpad_api(host, root, method, apikey, **params)


def wait_healthy(host, root, seconds=120):
    return etherpad_wait(host, root, timeout=seconds)


def test_health_reports_pass_and_the_pinned_version(host, root):
    health = wait_healthy(host, root)
    assert health["status"] == "pass"
    assert health["releaseId"] == VERSION


def test_security_headers_are_sent_once(host, root):
    """Etherpad sends some of the host's security headers itself; the proxy keeps one copy, the host's."""
    result = curl(host, f"{BASE}/p/{PAD}", "--resolve", RESOLVE, "-D", "-", "-o", "/dev/null", cacert=root)
    assert result.rc == 0, result.stderr
    names = [line.split(":", 1)[0].lower() for line in result.stdout.splitlines() if ":" in line]
    for header in ("referrer-policy", "x-content-type-options", "x-frame-options", "strict-transport-security"):
        assert names.count(header) == 1, result.stdout


def test_api_creates_sets_and_reads_a_pad(host, root, apikey):
    api(host, root, "deletePad", apikey, padID=PAD)
    created = api(host, root, "createPad", apikey, padID=PAD, text="hello")
    assert created["code"] == 0, created
    assert api(host, root, "setText", apikey, padID=PAD, text="Bonjour depuis l'API")["code"] == 0
    got = api(host, root, "getText", apikey, padID=PAD)
    assert got == {"code": 0, "message": "ok", "data": {"text": "Bonjour depuis l'API\n"}}
    export = curl(host, f"{BASE}/p/{PAD}/export/txt", "--resolve", RESOLVE, cacert=root)
    assert export.stdout == "Bonjour depuis l'API\n"


def test_api_refuses_a_wrong_key(host, root):
    assert api(host, root, "getText", "not-the-key", padID=PAD)["code"] == 4


def test_a_browser_typing_in_the_pad_reaches_the_api(host, root, apikey):
    install = host.run(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends"
        " chromium chromium-driver python3-selenium libnss3-tools fonts-dejavu-core"
    )
    assert install.rc == 0, install.stderr[-2000:]
    # Chromium trusts the NSS database of $HOME, not the system store: give it pebble's root.
    home = "/root/chaton-browser"
    host.run(f"rm -rf {home} && mkdir -p {home}/.pki/nssdb")
    assert host.run(f"certutil -d sql:{home}/.pki/nssdb -N --empty-password").rc == 0
    assert host.run(f"certutil -d sql:{home}/.pki/nssdb -A -t C,, -n pebble -i {root}").rc == 0
    host.run(f"cat > {home}/drive.py << 'EOF'\n{BROWSER_SCRIPT}\nEOF")
    line = f"Ligne tapée dans Chromium {int(time.time())}"
    result = host.run(
        f"cd {home} && HOME={home} timeout 180 python3 drive.py"
        f" {shlex.quote(BASE + '/p/' + PAD)} {shlex.quote(line)} {home}/profile"
    )
    assert result.rc == 0, result.stderr[-3000:]
    assert line in result.stdout, result.stdout
    for _ in range(15):
        text = api(host, root, "getText", apikey, padID=PAD)["data"]["text"]
        if line in text:
            break
        time.sleep(1)
    assert text == f"Bonjour depuis l'API\n{line}\n"


def admin_auth(host, root, *auth: str) -> str:
    result = curl(
        host, f"{BASE}/admin-auth/", "--resolve", RESOLVE, *auth, "-o", "/dev/null", "-w", "%{http_code}", cacert=root
    )
    return result.stdout


def test_admin_is_reachable_only_with_the_generated_password(host, root):
    [path] = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]).glob("secrets/*/etherpad_admin_password")
    password = path.read_text().split()[0]
    assert admin_auth(host, root) == "401"
    assert admin_auth(host, root, "-u", "admin:not-the-password") == "401"
    assert admin_auth(host, root, "-u", f"admin:{password}") == "200"


def test_plugin_from_the_list_is_installed_and_loaded(host, root):
    defs = curl(host, f"{BASE}/pluginfw/plugin-definitions.json", "--resolve", RESOLVE, cacert=root)
    assert defs.rc == 0, defs.stderr
    definitions = json.loads(defs.stdout)
    assert PLUGIN in definitions["plugins"], sorted(definitions["plugins"])
    assert any(part["plugin"] == PLUGIN for part in definitions["parts"])
    manifest = json.loads(host.check_output("cat /var/lib/etherpad/var/installed_plugins.json"))
    assert {"name": PLUGIN, "version": PLUGIN_VERSION} in manifest["plugins"]
    # The plugin's code belongs to the build user like the rest of the code.
    versions = f"/opt/etherpad/versions/{VERSION}/src/plugin_packages/.versions"
    assert host.file(f"{versions}/{PLUGIN}@{PLUGIN_VERSION}/ep.json").user == "etherpad-build"
    assert host.run(f"runuser -u etherpad -- test -w {versions}/{PLUGIN}@{PLUGIN_VERSION}").rc != 0
    assert host.run(f"runuser -u etherpad -- test -w {versions}").rc != 0
    # Etherpad re-links its plugins at every start and only logs a failure.
    journal = host.check_output(
        "journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID=$(systemctl show -p InvocationID --value etherpad)"
    )
    assert f"Loading plugin {PLUGIN}" in journal
    assert "Error installing plugin" not in journal, journal[-3000:]


def test_a_backup_holds_the_pads_and_the_settings(host):
    output, _ = run_playbook("playbooks/backup.yml")
    assert re.search(r"etherpad-\d{4}-\d\d-\d\dT", output), output[-3000:]
    archives = host.check_output(f"{BORG_ENV} borg list --short --glob-archives 'etherpad-*' {REPO}").split()
    contents = host.check_output(f"{BORG_ENV} borg list --short {REPO}::{archives[-1]}")
    assert "etc/etherpad/settings.json" in contents
    assert "etc/etherpad/APIKEY.txt" in contents
    assert "var/lib/etherpad/var/installed_plugins.json" in contents
    assert re.search(r"borgmatic/postgresql_databases/127\.0\.0\.1/etherpad", contents), contents


def test_etherpad_listens_on_loopback_only(host):
    listening = host.check_output("ss -Hltn 'sport = :9001'")
    assert listening and all(line.split()[3] == "127.0.0.1:9001" for line in listening.splitlines())


def test_code_is_read_only_to_the_service(host):
    release = f"/opt/etherpad/versions/{VERSION}"
    for path in (release, f"{release}/src", f"{release}/src/node/server.ts", f"{release}/node_modules"):
        assert host.run(f"runuser -u etherpad -- test -w {path}").rc != 0, f"{path} is writable by etherpad"
    assert host.file(f"{release}/var").linked_to == "/var/lib/etherpad/var"
    # The unit runs current/, the link the upgrade block switches.
    assert host.file("/opt/etherpad/current").linked_to == release
    assert host.file("/opt/etherpad/current").user == "root"


def test_unit_exposure_is_at_most_2(host):
    out = host.check_output("systemd-analyze security --no-pager etherpad.service")
    exposure = float(out.rsplit("Overall exposure level for etherpad.service: ", 1)[1].split()[0])
    assert exposure <= 2.0


def test_pad_survives_a_service_restart(host, root, apikey):
    assert host.run("systemctl restart etherpad").rc == 0
    wait_healthy(host, root)
    assert "Bonjour depuis l'API" in api(host, root, "getText", apikey, padID=PAD)["data"]["text"]


def test_pad_survives_an_instance_restart(host, root, apikey):
    restart_instance(host)
    assert host.service("etherpad").is_running
    wait_healthy(host, root)
    assert "Bonjour depuis l'API" in api(host, root, "getText", apikey, padID=PAD)["data"]["text"]
