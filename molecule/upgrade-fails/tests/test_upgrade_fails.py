"""A failed upgrade of the real app rolls back: the previous release runs again, with its sheets.

The converge deployed EtherCalc 0.20170704.0. The verifier moves the pin to 0.20200127.0 and sets the
health check's expected text (ethercalc_health_expect, a real setting) to one no answer contains: the new
release really runs, really answers, and really fails the check.
"""

import os
import re
import time
import uuid
from pathlib import Path

from chaton.testing import curl, run_playbook

OLD, NEW = "0.20170704.0", "0.20200127.0"
APP = "http://127.0.0.1:8000"
RUN = uuid.uuid4().hex[:8]
SHEETS = {f"keep{RUN}a": "a,b\n1,2\n3,4\n", f"keep{RUN}b": "x\n42\n"}
# No answer of EtherCalc contains this: the health check of the new release fails.
NEVER = "chaton-not-in-any-answer"
REPO = "/var/backups/chaton/borg"
BORG_ENV = "BORG_PASSCOMMAND='cat /etc/chaton/backup/passphrase'"


def figures(line: str) -> None:
    """Measured figures, kept for the maintainer's note (.cache/figures/, not committed)."""
    out = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / ".cache" / "figures" / "upgrade-fails.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(f"{time.strftime('%F %T')} debian{os.environ.get('CHATON_DEBIAN', '12')} {line}\n")


def app(host, path, *args):
    return curl(host, f"{APP}{path}", *args)


def command(host, sheet, text):
    """A SocialCalc command through the REST API, from the server itself."""
    return app(host, f"/_/{sheet}", "-X", "POST", "-H", "Content-Type: text/plain", "--data-binary", text)


def csv(host, sheet):
    return app(host, f"/{sheet}.csv").stdout


def started(host):
    """The running EtherCalc process and when it started (the process' own files are not readable, even to root)."""
    out = host.check_output("systemctl show -p MainPID -p ExecMainStartTimestampMonotonic ethercalc")
    return dict(line.split("=", 1) for line in out.splitlines())


def test_sheets_are_made_on_the_previous_release(host):
    assert host.file("/opt/ethercalc/current").linked_to == f"/opt/ethercalc/versions/{OLD}"
    for sheet, body in SHEETS.items():
        put = app(host, f"/_/{sheet}", "-X", "PUT", "-H", "Content-Type: text/csv", "--data-binary", body)
        assert put.rc == 0, put.stderr
    for _ in range(20):
        if all(csv(host, sheet).strip() for sheet in SHEETS):
            break
        time.sleep(0.5)
    assert csv(host, f"keep{RUN}a").splitlines()[:3] == ["a,b", "1,2", "3,4"]


def test_failed_health_check_rolls_back_to_the_previous_release_and_its_data(host):
    before = {sheet: csv(host, sheet) for sheet in SHEETS}
    process = started(host)
    output, elapsed = run_playbook(
        "site.yml",
        # 15 attempts 2 s apart instead of 60: the check cannot pass, no need to wait two minutes.
        [
            *["-e", "chaton_only=ethercalc", "-e", f"ethercalc_version={NEW}"],
            *["-e", f"ethercalc_health_expect={NEVER}", "-e", "upgrade_health_retries=15"],
        ],
        check=False,
    )
    figures(f"failed upgrade {OLD} -> {NEW} + rollback (site.yml, chaton_only=ethercalc): {elapsed:.0f} s")
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
    sheet = f"keep{RUN}a"
    post = command(host, f"{sheet}", "set C2 formula B2*2")
    assert post.rc == 0, post.stderr
    for _ in range(20):
        if "1,2,4" in csv(host, sheet):
            break
        time.sleep(0.5)
    assert csv(host, sheet).splitlines()[1] == "1,2,4"
