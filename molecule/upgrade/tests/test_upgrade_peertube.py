"""An upgrade of the real PeerTube over a major: a video uploaded on 6.3.0 plays on 8.0.1 (needs both test builds).

The converge deployed 6.3.0 as hosts ran it (yarn, Debian's Node.js 20); the upgrade is what `chaton deploy --only
peertube` runs after the pin moved to 8.0.1: pnpm (the release's own), Node.js 24, PeerTube's database migrations
over 7.x, then upstream's one-off scripts of 7.2 and 8.0.
"""

import os
import re
from pathlib import Path

import pytest
from test_upgrade import SERVICE_PLAYBOOK, figures

from chaton.testing import (
    changed_tasks,
    pebble_root,
    peertube_get_json,
    peertube_hls_segment,
    peertube_login,
    peertube_upload,
    peertube_wait_published,
    peertube_wait_up,
    run_playbook,
    secret,
)

OLD, NEW = "6.3.0", "8.0.1"
MIRROR = os.environ.get("CHATON_ARTIFACT_MIRROR", "")
BUILDS = {v: f"test-builds/peertube-v{v}.tar.xz" for v in (OLD, NEW)}
if not (MIRROR and all((Path(MIRROR) / f).is_file() for f in BUILDS.values())):
    pytest.skip("PeerTube 6.3.0 and 8.0.1 not both in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)

# The test mirror's SHA256SUMS (molecule.yml: molecule_upgrade_peertube).
NEW_CHECKSUM = "sha256:f8d3b1e6597d59ffd1be270389b1a03dfea6d38d91c15f6f90920efefe9370c4"
TOP = "/var/www/peertube"
CLIP = "/root/chaton-upgrade-clip.mp4"
COMMENT = "Vue sur PeerTube 6.3.0, relue après la mise à jour."
# `chaton deploy --only peertube` (the converge's first play switched PeerTube on): the service is named again.
SETTINGS = {
    "chaton_only": "peertube",
    "peertube_enabled": "true",
    "peertube_version": NEW,
    "peertube_checksum": NEW_CHECKSUM,
    "peertube_mirror_path": BUILDS[NEW],
    "peertube_nodejs_major": "24",
}
UPGRADE = [arg for name, value in SETTINGS.items() for arg in ("-e", f"{name}={value}")]
STATE = {}


@pytest.fixture(scope="module")
def root(host):
    return pebble_root(host)


def token(host, root) -> str:
    answer = peertube_login(host, root, secret("peertube_root_password"))
    assert "access_token" in answer, answer
    return answer["access_token"]


def migration_version(host) -> int:
    query = 'SELECT "migrationVersion" FROM application'
    return int(host.check_output(f"runuser -u postgres -- psql -tAc '{query}' peertube_prod").strip())


def test_previous_release_runs_with_yarn_on_debian_node(host, root):
    peertube_wait_up(host, root)
    assert host.file(f"{TOP}/peertube-latest").linked_to == f"{TOP}/versions/peertube-v{OLD}"
    assert peertube_get_json(host, root, "/api/v1/config")["serverVersion"] == OLD
    assert host.file(f"{TOP}/versions/peertube-v{OLD}/yarn.lock").exists
    assert "/usr/bin/node" in host.check_output("systemctl show -p ExecStart --value peertube")


def test_a_video_and_a_comment_are_made_on_the_previous_release(host, root):
    made = host.run(
        f"ffmpeg -loglevel error -y -f lavfi -i testsrc=duration=4:size=640x360:rate=25"
        f" -f lavfi -i sine=duration=4 -c:v libx264 -c:a aac {CLIP}"
    )
    assert made.rc == 0, made.stderr
    bearer = token(host, root)
    uuid = peertube_upload(host, root, bearer, CLIP, "Mire avant la mise à jour")
    peertube_wait_published(host, root, uuid)
    thread = peertube_get_json(
        host,
        root,
        f"/api/v1/videos/{uuid}/comment-threads",
        *["-H", f"Authorization: Bearer {bearer}", "--data-urlencode", f"text={COMMENT}"],
    )
    assert thread["comment"]["text"] == COMMENT, thread
    STATE.update(uuid=uuid, migration=migration_version(host))


def test_upgrade_over_7x_switches_to_pnpm_and_node_24(host, root):
    output, elapsed = run_playbook(SERVICE_PLAYBOOK, UPGRADE)
    figures(f"upgrade peertube {OLD} -> {NEW} (service.yml, pnpm install included): {elapsed:.0f} s")
    assert re.search(r"failed=0\b", output), output[-3000:]
    assert "TASK [peertube : Ensure the production dependencies of PeerTube are installed - 8.0.1]" in output
    peertube_wait_up(host, root)
    assert host.file(f"{TOP}/peertube-latest").linked_to == f"{TOP}/versions/peertube-v{NEW}"
    assert peertube_get_json(host, root, "/api/v1/config")["serverVersion"] == NEW
    assert host.file(f"{TOP}/versions/peertube-v{NEW}/node_modules/.pnpm").is_directory
    assert host.file(f"{TOP}/versions/peertube-v{OLD}").is_directory, "the previous release stays beside"
    assert "/opt/nodejs/" in host.check_output("systemctl show -p ExecStart --value peertube")
    # PeerTube's own migrations ran over 7.x (6.3.0 stops at 865, 8.0.1 at 970).
    assert STATE["migration"] < migration_version(host) == 970
    # Upstream's one-off scripts of the steps passed, in order, once.
    for script in ("peertube-7.2.js", "peertube-8.0.js"):
        assert host.file(f"{TOP}/storage/.chaton-{script}.done").content_string.strip() == NEW


def test_the_video_and_its_comment_are_kept(host, root):
    uuid = STATE["uuid"]
    video = peertube_get_json(host, root, f"/api/v1/videos/{uuid}")
    assert video["state"]["id"] == 1 and video["name"] == "Mire avant la mise à jour"
    peertube_hls_segment(host, root, video)
    threads = peertube_get_json(host, root, f"/api/v1/videos/{uuid}/comment-threads")
    assert [t["text"] for t in threads["data"]] == [COMMENT]
    me = peertube_get_json(host, root, "/api/v1/users/me", "-H", f"Authorization: Bearer {token(host, root)}")
    assert me["username"] == "root"


def test_the_upgraded_host_converges_with_nothing_to_change(host):
    output, _ = run_playbook(SERVICE_PLAYBOOK, UPGRADE)
    assert changed_tasks(output) == [], changed_tasks(output)
