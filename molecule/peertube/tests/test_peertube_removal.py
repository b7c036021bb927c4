"""Last: peertube_enabled false removes PeerTube cleanly and keeps the videos (runs after every other test)."""

import pytest
from conftest import APP_AVAILABLE

from chaton.testing import converge

if not APP_AVAILABLE:
    pytest.skip("PeerTube release not in CHATON_ARTIFACT_MIRROR (see converge)", allow_module_level=True)

TOP = "/var/www/peertube"


def test_disabling_removes_peertube_and_keeps_the_videos(host):
    converge("-e", "peertube_enabled=false", only="peertube")
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
