"""Videos on S3-compatible object storage, against a real S3 server (Ceph's RADOS Gateway, prepare.yml).

Runs after the application tests (file order) and before the removal: the volunteer switches
peertube_object_storage_enabled on and deploys again; a new video's files go to the bucket, nginx serves them at
https://tube.chaton.test/object-storage/ and the player's requests (playlist, variant, a range of a segment) work.
"""

import re
import time

import pytest
from conftest import APP_AVAILABLE

from chaton.testing import (
    changed_tasks,
    converge,
    converge_refused,
    peertube_upload,
    peertube_wait_published,
    run_playbook_check,
    saved_pebble_root,
    secret,
)
from chaton.testing import peertube_get as get
from chaton.testing import peertube_get_json as get_json
from chaton.testing import peertube_hls_segment as hls_segment
from chaton.testing import peertube_login as login
from chaton.testing import peertube_wait_up as wait_up

if not APP_AVAILABLE:
    pytest.skip("PeerTube release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)

ON = ["-e", "peertube_object_storage_enabled=true"]
TOP = "/var/www/peertube"
CLIP = "/root/chaton-clip.mp4"
BASE = "https://tube.chaton.test"
STATE = {}


@pytest.fixture(scope="module")
def root(host):
    # The root that signed nginx's certificate, saved before test_peertube_app.py restarted the instance (the
    # ACME server makes a new root at each start).
    return saved_pebble_root(host)


@pytest.fixture(scope="module")
def store(host):
    """The store's settings from the scenario's inventory; its names resolved again (a restart resets /etc/hosts)."""
    s3 = host.ansible.get_variables()["molecule_peertube_s3"]
    names = f"{s3['domain']} {s3['bucket']}.{s3['domain']}"
    if host.run(f"getent hosts {s3['bucket']}.{s3['domain']}").rc != 0:
        assert host.run(f"echo '127.0.0.1 {names}' >> /etc/hosts").rc == 0
    return s3


def signed(host, store, query=""):
    """A request to the bucket signed with the store's keys (what an S3 client sends); its body."""
    url = f"http://{store['bucket']}.{store['domain']}:{store['port']}/{query}"
    result = host.run(
        "curl -sS --fail-with-body --aws-sigv4 aws:amz:us-east-1:s3 --user %s %s",
        f"{store['access_key']}:{store['secret_key']}",
        url,
    )
    assert result.rc == 0, result.stdout + result.stderr
    return result.stdout


def test_a_bucket_the_store_does_not_hold_is_refused_before_any_change(host, store):
    missing = "chaton-no-such-bucket"
    name = f"{missing}.{store['domain']}"
    assert host.run(f"echo '127.0.0.1 {name}' >> /etc/hosts").rc == 0
    before = host.check_output(f"sha256sum {TOP}/config/production.yaml")
    out = converge_refused(*ON, "-e", f"peertube_object_storage_bucket={missing}", only="peertube")
    said = " ".join(out.split())  # the message as one line, however Ansible wrapped it
    assert f"http://{name}:{store['port']}/ answers 404: create the bucket {missing} at the store" in said, out[-3000:]
    assert host.check_output(f"sha256sum {TOP}/config/production.yaml") == before
    assert "object_storage" not in host.file(f"{TOP}/config/production.yaml").content_string


def test_switching_object_storage_on_converges_and_check_mode_stays_clean(host, store):
    converge(*ON, only="peertube")
    config = host.file(f"{TOP}/config/production.yaml").content_string
    assert "object_storage:\n  enabled: true" in config
    assert 'base_url: "https://tube.chaton.test/object-storage"' in config
    assert "location /object-storage/" in host.check_output("nginx -T 2>/dev/null")
    output, recap = run_playbook_check(extra=ON, only="peertube")
    assert all(r["changed"] == 0 for r in recap.values()), changed_tasks(output)


def test_a_new_video_goes_to_the_bucket_and_plays_through_nginx(host, root, store):
    wait_up(host, root)
    token = login(host, root, secret("peertube_root_password"))["access_token"]
    uuid = peertube_upload(host, root, token, CLIP, "Mire dans le seau")
    STATE["uuid"] = uuid
    STATE["token"] = token
    video = peertube_wait_published(host, root, uuid)
    playlist = video["streamingPlaylists"][0]["playlistUrl"]
    assert playlist.startswith(f"{BASE}/object-storage/streaming-playlists/hls/{uuid}/"), playlist
    # The player's requests, through nginx and the store: master playlist, variant, a range of a segment.
    segment = hls_segment(host, root, video)
    assert segment.startswith("/object-storage/streaming-playlists/hls/")
    listing = signed(host, store, f"?list-type=2&prefix=streaming-playlists/hls/{uuid}/")
    keys = re.findall(r"<Key>([^<]+)</Key>", listing)
    assert any(k.endswith(".m3u8") for k in keys) and any(k.endswith(".mp4") for k in keys), keys
    assert not host.file(f"{TOP}/storage/streaming-playlists/hls/{uuid}").exists, "moved off the host's disk"
    assert get_json(host, root, f"/api/v1/videos/{uuid}")["state"]["id"] == 1


def test_the_store_refuses_what_it_holds_without_a_key_except_public_files(host, store):
    assert "uuid" in STATE, "needs the uploaded video"
    listing = signed(host, store, f"?list-type=2&prefix=streaming-playlists/hls/{STATE['uuid']}/")
    key = next(k for k in re.findall(r"<Key>([^<]+)</Key>", listing) if k.endswith(".m3u8"))
    base = f"http://{store['bucket']}.{store['domain']}:{store['port']}"
    code = "-o /dev/null -w '%{http_code}'"
    assert host.check_output(f"curl -sS {code} {base}/{key}") == "200", "a public video's file is public-read"
    assert host.check_output(f"curl -sS {code} '{base}/?list-type=2'") == "403", "the bucket is not listed"


def test_a_private_video_is_refused_by_the_store_and_served_by_peertube_to_its_owner(host, root, store):
    """Made private, the video's objects get a private ACL: the store and nginx's /object-storage/ refuse them,
    PeerTube's own proxy serves them to the owner only."""
    assert "uuid" in STATE, "needs the uploaded video"
    uuid, auth = STATE["uuid"], f"Authorization: Bearer {STATE['token']}"
    code = ["-o", "/dev/null", "-w", "%{http_code}"]
    assert get(host, root, f"/api/v1/videos/{uuid}", "-X", "PUT", "-H", auth, "-F", "privacy=3", *code) == "204"
    listing = signed(host, store, f"?list-type=2&prefix=streaming-playlists/hls/{uuid}/")
    key = next(k for k in re.findall(r"<Key>([^<]+)</Key>", listing) if k.endswith("master.m3u8"))
    public = f"http://{store['bucket']}.{store['domain']}:{store['port']}/{key}"
    deadline = time.time() + 120
    while host.check_output(f"curl -sS -o /dev/null -w '%{{http_code}}' {public}") != "403":
        assert time.time() < deadline, "the object is still public two minutes after the video went private"
        time.sleep(2)
    assert get(host, root, "/object-storage/" + key, *code) == "403", "nginx passes the store's refusal on"
    video = get_json(host, root, f"/api/v1/videos/{uuid}", "-H", auth)
    playlist = video["streamingPlaylists"][0]["playlistUrl"]
    assert playlist.startswith(f"{BASE}/object-storage-proxy/streaming-playlists/hls/private/{uuid}/"), playlist
    path = playlist.removeprefix(BASE)
    assert get(host, root, path, *code) in ("401", "403"), "no one else reads a private video's files"
    assert get(host, root, path, "-H", auth).startswith("#EXTM3U"), "its owner does, through PeerTube"
