"""PeerTube itself, driven as a user through the HTTPS proxy (needs the release in the mirror)."""

import json
import os
import time
from pathlib import Path

import pytest
from conftest import APP_AVAILABLE, VERSION

from chaton.testing import curl, pebble_root, restart_instance

if not APP_AVAILABLE:
    pytest.skip("PeerTube release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)

DOMAIN = "tube.chaton.test"
BASE = f"https://{DOMAIN}"
# Docker rewrites /etc/hosts when the instance restarts: name the address here.
RESOLVE = f"{DOMAIN}:443:127.0.0.1"
TOP = "/var/www/peertube"
CLIP = "/root/chaton-clip.mp4"
STATE = {}


def secret(name: str) -> str:
    [path] = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]).glob(f"secrets/*/{name}")
    return path.read_text().split()[0]


@pytest.fixture(scope="module")
def root(host):
    return pebble_root(host)


def get(host, root, path, *args):
    result = curl(host, f"{BASE}{path}", "--resolve", RESOLVE, *args, cacert=root)
    assert result.rc == 0, result.stderr
    return result.stdout


def get_json(host, root, path, *args):
    return json.loads(get(host, root, path, *args))


def status(host, root, path, *args):
    return get(host, root, path, *args, "-o", "/dev/null", "-w", "%{http_code}")


def wait_up(host, root, seconds=180):
    deadline = time.time() + seconds
    while time.time() < deadline:
        result = curl(host, f"{BASE}/api/v1/ping", "--resolve", RESOLVE, cacert=root)
        if result.rc == 0 and result.stdout.strip() == "pong":
            return
        time.sleep(2)
    raise AssertionError(f"PeerTube did not come back: {result.stdout} {result.stderr}")


def login(host, root, password):
    client = get_json(host, root, "/api/v1/oauth-clients/local")
    form = {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "grant_type": "password",
        "response_type": "code",
        "username": "root",
        "password": password,
    }
    args = [a for key, value in form.items() for a in ("--data-urlencode", f"{key}={value}")]
    return get_json(host, root, "/api/v1/users/token", *args)


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


def test_an_uploaded_video_is_transcoded_and_played_as_hls_through_nginx(host, root, token):
    made = host.run(
        f"ffmpeg -loglevel error -y -f lavfi -i testsrc=duration=5:size=640x360:rate=25"
        f" -f lavfi -i sine=duration=5 -c:v libx264 -c:a aac {CLIP}"
    )
    assert made.rc == 0, made.stderr
    auth = f"Authorization: Bearer {token}"
    channel = get_json(host, root, "/api/v1/users/me", "-H", auth)["videoChannels"][0]["id"]
    start = time.monotonic()
    upload = get_json(
        host,
        root,
        "/api/v1/videos/upload",
        "-H",
        auth,
        "-F",
        f"videofile=@{CLIP}",
        "-F",
        f"channelId={channel}",
        "-F",
        "name=Mire de test",
        "-F",
        "privacy=1",
    )
    uuid = upload["video"]["uuid"]
    STATE["uuid"] = uuid
    deadline = time.time() + 600
    while time.time() < deadline:
        video = get_json(host, root, f"/api/v1/videos/{uuid}")
        playlists = video["streamingPlaylists"]
        if video["state"]["id"] == 1 and playlists and playlists[0]["files"]:
            break
        time.sleep(2)
    else:
        raise AssertionError(f"not published after 600 s: {video['state']}")
    print(f"upload to published: {time.monotonic() - start:.1f} s")
    time.sleep(3)  # the master playlist is rewritten once the last resolution is in
    playlist = get_json(host, root, f"/api/v1/videos/{uuid}")["streamingPlaylists"][0]
    assert {f["resolution"]["id"] for f in playlist["files"]} == {360}
    master_path = playlist["playlistUrl"].removeprefix(BASE)
    master = get(host, root, master_path)
    assert master.startswith("#EXTM3U"), master
    directory = master_path.rsplit("/", 1)[0]
    variant_name = next(line for line in master.splitlines() if line and not line.startswith("#"))
    variant = get(host, root, f"{directory}/{variant_name}")
    assert "#EXTINF" in variant or "#EXT-X-MAP" in variant, variant
    segment = next(line for line in variant.splitlines() if line and not line.startswith("#"))
    answer = get(
        host,
        root,
        f"{directory}/{segment}",
        "-H",
        "Range: bytes=0-1023",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
    )
    assert answer == "206 1024", answer
    # nginx (www-data) reads the files PeerTube wrote: it serves them itself.
    on_disk = f"{TOP}/storage{directory.removeprefix('/static')}/{segment}"
    assert host.run("runuser -u www-data -- test -r %s", on_disk).rc == 0, on_disk


def test_private_files_and_configuration_are_not_served(host, root):
    probe = f"{TOP}/storage/streaming-playlists/hls/private/chaton-probe.m3u8"
    made = host.run(
        "runuser -u peertube -- sh -c %s", f"mkdir -p {probe.rsplit('/', 1)[0]} && echo secret-probe > {probe}"
    )
    assert made.rc == 0, made.stderr
    assert status(host, root, "/static/streaming-playlists/hls/private/chaton-probe.m3u8") in ("401", "403", "404")
    assert "secret-probe" not in get(host, root, "/static/streaming-playlists/hls/private/chaton-probe.m3u8")
    host.run(f"rm -f {probe}")
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
    found = host.run(f"ls {release}/node_modules/bcrypt/lib/binding/*/bcrypt_lib.node")
    assert found.rc == 0, found.stderr
    check = host.run(f"cd {release} && node -e \"require('bcrypt').hash('x', 4).then(h => console.log(h.length))\"")
    assert check.stdout.strip() == "60", check.stderr


def test_unit_exposure_is_at_most_2(host):
    out = host.check_output("systemd-analyze security --no-pager peertube.service")
    exposure = float(out.rsplit("Overall exposure level for peertube.service: ", 1)[1].split()[0])
    print(f"exposure: {exposure}")
    assert exposure <= 2.0


def test_idle_memory_is_reported(host):
    pid = host.check_output("systemctl show -p MainPID --value peertube")
    rss_kb = int(host.check_output(f"awk '/^VmRSS/ {{print $2}}' /proc/{pid}/status"))
    print(f"PeerTube RSS: {rss_kb // 1024} MB")
    assert rss_kb < 700 * 1024


def test_video_survives_an_instance_restart(host, root):
    restart_instance(host)
    assert host.service("peertube").is_running
    wait_up(host, root)
    video = get_json(host, root, f"/api/v1/videos/{STATE['uuid']}")
    assert video["name"] == "Mire de test" and video["state"]["id"] == 1
    master_path = video["streamingPlaylists"][0]["playlistUrl"].removeprefix(BASE)
    assert get(host, root, master_path).startswith("#EXTM3U")
