"""`chaton deploy` and `chaton status`: run site.yml with progress, then ask each service how it is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from chaton import checks, health, specs
from chaton.inventory import Host, Inventory, load
from chaton.runner import Result, count_tasks, playbook_progress, run_playbook


@dataclass
class ServiceState:
    host: str
    service: str
    url: str
    healthy: bool
    status: str
    detail: str
    version: str
    pinned: str
    cert_days_left: int | None
    credentials: str


def deploy(
    inventory: Path, console: Console, *, only: str | None = None, extra_args: list[str] | None = None
) -> Result:
    inv = load(inventory)
    playbook = "playbooks/service.yml" if only else "site.yml"
    extravars = {"chaton_only": only} if only else {}
    args = list(extra_args or [])
    total = count_tasks(playbook, inv.path, args + (["-e", f"chaton_only={only}"] if only else []))
    with playbook_progress(console) as progress:
        bar = progress.add_task("deploying", total=max(total, 1), current="")
        done = 0

        def on_event(event: dict) -> None:
            nonlocal done
            data = event.get("event_data") or {}
            if event.get("event") == "playbook_on_task_start":
                progress.update(bar, current=data.get("task", "")[:60])
            elif event.get("event") in (
                "runner_on_ok",
                "runner_on_changed",
                "runner_on_skipped",
                "runner_on_failed",
                "runner_on_unreachable",
            ):
                done += 1
                total_now = max(total, done)
                progress.update(
                    bar, completed=done, total=total_now, current=f"{data.get('host', '')}: {data.get('task', '')}"[:60]
                )

        result = run_playbook(playbook, inv.path, extravars=extravars, extra_args=args, quiet=True, on_event=on_event)
        progress.update(bar, completed=progress.tasks[0].total, current="done" if result.ok else "failed")
    return result


def restore_limit(inv: Inventory, host: str | None) -> str | None:
    """The --limit of a restore: the host named (one of the group chaton), else none (each host that backs the
    service up restores it; the others leave the play). ValueError says why not."""
    if host is not None and host not in inv.chaton_hosts:
        raise ValueError(f"--host {host} is not a host of the group chaton ({', '.join(sorted(inv.chaton_hosts))})")
    return host


def public_port(host: Host) -> int:
    """The HTTPS port visitors use: chaton_public_https_port (a published container or router port), else 443."""
    value = host.vars.get("chaton_public_https_port", 443)
    return value if isinstance(value, int) and not isinstance(value, bool) else 443


def host_cafile(inv: Inventory, host: Host) -> str | None:
    """The host's own CA (chaton_tls: selfsigned keeps it as <secrets>/ca.crt on the controller), if there."""
    if host.vars.get("chaton_tls") != "selfsigned":
        return None
    ca = Path(_secrets_dir(inv, host)) / "ca.crt"
    return str(ca) if ca.is_file() else None


def states(
    inv: Inventory,
    *,
    address: str | None = None,
    port: int | None = None,
    cafile: str | None = None,
    verify: bool = True,
) -> list[ServiceState]:
    out = []
    for host in inv.chaton_hosts.values():
        secrets_dir = _secrets_dir(inv, host)
        target = {
            "address": address or _address(host),
            "port": port or public_port(host),
            "cafile": cafile or host_cafile(inv, host),
            "verify": verify,
        }
        entries: list[tuple[str, str, str, str, specs.Service | None]] = [
            ("portal", host.vars.get("chaton_domain", ""), "/", "", None)
        ]
        for name in checks.enabled_services(host):
            svc = specs.services()[name]
            entries.append((name, checks.service_domain(host, name), svc.health_path, svc.health_expect, svc))
        for name, domain, path, expect, svc in entries:
            probe = health.probe(domain, path, expect, **target)
            pinned = version = creds = ""
            if svc is not None:
                creds = _credentials(inv, host, svc.credentials, secrets_dir)
                if svc.version_var:
                    pinned = str(host.vars.get(svc.version_var, _default(name, svc.version_var)))
                if svc.version_path and probe.healthy:
                    answer = probe if svc.version_path == path else health.probe(domain, svc.version_path, **target)
                    found = re.search(svc.version_regex, answer.body) if svc.version_regex else None
                    version = found.group(1) if found else "?"
            healthy = probe.healthy and (not pinned or not version or version == pinned)
            detail = probe.detail or ("" if healthy else f"runs {version}, pinned {pinned}")
            out.append(
                ServiceState(
                    host.name,
                    name,
                    probe.url,
                    healthy,
                    probe.status,
                    detail,
                    version,
                    pinned,
                    probe.cert_days_left,
                    creds,
                )
            )
    return out


def _credentials(inv: Inventory, host: Host, names: list[str], secrets_dir: str) -> str:
    """Where each credential lives: the inventory file that sets it, else the generated file on the controller."""
    places: dict[str, list[str]] = {}
    for var in names:
        if var in host.origin:
            place = str(host.origin[var])
        elif inv.encrypted:
            place = f"{secrets_dir}/ unless set in {', '.join(map(str, inv.encrypted))}"
        else:
            place = f"{secrets_dir}/"
        places.setdefault(place, []).append(var)
    return "; ".join(f"{', '.join(v)}: {k}" for k, v in places.items())


def _default(role: str, var: str) -> str:
    if not var:
        return ""
    return str(specs.load_role(role).options.get(var, {}).get("default", ""))


def _address(host: Host) -> str | None:
    value = host.vars.get("chaton_status_address")
    return str(value) if value else None


def _secrets_dir(inv: Inventory, host: Host) -> str:
    value = host.vars.get("chaton_secrets_dir")
    if isinstance(value, str) and "{{" not in value:
        return value
    return str(inv.directory / "secrets" / host.name)


def table(rows: list[ServiceState], title: str) -> Table:
    tab = Table(title=title)
    for col in ("host", "service", "URL", "health", "version", "certificate", "credentials"):
        tab.add_column(col)
    for r in rows:
        cert = "-" if r.cert_days_left is None else f"{r.cert_days_left} days left"
        state = "[green]healthy[/green]" if r.healthy else f"[red]{r.status}[/red] {r.detail[:60]}"
        if r.version:
            version = r.version + (f" (pinned {r.pinned})" if r.pinned and r.version != r.pinned else "")
        else:
            # The service does not publish its version over HTTP.
            version = f"pinned {r.pinned}" if r.pinned else "-"
        tab.add_row(r.host, r.service, r.url, state, version, cert, r.credentials or "-")
    return tab
