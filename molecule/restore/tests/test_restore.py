"""Every service restored onto a new host from the remote repository, its data read back as its users read it.

Tests run in file order and share the data made by the first ones: make data (an EtherCalc sheet through its
API; when the mirror holds their releases, an Etherpad pad through its HTTP API and a Framadate poll with a vote
through its forms), back up (chaton backup), destroy the host, create, prepare and converge a new one (which has
none of the data), restore each service (chaton restore --service), read every item back.
"""

import json
import os
import subprocess
import uuid
import warnings
from pathlib import Path

import pytest

from chaton.migrate import paths
from chaton.testing import (
    chaton_command,
    chaton_run,
    curl,
    ethercalc_cell,
    ethercalc_make_sheet,
    ethercalc_wait,
    etherpad_api,
    etherpad_export_txt,
    etherpad_wait,
    framadate_create_and_vote,
    framadate_read_poll,
    host_trusts_itself,
    mirror_provides,
    pebble_root,
    recreate_instance,
    run_playbook,
)

# The CHATONS host only; the repository's server is checked through it.
testinfra_hosts = ["ansible://chaton"]

RUN = uuid.uuid4().hex[:8]
SHEET = f"restore{RUN}"
CSV = "item,qty,price\npads,3,2\nsheets,4,5\n"
FORMULAS = {"D2": "B2*C2", "D3": "B3*C3", "D4": "SUM(D2:D3)"}
REMOTE = "ssh://borg@backup.chaton.test/./chaton"
BORG_ENV = (
    "BORG_PASSCOMMAND='cat /etc/chaton/backup/passphrase' "
    "BORG_RSH='ssh -i /root/.ssh/chaton_backup_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=accept-new'"
)
# Etherpad and Framadate are converged only when the mirror holds their releases (the converge prints a
# SKIPPED line otherwise); EtherCalc always is.
SERVICES = ["ethercalc"] + [svc for svc in ("etherpad", "framadate") if mirror_provides(svc)]
needs_etherpad = pytest.mark.skipif("etherpad" not in SERVICES, reason="etherpad release not in the mirror")
needs_framadate = pytest.mark.skipif("framadate" not in SERVICES, reason="framadate release not in the mirror")
PAD = f"restore-{RUN}"
PAD_TEXT = f"Compte rendu {RUN}\nÉtape 1 : sauvegarder\nÉtape 2 : restaurer sur un hôte neuf"
POLL_TITLE = f"Restore poll {RUN}"
# What an archive of each service must hold (a path the archive lists).
ARCHIVED = {
    "ethercalc": ["var/lib/redis/ethercalc/dump.rdb", "etc/ethercalc/ethercalc.env"],
    "etherpad": ["etc/etherpad/settings.json", "etc/etherpad/APIKEY.txt", "postgresql_databases/127.0.0.1/etherpad"],
    "framadate": ["etc/framadate/config.php", "_databases/localhost/framadate"],
}
STATE: dict = {"archives": {}, "stats": {}, "restores": {}}


def figures(line: str) -> None:
    """Measured figures, kept for the maintainer's note (and shown in the verifier's output)."""
    with (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "restore-figures.txt").open("a") as out:
        out.write(line + "\n")
    warnings.warn(f"FIGURES {line}", stacklevel=1)


def inventory() -> str:
    return os.environ["MOLECULE_INVENTORY_FILE"]


def read_back(host) -> dict:
    """Every item made by the first test, as the API gives it now."""
    cells = {cell: ethercalc_cell(host, SHEET, cell, timeout=5) for cell in ("B2", *FORMULAS)}
    return {cell: (value.get("formula") or None, value.get("datavalue")) for cell, value in cells.items()}


EXPECTED = {"B2": (None, 3), "D2": ("B2*C2", 6), "D3": ("B3*C3", 20), "D4": ("SUM(D2:D3)", 26)}


@pytest.fixture(scope="module")
def root(host):
    return pebble_root(host)


def test_data_is_made_through_the_apis(host, root):
    ethercalc_make_sheet(host, SHEET, CSV, FORMULAS)
    assert ethercalc_cell(host, SHEET, "D4").get("datavalue") == 26
    assert read_back(host) == EXPECTED
    # A reader sees it through nginx and TLS.
    public = curl(host, f"https://calc.chaton.test/{SHEET}.csv", cacert=root)
    assert public.stdout.splitlines()[1].startswith("pads,3,2,6"), (public.stdout, public.stderr)


def apikey(host) -> str:
    """Etherpad's API key as the host has it (the same generated secret on the new host, and restored)."""
    return host.check_output("cat /etc/etherpad/APIKEY.txt").strip()


def read_pad(host, root) -> tuple[dict, str]:
    return etherpad_api(host, root, "getText", apikey(host), padID=PAD), etherpad_export_txt(host, root, PAD)


@needs_etherpad
def test_pad_is_made_through_the_http_api(host, root):
    etherpad_wait(host, root)
    created = etherpad_api(host, root, "createPad", apikey(host), padID=PAD, text=PAD_TEXT)
    assert created["code"] == 0, created
    got, export = read_pad(host, root)
    assert got["code"] == 0 and got["data"]["text"].rstrip("\n") == PAD_TEXT, got
    assert export == got["data"]["text"], export
    revisions = etherpad_api(host, root, "getRevisionsCount", apikey(host), padID=PAD)
    STATE.update(pad_text=got["data"]["text"], pad_revisions=revisions["data"]["revisions"])


@needs_framadate
def test_poll_is_made_and_voted_through_the_forms(host, root):
    poll = framadate_create_and_vote(host, root, "en", POLL_TITLE, f"alice-{RUN}@example.net")
    page, csv = framadate_read_poll(host, root, poll["poll_id"])
    assert POLL_TITLE in page and "Bob Voter" in page, page[-2000:]
    assert "Bob Voter" in csv and "Pizza" in csv and "Crêpes" in csv, csv
    STATE.update(poll=poll, poll_csv=csv)


def test_backup_reaches_the_remote_repository(host):
    output, elapsed = chaton_command("backup", inventory())
    for service in SERVICES:
        assert f"{service} (remote repository):" in output, output
        archives = host.run(f"{BORG_ENV} borg list --short --glob-archives '{service}-*' {REMOTE}")
        assert archives.rc == 0, archives.stderr
        archive = archives.stdout.split()[-1]
        contents = host.check_output(f"{BORG_ENV} borg list --short {REMOTE}::{archive}")
        for path in ARCHIVED[service]:
            # The database dumps' place differs between borgmatic 1.7 and 1.9: a suffix is enough.
            assert any(line.endswith(path) for line in contents.splitlines()), f"{archive} lacks {path}"
        info = json.loads(host.check_output(f"{BORG_ENV} borg info --json {REMOTE}::{archive}"))
        STATE["archives"][service] = archive
        STATE["stats"][service] = info["archives"][0]["stats"]
    STATE.update(archive=STATE["archives"]["ethercalc"], backup=elapsed)


def test_the_host_is_destroyed_and_a_new_one_converged(host):
    assert "archive" in STATE, "needs the backup"
    name = host.backend.get_hostname()
    create = recreate_instance(name)
    assert not host.file("/etc/chaton").exists, "the new instance starts empty"
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    _, prepare = run_playbook(str(scenario / "prepare.yml"))
    _, converge = run_playbook(str(scenario / "converge.yml"))
    ethercalc_wait(host)
    assert curl(host, f"http://127.0.0.1:8000/_exists/{SHEET}").stdout == "false", "the new host has no sheet yet"
    local = host.run(f"{BORG_ENV} borg list --short /var/backups/chaton/borg")
    assert local.rc == 0 and not any(f"{svc}-" in local.stdout for svc in SERVICES), (
        "the new host's own repository is empty"
    )
    root = pebble_root(host)  # the new host's ACME server has a root of its own
    if "etherpad" in SERVICES:
        etherpad_wait(host, root)
        missing = etherpad_api(host, root, "getText", apikey(host), padID=PAD)
        assert missing["code"] == 1 and "does not exist" in missing["message"], "the new host has no pad yet"
    if "framadate" in SERVICES:
        page, csv = framadate_read_poll(host, root, STATE["poll"]["poll_id"])
        assert POLL_TITLE not in page and "Bob Voter" not in csv, "the new host has no poll yet"
    STATE.update(create=create, prepare=prepare, converge=converge)


def test_restore_on_the_new_host_reads_the_remote_repository(host):
    assert "converge" in STATE, "needs the new host"
    # The worst case: the repository's own copy of its key is damaged too.
    # The restore must import the copy the controller keeps.
    server = host.backend.get_hostname().replace("-debian", "-borg-debian")
    blank_key = (
        "awk '/^key = /{print \"key = \"; skip=1; next} skip && /^[ \\t]/{next} {skip=0; print}' "
        "/srv/borg/chaton/config > /tmp/config && cat /tmp/config > /srv/borg/chaton/config"
    )
    damage = subprocess.run(["docker", "exec", server, "sh", "-c", blank_key], capture_output=True, text=True)
    assert damage.returncode == 0, damage.stderr
    unreadable = host.run(f"{BORG_ENV} borg list --short {REMOTE}")
    assert unreadable.rc != 0 and "No key entry" in unreadable.stderr, unreadable.stderr
    output, elapsed = chaton_command("restore", inventory(), "--service", "ethercalc")
    assert f"ethercalc restored from {STATE['archive']} (remote repository)" in output, output
    STATE["restores"]["ethercalc"] = elapsed


@pytest.mark.parametrize("service", ["etherpad", "framadate"])
def test_each_other_service_is_restored_from_the_remote_repository(host, service):
    if service not in SERVICES:
        pytest.skip(f"{service} release not in the mirror (see the converge's SKIPPED line)")
    assert "ethercalc" in STATE["restores"], "needs the first restore (it brings the repository's key back)"
    output, elapsed = chaton_command("restore", inventory(), "--service", service)
    assert f"{service} restored from {STATE['archives'][service]} (remote repository)" in output, output
    STATE["restores"][service] = elapsed


def test_every_item_reads_back_through_the_apis(host):
    assert "ethercalc" in STATE["restores"], "needs the restore"
    root = pebble_root(host)  # the new host's ACME server has a root of its own
    ethercalc_wait(host)
    assert read_back(host) == EXPECTED
    public = curl(host, f"https://calc.chaton.test/{SHEET}.csv", cacert=root)
    assert public.stdout.splitlines()[1].startswith("pads,3,2,6"), (public.stdout, public.stderr)
    assert host.service("ethercalc").is_running and host.service("redis-server@ethercalc").is_running
    STATE["ethercalc_read"] = True


@needs_etherpad
def test_the_pad_reads_back_through_the_api_and_its_export(host):
    assert "etherpad" in STATE["restores"], "needs the restore"
    root = pebble_root(host)
    etherpad_wait(host, root)
    got, export = read_pad(host, root)
    assert got["code"] == 0 and got["data"]["text"] == STATE["pad_text"], got
    assert export == STATE["pad_text"], export
    revisions = etherpad_api(host, root, "getRevisionsCount", apikey(host), padID=PAD)
    assert revisions["data"]["revisions"] == STATE["pad_revisions"], revisions
    assert host.service("etherpad").is_running


@needs_framadate
def test_the_poll_and_its_vote_read_back_on_the_page_and_in_csv(host):
    assert "framadate" in STATE["restores"], "needs the restore"
    root = pebble_root(host)
    page, csv = framadate_read_poll(host, root, STATE["poll"]["poll_id"])
    assert POLL_TITLE in page and "Bob Voter" in page, page[-2000:]
    assert csv == STATE["poll_csv"], (csv, STATE["poll_csv"])
    assert host.service("php-fpm-framadate").is_running


@pytest.mark.skipif(len(SERVICES) < 3, reason="needs Etherpad and Framadate too (their releases in the mirror)")
def test_the_whole_host_is_listed_and_moved(host, tmp_path):
    """`chaton migrate --from-host` lists every pad, sheet and poll of a chaton host on the host itself (Etherpad's
    listAllPads with its API key, EtherCalc's loopback-only room list, Framadate's poll table) and moves them. The
    source here is the restored host itself, reached over HTTPS as another host would reach it: the sheet is found
    already there, the pad keeps its text and revisions, the poll is copied under new addresses."""
    assert STATE.get("ethercalc_read"), "needs the restored data"
    root = pebble_root(host)
    with host_trusts_itself(host, root, ["pad.chaton.test", "calc.chaton.test", "date.chaton.test"]):
        code, output, seconds = chaton_run("migrate", inventory(), "--from-host", inventory())
    figures(f"chaton migrate --from-host (the whole restored host onto itself): {seconds:.1f} s")
    assert code == 0, output[-4000:]
    files = paths(Path(inventory()).parent, host.backend.get_hostname())
    listing = files["state"].with_name(f"listed-from-{host.backend.get_hostname()}.txt")
    listed = listing.read_text(encoding="utf-8").split()
    pad = f"https://pad.chaton.test/p/{PAD}"
    sheet = f"https://calc.chaton.test/{SHEET}"
    poll = f"https://date.chaton.test/{STATE['poll']['admin_id']}/admin"
    assert {pad, sheet, poll} <= set(listed), listed
    assert oct(listing.stat().st_mode & 0o777) == "0o600"  # poll admin addresses: the right to change them
    rows = json.loads(files["state"].read_text())["rows"]
    # The sheet is found as it is. The pad was made with its text in revision 0, which the import may replace
    # (nothing to lose): either way the same text, with the same revisions, is there.
    assert rows[sheet]["status"] == "already there", rows[sheet]
    assert rows[pad]["status"] in ("already there", "imported"), rows[pad]
    got, export = read_pad(host, root)
    assert got["data"]["text"] == STATE["pad_text"] and export == STATE["pad_text"], (got, export)
    assert (
        etherpad_api(host, root, "getRevisionsCount", apikey(host), padID=PAD)["data"]["revisions"]
        == (STATE["pad_revisions"])
    )
    assert rows[poll]["status"] == "imported", rows[poll]
    # The copy reads as the poll does: its choices and Bob's vote.
    _, copy_csv = framadate_read_poll(host, root, rows[poll]["public"].rsplit("/", 1)[-1])
    assert copy_csv == STATE["poll_csv"], (copy_csv, STATE["poll_csv"])


def test_report_the_figures():
    assert STATE["restores"], "needs the restores"
    release = os.environ.get("CHATON_DEBIAN", "12")
    figures(
        f"Debian {release}: chaton backup {STATE['backup']:.1f} s for {', '.join(SERVICES)} (wall time, local and "
        f"remote repositories); new host: create {STATE['create']:.1f} s, prepare {STATE['prepare']:.1f} s, "
        f"converge {STATE['converge']:.1f} s"
    )
    for service, elapsed in STATE["restores"].items():
        stats = STATE["stats"][service]
        figures(
            f"Debian {release}: {service}: chaton restore {elapsed:.1f} s (remote repository over SSH); archive "
            f"{STATE['archives'][service]}: original {stats['original_size']} B, compressed "
            f"{stats['compressed_size']} B, deduplicated {stats['deduplicated_size']} B"
        )
