"""`chaton migrate` from an Etherpad as its users know it (upstream's defaults) to the host, history included.

The source runs inside the instance: the installed Etherpad tree started a second time as a transient unit, with
upstream's settings.json.template (its `dirty` database, in a directory of its own) on port 9011, and the API
key authentication of upstream's AUTHENTICATION_METHOD variable so that the test can write pads through the API.
"""

import json
import os
import re
import shlex
import urllib.parse
from pathlib import Path

import pytest
from conftest import APP_AVAILABLE

from chaton.migrate import paths
from chaton.testing import chaton_run

if not APP_AVAILABLE:
    pytest.skip("etherpad release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)

SOURCE_DIR = "/var/lib/chaton-migrate-source"
SOURCE = "http://127.0.0.1:9011"
UNIT = "chaton-migrate-source"
PAD, TAKEN = "migrate-notes", "migrate-taken"
INVENTORY_API_KEY = "molecule-inventory-api-key-4d9b2e61f0c84a7e"
HOST_API = "http://127.0.0.1:9001/api/1.2.13"


class Source:
    """The source Etherpad's HTTP API (its latest version), on loopback inside the instance."""

    def __init__(self, host):
        self.host = host
        self.key = host.check_output(f"cat {SOURCE_DIR}/APIKEY.txt")
        self.version = json.loads(host.check_output(f"curl -fsS {SOURCE}/api"))["currentVersion"]

    def api(self, method: str, **params) -> dict:
        query = urllib.parse.urlencode({"apikey": self.key, **params})
        answer = json.loads(
            self.host.check_output(f"curl -fsS -m 30 {shlex.quote(f'{SOURCE}/api/{self.version}/{method}?{query}')}")
        )
        assert answer["code"] == 0, (method, answer)
        return answer["data"] or {}


@pytest.fixture(scope="module")
def source(host):
    node = host.check_output("sed -n 's/^ExecStart=\\([^ ]*\\) .*/\\1/p' /etc/systemd/system/etherpad.service")
    start = f"""set -e
        systemctl stop {UNIT} 2>/dev/null || true
        systemctl reset-failed {UNIT} 2>/dev/null || true
        rm -rf {SOURCE_DIR}
        install -d -o etherpad -g etherpad -m 0700 {SOURCE_DIR}
        sed -e 's/^  "port": 9001,/  "port": 9011,/' \\
          -e 's|"filename": "var/dirty.db"|"filename": "{SOURCE_DIR}/dirty.db"|' \\
          /opt/etherpad/current/settings.json.template > {SOURCE_DIR}/settings.json
        grep -q '"port": 9011,' {SOURCE_DIR}/settings.json
        head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {SOURCE_DIR}/APIKEY.txt
        chown etherpad:etherpad {SOURCE_DIR}/settings.json {SOURCE_DIR}/APIKEY.txt
        chmod 0600 {SOURCE_DIR}/settings.json {SOURCE_DIR}/APIKEY.txt
        systemd-run --unit={UNIT} --uid=etherpad --gid=etherpad --working-directory=/opt/etherpad/current/src \\
          -E NODE_ENV=production -E AUTHENTICATION_METHOD=apikey {node} --require tsx/cjs node/server.ts \\
          --settings {SOURCE_DIR}/settings.json --apikey {SOURCE_DIR}/APIKEY.txt
        for i in $(seq 90); do curl -fsS {SOURCE}/health 2>/dev/null | grep -q pass && exit 0; sleep 1; done
        journalctl -u {UNIT} --no-pager -n 40; exit 1
    """
    started = host.run(start)
    assert started.rc == 0, started.stdout[-3000:] + started.stderr[-2000:]
    yield Source(host)
    host.run(f"systemctl stop {UNIT}; rm -rf {SOURCE_DIR}")


def host_api(host, method, **params):
    """The host's Etherpad API on its loopback port (version 1.2.13, that of Etherpad 1.8, has the chat calls).

    Not through the proxy: the app module restarts the instance, which gives pebble a new root.
    """
    query = urllib.parse.urlencode({"apikey": INVENTORY_API_KEY, **params})
    answer = json.loads(host.check_output(f"curl -fsS -m 30 {shlex.quote(f'{HOST_API}/{method}?{query}')}"))
    assert answer["code"] == 0, (method, answer)
    return answer["data"] or {}


def host_api_answer(host, method, **params) -> dict:
    query = urllib.parse.urlencode({"apikey": INVENTORY_API_KEY, **params})
    return json.loads(host.check_output(f"curl -fsS -m 30 {shlex.quote(f'{HOST_API}/{method}?{query}')}"))


def inventory() -> str:
    return os.environ["MOLECULE_INVENTORY_FILE"]


def state_file(host) -> Path:
    return paths(Path(inventory()).parent, host.backend.get_hostname())["state"]


def migrate(host, tmp_path, *addresses, force=False) -> tuple[int, str, dict]:
    listing = tmp_path / "addresses.txt"
    listing.write_text("Nos pads :\n" + "\n".join(addresses) + "\n", encoding="utf-8")
    args = ["migrate", inventory(), "--from", str(listing), *(["--force"] if force else [])]
    code, output, seconds = chaton_run(*args)
    print(f"chaton migrate: {seconds:.0f} s")
    rows = json.loads(state_file(host).read_text())["rows"] if state_file(host).is_file() else {}
    return code, output, rows


@pytest.fixture(scope="module")
def pads(host, source):
    """A pad written by two authors over seven revisions with a chat message; another name the host already uses."""
    state_file(host).unlink(missing_ok=True)
    alice = source.api("createAuthor", name="Alice")["authorID"]
    bob = source.api("createAuthor", name="Bob")["authorID"]
    source.api("createPad", padID=PAD, text="Ordre du jour\n", authorId=alice)
    for n in range(1, 7):
        source.api("appendText", padID=PAD, text=f"point {n} é\n", authorId=alice if n % 2 else bob)
    source.api("appendChatMessage", padID=PAD, text="On commence ?", authorID=bob)
    source.api("createPad", padID=TAKEN, text="Texte de la source\n")
    for pad in (PAD, TAKEN):  # left by an earlier run on a kept instance
        host_api_answer(host, "deletePad", padID=pad)
    host_api(host, "createPad", padID=TAKEN, text="Texte déjà sur l'hôte\n")
    host_api(host, "setText", padID=TAKEN, text="Texte déjà sur l'hôte, modifié\n")
    readonly = source.api("getReadOnlyID", padID=PAD)["readOnlyID"]
    return {"readonly": readonly, "authors": sorted([alice, bob])}


def test_migrate_brings_a_pad_with_its_history_and_reports_each_address(host, source, pads, tmp_path):
    for path in paths(Path(inventory()).parent, host.backend.get_hostname()).values():
        path.unlink(missing_ok=True)
    code, output, rows = migrate(
        host,
        tmp_path,
        f"{SOURCE}/p/{PAD}",
        f"{SOURCE}/p/{TAKEN}",
        f"{SOURCE}/p/{pads['readonly']}",
        f"{SOURCE}/p/no-such-pad",
        "http://127.0.0.1:9/p/unreachable",
        "https://framadate.org/AbCdEfGhIjKlMnOp",
    )
    assert code == 1, output  # some addresses were not imported
    status = {src: row["status"] for src, row in rows.items()}
    assert status == {
        f"{SOURCE}/p/{PAD}": "imported",
        f"{SOURCE}/p/{TAKEN}": "refused",
        f"{SOURCE}/p/{pads['readonly']}": "imported",
        f"{SOURCE}/p/no-such-pad": "failed",
        "http://127.0.0.1:9/p/unreachable": "failed",
        "https://framadate.org/AbCdEfGhIjKlMnOp": "not supported",
    }, output
    assert "404" in rows[f"{SOURCE}/p/no-such-pad"]["detail"]
    assert "unreachable" in rows["http://127.0.0.1:9/p/unreachable"]["detail"]
    assert "--force" in rows[f"{SOURCE}/p/{TAKEN}"]["detail"]
    assert rows[f"{SOURCE}/p/{PAD}"]["address"] == f"https://pad.chaton.test/p/{PAD}"
    assert rows[f"{SOURCE}/p/{PAD}"]["bytes"] > 1000
    # The API keys never appear.
    assert INVENTORY_API_KEY not in output and source.key not in output
    # Text, every revision, a revision in the middle, authors and chat, as the source has them.
    assert host_api(host, "getText", padID=PAD) == source.api("getText", padID=PAD)
    revisions = source.api("getRevisionsCount", padID=PAD)["revisions"]
    assert revisions == 6
    assert host_api(host, "getRevisionsCount", padID=PAD)["revisions"] == revisions
    assert host_api(host, "getText", padID=PAD, rev=3) == source.api("getText", padID=PAD, rev=3)
    assert host_api(host, "getText", padID=PAD, rev=3)["text"].startswith("Ordre du jour\npoint 1 é\n")
    assert sorted(host_api(host, "listAuthorsOfPad", padID=PAD)["authorIDs"]) == pads["authors"]
    chat = source.api("getChatHistory", padID=PAD)["messages"]
    assert [m["text"] for m in host_api(host, "getChatHistory", padID=PAD)["messages"]] == ["On commence ?"]
    assert [m["text"] for m in chat] == ["On commence ?"]
    # The pad already on the host is left as it was.
    assert host_api(host, "getText", padID=TAKEN)["text"] == "Texte déjà sur l'hôte, modifié\n"
    # A read-only address: the same history under a new name, and the host's read-only address of it.
    readonly_row = rows[f"{SOURCE}/p/{pads['readonly']}"]
    assert re.fullmatch(r"https://pad\.chaton\.test/p/r\.[0-9a-f]+", readonly_row["address"]), readonly_row
    assert host_api(host, "getText", padID=readonly_row["name"]) == source.api("getText", padID=PAD)
    # The mapping a host sends its users.
    mapping = json.loads((paths(Path(inventory()).parent, host.backend.get_hostname())["json"]).read_text())
    assert {"old": f"{SOURCE}/p/{PAD}", "new": f"https://pad.chaton.test/p/{PAD}", "service": "etherpad"} in mapping
    assert all(m["old"] != f"{SOURCE}/p/{TAKEN}" for m in mapping)


def test_a_second_run_imports_nothing_twice(host, source, pads, tmp_path):
    code, output, rows = migrate(host, tmp_path, f"{SOURCE}/p/{PAD}")
    assert code == 0, output
    assert re.search(r"\b1 skipped\b", output), output
    assert "migrating to" not in output, "nothing to send to the host: no playbook run"
    assert host_api(host, "getRevisionsCount", padID=PAD)["revisions"] == 6
    # Without the state file (lost, or another controller), the host's content is recognised: nothing imported.
    state_file(host).unlink()
    code, output, rows = migrate(host, tmp_path, f"{SOURCE}/p/{PAD}")
    assert code == 0, output
    assert rows[f"{SOURCE}/p/{PAD}"]["status"] == "already there", output
    assert host_api(host, "getRevisionsCount", padID=PAD)["revisions"] == 6


def test_force_replaces_a_pad_the_host_already_has(host, source, pads, tmp_path):
    code, output, rows = migrate(host, tmp_path, f"{SOURCE}/p/{TAKEN}", force=True)
    assert code == 0, output
    assert rows[f"{SOURCE}/p/{TAKEN}"]["status"] == "imported", output
    assert host_api(host, "getText", padID=TAKEN) == source.api("getText", padID=TAKEN)
    assert host_api(host, "getRevisionsCount", padID=TAKEN) == source.api("getRevisionsCount", padID=TAKEN)
