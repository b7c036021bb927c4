"""EtherCalc: the real app from npm, its Redis, nginx in front, a real browser.

Tests run in file order: the last ones restart Redis, the service and the
whole instance, and check that every sheet made before is still there.
"""

import json
import re
import time
import uuid
import warnings

import pytest

from chaton.testing import assert_check_mode_clean, converge, curl, pebble_root, restart_instance

NAME = "calc.chaton.test"
APP = "http://127.0.0.1:8000"
RUN = uuid.uuid4().hex[:8]
SHEETS = {"rest": f"rest{RUN}", "browser": f"browser{RUN}", "visited": f"visited{RUN}"}


@pytest.fixture(scope="module")
def root(host):
    return pebble_root(host)


def public(host, root, path, *args):
    """A request from outside: through nginx over HTTPS, from the instance's own non-loopback address."""
    address = host.check_output("hostname -I").split()[0]
    return curl(host, f"https://{NAME}{path}", "--resolve", f"{NAME}:443:{address}", *args, cacert=root)


def app(host, path, *args):
    return curl(host, f"{APP}{path}", *args)


def status(result):
    return result.stdout.strip()[-3:]


def test_check_mode_reports_no_change_on_converged_host():
    # The service's play; the base host's check mode is the base scenario's.
    assert_check_mode_clean(only="ethercalc")


def test_unit_exposure_is_low(host):
    out = host.check_output("systemd-analyze security --no-pager ethercalc.service")
    exposure = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)[1])
    assert exposure <= 2.0


def test_app_listens_on_loopback_only(host):
    listeners = host.check_output("ss -Htlnp")
    lines = [line for line in listeners.splitlines() if ":8000 " in line or ":6380 " in line]
    assert lines, listeners
    for line in lines:
        local = line.split()[3]
        assert local.startswith(("127.0.0.1:", "[::1]:")), line


def test_code_is_read_only_to_the_service(host):
    current = host.file("/opt/ethercalc/current")
    assert current.is_symlink
    assert current.linked_to == "/opt/ethercalc/versions/0.20200127.0"
    assert host.file("/opt/ethercalc/versions/0.20200127.0/node_modules/ethercalc").user == "root"
    assert host.run("runuser -u ethercalc -- touch /opt/ethercalc/current/x").rc != 0
    main = host.check_output("systemctl show -p MainPID --value ethercalc")
    assert host.check_output(f"ps -o user= -p {main}") == "ethercalc"


def test_redis_persists_with_aof_and_rdb_and_a_password(host):
    assert host.run("redis-cli -p 6380 ping").stdout.strip() != "PONG"  # no password, no access
    conf = host.file("/etc/redis/redis-ethercalc.conf")
    assert conf.mode == 0o640
    assert "appendonly yes" in conf.content_string
    assert "appendfsync everysec" in conf.content_string
    assert re.search(r"^save 3600 1$", conf.content_string, re.M)
    assert host.service("redis-server@ethercalc").is_running
    assert not host.service("redis-server").is_running


def test_sheet_page_loads_through_https(host, root):
    result = public(host, root, f"/{SHEETS['visited']}", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}")
    assert result.stdout == "200 0", result.stderr
    page = public(host, root, f"/{SHEETS['visited']}").stdout
    assert "socialcalc" in page.lower()


def test_websocket_upgrade_answers_101(host, root):
    result = public(
        host,
        root,
        "/socket.io/?EIO=3&transport=websocket",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--http1.1",
        "-H",
        "Connection: Upgrade",
        "-H",
        "Upgrade: websocket",
        "-H",
        "Sec-WebSocket-Version: 13",
        "-H",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "--max-time",
        "3",
    )
    assert result.stdout.startswith("101"), (result.stdout, result.stderr)


@pytest.mark.parametrize("path", ["/_rooms", "/_roomlinks", "/_roomtimes", "/_exists/x", "/_ROOMS", "/_rooms/"])
def test_sheet_listings_are_refused_from_outside(host, root, path):
    assert status(public(host, root, path, "-o", "/dev/null", "-w", "%{http_code}")) == "403"


def test_timetrigger_is_refused_even_locally(host, root):
    local = curl(host, f"https://{NAME}/_timetrigger", "-o", "/dev/null", "-w", "%{http_code}", cacert=root)
    assert local.stdout == "403"
    assert host.service("ethercalc").is_running


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/_/pub{run}"),
        ("POST", "/_/pub{run}"),
        ("DELETE", "/_/pub{run}"),
        ("POST", "/_"),
        ("PUT", "/=pub{run}.xlsx"),
    ],
)
def test_rest_writes_are_refused_from_outside(host, root, method, path):
    path = path.format(run=RUN)
    result = public(
        host,
        root,
        path,
        "-X",
        method,
        "-H",
        "Content-Type: text/csv",
        "--data-binary",
        "a,b",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    )
    assert result.stdout == "403"
    assert app(host, f"/_exists/pub{RUN}").stdout == "false"


def test_rest_api_computes_from_loopback(host, root):
    sheet = SHEETS["rest"]
    put = app(
        host,
        f"/_/{sheet}",
        "-X",
        "PUT",
        "-H",
        "Content-Type: text/csv",
        "--data-binary",
        "a,b\n1,2\n3,4\n",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    )
    assert put.stdout == "201"
    # The same write through nginx from the server itself is allowed.
    post = curl(
        host,
        f"https://{NAME}/_/{sheet}",
        "-X",
        "POST",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "set C2 formula B2*2",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        cacert=root,
    )
    assert post.stdout == "202"
    for _ in range(20):
        csv = app(host, f"/{sheet}.csv").stdout
        if "1,2,4" in csv:
            break
        time.sleep(0.5)
    assert csv.splitlines()[:3] == ["a,b,", "1,2,4", "3,4,"]
    cell = json.loads(app(host, f"/_/{sheet}/cells/C2").stdout)
    assert cell["formula"] == "B2*2"
    assert cell["datavalue"] == 4


def test_public_reads_work(host, root):
    csv = public(host, root, f"/{SHEETS['rest']}.csv").stdout
    assert "1,2,4" in csv


def test_browser_edits_a_cell_and_rest_reads_it(host):
    sheet = SHEETS["browser"]
    result = host.run(f"timeout 120 chaton-test-cdp-edit https://{NAME}/{sheet} B2 4217")
    assert result.rc == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["shown"] == "4217"
    for _ in range(20):
        cell = app(host, f"/_/{sheet}/cells/B2")
        if cell.rc == 0 and cell.stdout.startswith("{") and json.loads(cell.stdout).get("datavalue") == 4217:
            break
        time.sleep(0.5)
    assert json.loads(cell.stdout)["datavalue"] == 4217


def test_browser_visit_alone_creates_the_sheet(host):
    sheet = SHEETS["visited"]
    # Open it in the browser without editing: a click on A1 only (no value typed).
    host.run(f"timeout 120 chaton-test-cdp-edit https://{NAME}/{sheet} A1 ''")
    for _ in range(20):
        if app(host, f"/_exists/{sheet}").stdout == "true":
            break
        time.sleep(0.5)
    assert app(host, f"/_exists/{sheet}").stdout == "true"


def test_idle_memory_stays_small(host):
    """Idle RSS of EtherCalc and its Redis (reported in the warnings summary)."""
    time.sleep(5)
    rss = {}
    for unit in ("ethercalc", "redis-server@ethercalc"):
        pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
        rss[unit] = int(host.check_output(f"ps -o rss= -p {pid}")) // 1024
    warnings.warn(f"idle RSS (MB): {rss}", stacklevel=1)
    assert rss["ethercalc"] < 256
    assert rss["redis-server@ethercalc"] < 64


def assert_all_sheets_present(host):
    for sheet in SHEETS.values():
        assert app(host, f"/_exists/{sheet}").stdout == "true", sheet
    assert "1,2,4" in app(host, f"/{SHEETS['rest']}.csv").stdout
    assert json.loads(app(host, f"/_/{SHEETS['browser']}/cells/B2").stdout)["datavalue"] == 4217


def wait_for_app(host, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if app(host, "/_exists/chaton-probe").stdout == "false":
            return
        time.sleep(1)
    raise AssertionError(host.run("journalctl -u ethercalc -n 30 --no-pager").stdout)


def test_sheets_survive_kill_9_of_redis(host):
    pid = host.check_output("systemctl show -p MainPID --value redis-server@ethercalc")
    host.run(f"kill -9 {pid}")
    time.sleep(2)
    for _ in range(30):
        new = host.check_output("systemctl show -p MainPID --value redis-server@ethercalc")
        if new not in ("0", pid):
            break
        time.sleep(1)
    wait_for_app(host)
    assert_all_sheets_present(host)


def test_sheets_survive_a_service_restart(host):
    host.run("systemctl restart ethercalc")
    wait_for_app(host)
    assert_all_sheets_present(host)


def test_no_file_fallback_when_redis_is_down(host):
    host.run("systemctl stop redis-server@ethercalc")
    try:
        time.sleep(3)
        assert host.run("curl -s -m 5 -X PUT --data-binary a,b http://127.0.0.1:8000/_/fallback").stdout != "OK"
        assert host.run("find / -xdev -path /proc -prune -o -type d -name dump -path '*ethercalc*' -print").stdout == ""
    finally:
        host.run("systemctl start redis-server@ethercalc ethercalc")
    wait_for_app(host)


def test_sheets_survive_an_instance_restart(host):
    restart_instance(host)
    wait_for_app(host)
    assert_all_sheets_present(host)


def test_disabling_removes_the_service_and_keeps_the_sheets(host):
    """Last: ethercalc_enabled false removes service, site and Redis unit; the sheets stay on disk."""
    converge("-e", "ethercalc_enabled=false", only="ethercalc")
    assert not host.file("/etc/systemd/system/ethercalc.service").exists
    assert not host.service("ethercalc").is_running
    assert not host.service("redis-server@ethercalc").is_running
    assert not host.file(f"/etc/nginx/sites-enabled/{NAME}.conf").exists
    assert not host.file("/etc/nginx/conf.d/chaton-ethercalc.conf").exists
    assert not host.file("/opt/ethercalc").exists
    assert host.run("nginx -t").rc == 0
    # The data left behind is a loadable Redis dataset holding the sheets.
    host.run("rm -rf /var/tmp/chaton-ec-copy && cp -a /var/lib/redis/ethercalc /var/tmp/chaton-ec-copy")
    load = host.run(
        "redis-server --port 6399 --bind 127.0.0.1 --dir /var/tmp/chaton-ec-copy --appendonly yes --daemonize yes"
    )
    assert load.rc == 0, load.stderr
    try:
        for sheet in SHEETS.values():
            for _ in range(20):
                found = host.run(f"redis-cli -p 6399 exists snapshot-{sheet}").stdout.strip()
                if found != "" and not found.startswith("LOADING"):
                    break
                time.sleep(0.5)
            assert found == "1", sheet
    finally:
        host.run("redis-cli -p 6399 shutdown nosave")
