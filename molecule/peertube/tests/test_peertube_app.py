"""PeerTube itself, driven as a user through the HTTPS proxy (needs the release in the mirror).

Tests run in file order and share the video the upload test makes; the last one backs the host up with
`chaton backup`, deletes the video through the API and brings it back with `chaton restore --service peertube`.
"""

import base64
import json
import os
import re
import time
from pathlib import Path

import pytest
from conftest import APP_AVAILABLE, VERSION

from chaton.testing import (
    chaton_command,
    pebble_root,
    peertube_upload,
    peertube_wait_published,
    restart_instance,
    secret,
)
from chaton.testing import peertube_get as get
from chaton.testing import peertube_get_json as get_json
from chaton.testing import peertube_hls_segment as hls_segment
from chaton.testing import peertube_login as login
from chaton.testing import peertube_wait_up as wait_up

if not APP_AVAILABLE:
    pytest.skip("PeerTube release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)

DOMAIN = "tube.chaton.test"
BASE = f"https://{DOMAIN}"
# Docker rewrites /etc/hosts when the instance restarts: name the address here.
RESOLVE = f"{DOMAIN}:443:127.0.0.1"
TOP = "/var/www/peertube"
CLIP = "/root/chaton-clip.mp4"
RSS = "/usr/local/bin/chaton-test-rss"
PEAK = "/root/chaton-rss-peak.json"
STATE = {}


@pytest.fixture(scope="module")
def root(host):
    return pebble_root(host)


def status(host, root, path, *args):
    return get(host, root, path, *args, "-o", "/dev/null", "-w", "%{http_code}")


def rss_tree(host):
    """Resident memory (kB) of PeerTube's processes: the Node process and its ffmpeg children."""
    return json.loads(host.check_output(f"{RSS} peertube.service --once"))


def rss_main(host):
    pid = host.check_output("systemctl show -p MainPID --value peertube")
    return int(host.check_output(f"awk '/^VmRSS/ {{print $2}}' /proc/{pid}/status"))


@pytest.fixture(scope="module")
def sampler(host):
    """The /proc sampler (molecule/peertube/files/rss_sampler.py) on the instance: a test tool, not the role's."""
    script = (Path(__file__).parents[1] / "files" / "rss_sampler.py").read_bytes()
    put = host.run(f"echo %s | base64 -d > {RSS} && chmod 0755 {RSS}", base64.b64encode(script).decode())
    assert put.rc == 0, put.stderr
    return RSS


@pytest.fixture(scope="module")
def token(host, root):
    wait_up(host, root)
    answer = login(host, root, secret("peertube_root_password"))
    assert "access_token" in answer, answer
    return answer["access_token"]


def test_config_names_the_instance_and_the_pinned_version(host, root):
    wait_up(host, root)
    config = get_json(host, root, "/api/v1/config")
    assert config["instance"]["name"] == "Framatube de test"
    assert config["serverVersion"] == VERSION
    assert config["signup"]["allowed"] is True and config["signup"]["requiresApproval"] is True
    assert config["live"]["enabled"] is True


def test_root_logs_in_with_the_generated_password_and_not_another(host, root, token):
    me = get_json(host, root, "/api/v1/users/me", "-H", f"Authorization: Bearer {token}")
    assert me["username"] == "root" and me["email"] == "admin@chaton.test"
    refused = login(host, root, "not-the-password")
    assert "access_token" not in refused


def test_root_password_is_in_no_log_and_no_file_on_the_host(host):
    password = secret("peertube_root_password")
    assert not host.file("/run/peertube-first-start.env").exists
    for command in (
        "journalctl --no-pager -u peertube",
        f"cat {TOP}/storage/logs/*.log",
        f"grep -r . {TOP}/config /etc/systemd/system/peertube.service",
    ):
        out = host.run(command)
        assert out.stdout, command
        assert password not in out.stdout, command
    assert "User password" not in host.run("journalctl --no-pager -u peertube").stdout


def test_an_uploaded_video_is_transcoded_and_played_as_hls_through_nginx(host, root, token, sampler):
    made = host.run(
        f"ffmpeg -loglevel error -y -f lavfi -i testsrc=duration=5:size=640x360:rate=25"
        f" -f lavfi -i sine=duration=5 -c:v libx264 -c:a aac {CLIP}"
    )
    assert made.rc == 0, made.stderr
    idle = rss_tree(host)
    print(f"idle RSS: PeerTube process {rss_main(host) // 1024} MB, its processes {idle['kb'] // 1024} MB")
    # Peak resident memory of the unit's processes (Node + ffmpeg) from upload to published, sampled from /proc.
    started = host.run(f"systemd-run --unit chaton-test-rss --collect {sampler} peertube.service {PEAK} 0.25")
    assert started.rc == 0, started.stderr
    try:
        start = time.monotonic()
        uuid = peertube_upload(host, root, token, CLIP, "Mire de test")
        STATE["uuid"] = uuid
        peertube_wait_published(host, root, uuid)
        print(f"upload to published: {time.monotonic() - start:.1f} s")
    finally:
        host.run("systemctl stop chaton-test-rss")
    peak = json.loads(host.file(PEAK).content_string)
    names = sorted({name for name, _ in peak["peak_procs"]})
    print(
        f"peak RSS while transcoding: {peak['peak_kb'] // 1024} MB ({', '.join(names)}; {peak['samples']} samples,"
        f" up to {peak['ffmpeg_max']} ffmpeg at once)"
    )
    assert peak["samples"] > 3 and peak["peak_kb"] >= idle["kb"] // 2
    time.sleep(3)  # the master playlist is rewritten once the last resolution is in
    video = get_json(host, root, f"/api/v1/videos/{uuid}")
    assert {f["resolution"]["id"] for f in video["streamingPlaylists"][0]["files"]} == {360}
    segment = hls_segment(host, root, video)
    # nginx (www-data) reads the files PeerTube wrote: it serves them itself.
    on_disk = f"{TOP}/storage{segment.removeprefix('/static')}"
    assert host.run("runuser -u www-data -- test -r %s", on_disk).rc == 0, on_disk


@pytest.fixture(scope="module")
def chromium(host):
    """Debian's Chromium in the instance: a test tool the scenario installs, never the role."""
    if host.run("command -v chromium").rc != 0:
        installed = host.run("DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium")
        assert installed.rc == 0, installed.stderr[-2000:]
    return "chromium"


def rendered_dom(host, chromium, url):
    profile = host.check_output("mktemp -d /var/tmp/chaton-chromium-XXXXXX")
    try:
        result = host.run(
            f"timeout 180 {chromium} --headless --no-sandbox --disable-gpu --disable-background-networking"
            " --disable-component-update --disable-sync --no-first-run --ignore-certificate-errors"
            f" --host-resolver-rules='MAP {DOMAIN} 127.0.0.1' --user-data-dir={profile}"
            f" --virtual-time-budget=30000 --dump-dom {url}"
        )
    finally:
        host.run(f"rm -rf {profile}")
    assert result.rc == 0, result.stderr[-2000:]
    return result.stdout


def test_web_client_renders_in_a_real_browser(host, root, chromium):
    """The Angular client boots: the DOM after JavaScript holds what only it produces."""
    served = get(host, root, "/")
    assert re.search(r"<my-app>\s*</my-app>", served), "the served page is the empty client shell"
    dom = rendered_dom(host, chromium, f"{BASE}/")
    app = dom[dom.index("<my-app") :]
    # Angular filled <my-app> with its components, and the header's title carries the instance's name from
    # /api/v1/config (the served shell names it only in <title> and meta tags, outside <my-app>).
    assert re.search(r"<my-app[^>]*>\s*<", app), app[:500]
    assert "<my-header" in app or "<my-menu" in app, app[:2000]
    assert re.search(r'class="[^"]*instance-name[^"]*"[^>]*>\s*Framatube de test\s*<', app), app[:3000]


def test_video_survives_a_service_restart(host, root):
    assert host.run("systemctl restart peertube").rc == 0
    wait_up(host, root)
    listed = get_json(host, root, "/api/v1/videos?count=50&sort=-publishedAt")
    assert STATE["uuid"] in [video["uuid"] for video in listed["data"]], listed
    video = get_json(host, root, f"/api/v1/videos/{STATE['uuid']}")
    assert video["name"] == "Mire de test" and video["state"]["id"] == 1
    hls_segment(host, root, video)


@pytest.mark.parametrize(
    "place",
    [
        # Where PeerTube keeps a private video's HLS files: its own check answers.
        "private/5a1d6c2e-0b7f-4c3e-9d8a-2f6b1e4c7a90/chaton-probe.m3u8",
        # The private folder itself: PeerTube 8 would serve it; the proxy does not.
        "private/chaton-probe.m3u8",
    ],
)
def test_private_files_are_not_served(host, root, place):
    probe = f"{TOP}/storage/streaming-playlists/hls/{place}"
    made = host.run(
        "runuser -u peertube -- sh -c %s", f"mkdir -p {probe.rsplit('/', 1)[0]} && echo secret-probe > {probe}"
    )
    assert made.rc == 0, made.stderr
    try:
        assert status(host, root, f"/static/streaming-playlists/hls/{place}") in ("401", "403", "404")
        assert "secret-probe" not in get(host, root, f"/static/streaming-playlists/hls/{place}")
    finally:
        host.run(f"rm -f {probe}")


def test_configuration_is_not_served(host, root):
    for path in (
        "/config/production.yaml",
        "/storage/logs/peertube.log",
        "/static/../config/production.yaml",
        "/peertube-latest/config/default.yaml",
    ):
        assert secret("peertube_db_password") not in get(host, root, path), path


def test_peertube_listens_on_loopback_and_rtmp_only(host):
    listening = host.check_output("ss -Hltn 'sport = :9000'")
    assert listening and all(line.split()[3] == "127.0.0.1:9000" for line in listening.splitlines())
    assert host.check_output("ss -Hltn 'sport = :1935'")


def test_code_is_read_only_to_the_service(host):
    release = f"{TOP}/versions/peertube-v{VERSION}"
    assert host.file(f"{TOP}/peertube-latest").linked_to == release
    for path in (release, f"{release}/dist", f"{release}/node_modules", f"{TOP}/config/production.yaml"):
        assert host.run(f"runuser -u peertube -- test -w {path}").rc != 0, f"{path} is writable by peertube"
    assert host.run(f"runuser -u peertube -- test -w {TOP}/storage").rc == 0
    # It may add local-production.json beside production.yaml, not replace ours (sticky bit).
    moved = host.run(f"runuser -u peertube -- mv {TOP}/config/production.yaml {TOP}/config/moved.yaml")
    assert moved.rc != 0 and host.file(f"{TOP}/config/production.yaml").exists


def test_native_module_was_built_or_fetched_for_this_node(host):
    release = f"{TOP}/versions/peertube-v{VERSION}"
    # bcrypt 5 (PeerTube <= 7.x) builds or fetches lib/binding/; bcrypt 6 (8.x) ships N-API prebuilds in its
    # npm package.
    found = host.run(
        f"ls {release}/node_modules/bcrypt/lib/binding/*/bcrypt_lib.node "
        f"|| ls {release}/node_modules/bcrypt/prebuilds/linux-x64/bcrypt.glibc.node"
    )
    assert found.rc == 0, found.stderr
    unit = host.file("/etc/systemd/system/peertube.service").content_string
    node = re.search(r"^ExecStart=(\S+/node) ", unit, re.M).group(1)
    check = host.run(f"cd {release} && {node} -e \"require('bcrypt').hash('x', 4).then(h => console.log(h.length))\"")
    assert check.stdout.strip() == "60", check.stderr


def test_installed_with_the_pnpm_the_release_names_without_optional_packages(host):
    release = f"{TOP}/versions/peertube-v{VERSION}"
    declared = json.loads(host.file(f"{release}/package.json").content_string)["packageManager"]
    version = declared.split("@", 1)[1].split("+", 1)[0]
    wrapper = host.file("/var/lib/peertube-build/bin/pnpm").content_string
    assert f"bin=/opt/pnpm/versions/{version}/bin" in wrapper
    assert host.file(f"/opt/pnpm/versions/{version}/package.json").exists
    # The optional WebTorrent stack (node-datachannel needs github.com) is left out.
    assert host.file(f"{release}/node_modules/.pnpm").is_directory
    assert host.check_output(f"find {release}/node_modules/.pnpm -maxdepth 1 -name 'node-datachannel@*'") == ""


def test_unit_exposure_is_at_most_2(host):
    out = host.check_output("systemd-analyze security --no-pager peertube.service")
    exposure = float(out.rsplit("Overall exposure level for peertube.service: ", 1)[1].split()[0])
    print(f"exposure: {exposure}")
    assert exposure <= 2.0


def test_idle_memory_is_reported(host, sampler):
    rss_kb = rss_main(host)
    print(f"PeerTube RSS: {rss_kb // 1024} MB (its processes: {rss_tree(host)['kb'] // 1024} MB)")
    assert rss_kb < 700 * 1024


def test_video_survives_an_instance_restart(host, root):
    restart_instance(host)
    assert host.service("peertube").is_running
    wait_up(host, root)
    video = get_json(host, root, f"/api/v1/videos/{STATE['uuid']}")
    assert video["name"] == "Mire de test" and video["state"]["id"] == 1
    master_path = video["streamingPlaylists"][0]["playlistUrl"].removeprefix(BASE)
    assert get(host, root, master_path).startswith("#EXTM3U")


BORG = "BORG_PASSCOMMAND='cat /etc/chaton/backup/passphrase' borg"
REPOSITORY = "/var/backups/chaton/borg"


def test_a_deleted_video_comes_back_with_chaton_restore(host, root, token):
    """The volunteer's commands: back up, lose the video, restore PeerTube from the last archive."""
    assert "uuid" in STATE, "needs the uploaded video"
    uuid = STATE["uuid"]
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    output, backup_seconds = chaton_command("backup", inventory)
    assert "peertube (local repository):" in output, output
    archive = host.check_output(f"{BORG} list --short --glob-archives 'peertube-*' {REPOSITORY}").split()[-1]
    contents = host.check_output(f"{BORG} list --short {REPOSITORY}::{archive}").splitlines()
    # The database dump, the configuration and the video's HLS files (borgmatic 1.7 and 1.9 place dumps apart).
    assert any(line.endswith("/peertube_prod") and "postgresql_databases" in line for line in contents), archive
    assert any(line.endswith(f"{TOP.lstrip('/')}/config/production.yaml") for line in contents), archive
    assert any(f"streaming-playlists/hls/{uuid}/" in line and line.endswith(".m3u8") for line in contents), archive
    stats = json.loads(host.check_output(f"{BORG} info --json {REPOSITORY}::{archive}"))["archives"][0]["stats"]

    auth = f"Authorization: Bearer {token}"
    assert status(host, root, f"/api/v1/videos/{uuid}", "-X", "DELETE", "-H", auth) == "204"
    assert status(host, root, f"/api/v1/videos/{uuid}") == "404"
    hls = f"{TOP}/storage/streaming-playlists/hls/{uuid}"
    deadline = time.time() + 120
    while host.file(hls).exists and time.time() < deadline:
        time.sleep(2)
    assert not host.file(hls).exists, f"PeerTube kept {hls} after deleting the video"

    output, restore_seconds = chaton_command("restore", inventory, "--service", "peertube")
    assert f"peertube restored from {archive} (local repository)" in output, output
    wait_up(host, root)
    video = get_json(host, root, f"/api/v1/videos/{uuid}")
    assert video["name"] == "Mire de test" and video["state"]["id"] == 1, video
    hls_segment(host, root, video)
    print(
        f"backup (chaton backup, every service of the host): {backup_seconds:.0f} s; restore of peertube:"
        f" {restore_seconds:.0f} s; archive {archive}: {stats['original_size'] / 1e6:.1f} MB of files,"
        f" {stats['compressed_size'] / 1e6:.1f} MB compressed, {stats['deduplicated_size'] / 1e6:.1f} MB new"
    )
