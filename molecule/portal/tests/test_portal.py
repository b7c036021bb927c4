"""The portal: pages in both languages, ChatonsInfos files, a real browser, and `chaton audit` from outside."""

from __future__ import annotations

import json
import os
import shlex
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from chaton import audit
from chaton.testing import curl, instance_address, pebble_root

# The server that publishes the portal; test_second_server.py checks the other one.
testinfra_hosts = ["ansible://web"]

DOMAIN = "chaton.test"
LANGS = ["fr", "en"]
PAGES = ["index", "about", "cgu", "privacy", "legal"]
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
WEBROOT = "/var/www/chaton"
INJECTED = '<script src="https://cdn.example.org/analytics.js"></script>'


@pytest.fixture(scope="module")
def root(host):
    return pebble_root(host)


def get(host, path, root):
    result = curl(host, f"https://{DOMAIN}{path}", "-f", cacert=root)
    assert result.rc == 0, f"{path}: {result.stderr}"
    return result.stdout


def pin(service: str) -> str:
    defaults = yaml.safe_load((PROJECT / f"roles/{service}/defaults/main.yml").read_text(encoding="utf-8"))
    return str(defaults[f"{service}_version"])


def ethercalc_pin() -> str:
    return pin("ethercalc")


@contextmanager
def injected(host, page=f"{WEBROOT}/fr/index.html"):
    """A third-party script in a served page, as a careless edit would add it; restored afterwards."""
    assert host.run(f"cp -p {page} {page}.orig && sed -i 's|</head>|{INJECTED}</head>|' {page}").rc == 0
    try:
        yield
    finally:
        host.run(f"mv -f {page}.orig {page}")


# Check mode of the portal role runs in the base scenario (both releases) and in every service scenario; the
# idempotence step here covers this scenario's richer inventory.


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_exists_in_both_languages_with_a_switch(host, root, lang, page):
    html = get(host, f"/{lang}/{page}.html", root)
    facts = audit.parse_page(html)
    assert facts.lang == lang
    other = "en" if lang == "fr" else "fr"
    assert f'href="/{other}/{page}.html" hreflang="{other}"' in html, "language switch to the same page"
    assert 'class="skip" href="#main"' in html and '<main id="main">' in html
    assert "Managed by chaton" in html
    assert facts.missing == [], "the scenario states every fact"


def test_home_page_lists_the_enabled_services_from_their_metadata(host, root):
    fr = get(host, "/fr/index.html", root)
    en = get(host, "/en/index.html", root)
    assert 'href="https://calc.chaton.test/"' in fr
    assert "Framacalc (EtherCalc)" in fr
    assert "Tableur collaboratif en ligne" in fr
    assert "Collaborative online spreadsheet" in en
    assert f"EtherCalc {ethercalc_pin()}" in en and "CPAL-1.0" in en
    assert "Etherpad" not in fr, "a service that is not enabled is not listed"
    # PeerTube is switched on for the second server only: listed with that server's address.
    assert 'href="https://tube.chaton.test/"' in fr and "Framatube (PeerTube)" in en
    landing = get(host, "/", root)
    assert 'href="/fr/index.html"' in landing and 'href="/en/index.html"' in landing


def test_inventory_texts_replace_templates_and_are_escaped(host, root):
    en = get(host, "/en/cgu.html", root)
    assert "<p>Custom terms of use written in the inventory.</p>" in en
    assert "&lt;with markup that must be escaped&gt;" in en and "<with markup" not in en
    fr = get(host, "/fr/cgu.html", root)
    assert "Conditions générales d\u2019utilisation" in fr and "Custom terms" not in fr


def test_how_this_host_works_states_provider_backups_logs_and_versions(host, root):
    about = get(host, "/en/about.html", root)
    assert "Hébergeur Associatif Test" in about
    assert "kept for 12 days" in about, "chaton_log_retention_days of the scenario"
    assert "backed up every day around 03:15" in about and "7 days, 4 weeks and 6 months" in about
    assert f"<td>{pin('peertube')}</td><td>AGPL-3.0</td><td>Framatube (PeerTube) (on server " in about
    assert "<td>Framacalc (EtherCalc)</td>" in about, "a service of this server names no server"
    nginx = host.package("nginx").version
    assert f"<td>nginx</td><td>{nginx}</td>" in about
    privacy = get(host, "/fr/privacy.html", root)
    assert "conservés 12 jours" in privacy and "tronquée" in privacy
    legal = get(host, "/fr/legal.html", root)
    assert "Association loi 1901, RNA W000000000" in legal and "2 avenue des Serveurs" in legal


def test_chatonsinfos_files_are_valid_and_describe_each_enabled_service(host, root):
    base = "/.well-known/chatonsinfos"
    org = audit.parse_properties(get(host, f"{base}/organization.properties", root))
    assert audit.chatonsinfos_problems(org, "organization") == []
    assert org["organization.name"] == "Chatons de test"
    assert org["organization.startdate"] == "2026-11-01"
    subs = {k: v for k, v in org.items() if k.startswith("subs.")}
    assert subs == {
        "subs.ethercalc": f"https://{DOMAIN}{base}/ethercalc.properties",
        "subs.peertube": f"https://{DOMAIN}{base}/peertube.properties",
    }
    svc = audit.parse_properties(get(host, f"{base}/ethercalc.properties", root))
    assert audit.chatonsinfos_problems(svc, "service") == []
    assert svc["service.website"] == "https://calc.chaton.test/"
    assert svc["software.version"] == ethercalc_pin()
    assert svc["host.name"] == "Hébergeur Associatif Test"
    files = host.run(f"ls {WEBROOT}{base}").stdout.split()
    tube = audit.parse_properties(get(host, f"{base}/peertube.properties", root))
    assert audit.chatonsinfos_problems(tube, "service") == []
    assert tube["service.website"] == "https://tube.chaton.test/" and tube["software.version"] == pin("peertube")
    assert sorted(files) == ["ethercalc.properties", "organization.properties", "peertube.properties"]
    # The misspelling some tools use is not where the files are.
    assert curl(host, f"https://{DOMAIN}/.well_known/chatonsinfos/organization.properties", "-f", cacert=root).rc != 0


def browse(host, urls: list[str]) -> dict:
    shots = "/var/tmp/chaton-portal-shots"
    cmd = host.run(f"chaton-test-cdp-requests {shots} " + " ".join(shlex.quote(u) for u in urls))
    assert cmd.rc == 0, cmd.stderr[-3000:]
    return json.loads(cmd.stdout)


def save_screenshots(host, visits: dict) -> Path:
    release = host.system_info.release.split(".")[0]
    dest = PROJECT / ".cache" / "portal-screenshots" / f"debian{release}"
    dest.mkdir(parents=True, exist_ok=True)
    for visit in visits.values():
        dest.joinpath(Path(visit["screenshot"]).name).write_bytes(host.file(visit["screenshot"]).content)
    return dest


def test_real_browser_loads_every_page_from_the_host_alone(host):
    urls = [f"https://{DOMAIN}/"] + [f"https://{DOMAIN}/{lang}/{page}.html" for lang in LANGS for page in PAGES]
    visits = browse(host, urls)
    saved = save_screenshots(host, visits)
    for url, visit in visits.items():
        hosts = {urlsplit(r).hostname for r in visit["requests"]}
        assert hosts == {DOMAIN}, f"{url} made requests to {hosts - {DOMAIN}}"
        assert f"https://{DOMAIN}/style.css" in visit["requests"], f"{url} did not load its style sheet"
        assert visit["failed"] == [], f"{url}: {visit['failed']}"
        assert all(status < 400 for status in visit["statuses"]), f"{url}: {visit['statuses']}"
        assert visit["h1"], f"{url} has no heading"
        if url.endswith(".html"):
            assert visit["lang"] == urlsplit(url).path.split("/")[1]
            assert 'class="skip"' in visit["focused_after_tab"], "the first Tab reaches the skip link"
        assert saved.joinpath(Path(visit["screenshot"]).name).stat().st_size > 5000, "screenshot saved"


def test_real_browser_sees_an_injected_third_party_script(host):
    with injected(host):
        visit = browse(host, [f"https://{DOMAIN}/fr/index.html"])[f"https://{DOMAIN}/fr/index.html"]
    assert "https://cdn.example.org/analytics.js" in visit["requests"]


@pytest.fixture(scope="module")
def audit_inventory(host, root, tmp_path_factory):
    """An inventory of what this scenario deployed (the base and its portal), reaching the instance over docker."""
    directory = tmp_path_factory.mktemp("audit")
    name = host.backend.get_hostname()
    (directory / "hosts.yml").write_text(
        yaml.safe_dump({"chaton": {"hosts": {name: {"ansible_connection": "community.docker.docker"}}}}),
        encoding="utf-8",
    )
    (directory / "group_vars").mkdir()
    (directory / "group_vars" / "all.yml").write_text(
        yaml.safe_dump({"chaton_domain": DOMAIN, "chaton_log_retention_days": 12}), encoding="utf-8"
    )
    ca = directory / "pebble-root.pem"
    ca.write_bytes(host.file(root).content)
    # A backup right now, as the nightly timer would have made one.
    backup = host.run("systemctl start chaton-backup.service")
    assert backup.rc == 0, host.run("journalctl -u chaton-backup.service -n 30 --no-pager").stdout
    return directory, ca


def run_audit(host, audit_inventory, report: Path):
    from chaton.cli import app

    directory, ca = audit_inventory
    args = ["audit", str(directory), "--address", instance_address(host), "--cafile", str(ca), "--report", str(report)]
    return CliRunner().invoke(app, args)


def test_audit_from_the_controller_passes(host, audit_inventory):
    report = PROJECT / ".cache" / "portal-audit.md"
    result = run_audit(host, audit_inventory, report)
    text = report.read_text(encoding="utf-8")
    assert result.exit_code == 0, text
    for check in ("no third-party resource", "security headers", "TLS 1.2 and 1.3 only", "page /en/privacy.html"):
        assert check in text
    assert "organization file valid" in text and "service file ethercalc valid" in text
    assert "an archive younger than 48 h" in text and "log retention set" in text
    assert "**FAIL**" not in text


def test_audit_fails_when_a_third_party_resource_is_injected(host, audit_inventory, tmp_path):
    with injected(host, f"{WEBROOT}/index.html"):
        result = run_audit(host, audit_inventory, tmp_path / "audit.md")
    text = (tmp_path / "audit.md").read_text(encoding="utf-8")
    assert result.exit_code == 1, text
    assert "https://cdn.example.org/analytics.js" in text
    failed = [line for line in text.splitlines() if "**FAIL**" in line]
    assert len(failed) == 1 and "no third-party resource" in failed[0], failed


def test_audit_fails_without_backup_timer(host, audit_inventory, tmp_path):
    host.run("systemctl disable --now chaton-backup.timer")
    try:
        result = run_audit(host, audit_inventory, tmp_path / "audit.md")
    finally:
        host.run("systemctl enable --now chaton-backup.timer")
    assert result.exit_code == 1
    assert "| **FAIL** | backups | backups scheduled |" in (tmp_path / "audit.md").read_text(encoding="utf-8")
