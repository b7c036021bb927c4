"""`chaton demo` pins PeerTube to a build of the mirror by the mirror's own SHA256SUMS line."""

import hashlib

import pytest

from chaton import demo


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    builds = tmp_path / "test-builds"
    builds.mkdir()
    lines = []
    for version in ("6.3.0", "8.0.1"):
        data = f"build {version}".encode()
        (builds / f"peertube-v{version}.tar.xz").write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  test-builds/peertube-v{version}.tar.xz")
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("CHATON_ARTIFACT_MIRROR", str(tmp_path))
    return tmp_path


def test_newest_test_build_by_default(mirror):
    build = demo.peertube_test_build()
    assert build == {
        "peertube_version": "8.0.1",
        "peertube_checksum": "sha256:" + hashlib.sha256(b"build 8.0.1").hexdigest(),
        "peertube_mirror_path": "test-builds/peertube-v8.0.1.tar.xz",
    }


def test_a_chosen_build(mirror):
    assert demo.peertube_test_build("test-builds/peertube-v6.3.0.tar.xz")["peertube_version"] == "6.3.0"
    assert demo.peertube_test_build("test-builds/peertube-v9.9.9.tar.xz") == {}


def test_no_build_when_listed_but_absent(mirror):
    (mirror / "test-builds" / "peertube-v8.0.1.tar.xz").unlink()
    assert demo.peertube_test_build() == {}


def test_no_mirror_no_build(monkeypatch):
    monkeypatch.delenv("CHATON_ARTIFACT_MIRROR", raising=False)
    assert demo.peertube_test_build() == {}
