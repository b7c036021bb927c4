"""The artifact building block: pinned, checksummed, from a mirror, versioned, idempotent."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import ansible_runner
import pytest
from conftest import ansible_env

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - ansible.builtin.include_role:
        name: artifact
      vars:
        artifact_service: demo
        artifact_version: "{{ version }}"
        artifact_url: "https://downloads.invalid/demo/{{ filename }}"
        artifact_checksum: "{{ checksum }}"
        artifact_dest: "{{ dest }}"
        artifact_mirror: "{{ mirror }}"
        artifact_owner: "{{ lookup('env', 'USER') | default('root', true) }}"
        artifact_group: "{{ lookup('pipe', 'id -gn') }}"
        artifact_cache_dir: "{{ cache }}"
"""


def make_tar(path: Path, version: str, algorithm: str = "sha256") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        data = f"demo {version}\n".encode()
        info = tarfile.TarInfo(f"demo-{version}/VERSION")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return f"{algorithm}:" + hashlib.new(algorithm, path.read_bytes()).hexdigest()


def make_zip(path: Path, version: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"demo-{version}/VERSION", f"demo {version}\n")
        archive.writestr(f"demo-{version}/lib/app.js", "console.log(1)\n")
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def run(tmp_path: Path, **extravars):
    playbook = tmp_path / "play.yml"
    text = PLAYBOOK
    if "mirror_path" in extravars:
        text += '        artifact_mirror_path: "{{ mirror_path }}"\n'
    playbook.write_text(text, encoding="utf-8")
    env = ansible_env()
    (tmp_path / "runner").mkdir(exist_ok=True)
    result = ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"),
        playbook=str(playbook),
        extravars={"cache": str(tmp_path / "cache"), **extravars},
        envvars={k: env[k] for k in ("ANSIBLE_ROLES_PATH", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_CONFIG", "PATH")},
        quiet=True,
    )
    output = result.stdout.read()
    return result, output


@pytest.fixture
def mirror(tmp_path):
    return tmp_path / "mirror"


def test_unpacks_version_and_switches_link(tmp_path, mirror):
    checksum = make_tar(mirror / "downloads.invalid" / "demo" / "demo-1.0.tar.gz", "1.0")
    dest = tmp_path / "opt" / "demo"
    result, output = run(
        tmp_path, version="1.0", filename="demo-1.0.tar.gz", checksum=checksum, dest=str(dest), mirror=str(mirror)
    )
    assert result.rc == 0, output[-3000:]
    assert (dest / "versions" / "1.0" / "VERSION").read_text() == "demo 1.0\n"
    assert (dest / "current").resolve() == (dest / "versions" / "1.0").resolve()

    # Second run: nothing to do.
    result, output = run(
        tmp_path, version="1.0", filename="demo-1.0.tar.gz", checksum=checksum, dest=str(dest), mirror=str(mirror)
    )
    assert result.rc == 0
    assert result.stats["changed"].get("localhost", 0) == 0, output[-3000:]

    # A new version lands beside the old one and the link follows it.
    checksum2 = make_tar(mirror / "downloads.invalid" / "demo" / "demo-2.0.tar.gz", "2.0")
    result, output = run(
        tmp_path, version="2.0", filename="demo-2.0.tar.gz", checksum=checksum2, dest=str(dest), mirror=str(mirror)
    )
    assert result.rc == 0, output[-3000:]
    assert (dest / "versions" / "1.0").is_dir()
    assert (dest / "current").resolve() == (dest / "versions" / "2.0").resolve()


def test_zip_top_directory_is_stripped(tmp_path, mirror):
    checksum = make_zip(mirror / "downloads.invalid" / "demo" / "demo-3.0.zip", "3.0")
    dest = tmp_path / "opt" / "demo"
    result, output = run(
        tmp_path, version="3.0", filename="demo-3.0.zip", checksum=checksum, dest=str(dest), mirror=str(mirror)
    )
    assert result.rc == 0, output[-3000:]
    assert (dest / "versions" / "3.0" / "lib" / "app.js").is_file()


def test_wrong_checksum_is_refused_with_a_way_out(tmp_path, mirror):
    actual = make_tar(mirror / "downloads.invalid" / "demo" / "demo-1.0.tar.gz", "1.0")
    dest = tmp_path / "opt" / "demo"
    result, output = run(
        tmp_path,
        version="1.0",
        filename="demo-1.0.tar.gz",
        checksum="sha256:" + "0" * 64,
        dest=str(dest),
        mirror=str(mirror),
    )
    assert result.rc != 0
    assert "Could not obtain the demo artifact demo-1.0.tar.gz" in output
    assert actual in output and "sha256:" + "0" * 64 in output
    assert "chaton_artifact_mirror" in output and "chaton mirror check" in output
    assert not (dest / "current").exists()
    assert not (dest / "versions" / "1.0").exists()


def test_truncated_file_is_never_unpacked_nor_kept(tmp_path, mirror):
    path = mirror / "downloads.invalid" / "demo" / "demo-1.0.tar.gz"
    checksum = make_tar(path, "1.0")
    path.write_bytes(path.read_bytes()[:40])
    dest = tmp_path / "opt" / "demo"
    result, output = run(
        tmp_path, version="1.0", filename="demo-1.0.tar.gz", checksum=checksum, dest=str(dest), mirror=str(mirror)
    )
    assert result.rc != 0
    actual = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"has checksum {actual}" in output and checksum in output
    assert "<mirror>/downloads.invalid/demo/demo-1.0.tar.gz" in output
    assert not (dest / "versions" / "1.0").exists()
    assert not (tmp_path / "cache" / "demo" / "demo-1.0.tar.gz").exists()


def test_sha512_pin_and_explicit_mirror_path(tmp_path, mirror):
    checksum = make_tar(mirror / "test-builds" / "demo-v4.0.tar.gz", "4.0", algorithm="sha512")
    dest = tmp_path / "opt" / "demo"
    result, output = run(
        tmp_path,
        version="4.0",
        filename="demo-4.0.tar.gz",
        checksum=checksum,
        dest=str(dest),
        mirror=str(mirror),
        mirror_path="test-builds/demo-v4.0.tar.gz",
    )
    assert result.rc == 0, output[-3000:]
    assert (dest / "versions" / "4.0" / "VERSION").read_text() == "demo 4.0\n"


def test_file_missing_from_a_partial_mirror_comes_from_upstream(tmp_path, mirror):
    (mirror / "github.com").mkdir(parents=True)
    result, output = run(
        tmp_path,
        version="9.9",
        filename="demo-9.9.tar.gz",
        checksum="sha256:" + "1" * 64,
        dest=str(tmp_path / "opt"),
        mirror=str(mirror),
    )
    assert result.rc != 0
    assert "from https://downloads.invalid/demo/demo-9.9.tar.gz" in output
    assert "<mirror>/downloads.invalid/demo/demo-9.9.tar.gz" in output


def test_http_mirror_is_asked_for_host_and_path(tmp_path):
    result, output = run(
        tmp_path,
        version="1.0",
        filename="demo-1.0.tar.gz",
        checksum="sha256:" + "3" * 64,
        dest=str(tmp_path / "opt"),
        mirror="http://mirror.invalid/chaton/",
    )
    assert result.rc != 0
    assert "from http://mirror.invalid/chaton/downloads.invalid/demo/demo-1.0.tar.gz" in output


def test_unreachable_upstream_names_the_url(tmp_path):
    result, output = run(
        tmp_path,
        version="1.0",
        filename="demo-1.0.tar.gz",
        checksum="sha256:" + "2" * 64,
        dest=str(tmp_path / "opt"),
        mirror="",
    )
    assert result.rc != 0
    assert "https://downloads.invalid/demo/demo-1.0.tar.gz" in output
    assert "CHATON_ARTIFACT_MIRROR" in output
