"""An upgrade of the real app: sheets made on EtherCalc 0.20170704.0 are read back on 0.20200127.0.

The converge deployed the previous release; the upgrade is what `chaton deploy --only ethercalc` runs with the pin
moved: playbooks/service.yml with `-e chaton_only=ethercalc`.

First an upgrade that fails: the pin moves to 0.20200127.0 with a health check no answer passes
(ethercalc_health_expect, a real setting) -- the new release really runs, really answers and really fails the
check -- and the role goes back to 0.20170704.0 and its data, and says so. Then the same upgrade with the real
check, which succeeds.
"""

import json
import os
import re
import time
import uuid
from pathlib import Path

from chaton.testing import curl, pebble_root, run_playbook

OLD, NEW = "0.20170704.0", "0.20200127.0"
APP = "http://127.0.0.1:8000"
RUN = uuid.uuid4().hex[:8]
SHEETS = {f"up{RUN}a": "a,b\n1,2\n3,4\n", f"up{RUN}b": "x\n42\n"}
# No answer of EtherCalc contains this: the health check of the new release fails.
NEVER = "chaton-not-in-any-answer"
REPO = "/var/backups/chaton/borg"
BORG_ENV = "BORG_PASSCOMMAND='cat /etc/chaton/backup/passphrase'"

# What `chaton deploy --only <service>` runs: the service alone, then the portal.
SERVICE_PLAYBOOK = "playbooks/service.yml"


def figures(line: str) -> None:
    """Measured figures, kept for the maintainer's note (.cache/figures/, not committed)."""
    out = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / ".cache" / "figures" / "upgrade.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(f"{time.strftime('%F %T')} debian{os.environ.get('CHATON_DEBIAN', '12')} {line}\n")


def upgrade_through_the_block(host, service: str, old: str, new: str, extra: list[str], what: str = "") -> str:
    """Move a service's pin (`chaton deploy --only <service>`) and check the upgrade block's report.

    The run must say the backup came first, name the pre-upgrade archive, and that archive must be in the local
    repository. `old`/`new` are the version directories the block compares. Return the archive's name.
    """
    output, elapsed = run_playbook(SERVICE_PLAYBOOK, ["-e", f"chaton_only={service}", *extra])
    figures(f"upgrade {service} {old} -> {new} (service.yml, chaton_only={service}{what}): {elapsed:.0f} s")
    flat = " ".join(output.split())
    assert f"Upgrading {service} from {old} to {new}: backup first." in flat
    done = rf"{service} upgraded from {re.escape(old)} to {re.escape(new)} \(pre-upgrade archive ({service}-\S+)\)"
    archive = re.search(done, flat)
    assert archive, output[-3000:]
    archives = host.check_output(f"{BORG_ENV} borg list --short --glob-archives '{service}-*' {REPO}").split()
    assert archive[1] in archives
    return archive[1]


def app(host, path, *args):
    return curl(host, f"{APP}{path}", *args)


def command(host, sheet, text):
    """A SocialCalc command through the REST API, from the server itself."""
    return app(host, f"/_/{sheet}", "-X", "POST", "-H", "Content-Type: text/plain", "--data-binary", text)


def csv(host, sheet):
    return app(host, f"/{sheet}.csv").stdout


def edit(host, sheet, text, shows):
    """Send a SocialCalc command and wait (10 s at most) for the sheet's CSV to show its result; return the CSV."""
    post = command(host, sheet, text)
    assert post.rc == 0, post.stderr
    for _ in range(20):
        if shows in csv(host, sheet):
            break
        time.sleep(0.5)
    return csv(host, sheet)


def started(host):
    """The running EtherCalc process and when it started (the process' own files are not readable, even to root)."""
    out = host.check_output("systemctl show -p MainPID -p ExecMainStartTimestampMonotonic ethercalc")
    return dict(line.split("=", 1) for line in out.splitlines())


def test_previous_release_runs(host):
    assert host.file("/opt/ethercalc/current").linked_to == f"/opt/ethercalc/versions/{OLD}"
    assert host.service("ethercalc").is_running
    assert not host.file(f"/opt/ethercalc/versions/{NEW}").exists


def test_sheets_are_made_on_the_previous_release(host):
    for sheet, body in SHEETS.items():
        put = app(host, f"/_/{sheet}", "-X", "PUT", "-H", "Content-Type: text/csv", "--data-binary", body)
        assert put.rc == 0, put.stderr
    assert edit(host, f"up{RUN}a", "set C2 formula B2*2", "1,2,4").splitlines()[:3] == ["a,b,", "1,2,4", "3,4,"]
    assert csv(host, f"up{RUN}b").splitlines()[:2] == ["x", "42"]


def test_failed_upgrade_rolls_back_to_the_previous_release_and_its_data(host):
    before = {sheet: csv(host, sheet) for sheet in SHEETS}
    process = started(host)
    output, elapsed = run_playbook(
        SERVICE_PLAYBOOK,
        # 15 attempts 2 s apart instead of 60: the check cannot pass, no need to wait two minutes.
        [
            *["-e", "chaton_only=ethercalc", "-e", f"ethercalc_version={NEW}"],
            *["-e", f"ethercalc_health_expect={NEVER}", "-e", "upgrade_health_retries=15"],
        ],
        check=False,
    )
    figures(f"failed upgrade {OLD} -> {NEW} + rollback (service.yml, npm ci included): {elapsed:.0f} s")
    flat = " ".join(output.split())
    said = re.search(
        rf"upgrade of ethercalc from {OLD} to {NEW} failed its health check; rolled back to {OLD}, "
        r"data restored from archive (ethercalc-[0-9T:-]+)\. The previous version answers again\.",
        flat,
    )
    assert said, output[-4000:]
    assert re.search(r"failed=1\b", flat), "the run fails, so that nobody takes it for a success"
    archives = host.check_output(f"{BORG_ENV} borg list --short --glob-archives 'ethercalc-*' {REPO}").split()
    assert said[1] in archives
    # The data directory in use came out of the archive; the one the new release ran on is kept aside.
    assert host.file("/var/lib/redis/ethercalc.chaton-pre-restore").is_directory

    assert host.file("/opt/ethercalc/current").linked_to == f"/opt/ethercalc/versions/{OLD}"
    # Restarted after the link went back: the process runs the previous release's code.
    assert int(started(host)["ExecMainStartTimestampMonotonic"]) > int(process["ExecMainStartTimestampMonotonic"])
    assert host.service("ethercalc").is_running
    assert host.service("redis-server@ethercalc").is_running
    assert app(host, "/_exists/chaton-health-check").stdout.strip() == "false"
    assert {sheet: csv(host, sheet) for sheet in SHEETS} == before


def test_previous_release_still_edits_after_the_rollback(host):
    assert edit(host, f"up{RUN}b", "set B2 formula A2+1", "42,43").splitlines()[1] == "42,43"


def test_upgrade_backs_up_switches_and_keeps_the_sheets(host):
    before = {sheet: csv(host, sheet) for sheet in SHEETS}
    process = started(host)
    # The release the failed attempt built is still beside: this run checks it and switches.
    upgrade_through_the_block(host, "ethercalc", OLD, NEW, ["-e", f"ethercalc_version={NEW}"], ", after a failed one")

    assert host.file("/opt/ethercalc/current").linked_to == f"/opt/ethercalc/versions/{NEW}"
    # Restarted after the switch: the process runs the code the link points to.
    now = started(host)
    assert now["MainPID"] != process["MainPID"]
    assert int(now["ExecMainStartTimestampMonotonic"]) > int(process["ExecMainStartTimestampMonotonic"])
    assert host.file(f"/opt/ethercalc/versions/{OLD}").is_directory, "the previous release stays beside"
    assert {sheet: csv(host, sheet) for sheet in SHEETS} == before


def test_upgraded_release_edits_and_serves_through_https(host):
    sheet = f"up{RUN}a"
    assert edit(host, sheet, "set D2 formula C2+1", "1,2,4,5").splitlines()[1] == "1,2,4,5"
    cell = json.loads(app(host, f"/_/{sheet}/cells/C2").stdout)
    assert cell["formula"] == "B2*2"
    page = curl(host, f"https://calc.chaton.test/{sheet}", cacert=pebble_root(host))
    assert page.rc == 0, page.stderr
    assert "socialcalc" in page.stdout.lower()
