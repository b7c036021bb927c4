"""Build local Debian systemd images with debootstrap and ``docker import``.

Images are never pulled: each one is built from Debian's archive on this machine
and tagged with a hash of its recipe, so a change of recipe rebuilds it and an
unchanged recipe reuses the cached image.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chaton.harness.docker import docker, ensure_packages, held

IMAGE_REPOSITORY = "chaton-test/debian"

# What a test instance needs to behave like a small rented server: systemd as
# PID 1, dbus (hostnamectl), Python for Ansible, sudo, CA certificates.
PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-apt",
    "sudo",
    "ca-certificates",
    "curl",
    "gnupg",
    "iproute2",
    "procps",
    "less",
    "locales",
]

# Units that make no sense in a container and slow its boot or fail.
MASKED_UNITS = [
    "getty@tty1.service",
    "console-getty.service",
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-remount-fs.service",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "systemd-firstboot.service",
]


@dataclass(frozen=True)
class Release:
    version: str  # "12"
    codename: str  # "bookworm"


RELEASES = {
    "12": Release("12", "bookworm"),
    "13": Release("13", "trixie"),
}

DEFAULT_MIRROR = os.environ.get("CHATON_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def recipe_hash(release: Release) -> str:
    """Hash of everything that shapes the image: a change rebuilds it."""
    recipe = {
        "release": release.codename,
        "packages": PACKAGES,
        "masked": MASKED_UNITS,
        # The build steps themselves, not the rest of this module (a change to the locking does not rebuild).
        "script": inspect.getsource(_build) + inspect.getsource(_configure_root),
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    return digest[:12]


def image_tag(version: str) -> str:
    release = RELEASES[version]
    return f"{IMAGE_REPOSITORY}:{release.version}-{recipe_hash(release)}"


def image_alias(version: str) -> str:
    """Stable name the Molecule platforms use (points at the current recipe)."""
    return f"{IMAGE_REPOSITORY}:{version}"


def image_exists(tag: str) -> bool:
    result = docker("image", "inspect", tag, check=False, capture=True)
    return result.returncode == 0


def _chroot(root: Path, *args: str) -> None:
    subprocess.run(["chroot", str(root), *args], check=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})


def build(version: str, *, force: bool = False, mirror: str = DEFAULT_MIRROR, log=print) -> str:
    """Build (or reuse) the image for a Debian version; return its stable alias."""
    if version not in RELEASES:
        raise SystemExit(f"unknown Debian release {version!r}: choose one of {', '.join(RELEASES)}")
    release = RELEASES[version]
    # One build of a release at a time: the unit tests and the scenarios may ask for it together.
    with held(f"image-{version}"):
        return _build(version, release, force=force, mirror=mirror, log=log)


def _build(version: str, release: Release, *, force: bool, mirror: str, log) -> str:
    tag = image_tag(version)
    alias = image_alias(version)
    if image_exists(tag) and not force:
        docker("tag", tag, alias)
        log(f"image {alias} is up to date ({tag})")
        return alias

    ensure_packages({"debootstrap": "debootstrap"})
    workdir = Path(tempfile.mkdtemp(prefix=f"chaton-image-{release.codename}-", dir="/var/tmp"))
    root = workdir / "root"
    try:
        log(f"building {tag} from {mirror} with debootstrap (a few minutes)")
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                release.codename,
                str(root),
                mirror,
            ],
            check=True,
        )
        _configure_root(root, release)
        log(f"importing {tag} into docker")
        tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            [
                "docker",
                "import",
                "--change",
                'CMD ["/lib/systemd/systemd"]',
                "--change",
                "ENV container=docker",
                "-",
                tag,
            ],
            stdin=tar.stdout,
            check=True,
        )
        if tar.stdout:
            tar.stdout.close()
        if tar.wait() != 0:
            raise SystemExit("tar of the image root failed")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    docker("tag", tag, alias)
    log(f"image {alias} built ({tag})")
    return alias


def _configure_root(root: Path, release: Release) -> None:
    # A unique machine-id per container: systemd creates one at boot when empty.
    (root / "etc/machine-id").write_text("")
    dbus_id = root / "var/lib/dbus/machine-id"
    if dbus_id.exists() or dbus_id.is_symlink():
        dbus_id.unlink()
    # Same locale as a freshly installed server.
    (root / "etc/locale.gen").write_text("en_US.UTF-8 UTF-8\n")
    _chroot(root, "locale-gen")
    (root / "etc/default/locale").write_text("LANG=en_US.UTF-8\n")
    for unit in MASKED_UNITS:
        link = root / "etc/systemd/system" / unit
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to("/dev/null")
    # Test images only: dpkg skips its fsync calls (a container that crashes is
    # thrown away) and man-db does not rebuild its index after each install.
    # Nothing a role does or a test checks depends on either; they halve the
    # time package installs take in a scenario.
    dpkg_cfg = root / "etc/dpkg/dpkg.cfg.d/chaton-test-unsafe-io"
    dpkg_cfg.write_text("# chaton test image: throwaway containers need no fsync\nforce-unsafe-io\n")
    _chroot(root, "sh", "-c", "echo 'man-db man-db/auto-update boolean false' | debconf-set-selections")
    # A minimal apt source, as debootstrap leaves it; role common adds
    # -updates and -security like on a real server.
    sources = root / "etc/apt/sources.list"
    sources.write_text(f"deb http://deb.debian.org/debian {release.codename} main\n")
    # Keep the image small.
    _chroot(root, "apt-get", "clean")
    for path in (root / "var/lib/apt/lists").glob("*_*"):
        path.unlink()
