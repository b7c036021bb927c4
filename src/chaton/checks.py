"""`chaton check`: an inventory against the roles' own specs, the host's size and DNS."""

from __future__ import annotations

import ipaddress
import re
import socket
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

import jsonschema
import yaml

from chaton import specs
from chaton.inventory import Host, Inventory, InventoryError, _var_files, load

TEMPLATED = re.compile(r"{{|{%")
# Variables the roles read but that belong to Ansible or the harness.
FOREIGN_PREFIXES = ("ansible_", "molecule_")


@dataclass
class Finding:
    level: str  # error | warning | ok
    host: str
    file: str
    variable: str
    message: str
    fix: str

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """The finding on one line, as both gates print it (chaton check's table, site.yml's refusal)."""
        where = f"{self.file}: " if self.file else ""
        name = f"{self.variable}: " if self.variable else ""
        return f"{where}{name}{self.message}. Fix: {self.fix}"


def _file(host: Host, var: str, default: Path) -> str:
    return str(host.origin.get(var, default))


def _error(inv: Inventory, host: Host, var: str, message: str, fix: str) -> Finding:
    """An error about a variable, located in the file that set it (or the inventory)."""
    return Finding("error", host.name, _file(host, var, inv.path), var, message, fix)


def enabled_services(host: Host) -> list[str]:
    return [name for name in specs.services() if host.vars.get(f"{name}_enabled") is True]


def publishes_portal(host: Host) -> bool:
    """Whether the host publishes its association's portal (role portal, on unless portal_enabled is false)."""
    return host.vars.get("portal_enabled", True) is not False


def service_domain(host: Host, name: str) -> str:
    svc = specs.services()[name]
    value = host.vars.get(svc.domain_var)
    if isinstance(value, str) and value and not TEMPLATED.search(value):
        return value
    return f"{svc.subdomain}.{host.vars.get('chaton_domain', '')}"


def check_variables(inv: Inventory, host: Host) -> list[Finding]:
    out: list[Finding] = []
    known = specs.known_options()
    roles = specs.all_roles()
    service_names = list(specs.services())
    for var, value in host.vars.items():
        if var.startswith(FOREIGN_PREFIXES):
            continue
        match = re.match(r"^([a-z0-9]+)_enabled$", var)
        if match and match.group(1) not in service_names and match.group(1) not in roles:
            guess = specs.suggest(match.group(1), service_names)
            out.append(
                _error(
                    inv,
                    host,
                    var,
                    f"there is no service '{match.group(1)}'",
                    f"did you mean {guess}_enabled?"
                    if guess
                    else f"services are: {', '.join(service_names) or 'none yet'}",
                )
            )
            continue
        role = next((r for r in sorted(roles, key=len, reverse=True) if var.startswith(f"{r}_")), None)
        if role is None:
            continue
        if var not in known:
            guess = specs.suggest(var, [k for k, r in known.items() if r == role])
            out.append(
                _error(
                    inv,
                    host,
                    var,
                    f"role {role} has no variable {var}",
                    f"did you mean {guess}?" if guess else f"see roles/{role}/README.md",
                )
            )
            continue
        spec = specs.load_role(known[var]).options[var]
        if isinstance(value, str) and TEMPLATED.search(value):
            continue
        if spec.get("no_log") and value in ("", None):
            out.append(
                _error(
                    inv,
                    host,
                    var,
                    "is an empty secret",
                    "remove the line: chaton generates the secret, or set a real value",
                )
            )
            continue
        try:
            jsonschema.validate(value, specs.option_schema(spec, var))
        except jsonschema.ValidationError as exc:
            where = "".join(f"[{p!r}]" for p in exc.absolute_path)
            fix = "use a port number from 1 to 65535" if exc.validator in specs.PORT_RANGE else spec_fix(spec)
            out.append(Finding("error", host.name, _file(host, var, inv.path), f"{var}{where}", exc.message, fix))
    return out


def spec_fix(spec: dict) -> str:
    if "choices" in spec:
        return "use one of: " + ", ".join(map(str, spec["choices"]))
    desc = spec.get("description", "")
    if isinstance(desc, list):
        desc = " ".join(desc)
    return f"expected {spec.get('type', 'a value')}: {desc}".strip()


def check_required(inv: Inventory, host: Host) -> list[Finding]:
    out = []
    for role in ["chaton", *enabled_services(host)]:
        for var, spec in specs.load_role(role).options.items():
            if spec.get("required") and host.vars.get(var) in (None, ""):
                out.append(
                    Finding(
                        "error",
                        host.name,
                        str(inv.directory / "group_vars" / "all"),
                        var,
                        "is required and not set",
                        spec_fix(spec),
                    )
                )
    return out


# Ports nginx listens on for every visitor.
PUBLISHED_PORTS = {80: "nginx's HTTP port", 443: "nginx's HTTPS port"}


def check_collisions(inv: Inventory, host: Host) -> list[Finding]:
    out = []
    seen_ports: dict[int, str] = dict(PUBLISHED_PORTS)
    seen_domains: dict[str, str] = {}

    def claim(var: str, value, fix: str) -> None:
        """A port setting takes its port, or is refused when nginx, sshd or another service has it."""
        if not isinstance(value, int) or isinstance(value, bool):
            return
        if value in seen_ports:
            out.append(_error(inv, host, var, f"port {value} is also {seen_ports[value]}", fix))
        seen_ports.setdefault(value, var)

    claim(
        "common_sshd_port",
        host.vars.get("common_sshd_port", 22),
        "give common_sshd_port a port nothing publishes (22, or 2222 for instance)",
    )
    for name in enabled_services(host):
        for var, spec in specs.load_role(name).options.items():
            if var.endswith("_port"):
                claim(var, host.vars.get(var, spec.get("default")), f"give {var} a free port")
        domain = service_domain(host, name)
        if domain in seen_domains:
            var = specs.services()[name].domain_var
            out.append(
                _error(
                    inv,
                    host,
                    var,
                    f"{domain} is also the name of {seen_domains[domain]}",
                    f"give {var} its own name",
                )
            )
        seen_domains[domain] = name
    return out


def check_shared_names(inv: Inventory) -> list[Finding]:
    """Across the CHATONS hosts of one inventory: a name (a service's, or the portal's chaton_domain) is served by
    one host only. Two hosts serving it would each ask for its certificate, and DNS sends its visitors to one."""
    out = []
    served: dict[str, tuple[str, str]] = {}
    for host in inv.chaton_hosts.values():
        claims = []
        if publishes_portal(host) and host.vars.get("chaton_domain"):
            claims.append((str(host.vars["chaton_domain"]), "portal_enabled"))
        claims += [(service_domain(host, name), f"{name}_enabled") for name in enabled_services(host)]
        for name, var in claims:
            if name in served and served[name][0] != host.name:
                first, first_var = served[name]
                out.append(
                    _error(
                        inv,
                        host,
                        var,
                        f"{name} is served by {first} too ({first_var})",
                        f"a service lives on one host: set {var}: false for {host.name} or {first} "
                        f"(host_vars/<host>.yml), or give it another name",
                    )
                )
            served.setdefault(name, (host.name, var))
    return out


def check_shared_backup_repositories(inv: Inventory) -> list[Finding]:
    """Each server backs up into a remote repository of its own: two writing to one would each refuse the other's
    key and passphrase (Borg), and a restore would read the wrong server's archives."""
    out = []
    used: dict[str, str] = {}
    for host in inv.chaton_hosts.values():
        repository = host.vars.get("backup_remote_repository")
        if host.vars.get("backup_enabled", True) is False or not isinstance(repository, str) or not repository:
            continue
        if TEMPLATED.search(repository):
            continue  # {{ inventory_hostname }} in the path: one per server
        if repository in used:
            out.append(
                _error(
                    inv,
                    host,
                    "backup_remote_repository",
                    f"{repository} is {used[repository]}'s remote repository too",
                    f"give each server its own: set backup_remote_repository in host_vars/<server>.yml, or end the "
                    f"path with {{{{ inventory_hostname }}}} ({repository}-{{{{ inventory_hostname }}}})",
                )
            )
        used.setdefault(repository, host.name)
    return out


def portal_host(inv: Inventory, host: Host) -> str | None:
    """The host of the group chaton that publishes ``host``'s portal (same chaton_domain, portal_enabled not
    false): itself first, else another server of the association; None when no host does."""
    domain = host.vars.get("chaton_domain")
    candidates = [host] + [h for h in inv.chaton_hosts.values() if h.name != host.name]
    for other in candidates:
        if other.vars.get("chaton_domain") == domain and publishes_portal(other):
            return other.name
    return None


def check_unplaced_host_vars(inv: Inventory) -> list[Finding]:
    """host_vars of a name hosts.yml does not list (a typo, a renamed server): what they switch on runs nowhere."""
    out = []
    directory = inv.directory / "host_vars"
    if not directory.is_dir():
        return out
    names = sorted({p.stem if p.is_file() else p.name for p in directory.iterdir() if not p.name.startswith(".")})
    for name in names:
        if name in inv.hosts:
            continue
        files = _var_files(directory, name)
        switched = []
        for file in files:
            try:
                content = yaml.safe_load(file.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(content, dict):
                switched += [k for k, v in content.items() if k.endswith("_enabled") and v is True]
        listed = ", ".join(sorted(inv.hosts))
        fix = f"rename the file after a host of hosts.yml ({listed}), or add {name} to the group chaton"
        level = "error" if any(k[: -len("_enabled")] in specs.services() for k in switched) else "warning"
        what = f"switches on {', '.join(switched)} for" if switched else "sets variables for"
        shown = str(files[0]) if files else str(directory / name)
        out.append(
            Finding(
                level,
                name,
                shown,
                switched[0] if switched else "",
                f"{what} {name}, a host hosts.yml does not list",
                fix,
            )
        )
    return out


def swap_mb(host: Host, memory_mb: int) -> int:
    """The swap role common gives the host: common_swap_size_mb, or its `auto` rule."""
    value = host.vars.get("common_swap_size_mb", "auto")
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    if value == "auto":
        return 2048 if memory_mb < 2048 else 1024 if memory_mb < 8192 else 0
    return 0


def check_resources(
    inv: Inventory, host: Host, memory_mb: int | None, disk_mb: int | None, *, note: bool = False
) -> list[Finding]:
    """Memory (swap counted) and disk against the enabled services' needs; `note` says when a size is unknown."""
    out = []
    base = specs.base_needs()
    wanted = {name: specs.services()[name] for name in enabled_services(host)}
    need_mem = base["memory_mb"] + sum(s.memory_mb for s in wanted.values())
    need_disk = base["disk_mb"] + sum(s.disk_mb for s in wanted.values())
    mem_origin = "--memory-mb" if memory_mb else _file(host, "chaton_host_memory_mb", inv.path)
    disk_origin = "--disk-mb" if disk_mb else _file(host, "chaton_host_disk_mb", inv.path)
    memory_mb = memory_mb or host.vars.get("chaton_host_memory_mb")
    disk_mb = disk_mb or host.vars.get("chaton_host_disk_mb")
    if isinstance(memory_mb, int) and not isinstance(memory_mb, bool):
        swap = swap_mb(host, memory_mb)
        if memory_mb + swap < need_mem:
            biggest = sorted(wanted.values(), key=lambda s: s.memory_mb, reverse=True)
            more = ((need_mem - memory_mb) // 512 + 1) * 512
            disable = (
                f"disable {biggest[0].name} (about {biggest[0].memory_mb} MB)" if biggest else "use a bigger server"
            )
            out.append(
                Finding(
                    "error",
                    host.name,
                    mem_origin,
                    "chaton_host_memory_mb",
                    f"the host has {memory_mb} MB of memory and {swap} MB of swap; "
                    f"the enabled services need about {need_mem} MB",
                    f"{disable}, or give it {more} MB of swap (common_swap_size_mb: {more})",
                )
            )
    elif note:
        out.append(
            Finding(
                "note",
                host.name,
                str(inv.path),
                "chaton_host_memory_mb",
                f"memory not checked: the enabled services need about {need_mem} MB (swap counted)",
                "give --memory-mb, or set chaton_host_memory_mb in group_vars/all/chaton.yml",
            )
        )
    if isinstance(disk_mb, int) and not isinstance(disk_mb, bool):
        if disk_mb < need_disk:
            out.append(
                Finding(
                    "error",
                    host.name,
                    disk_origin,
                    "chaton_host_disk_mb",
                    f"the host has {disk_mb} MB of free disk; the enabled services need about {need_disk} MB",
                    "free disk space or disable a service",
                )
            )
    elif note:
        out.append(
            Finding(
                "note",
                host.name,
                str(inv.path),
                "chaton_host_disk_mb",
                f"disk not checked: the enabled services need about {need_disk} MB free",
                "give --disk-mb, or set chaton_host_disk_mb in group_vars/all/chaton.yml",
            )
        )
    return out


# Names no public certificate authority ever issues for (RFC 2606, 6761, 6762).
RESERVED_TLDS = ("localhost", "test", "local", "example", "invalid", "internal", "lan", "home.arpa")
PUBLIC_ACME = re.compile(r"^https://acme(-staging)?-v02\.api\.letsencrypt\.org/")
DEFAULT_ACME = "https://acme-v02.api.letsencrypt.org/directory"


def unissuable(name: str) -> str | None:
    """Why a public ACME server can never issue a certificate for `name`, or None."""
    try:
        ipaddress.ip_address(name)
        return "is an IP address"
    except ValueError:
        pass
    if "." not in name:
        return "is a single label, not a public domain name"
    for tld in RESERVED_TLDS:
        if name == tld or name.endswith(f".{tld}"):
            return f"ends in .{tld}, a name reserved for private use"
    return None


def check_acme_names(inv: Inventory, host: Host) -> list[Finding]:
    """With chaton_tls: acme against Let's Encrypt, every name must be one it can issue for."""
    if host.vars.get("chaton_tls", "acme") != "acme":
        return []
    if not PUBLIC_ACME.match(str(host.vars.get("chaton_acme_directory", DEFAULT_ACME))):
        return []  # a private ACME server issues for the names it chooses
    out = []
    names = [("chaton_domain", host.vars.get("chaton_domain", ""))]
    names += [(specs.services()[s].domain_var, service_domain(host, s)) for s in enabled_services(host)]
    for var, name in names:
        if not isinstance(name, str) or not name or TEMPLATED.search(name):
            continue
        why = unissuable(name)
        if why:
            out.append(
                _error(
                    inv,
                    host,
                    var,
                    f"{name} {why}: Let's Encrypt can never issue a certificate for it (chaton_tls: acme)",
                    "use a public domain name you own, or chaton_tls: selfsigned to try chaton out",
                )
            )
            break
    return out


def secret_files(directory: Path) -> list[Path]:
    """The inventory's files that hold secrets: secrets/ and any plain variables file setting a secret."""
    secret_names = {v for role in specs.all_roles() for v in specs.load_role(role).secrets}
    kept = directory / "secrets"
    # Certificates and public keys kept beside the secrets are public.
    found = (
        sorted(p for p in kept.rglob("*") if p.is_file() and p.suffix not in (".crt", ".pub")) if kept.is_dir() else []
    )
    for kind in ("group_vars", "host_vars"):
        for file in sorted((directory / kind).rglob("*")) if (directory / kind).is_dir() else []:
            if not file.is_file() or file.suffix not in (".yml", ".yaml", ""):
                continue
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if text.startswith("$ANSIBLE_VAULT"):
                continue
            if file.name.startswith("secrets.") or any(re.search(rf"^{n}\s*:", text, re.M) for n in secret_names):
                found.append(file)
    return found


def check_secret_modes(directory: Path, hostname: str) -> list[Finding]:
    out = []
    for file in secret_files(directory):
        mode = stat.S_IMODE(file.stat().st_mode)
        if mode & 0o077:
            out.append(
                Finding(
                    "error",
                    hostname,
                    str(file),
                    "",
                    f"holds secrets and others can read it (mode {mode:04o})",
                    f"chmod 600 {file}",
                )
            )
    return out


def inventory_findings(inv: Inventory, host: Host, *, secrets_checked: set[Path] | None = None) -> list[Finding]:
    """Every check that needs no network: the one gate `chaton check`, `chaton deploy` and site.yml run."""
    findings = check_variables(inv, host)
    findings += check_required(inv, host)
    findings += check_collisions(inv, host)
    findings += check_acme_names(inv, host)
    findings += check_resources(inv, host, None, None)
    if secrets_checked is None or inv.directory not in secrets_checked:
        findings += check_secret_modes(inv.directory, host.name)
        if secrets_checked is not None:
            secrets_checked.add(inv.directory)
    return findings


def gate(hostvars: dict, hostname: str, inventory_dir: str, origins: dict[str, str] | None = None) -> list[str]:
    """site.yml's gate: the same checks on the variables Ansible gives the host, one line per error.

    ``origins`` names the file each variable was read from, as chaton check does, where Ansible recorded it.
    """
    directory = Path(inventory_dir) if inventory_dir else Path.cwd()
    inv = Inventory(path=directory, hosts={})
    host = Host(hostname, dict(hostvars), {var: Path(path) for var, path in (origins or {}).items()})
    return [f.line() for f in inventory_findings(inv, host) if f.level == "error"]


def check_dns(inv: Inventory, host: Host) -> list[Finding]:
    out = []
    try:
        expected = {info[4][0] for info in socket.getaddrinfo(host.address, None)}
    except OSError:
        return [
            Finding(
                "error",
                host.name,
                str(inv.path),
                "ansible_host",
                f"{host.address} does not resolve",
                "set ansible_host to the server's IP address or a resolvable name",
            )
        ]
    names = [host.vars.get("chaton_domain", "") if publishes_portal(host) else ""]
    names += [service_domain(host, s) for s in enabled_services(host)]
    for name in filter(None, names):
        try:
            got = {info[4][0] for info in socket.getaddrinfo(name, 443)}
        except OSError:
            got = set()
        if not got & expected:
            shown = ", ".join(sorted(got)) or "nothing"
            out.append(
                Finding(
                    "error",
                    host.name,
                    str(inv.path),
                    name,
                    f"resolves to {shown}, not to {host.address}",
                    f"add a DNS record: {name} A/AAAA -> {', '.join(sorted(expected))}",
                )
            )
    return out


def check_with_ansible(inv: Inventory) -> list[Finding]:
    """The roles' own validation (argument_specs + their tasks/validate.yml), run by Ansible without changes."""
    from chaton.runner import run_playbook

    result = run_playbook("playbooks/validate.yml", inv.path, quiet=True)
    out = []
    for failure in result.failures:
        variable = next(iter(re.findall(r"\b([a-z]+_[a-z0-9_]+)\b", failure.message)), "")
        host = inv.hosts.get(failure.host)
        file = _file(host, variable, inv.path) if host else str(inv.path)
        out.append(Finding("error", failure.host, file, variable, failure.message.strip(), "see the message"))
    return out


def run(
    path: Path, *, offline: bool = False, memory_mb: int | None = None, disk_mb: int | None = None, ansible: bool = True
) -> list[Finding]:
    try:
        inv = load(path)
    except InventoryError as exc:
        return [Finding("error", "-", str(exc.file), "", exc.message, exc.fix)]
    if not inv.chaton_hosts:
        return [
            Finding(
                "error",
                "-",
                str(inv.path),
                "",
                "no host is in the group chaton, where chaton deploys",
                "list your server under chaton: hosts: (see inventories/example/hosts.yml)",
            )
        ]
    findings: list[Finding] = check_shared_names(inv) + check_unplaced_host_vars(inv)
    findings += check_shared_backup_repositories(inv)
    secrets_checked: set[Path] = set()
    for host in inv.chaton_hosts.values():
        findings += [
            f
            for f in inventory_findings(inv, host, secrets_checked=secrets_checked)
            if not f.variable.startswith("chaton_host_")
        ]
        findings += check_resources(inv, host, memory_mb, disk_mb, note=True)
        if not offline and host.vars.get("ansible_connection") not in ("local", "community.docker.docker"):
            findings += check_dns(inv, host)
    if ansible and not any(f.level == "error" for f in findings):
        findings += check_with_ansible(inv)
    return findings
