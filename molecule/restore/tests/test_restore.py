"""A service restored onto a new host from the remote repository, its data read back through its API.

Tests run in file order and share the data made by the first one: make data, back up (chaton backup), destroy
the host, create, prepare and converge a new one, restore (chaton restore), read every item back.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import pytest

from chaton.testing import (
    curl,
    ethercalc_cell,
    ethercalc_make_sheet,
    ethercalc_wait,
    molecule_env,
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
STATE: dict = {}


def figures(line: str) -> None:
    """Measured figures, kept for the maintainer's note (and shown in the verifier's output)."""
    with (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "restore-figures.txt").open("a") as out:
        out.write(line + "\n")
    warnings.warn(f"FIGURES {line}", stacklevel=1)


def chaton(*args: str) -> tuple[str, float]:
    """The volunteer's command against the scenario's inventory; its output and wall time."""
    exe = shutil.which("chaton") or shutil.which("chaton", path=str(Path(sys.executable).parent))
    assert exe, "the chaton command is not installed"
    env = {**molecule_env(), "COLUMNS": "400"}  # one line per message, however long
    start = time.monotonic()
    proc = subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=False, timeout=1200)
    elapsed = time.monotonic() - start
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"chaton {' '.join(args)} failed:\n{out[-6000:]}"
    return out, elapsed


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


def test_backup_reaches_the_remote_repository(host):
    output, elapsed = chaton("backup", inventory())
    assert "ethercalc (remote repository):" in output, output
    archives = host.run(f"{BORG_ENV} borg list --short --glob-archives 'ethercalc-*' {REMOTE}")
    assert archives.rc == 0, archives.stderr
    archive = archives.stdout.split()[-1]
    contents = host.check_output(f"{BORG_ENV} borg list --short {REMOTE}::{archive}")
    assert "var/lib/redis/ethercalc/dump.rdb" in contents, "the Redis snapshot made by SAVE is archived"
    assert "etc/ethercalc/ethercalc.env" in contents
    stats = json.loads(host.check_output(f"{BORG_ENV} borg info --json {REMOTE}::{archive}"))["archives"][0]["stats"]
    STATE.update(archive=archive, backup=elapsed, stats=stats)


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
    assert local.rc == 0 and "ethercalc-" not in local.stdout, "the new host's own repository is empty"
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
    output, elapsed = chaton("restore", inventory(), "--service", "ethercalc")
    assert f"ethercalc restored from {STATE['archive']} (remote repository)" in output, output
    STATE["restore"] = elapsed


def test_every_item_reads_back_through_the_apis(host):
    assert "restore" in STATE, "needs the restore"
    root = pebble_root(host)  # the new host's ACME server has a root of its own
    ethercalc_wait(host)
    assert read_back(host) == EXPECTED
    public = curl(host, f"https://calc.chaton.test/{SHEET}.csv", cacert=root)
    assert public.stdout.splitlines()[1].startswith("pads,3,2,6"), (public.stdout, public.stderr)
    assert host.service("ethercalc").is_running and host.service("redis-server@ethercalc").is_running
    stats = STATE["stats"]
    figures(
        f"Debian {os.environ.get('CHATON_DEBIAN', '12')}: chaton backup {STATE['backup']:.1f} s, "
        f"chaton restore {STATE['restore']:.1f} s (wall time, remote repository over SSH); "
        f"archive {STATE['archive']}: original {stats['original_size']} B, compressed {stats['compressed_size']} B, "
        f"deduplicated {stats['deduplicated_size']} B; new host: create {STATE['create']:.1f} s, "
        f"prepare {STATE['prepare']:.1f} s, converge {STATE['converge']:.1f} s"
    )
