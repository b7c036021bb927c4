"""An upgrade of the real Etherpad: a pad made on 3.2.0 is read back on 3.3.1 (needs both releases in the mirror).

The converge deployed 3.2.0 (with the ueberdb2 patch release the npm registry serves when it lacks the one the
release's lockfile pins: see converge.yml); the upgrade is what `chaton deploy --only etherpad` runs after the pin
moved.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from test_upgrade import upgrade_through_the_block

from chaton.testing import curl, pebble_root

OLD, NEW = "3.2.0", "3.3.1"
MIRROR = os.environ.get("CHATON_ARTIFACT_MIRROR", "")
FILES = [f"github.com/ether/etherpad/archive/refs/tags/v{v}.tar.gz" for v in (OLD, NEW)]
if not (MIRROR and all((Path(MIRROR) / f).is_file() for f in FILES)):
    pytest.skip("Etherpad 3.2.0 and 3.3.1 not both in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)


PAD = "chaton-upgrade-pad"
TEXT = "Écrit sur Etherpad 3.2.0, relu après la mise à jour.\n"
APP = "http://127.0.0.1:9001"


def api(host, method, **params):
    key = host.check_output("cat /etc/etherpad/APIKEY.txt").strip()
    query = urllib.parse.urlencode({"apikey": key, **params})
    result = curl(host, f"{APP}/api/1/{method}?{query}")
    assert result.rc == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["code"] == 0, answer
    return answer["data"]


def health(host):
    return json.loads(curl(host, f"{APP}/health").stdout)


def main_pid(host):
    return host.check_output("systemctl show -p MainPID --value etherpad")


def test_previous_release_runs_a_pad(host):
    assert host.file("/opt/etherpad/current").linked_to == f"/opt/etherpad/versions/{OLD}"
    assert health(host) == {"status": "pass", "releaseId": OLD}
    api(host, "createPad", padID=PAD)
    api(host, "setText", padID=PAD, text=TEXT)
    assert api(host, "getText", padID=PAD)["text"] == TEXT


def test_upgrade_backs_up_switches_and_keeps_the_pad(host):
    before = main_pid(host)
    extra = ["-e", "etherpad_enabled=true", "-e", f"etherpad_version={NEW}"]
    upgrade_through_the_block(host, "etherpad", OLD, NEW, extra, ", pnpm install included")

    assert host.file("/opt/etherpad/current").linked_to == f"/opt/etherpad/versions/{NEW}"
    assert host.file(f"/opt/etherpad/versions/{OLD}").is_directory, "the previous release stays beside"
    assert main_pid(host) != before, "restarted on the new release"
    assert health(host) == {"status": "pass", "releaseId": NEW}
    assert api(host, "getText", padID=PAD)["text"] == TEXT


def test_upgraded_release_edits_and_exports_through_https(host):
    text = TEXT + "Ligne ajoutée sur 3.3.1.\n"
    api(host, "setText", padID=PAD, text=text)
    export = curl(host, f"https://pad.chaton.test/p/{PAD}/export/txt", cacert=pebble_root(host))
    assert export.rc == 0, export.stderr
    assert export.stdout.startswith(text), export.stdout
