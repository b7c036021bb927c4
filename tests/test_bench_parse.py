"""Parsers of `chaton bench` / `chaton bench audit`, on outputs captured from a real bench host."""

import json
from pathlib import Path

import pytest

from chaton.bench import parse

DATA = Path(__file__).parent / "test_bench_data"


def sample(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_smaps_rollup_reads_rss_and_pss_in_kb():
    dump = json.loads(sample("memory-dump.json"))
    nginx = next(p for p in dump if p["comm"] == "nginx")
    values = parse.smaps_rollup(nginx["smaps_rollup"])
    assert values["Rss"] > values["Pss"] > 0
    assert "Swap" in values


def test_processes_are_grouped_by_their_systemd_unit():
    units = parse.memory_by_unit(json.loads(sample("memory-dump.json")))
    assert units["nginx.service"]["processes"] == 3  # master and two workers
    assert units["nginx.service"]["commands"] == ["nginx"]
    assert units["init.scope"]["processes"] == 1
    assert "docker exec (outside systemd)" in units
    assert all(u["rss_kb"] >= u["pss_kb"] > 0 for u in units.values())


@pytest.mark.parametrize(
    ("cgroup", "unit"),
    [
        ("0::/docker/ab/system.slice/redis-server@ethercalc.service\n", "redis-server@ethercalc.service"),
        ("12:memory:/system.slice/nginx.service\n1:name=systemd:/system.slice/nginx.service\n", "nginx.service"),
        ("0::/system.slice/php8.2-fpm.service/pool\n", "php8.2-fpm.service"),
        ("0::/docker/" + "a" * 64 + "\n", "docker exec (outside systemd)"),
    ],
)
def test_unit_of_a_process(cgroup, unit):
    assert parse.unit_of(cgroup) == unit


def test_listening_sockets_and_which_are_external():
    sockets = parse.listening(sample("ss.txt"))
    assert {(s["port"], s["process"]) for s in sockets} == {(443, "nginx"), (80, "nginx"), (22, "sshd")}
    assert len(parse.external(sockets)) == 6  # 0.0.0.0 and [::] on each
    loopback = parse.listening(
        'tcp LISTEN 0 511 127.0.0.1:9001 0.0.0.0:* users:(("node",pid=1,fd=3))\n'
        'tcp LISTEN 0 511 [::1]:6380 [::]:* users:(("redis-server",pid=2,fd=6))\n'
        'udp UNCONN 0 0 *:5353 *:* users:(("avahi",pid=3,fd=1))'
    )
    assert [s["port"] for s in parse.external(loopback)] == [5353]


def test_exposure_of_a_unit():
    assert parse.exposure(sample("systemd-analyze-security.txt")) == 9.6
    assert parse.exposure("Unit foo.service not found.") is None


def test_exposure_table_without_a_unit():
    table = "UNIT EXPOSURE PREDICATE HAPPY\nnginx.service 9.2 UNSAFE :-{\nethercalc.service 1.4 OK :-)\n"
    assert parse.exposure_table(table) == {"nginx.service": 9.2, "ethercalc.service": 1.4}


def test_secret_needles_skip_certificates_and_salt(tmp_path):
    (tmp_path / "etherpad_admin_password").write_text("s3cretValue1234\n")
    (tmp_path / "salted").write_text("anotherSecret99 salt=abcdefgh\n")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n" + "A" * 64 + "\n-----END CERTIFICATE-----\n")
    key = "B" * 64
    (tmp_path / "ca.key").write_text(f"-----BEGIN PRIVATE KEY-----\n{key}\n-----END PRIVATE KEY-----\n")
    (tmp_path / "short").write_text("abc\n")
    borg = ["C" * 70, "D" * 70]
    (tmp_path / "backup_key_local").write_text("BORG_KEY " + "e" * 64 + "\n" + "\n".join(borg) + "\n")
    needles = parse.secret_needles(tmp_path)
    assert needles == {
        "backup_key_local": borg,
        "ca.key": [key],
        "etherpad_admin_password": ["s3cretValue1234"],
        "salted": ["anotherSecret99"],
    }


def test_secret_hits_count_every_source(tmp_path):
    needles = {"a": ["s3cretValue1234"], "b": ["neverPrinted42"]}
    sources = {"stdout": "ok: s3cretValue1234 and s3cretValue1234", "journal": "nothing", "events": "neverPrinted4"}
    assert parse.secret_hits(needles, sources) == [{"secret": "a", "source": "stdout", "count": 2}]
    assert parse.secret_hits(needles, {"x": "********"}) == []


def test_percentile_nearest_rank():
    values = list(range(1, 101))
    assert parse.percentile(values, 50) == 50
    assert parse.percentile(values, 95) == 95
    assert parse.percentile([7], 95) == 7
    assert parse.percentile([], 50) is None


def test_page_weight_totals():
    data = {
        "resources": [
            {
                "url": "/p/x",
                "status": 200,
                "headers": {"Content-Encoding": "gzip"},
                "body": 1000,
                "head": 200,
                "repeat": 1200,
            },
            {"url": "/a.js", "status": 200, "headers": {}, "body": 5000, "head": 100, "repeat": 0},
            {"url": "/b.css", "status": 404, "headers": {}, "body": 10, "head": 90, "repeat": 120},
        ]
    }
    assert parse.page_weight(data) == {
        "requests": 3,
        "first_bytes": 6400,
        "repeat_bytes": 1320,
        "compressed": 1,
        "failed": ["/b.css"],
    }


def test_lynis_report_of_a_stock_debian_container():
    report = parse.lynis_report(sample("lynis-report-stock-debian12.dat"))
    assert report["hardening_index"] == 58
    assert report["version"] == "3.0.8"
    assert report["tests_performed"] == 233
    assert report["warnings"] == [
        "PKGS-7388: Can't find any security repository in /etc/apt/sources.list or sources.list.d directory"
    ]
    assert len(report["suggestions"]) == 38
    assert "DEB-0280" in report["suggestions"]


def test_lynis_report_without_an_index_reads_zero():
    assert parse.lynis_report("# nothing\nlynis_version=3.0.8\n")["hardening_index"] == 0


# The screen etherpad-loadtest 1.0.10 redraws (app.js updateMetricsUI), twice, then its end line.
LOADTEST_SCREEN = (
    "\x1b[2J\x1b[0;0H\nLoad Test Metrics -- Target Pad https://pad.chaton.test/p/x \n\n"
    "Total Clients Connected: {clients}\nLocal Clients Connected: {clients}\nAuthors Connected: {authors}\n"
    "Lurkers Connected: {lurkers}\nSent Append messages: {sent}\nCommits accepted by server: {accepted}\n"
    "Commits sent from Server to Client: 10\nCurrent rate per second of Commits sent from Server to Client: 3\n"
    "Mean(per second) of # of Commits sent from Server to Client: 2\n"
    "Max(per second) of # of Messages (SocketIO has cap of 10k): 4\n"
    "{lag}Seconds test has been running for: {seconds}\n"
)


def test_loadtest_reads_its_last_screen():
    first = LOADTEST_SCREEN.format(clients=4, authors=1, lurkers=3, sent=2, accepted=2, lag="", seconds=1)
    last = LOADTEST_SCREEN.format(
        clients=88,
        authors=22,
        lurkers=66,
        sent=900,
        accepted=780,
        lag="Number of commits not yet replied as ACCEPT_COMMIT from server 120\n",
        seconds=23,
    )
    result = parse.loadtest(first + last)
    assert result == {
        "authors": 22,
        "lurkers": 66,
        "clients": 88,
        "sent": 900,
        "accepted": 780,
        "seconds": 23,
        "unacknowledged": 120,
        "passed": False,
        "errors": 0,
    }
    assert parse.loadtest(last + "Test duration complete and Load Tests PASS\n{}")["passed"]


def test_testssl_json_of_a_bench_host():
    result = parse.testssl_findings(sample("testssl-chaton.test.json"))
    assert result["counts"]["CRITICAL"] == 0
    assert result["counts"]["HIGH"] == 2
    assert result["counts"]["OK"] == 42
    high = {f["id"] for f in result["notable"] if f["severity"] == "HIGH"}
    assert high == {"cipher_order", "cert_revocation"}


def test_unattended_upgrades_lists_each_package_once():
    log = (
        "2026-11-30 05:12:20,101 INFO Starting unattended upgrades script\n"
        "2026-11-30 05:12:22,989 INFO Packages that will be upgraded: ca-certificates libpam0g tzdata\n"
        "2026-11-30 05:12:40,000 INFO All upgrades installed\n"
        "2026-12-01 06:10:02,000 INFO Packages that will be upgraded: tzdata libssl3\n"
    )
    assert parse.unattended_upgrades(log) == ["ca-certificates", "libpam0g", "tzdata", "libssl3"]
    assert parse.unattended_upgrades("") == []
