"""`chaton migrate` of a PeerTube account with PeerTube's own user export and import.

The source is the deployed PeerTube itself, reached over HTTPS by its name as another chaton host would be. An
account moved within one instance keeps its channels' names, which that instance already holds: PeerTube's
importer skips such a channel and its videos, and the row says so (the whole export → download → upload →
import chain runs). The archive of that run, taken from the source, then goes into a third account once its
channel is gone from the source, as a volunteer would import an archive a person gave them: the video comes over
and plays.
"""

import json
import os
import re
import secrets
import shlex
import time
from pathlib import Path

import pytest
from conftest import APP_AVAILABLE

from chaton.migrate import paths
from chaton.testing import chaton_run, host_trusts_itself, peertube_wait_published, saved_pebble_root, secret
from chaton.testing import peertube_get as get
from chaton.testing import peertube_get_json as get_json
from chaton.testing import peertube_hls_segment as hls_segment
from chaton.testing import peertube_login as login
from chaton.testing import peertube_wait_up as wait_up

if not APP_AVAILABLE:
    pytest.skip("PeerTube release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)

BASE = "https://tube.chaton.test"
CLIP = "/root/chaton-migrate-clip.mp4"
STAMP = str(int(time.time()))[-6:]
ALICE, BOB, CAROL = f"alice{STAMP}", f"bob{STAMP}", f"carol{STAMP}"
CHANNEL = f"moving_{STAMP}"


@pytest.fixture(scope="module")
def root(host):
    # The app tests restarted the instance: the root that signed nginx's certificates is the saved one.
    return saved_pebble_root(host)


def auth(token: str) -> list[str]:
    return ["-H", f"Authorization: Bearer {token}"]


def post_json(host, root, path: str, token: str, body: dict) -> dict:
    return get_json(host, root, path, *auth(token), "-H", "Content-Type: application/json", "--data", json.dumps(body))


@pytest.fixture(scope="module")
def accounts(host, root):
    """Alice (on the source) with a video in a channel of her own, published; Bob and Carol, empty."""
    wait_up(host, root)
    admin = login(host, root, secret("peertube_root_password"))["access_token"]
    password = secrets.token_urlsafe(12)
    for name in (ALICE, BOB, CAROL):
        made = post_json(
            host,
            root,
            "/api/v1/users",
            admin,
            {
                "username": name,
                "password": password,
                "email": f"{name}@example.net",
                "role": 2,
                "videoQuota": -1,
                "videoQuotaDaily": -1,
            },
        )
        assert "user" in made, made
    alice = login(host, root, password, username=ALICE)["access_token"]
    channel = post_json(host, root, "/api/v1/video-channels", alice, {"name": CHANNEL, "displayName": "Déménagement"})
    assert "videoChannel" in channel, channel
    made = host.run(
        f"ffmpeg -loglevel error -y -f lavfi -i testsrc=duration=4:size=320x240:rate=25"
        f" -f lavfi -i sine=duration=4 -c:v libx264 -c:a aac {CLIP}"
    )
    assert made.rc == 0, made.stderr
    fields = {
        "videofile": f"@{CLIP}",
        "channelId": channel["videoChannel"]["id"],
        "name": "Vidéo qui déménage",
        "privacy": 1,
        "description": "Elle part avec son compte",
    }
    args = [a for key, value in fields.items() for a in ("-F", f"{key}={value}")]
    upload = get_json(host, root, "/api/v1/videos/upload", *auth(alice), *args, "--max-time", "300")
    assert "video" in upload, upload
    peertube_wait_published(host, root, upload["video"]["uuid"])
    return {"admin": admin, "alice": alice, "password": password}


def inventory() -> str:
    return os.environ["MOLECULE_INVENTORY_FILE"]


def files(host) -> dict[str, Path]:
    return paths(Path(inventory()).parent, host.backend.get_hostname())


def migrate(host, tmp_path, source: str, *options: str) -> tuple[int, str, dict]:
    code, output, seconds = chaton_run("migrate", inventory(), "--from", source, *options, timeout=1200)
    print(f"chaton migrate: {seconds:.0f} s")
    rows = json.loads(files(host)["state"].read_text())["rows"] if files(host)["state"].is_file() else {}
    return code, output, rows


def test_an_account_goes_through_export_and_import_and_a_skipped_channel_is_reported(host, root, accounts, tmp_path):
    secret_file = tmp_path / "passwords.txt"
    secret_file.write_text(f"{ALICE} {accounts['password']}\n", encoding="utf-8")
    with host_trusts_itself(host, root, "tube.chaton.test"):
        code, output, rows = migrate(
            host, tmp_path, f"{BASE}/a/{ALICE}", "--peertube-account", BOB, "--peertube-password-file", str(secret_file)
        )
    row = rows[f"{BASE}/a/{ALICE}"]
    assert code == 1 and row["status"] == "failed", output
    assert "imported 0 of the archive's 1 video(s)" in row["detail"], row
    # The archive came from the source with the video file in it.
    assert row["bytes"] > int(host.check_output(f"stat -c %s {CLIP}")), row
    assert accounts["password"] not in output and accounts["password"] not in files(host)["state"].read_text()
    # The archive was made on the source: it is there for the next test.
    exports = get_json(host, root, "/api/v1/users/me", *auth(accounts["alice"]))
    listed = get_json(host, root, f"/api/v1/users/{exports['id']}/exports", *auth(accounts["alice"]))
    assert [e["state"]["id"] for e in listed["data"]] == [3], listed


@pytest.fixture(scope="module")
def archive(host, root, accounts, tmp_path_factory):
    """Alice's archive as she would download it from the source, on the controller; then her channel goes."""
    me = get_json(host, root, "/api/v1/users/me", *auth(accounts["alice"]))
    listed = get_json(host, root, f"/api/v1/users/{me['id']}/exports", *auth(accounts["alice"]))
    url = listed["data"][-1]["privateDownloadUrl"].removeprefix(BASE)
    on_host = f"/root/{ALICE}-archive.zip"
    got = get(host, root, url, "-o", on_host, "-w", "%{http_code}")
    assert got == "200", got
    local = tmp_path_factory.mktemp("archive") / f"{ALICE}.zip"
    local.write_bytes(host.file(on_host).content)
    deleted = get(
        host, root, f"/api/v1/video-channels/{CHANNEL}", *auth(accounts["alice"]), "-X", "DELETE", "-w", "%{http_code}"
    )
    assert deleted == "204", deleted
    return local


def test_an_archive_file_comes_into_the_named_account_and_its_video_plays(host, root, accounts, archive, tmp_path):
    code, output, rows = migrate(host, tmp_path, str(archive), "--peertube-account", CAROL)
    row = rows[str(archive.resolve())]
    assert code == 0 and row["status"] == "imported", output
    assert row["address"] == f"{BASE}/a/{CAROL}" and "1 video(s)" in row["detail"], row
    videos = get_json(host, root, f"/api/v1/accounts/{CAROL}/videos?include=1", *auth(accounts["admin"]))
    assert [v["name"] for v in videos["data"]] == ["Vidéo qui déménage"], videos
    video = peertube_wait_published(host, root, videos["data"][0]["uuid"])
    assert video["channel"]["name"] == CHANNEL and video["description"] == "Elle part avec son compte"
    assert re.fullmatch(r"/static/streaming-playlists/hls/.+\.(ts|mp4)", hls_segment(host, root, video))


def test_a_second_run_imports_no_account_twice(host, root, accounts, archive, tmp_path):
    code, output, rows = migrate(host, tmp_path, str(archive), "--peertube-account", CAROL)
    assert code == 0 and re.search(r"\b1 skipped\b", output), output
    files(host)["state"].unlink()
    code, output, rows = migrate(host, tmp_path, str(archive), "--peertube-account", CAROL)
    assert code == 0 and rows[str(archive.resolve())]["status"] == "already there", output
    videos = get_json(host, root, f"/api/v1/accounts/{CAROL}/videos?include=1", *auth(accounts["admin"]))
    assert videos["total"] == 1, videos
    host.run(f"rm -f {shlex.quote(CLIP)} /root/{ALICE}-archive.zip")
