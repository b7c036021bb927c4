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


# --- The warm image: a bare image with the packages every scenario installs first ---
#
# Every scenario but `base` converges the base host (roles chaton, common,
# proxy, backup) before its service, and its prepare step installs pebble; most
# verifiers drive a headless Chromium. Installing those packages once into an
# image (`docker commit` of a container of the bare image) saves each of those
# scenarios their download and unpacking. The roles still run every task, on
# a fresh container: apt finds the packages present. `base` alone starts from
# the bare image, which proves the first install on a fresh host. Nothing here
# is read by a role: a package missing from these lists is installed by the
# role as on any host, only slower.
WARM_REPOSITORY = "chaton-test/debian-warm"
# Roles common (apt, fail2ban, timesync, hardening), proxy and backup, and the
# shared prepare step's pebble, with Debian's recommends as the roles install them.
WARM_PACKAGES = [
    "apt-transport-https",
    "ca-certificates",
    "curl",
    "gnupg",
    "logrotate",
    "nftables",
    "openssh-server",
    "python3-systemd",
    "sudo",
    "unattended-upgrades",
    "apt-listchanges",
    "fail2ban",
    "systemd-timesyncd",
    "acct",
    "sysstat",
    "debsums",
    # Not apt-show-versions: its hook re-reads every package list after each
    # `apt update` (about 30 s under load), which the prepare step and role
    # common run before the role installs it on a fresh host.
    "libpam-pwquality",
    "nginx",
    "ssl-cert",
    "python3-cryptography",
    "certbot",
    "borgmatic",
    "borgbackup",
    "pebble",
]
# Test tools the verifiers use, installed without recommends as their prepare steps do.
WARM_TOOLS = ["chromium", "python3-websocket"]


def warm_tag(version: str) -> str:
    recipe = {
        "base": image_tag(version),
        "packages": WARM_PACKAGES,
        "tools": WARM_TOOLS,
        "script": inspect.getsource(_warm_script),
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    return f"{WARM_REPOSITORY}:{version}-{digest[:12]}"


def warm_alias(version: str) -> str:
    return f"{WARM_REPOSITORY}:{version}"


def _warm_script(release: Release) -> str:
    """The shell steps run in a container of the bare image before it is committed."""
    suite = release.codename
    return "\n".join(
        [
            "set -eu",
            "export DEBIAN_FRONTEND=noninteractive",
            # No service starts at build time (there is no systemd here; they start at the container's boot).
            "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d",
            # The sources role common configures, for the versions a fresh host would get; then the image's own.
            "cp /etc/apt/sources.list /etc/apt/sources.list.bare",
            f"printf 'deb http://deb.debian.org/debian {suite} main\\n"
            f"deb http://deb.debian.org/debian {suite}-updates main\\n"
            f"deb http://deb.debian.org/debian-security {suite}-security main\\n' > /etc/apt/sources.list",
            # A warning (a misspelt suite) fails the build rather than leaving a source out.
            "apt-get update -qq --error-on=any",
            f"apt-get install -y -qq {' '.join(WARM_PACKAGES)}",
            f"apt-get install -y -qq --no-install-recommends {' '.join(WARM_TOOLS)}",
            "mv /etc/apt/sources.list.bare /etc/apt/sources.list",
            "rm -f /usr/sbin/policy-rc.d",
            "apt-get clean",
            "rm -f /var/lib/apt/lists/*_*",
            # Each container gets its own machine-id at boot, as from the bare image.
            ": > /etc/machine-id",
        ]
    )


def build_warm(version: str, *, log=print) -> str:
    """Build (or reuse) the warm image of a Debian version; return its stable alias."""
    build(version, log=log)
    with held(f"image-warm-{version}"):
        tag = warm_tag(version)
        alias = warm_alias(version)
        if not image_exists(tag):
            name = f"chaton-warm-build-debian{version}-{os.getpid()}"
            log(f"building {tag}: the base host's packages on {image_alias(version)}")
            docker("rm", "--force", name, check=False, capture=True)
            try:
                docker("run", "-d", "--name", name, image_tag(version), "sleep", "infinity", capture=True)
                docker("exec", name, "sh", "-c", _warm_script(RELEASES[version]))
                docker(
                    "commit",
                    "--change",
                    'CMD ["/lib/systemd/systemd"]',
                    "--change",
                    "ENV container=docker",
                    name,
                    tag,
                    capture=True,
                )
            finally:
                docker("rm", "--force", name, check=False, capture=True)
        docker("tag", tag, alias)
        log(f"image {alias} is up to date ({tag})")
        return alias
