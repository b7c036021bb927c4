"""`chaton init`: a readable inventory and this host's secrets, written atomically."""

from __future__ import annotations

import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chaton import specs

ALPHABET = string.ascii_letters + string.digits


@dataclass
class Answers:
    name: str
    domain: str
    email: str
    host: str
    user: str = "debian"
    services: list[str] = field(default_factory=list)
    tls: str = "acme"
    admin: str = ""
    ssh_key: str = ""
    host_name: str = "server"
    # ssh (a rented server), local (chaton runs on the server itself) or
    # docker (a local systemd container, to try chaton out).
    connection: str = "ssh"
    # CA certificates the host must trust besides Debian's (a TLS-inspecting
    # proxy between the host and the package registries).
    extra_ca: list[str] = field(default_factory=list)
    # A second server of the association (PeerTube's, typically): its
    # address and the services placed on it; the portal stays on the first.
    second_host: str = ""
    second_services: list[str] = field(default_factory=list)
    second_host_name: str = "server2"


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _header(title: str) -> str:
    return f"---\n# {title}\n# Written by `chaton init`; edit freely, then run `chaton check`.\n"


def render(answers: Answers) -> dict[str, str]:
    """File name -> content, comments included."""
    hosts = {"chaton": {"hosts": {answers.host_name: _connection(answers, answers.host)}}}
    if answers.second_services:
        hosts["chaton"]["hosts"][answers.second_host_name] = _connection(answers, answers.second_host)
    chaton_vars = (
        _header("Your association and its domain.")
        + f"chaton_name: {yaml.safe_dump(answers.name, allow_unicode=True).splitlines()[0]}\n"
        + "# Services live on sub-domains of it; point the domain and *.domain at the server.\n"
        + f"chaton_domain: {answers.domain}\n"
        + "# Where the administrators read mail (certificates, reports).\n"
        + f"chaton_admin_email: {answers.email}\n"
        + "# acme (Let's Encrypt), selfsigned (a local CA) or provided.\n"
        + f"chaton_tls: {answers.tls}\n"
        + '# Days logs are kept; say it on your "how this host works" page.\n'
        + "chaton_log_retention_days: 14\n"
    )
    if answers.extra_ca:
        chaton_vars += (
            "# CA certificates trusted besides Debian's, e.g. a company proxy that\n"
            "# inspects HTTPS between the server and the package registries.\n"
            + yaml.safe_dump({"chaton_extra_ca_certificates": answers.extra_ca}, sort_keys=False)
        )
    admins = []
    if answers.admin:
        admins.append({"name": answers.admin, "ssh_keys": [answers.ssh_key] if answers.ssh_key else []})
    common_vars = (
        _header("The base system.")
        + "# Who administers the server: SSH key login and sudo. Root login and\n"
        + "# passwords are switched off, so keep at least one person here.\n"
        + yaml.safe_dump({"common_admin_users": admins}, sort_keys=False, allow_unicode=True)
    )
    if answers.connection == "docker" and not admins:
        common_vars += "# A local container is reached with docker exec, not SSH.\ncommon_allow_no_admin: true\n"
    two = bool(answers.second_services)
    lines = [_header("Services: true installs, false removes (data kept), absent leaves alone.")]
    if two:
        lines.append("# Two servers: each one switches its own services on in host_vars/<server>.yml.\n")
    for name, svc in specs.services().items():
        lines.append(f"# {svc.title}: https://{svc.subdomain}.{answers.domain}/\n")
        lines.append(f"{name}_enabled: {'true' if name in answers.services and not two else 'false'}\n")
    files = {
        "hosts.yml": f"---\n# Your server{'s' if two else ''}. `chaton check` tells what is missing.\n"
        + yaml.safe_dump(hosts, sort_keys=False),
        "group_vars/all/chaton.yml": chaton_vars,
        "group_vars/all/common.yml": common_vars,
        "group_vars/all/services.yml": "".join(lines),
        ".gitignore": "# Secrets never leave this computer.\nsecrets/\ngroup_vars/all/secrets.yml\n*.vault-password\n",
    }
    if two:
        first = _header(
            f"The first server ({answers.host}): the portal (https://{answers.domain}/) and these services."
        )
        files[f"host_vars/{answers.host_name}.yml"] = first + "".join(
            f"{name}_enabled: true\n" for name in answers.services
        )
        files[f"host_vars/{answers.second_host_name}.yml"] = (
            _header(f"The second server ({answers.second_host}): these services; the first server's portal lists them.")
            + "".join(f"{name}_enabled: true\n" for name in answers.second_services)
            + "# One portal per association: it lives on the first server.\nportal_enabled: false\n"
        )
    return files


def _connection(answers: Answers, address: str) -> dict[str, str]:
    if answers.connection == "local" and address == answers.host:
        return {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
    if answers.connection == "docker":
        return {"ansible_connection": "community.docker.docker", "ansible_host": address}
    return {"ansible_host": address, "ansible_user": answers.user}


def secret_values(answers: Answers) -> dict[str, str]:
    """One random value per secret variable the enabled roles declare (no_log in argument_specs)."""
    roles = specs.BASE_ROLES + answers.services + answers.second_services
    values = {}
    for role in roles:
        for var in specs.load_role(role).secrets:
            values[var] = "".join(secrets.choice(ALPHABET) for _ in range(32))
    return values


def write(
    directory: Path, answers: Answers, *, force: bool = False, vault_password_file: Path | None = None
) -> list[Path]:
    files = render(answers)
    existing = [directory / name for name in files if (directory / name).exists() and name != ".gitignore"]
    secrets_file = directory / "group_vars" / "all" / "secrets.yml"
    if secrets_file.exists():
        existing.append(secrets_file)
    if existing and not force:
        raise FileExistsError(existing)
    written = []
    if not directory.exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        # Build the whole inventory aside, then move it into place in one step.
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent.resolve()))
        try:
            written = _write_files(staging, files, answers, vault_password_file, keep_secrets=False)
            os.replace(staging, directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return [directory / p.relative_to(staging) for p in written]
    return _write_files(directory, files, answers, vault_password_file, keep_secrets=not force)


def _write_files(
    directory: Path, files: dict[str, str], answers: Answers, vault_password_file: Path | None, keep_secrets: bool
) -> list[Path]:
    written = []
    for name, content in files.items():
        _atomic_write(directory / name, content)
        written.append(directory / name)
    # Where the roles keep each host's generated secrets (the install guide lists it): always there, 0700.
    (directory / "secrets").mkdir(mode=0o700, exist_ok=True)
    (directory / "secrets").chmod(0o700)
    secrets_file = directory / "group_vars" / "all" / "secrets.yml"
    if keep_secrets and secrets_file.exists():
        return written
    values = secret_values(answers)
    text = _header("Secrets of this host, generated once. Never commit or share this file.")
    text += yaml.safe_dump(values, sort_keys=True) if values else "{}\n"
    if vault_password_file:
        text = _vault(text, vault_password_file)
    _atomic_write(secrets_file, text, mode=0o600)
    written.append(secrets_file)
    return written


def _vault(text: str, password_file: Path) -> str:
    vault = shutil.which("ansible-vault") or str(Path(sys.executable).parent / "ansible-vault")
    proc = subprocess.run(
        [vault, "encrypt", "--vault-password-file", str(password_file), "--output", "-", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ansible-vault could not encrypt the secrets: {proc.stderr.strip()}")
    return proc.stdout
