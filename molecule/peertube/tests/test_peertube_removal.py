"""Last: peertube_enabled false removes PeerTube cleanly and keeps the videos (runs after every other test)."""

import os
import subprocess
from pathlib import Path

import pytest
from conftest import APP_AVAILABLE

from chaton.testing import RECAP, molecule_env

if not APP_AVAILABLE:
    pytest.skip("PeerTube release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)

TOP = "/var/www/peertube"


def converge(*extra: str) -> str:
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    env = molecule_env()
    cfg = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ansible.cfg"
    if cfg.is_file():
        env["ANSIBLE_CONFIG"] = str(cfg)
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(scenario / "converge.yml"), *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and RECAP.search(out), out[-6000:]
    return out


def test_disabling_removes_peertube_and_keeps_the_videos(host):
    converge("-e", "peertube_enabled=false")
    assert not host.file("/etc/systemd/system/peertube.service").exists
    assert host.run("systemctl is-active peertube").stdout.strip() != "active"
    assert not host.file("/etc/nginx/sites-enabled/tube.chaton.test.conf").exists
    assert host.run("nginx -t").rc == 0
    assert not host.file("/etc/nftables.d/peertube.nft").exists
    assert "1935" not in host.check_output("nft list ruleset")
    assert not host.file(f"{TOP}/versions").exists and not host.file(f"{TOP}/peertube-latest").exists
    assert not host.file("/etc/redis/redis-peertube.conf").exists
    assert host.file("/var/lib/redis/peertube").is_directory
    assert host.file(f"{TOP}/config/production.yaml").exists
    assert host.run(f"find {TOP}/storage/streaming-playlists -name '*.m3u8' | grep -q .").rc == 0
    videos = host.check_output("runuser -u postgres -- psql -XAt -d peertube_prod -c 'SELECT count(*) FROM video'")
    assert int(videos) > 0, "the videos must survive the removal"
