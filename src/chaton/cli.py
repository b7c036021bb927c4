"""The chaton command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.core
from rich.console import Console
from rich.table import Table

from chaton import __version__, project_root
from chaton.inventory import InventoryError

_option_type = typer.core.TyperOption.display_type_rich


def _no_type_for_flags(self: typer.core.TyperOption, ctx) -> str | None:
    """A flag (--help, --version, --force) takes no value: show no `<bool>` beside it."""
    return None if self.is_flag else _option_type(self, ctx)


typer.core.TyperOption.display_type_rich = _no_type_for_flags  # type: ignore[method-assign]

# Wide enough for URLs when the output goes to a file or CI log.
console = Console(width=None if sys.stdout.isatty() else 160)
DEFAULT_INVENTORY = Path("inventories/mine")
app = typer.Typer(
    help="Turn a small Debian server into a CHATONS host.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    # Never print local variables in a traceback: they may hold secrets.
    pretty_exceptions_show_locals=False,
)
harness = typer.Typer(help="Test harness for maintainers: Docker engine, Debian images, Molecule scenarios.")
app.add_typer(harness, name="harness")
bench_app = typer.Typer(
    help="Benchmark and security audit of a whole host in a 2 GB container (make bench, make audit)."
)
app.add_typer(bench_app, name="bench")
mirror_app = typer.Typer(
    help="A directory of the upstream files the roles download, for hosts without Internet access "
    "(chaton_artifact_mirror).",
    no_args_is_help=True,
)
app.add_typer(mirror_app, name="mirror")


def say(line: str) -> None:
    """One line of progress, never cut over two lines (SKIPPED ... lines are read and copied as they are)."""
    console.print(line, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"chaton {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """chaton: a volunteer picks services in an inventory and gets a CHATONS host."""


@app.command()
def collections(
    galaxy: Annotated[bool, typer.Option(help="Try Ansible Galaxy first.")] = True,
) -> None:
    """Install the Ansible collections of requirements.yml (from PyPI when Galaxy is out of reach).

    Example: chaton collections --no-galaxy
    """
    from chaton import collections as colls

    root = project_root()
    colls.install(root / "requirements.yml", root / ".collections", root / ".cache" / "wheels", try_galaxy=galaxy)


EXIT_HELP = "Exit code 0 only when everything passes."


def _load(inventory: Path):
    """The inventory, or one line saying what is wrong and how to fix it (exit 2), never a traceback."""
    from chaton.inventory import load

    try:
        return load(inventory)
    except InventoryError as exc:
        _input_error(exc)


def _input_error(exc: InventoryError):
    console.print(f"[red]{exc.file}: {exc.message}[/red]. Fix: {exc.fix}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _print_findings(findings, as_json: bool) -> int:
    errors = [f for f in findings if f.level == "error"]
    if as_json:
        print(json.dumps({"ok": not errors, "findings": [f.as_dict() for f in findings]}, indent=2))
        return 1 if errors else 0
    if not findings:
        console.print("[green]The inventory passes every check.[/green]")
        return 0
    if not errors and all(f.level == "note" for f in findings):
        console.print("[green]The inventory passes every check[/green], except what was not checked:")
        for f in findings:
            console.print(f"  {f.message}; {f.fix}", highlight=False, soft_wrap=True)
        return 0
    table = Table(title="chaton check")
    for col in ("level", "file", "variable", "problem", "fix"):
        table.add_column(col, overflow="fold")
    for f in findings:
        level = "[red]error[/red]" if f.level == "error" else f"[yellow]{f.level}[/yellow]"
        if f.level == "note":
            level = "note"
        table.add_row(level, f.file, f.variable, f.message, f.fix)
    console.print(table)
    console.print(f"{len(errors)} error(s)" if errors else "[green]no error[/green]")
    return 1 if errors else 0


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the inventory.")] = DEFAULT_INVENTORY,
    name: Annotated[str | None, typer.Option(help="The association's name.")] = None,
    domain: Annotated[str | None, typer.Option(help="The domain services live under.")] = None,
    email: Annotated[str | None, typer.Option(help="The administrators' e-mail address.")] = None,
    host: Annotated[str | None, typer.Option(help="The server's address (IP or name).")] = None,
    user: Annotated[str, typer.Option(help="The SSH user with sudo on the server.")] = "debian",
    services: Annotated[str | None, typer.Option(help="Services to enable, comma-separated.")] = None,
    second_services: Annotated[
        str | None,
        typer.Option(help="Services to place on a second server (PeerTube, typically), comma-separated."),
    ] = None,
    second_host: Annotated[str | None, typer.Option(help="The second server's address (IP or name).")] = None,
    tls: Annotated[str, typer.Option(help="acme, selfsigned or provided.")] = "acme",
    admin: Annotated[str, typer.Option(help="Your login on the server.")] = "",
    ssh_key: Annotated[Path | None, typer.Option(help="Your SSH public key file.")] = None,
    connection: Annotated[
        str, typer.Option(help="ssh (a server), local (run on the server itself) or docker (a local container).")
    ] = "ssh",
    extra_ca: Annotated[
        list[Path] | None, typer.Option(help="A CA certificate the host must trust too (repeatable).")
    ] = None,
    vault_password_file: Annotated[
        Path | None, typer.Option(help="Encrypt the secrets with ansible-vault using this password file.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing inventory and regenerate its secrets.")] = False,
) -> None:
    """Write an inventory a volunteer can read, and this host's secrets (mode 0600).

    Example: chaton init inventories/mine --name "Les Chatons" --domain chatons.example.org
    --email admin@example.org --host 203.0.113.10 --services etherpad,ethercalc

    Trying it in a local container: --connection docker --host chaton-demo --tls selfsigned

    Two servers (the portal and the light services on the first, PeerTube on the second):
    --services etherpad,ethercalc,framadate --second-services peertube --second-host 203.0.113.11
    """
    from chaton import initialize, specs

    known = list(specs.services())

    def ask(value: str | None, option: str, question: str, default: str | None = None, empty: bool = False) -> str:
        """An answer from its option, else from a prompt; without a terminal, one line naming the option.

        An empty option is no answer, except where empty means something (``--services ""``: no service).
        """
        if value is not None and (value or empty):
            return value
        if not sys.stdin.isatty():
            if default is not None:
                return default
            console.print(f"[red]{option} is missing[/red]: give {option} (no terminal to ask on)")
            raise typer.Exit(2)
        return typer.prompt(question, default=default)

    name = ask(name, "--name", "Association name")
    domain = ask(domain, "--domain", "Domain (services get sub-domains of it)")
    email = ask(email, "--email", "Administrators' e-mail")
    # Run on the server itself, the playbook reaches it as localhost.
    host = ask(host or ("localhost" if connection == "local" else None), "--host", "Server address (IP or name)")
    question = f"Services to enable, comma-separated ({', '.join(known)})"
    services = ask(services, "--services", question, ",".join(known), empty=True)
    chosen = [s.strip() for s in services.split(",") if s.strip()]
    question = "Services for a second server, comma-separated (empty: everything on one server)"
    second = ask(second_services, "--second-services", question, "", empty=True)
    placed = [s.strip() for s in second.split(",") if s.strip()]
    unknown = [s for s in chosen + placed if s not in known]
    if unknown:
        guess = specs.suggest(unknown[0], known)
        console.print(f"[red]unknown service {unknown[0]}[/red]" + (f": did you mean {guess}?" if guess else ""))
        raise typer.Exit(2)
    both = [s for s in placed if s in chosen]
    if both:
        console.print(
            f"[red]{both[0]} is in --services and --second-services[/red]: a service lives on one server; "
            "name it in one of them"
        )
        raise typer.Exit(2)
    if second_host and not placed:
        console.print("[red]--second-host without --second-services[/red]: name the services it runs")
        raise typer.Exit(2)
    if placed:
        second_host = ask(second_host, "--second-host", "Second server address (IP or name)")
        if second_host == host:
            console.print(f"[red]--second-host {second_host}[/red] is the first server's address: give the other one")
            raise typer.Exit(2)
    if tls not in ("acme", "selfsigned", "provided"):
        console.print(f"[red]--tls {tls}[/red]: use acme, selfsigned or provided")
        raise typer.Exit(2)
    if connection not in ("ssh", "local", "docker"):
        console.print(f"[red]--connection {connection}[/red]: use ssh, local or docker")
        raise typer.Exit(2)
    missing_ca = [str(p) for p in extra_ca or [] if not p.is_file()]
    if missing_ca:
        console.print(f"[red]--extra-ca {missing_ca[0]}[/red]: no such file")
        raise typer.Exit(2)
    key = ssh_key.read_text(encoding="utf-8").strip() if ssh_key else ""
    answers = initialize.Answers(
        name=name,
        domain=domain,
        email=email,
        host=host,
        user=user,
        services=chosen,
        tls=tls,
        admin=admin,
        ssh_key=key,
        host_name=host if connection == "docker" else "server",
        connection=connection,
        extra_ca=[str(p.resolve()) for p in extra_ca or []],
        second_host=second_host or "",
        second_services=placed,
        second_host_name=(second_host or "server2") if connection == "docker" else "server2",
    )
    try:
        written = initialize.write(directory, answers, force=force, vault_password_file=vault_password_file)
    except FileExistsError as exc:
        console.print(
            f"[red]{', '.join(map(str, exc.args[0]))} already exist(s)[/red]: nothing written; "
            "use --force to overwrite (secrets are regenerated)"
        )
        raise typer.Exit(1) from None
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"Next: chaton check {directory}")


@app.command()
def check(
    inventory: Annotated[Path, typer.Argument(help="Inventory directory or hosts.yml.")] = DEFAULT_INVENTORY,
    offline: Annotated[bool, typer.Option(help="Skip the DNS checks.")] = False,
    memory_mb: Annotated[int | None, typer.Option(help="The host's memory, if not in the inventory.")] = None,
    disk_mb: Annotated[int | None, typer.Option(help="The host's free disk, if not in the inventory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Validate an inventory against the roles' own argument_specs, DNS and the host's size.

    Example: chaton check inventories/mine --memory-mb 2048
    """
    from chaton import checks

    findings = checks.run(inventory, offline=offline, memory_mb=memory_mb, disk_mb=disk_mb)
    raise typer.Exit(_print_findings(findings, as_json))


@app.command()
def deploy(
    inventory: Annotated[Path, typer.Argument(help="Inventory directory or hosts.yml.")] = DEFAULT_INVENTORY,
    only: Annotated[str | None, typer.Option(help="Deploy this service alone.")] = None,
    vault_password_file: Annotated[Path | None, typer.Option(help="ansible-vault password file.")] = None,
) -> None:
    """Run site.yml with a progress bar, then show each service, its URL and health.

    Example: chaton deploy inventories/mine --only etherpad
    """
    from chaton import checks, operate

    _load(inventory)
    # The same gate as `chaton check` (site.yml runs it again on the host's variables), before any connection.
    refused = [f for f in checks.run(inventory, offline=True, ansible=False) if f.level == "error"]
    if refused:
        for finding in refused:
            console.print(f"[red]refused[/red] {finding.line()}", highlight=False, soft_wrap=True)
        console.print(f"Nothing was changed. Fix the inventory, then run again: chaton deploy {inventory}")
        raise typer.Exit(1)
    args = ["--vault-password-file", str(vault_password_file)] if vault_password_file else []
    result = operate.deploy(inventory, console, only=only, extra_args=args)
    if not result.ok:
        for failure in result.failures:
            console.print(f"[red]FAILED[/red] on {failure.host}, task '{failure.task}': {failure.message}")
        again = f"chaton deploy {inventory}" + (f" --only {only}" if only else "")
        console.print(f"Fix the cause, then run again: {again}")
        raise typer.Exit(1)
    _status(inventory, title="Deployed")


def _status(
    inventory: Path,
    *,
    title: str,
    as_json: bool = False,
    port: int | None = None,
    cafile: str | None = None,
    address: str | None = None,
) -> int:
    from chaton import operate

    inv = _load(inventory)
    rows = operate.states(inv, address=address, port=port, cafile=cafile)
    if as_json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
    else:
        console.print(operate.table(rows, title))
    return 0 if all(r.healthy for r in rows) else 1


# status and audit: where the host answers HTTPS, and which CA signs its certificates.
PortOption = Annotated[
    int | None, typer.Option(help="HTTPS port; default: the inventory's chaton_public_https_port (443).")
]
CafileOption = Annotated[
    str | None,
    typer.Option(help="CA bundle to verify the certificates with; default: the host's own CA if it has one."),
]


@app.command()
def status(
    inventory: Annotated[Path, typer.Argument(help="Inventory directory or hosts.yml.")] = DEFAULT_INVENTORY,
    address: Annotated[
        str | None, typer.Option(help="Connect to this address instead of the names' DNS (before DNS is set up).")
    ] = None,
    port: PortOption = None,
    cafile: CafileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Health of each enabled service over HTTPS, its certificate's expiry. Non-zero exit when unhealthy.

    Example: chaton status inventories/mine --json
    Before DNS points at the server: chaton status inventories/mine --address 203.0.113.10
    """
    raise typer.Exit(
        _status(inventory, title="chaton status", as_json=as_json, port=port, cafile=cafile, address=address)
    )


@app.command()
def audit(
    inventory: Annotated[Path, typer.Argument(help="Inventory directory or hosts.yml.")] = DEFAULT_INVENTORY,
    report: Annotated[
        Path | None, typer.Option(help="Markdown report to write; default: audit-<host>.md in the inventory.")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Connect to this address instead of the names' DNS.")] = None,
    port: PortOption = None,
    cafile: CafileOption = None,
    host_checks: Annotated[
        bool, typer.Option(help="Also check backups and log retention on the host, through Ansible.")
    ] = True,
    max_backup_age: Annotated[int, typer.Option(help="Hours within which a backup archive must exist.")] = 48,
    vault_password_file: Annotated[Path | None, typer.Option(help="ansible-vault password file.")] = None,
) -> None:
    """Check the live host as an outsider would, against the CHATONS charter; write a report to publish.

    Over HTTPS: no third-party resource, security headers, TLS 1.2/1.3 only, terms of use and privacy pages,
    ChatonsInfos files. Through Ansible: backups scheduled with a recent archive, log retention.
    Non-zero exit on any failure.

    Example: chaton audit inventories/mine --report transparency/audit.md
    """
    from chaton import audit as a

    inv = _load(inventory)
    with console.status("auditing"):
        reports = a.run(
            inv,
            address=address,
            port=port,
            cafile=cafile,
            host_checks=host_checks,
            max_backup_age_hours=max_backup_age,
            vault_password_file=vault_password_file,
        )
    for r in reports:
        table = Table(title=f"chaton audit {r.domain}")
        for col in ("result", "where", "check", "detail"):
            table.add_column(col, overflow="fold")
        for c in r.checks:
            detail = c.detail + (f" [yellow]Fix:[/yellow] {c.fix}" if c.fix else "")
            table.add_row("[green]pass[/green]" if c.ok else "[red]FAIL[/red]", c.target, c.name, detail)
        console.print(table)
        path = report if report and len(reports) == 1 else inv.directory / f"audit-{r.host}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(r.markdown(), encoding="utf-8")
        failed = sum(not c.ok for c in r.checks)
        console.print(f"{len(r.checks) - failed} passed, {failed} failed; report: {path}")
    raise typer.Exit(0 if all(r.ok for r in reports) else 1)


def _backup_playbook(
    playbook: str, inventory: Path, extravars: dict, doing: str, again: str, limit: str | None = None
) -> list[str]:
    """Run a backup playbook with a spinner (on the hosts of ``limit``); return the lines its summary tasks printed."""
    from chaton.runner import run_playbook

    inv = _load(inventory)
    lines: list[str] = []

    def on_event(event: dict) -> None:
        data = event.get("event_data") or {}
        msg = (data.get("res") or {}).get("msg")
        if event.get("event") == "runner_on_ok" and data.get("task", "").startswith(("Show each", "Say what")):
            host = data.get("host", "?")
            lines.extend(f"{host}: {line}" for line in (msg if isinstance(msg, list) else [msg]) if line)

    with console.status(doing):
        result = run_playbook(playbook, inv.path, extravars=extravars, limit=limit, quiet=True, on_event=on_event)
    if not result.ok:
        for failure in result.failures:
            console.print(f"[red]FAILED[/red] on {failure.host}, task '{failure.task}': {failure.message}")
        console.print(f"Fix the cause, then run again: {again}")
        raise typer.Exit(1)
    return lines


@app.command()
def backup(
    inventory: Annotated[Path, typer.Argument(help="Inventory directory or hosts.yml.")] = DEFAULT_INVENTORY,
    list_only: Annotated[bool, typer.Option("--list", help="List the archives without backing up.")] = False,
) -> None:
    """Back up every service now (borgmatic), then list each service's archives and their sizes.

    Example: chaton backup inventories/mine --list
    """
    lines = _backup_playbook(
        "playbooks/backup.yml",
        inventory,
        {"backup_list_only": list_only},
        "listing the archives" if list_only else "backing up",
        f"chaton backup {inventory}" + (" --list" if list_only else ""),
    )
    for line in lines:
        console.print(line, highlight=False)
    console.print(f"Restore one service with: chaton restore {inventory} --service <name> [--archive <archive>]")


@app.command()
def restore(
    service: Annotated[str, typer.Option(help="The service to restore (as listed by chaton backup --list).")],
    inventory: Annotated[Path, typer.Argument(help="Inventory directory or hosts.yml.")] = DEFAULT_INVENTORY,
    archive: Annotated[str, typer.Option(help="Archive to restore; default: the latest.")] = "latest",
    repository: Annotated[
        str,
        typer.Option(
            help="Repository to read: auto (the local one if it holds the service's archives, else the remote one: "
            "a rebuilt host), local or remote."
        ),
    ] = "auto",
    host: Annotated[
        str | None,
        typer.Option(help="The server to restore it on; default: each server that backs it up (every one for 'host')."),
    ] = None,
) -> None:
    """Restore one service: stop it, put its directories and databases back from an archive, start it.

    On a host rebuilt from scratch (chaton deploy first), the archives are read from the remote repository with
    the passphrase and key kept on the controller. The current directories are kept as <dir>.chaton-pre-restore;
    a restore that stopped half-way is taken up by running the same command again, keeping those.

    Example: chaton restore inventories/mine --service ethercalc --archive ethercalc-2026-11-29T03:15:00
    """
    if repository not in ("auto", "local", "remote"):
        console.print(f"[red]--repository must be auto, local or remote, not '{repository}'.[/red]")
        raise typer.Exit(2)
    from chaton import operate

    try:
        limit = operate.restore_limit(_load(inventory), host)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    again = f"chaton restore {inventory} --service {service}"
    again += f" --archive {archive}" if archive != "latest" else ""
    again += f" --repository {repository}" if repository != "auto" else ""
    again += f" --host {host}" if host else ""
    lines = _backup_playbook(
        "playbooks/restore.yml",
        inventory,
        {"restore_service": service, "restore_archive": archive, "restore_repository": repository},
        f"restoring {service}" + (f" on {host}" if host else ""),
        again,
        limit=limit,
    )
    for line in lines:
        console.print(line, highlight=False)
    console.print(f"Check it: chaton status {inventory}")


@app.command()
def migrate(
    inventory: Annotated[Path, typer.Argument(help="Inventory directory or hosts.yml.")] = DEFAULT_INVENTORY,
    sources: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            help="A pad or sheet address, a poll's admin address, a PeerTube account's address or archive (.zip), "
            "or a file holding addresses (any text: one per line, a pasted mail). Repeatable.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace a pad or sheet the host already holds with other content; import again (a PeerTube "
            "account whose archive the host imported before)."
        ),
    ] = False,
    peertube_password_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="The password of each PeerTube account to move, on its source: one line (every account) or lines "
            "'<account> <password>'. Read here, handed to the host for the run only, never printed or kept.",
        ),
    ] = None,
    peertube_account: Annotated[
        str,
        typer.Option(help="The account on this host that receives a PeerTube account (default: the same name)."),
    ] = "",
    redirect: Annotated[
        Path | None,
        typer.Option(
            help="The inventory of the source host when chaton manages it: its sites then answer 301 from each "
            "moved address to the new one (playbooks/redirect.yml).",
        ),
    ] = None,
    from_host: Annotated[
        Path | None,
        typer.Option(
            "--from-host",
            help="The inventory of a chaton host to move whole: every pad, sheet and poll it holds (and its "
            "PeerTube accounts, with --peertube-password-file), listed on it (playbooks/migrate-list.yml).",
        ),
    ] = None,
    vault_password_file: Annotated[Path | None, typer.Option(help="ansible-vault password file.")] = None,
) -> None:
    """Bring pads, sheets, polls and PeerTube accounts from another host (Framapad, Framacalc...) onto this one.

    Etherpad pads with their history and chat, EtherCalc sheets with their formulas and workbooks, Framadate polls
    with their votes and comments, PeerTube accounts with their channels, videos and playlists (PeerTube's own
    archive).

    One row per address; the old → new addresses in <inventory>-migrate/<host>.json and .csv. A second
    run imports nothing twice and an interrupted one takes up where it stopped (<inventory>-migrate/<host>.state.json).
    Exits non-zero when an address was not imported.

    Example: chaton migrate inventories/mine --from addresses.txt --from https://framapad.org/p/notes

    A whole chaton host (a bigger server, two associations merging):
    chaton migrate inventories/new --from-host inventories/old --redirect inventories/old
    """
    from chaton import migrate as m
    from chaton import migrate_run

    if not sources and not from_host:
        console.print(
            "[red]--from is missing[/red]: give a pad, sheet, poll or PeerTube account address, or a file of "
            "addresses (or --from-host with a chaton host's inventory)"
        )
        raise typer.Exit(2)
    inv = _load(inventory)
    try:
        addresses = m.read_sources(sources or [])
    except FileNotFoundError as exc:
        console.print(f"[red]--from {exc.args[0]}[/red]: neither an http(s):// address nor a file")
        raise typer.Exit(2) from None
    if sources and not addresses:
        console.print(f"[red]no http(s):// address found in {', '.join(sources)}[/red]")
        raise typer.Exit(2)
    args = ["--vault-password-file", str(vault_password_file)] if vault_password_file else []
    old = _load(redirect) if redirect else None
    passwords = m.read_peertube_passwords(peertube_password_file) if peertube_password_file else {}
    if from_host:
        addresses += _list_source_host(inv, _load(from_host), args, with_accounts=bool(passwords))
        addresses = list(dict.fromkeys(addresses))
        if not addresses:
            say(f"{from_host} holds no pad, sheet or poll: nothing to move")
            raise typer.Exit(0)
    rows, written = migrate_run.run(
        inv,
        addresses,
        console,
        force=force,
        extra_args=args,
        peertube_passwords=passwords,
        peertube_account=peertube_account,
    )
    console.print(migrate_run.table(rows, "chaton migrate"))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()), highlight=False)
    for host, files in written.items():
        say(f"{host}: old → new addresses in {files['json']} and {files['csv']}")
    problems = [r for r in rows if r.status in migrate_run.PROBLEMS]
    redirected = True
    if old is not None:
        redirected = migrate_run.redirect(old, written, console, extra_args=args)
    if problems:
        say(f"Fix what the rows say, then run the same command again: chaton migrate {inventory} --from ...")
    raise typer.Exit(1 if problems or not redirected else 0)


def _list_source_host(inv, source, args: list[str], with_accounts: bool) -> list[str]:
    """`chaton migrate --from-host`: what the source host holds, said and written beside the inventory."""
    from chaton import migrate as m
    from chaton import migrate_run

    found, why = migrate_run.list_host(source, console, args)
    if why is not None:
        console.print(f"[red]could not list what {source.path} holds[/red]: {why}")
        raise typer.Exit(1)
    listed = migrate_run.listed_addresses(found, with_accounts)
    for host, lists in found.items():
        counts = {service: len(lists[service]) for service in migrate_run.LISTED}
        say(
            f"{host} holds {counts['etherpad']} pad(s), {counts['ethercalc']} sheet(s) or workbook(s), "
            f"{counts['framadate']} poll(s), {counts['peertube']} PeerTube account(s)"
        )
        if counts["peertube"] and not with_accounts:
            say(
                "  its PeerTube accounts move with their passwords (--peertube-password-file) or their archives "
                "(--from alice.zip): not this time"
            )
    if found:
        listing = m.paths(inv.directory, "listed")["json"].with_name(f"listed-from-{'-'.join(sorted(found))}.txt")
        # Poll admin addresses give the right to change the polls: 0600, like the state and the mapping.
        m.write_atomic(listing, "".join(f"{a}\n" for a in listed))
        say(f"the {len(listed)} address(es) to move are in {listing} (a --from file)")
    return listed


@app.command()
def demo(
    release: Annotated[str, typer.Option(help="Debian release of the container (12 or 13).")] = "12",
    peertube_build: Annotated[
        str,
        typer.Option(
            help="PeerTube build inside CHATON_ARTIFACT_MIRROR, pinned by its SHA256SUMS line "
            "(default: the newest test-builds/peertube-v*.tar.xz there)."
        ),
    ] = "",
) -> None:
    """Deploy a whole CHATONS host into a local systemd container and print its URLs (what `make demo` runs).

    Example: CHATON_ARTIFACT_MIRROR=/srv/mirror chaton demo
    """
    from chaton import demo as d
    from chaton import operate

    directory = d.demo_dir() / "inventory"
    build = d.peertube_test_build(peertube_build)
    if peertube_build and not build:
        console.print(f"[red]{peertube_build}: no such PeerTube build in CHATON_ARTIFACT_MIRROR's SHA256SUMS[/red]")
        raise typer.Exit(2)
    d.ensure_container(release, say)
    services = d.available_services(say, build)
    if build and "peertube" in services:
        console.print(f"PeerTube {build['peertube_version']}: the build {build['peertube_mirror_path']} of the mirror")
    inventory = d.write_inventory(directory, services, build if "peertube" in services else None)
    d.apply_container_quirks(inventory)
    console.print(f"demo inventory: {directory}")
    result = operate.deploy(inventory, console)
    if not result.ok:
        for failure in result.failures:
            console.print(f"[red]FAILED[/red] on {failure.host}, task '{failure.task}': {failure.message}")
        console.print("Re-run with: make demo (the container and what is already deployed are reused)")
        raise typer.Exit(1)
    ca = directory / "secrets" / d.CONTAINER / "ca.crt"
    code = _status(inventory, title="Demo host")
    names = [d.DOMAIN] + [f"{specs_subdomain(s)}.{d.DOMAIN}" for s in services]
    console.print("\nOpen in a browser on this machine (Chromium resolves *.localhost by itself; elsewhere add")
    console.print(f"  127.0.0.1 {' '.join(names)}   to /etc/hosts):")
    for name in names:
        console.print(f"  https://{name}:{d.HTTPS_PORT}/")
    console.print(f"The certificates come from the demo's own CA: trust {ca} to silence the browser warning.")
    console.print(f"Credentials of the services: {directory / 'secrets' / d.CONTAINER}/ (mode 0600 files).")
    for line in d.next_steps(directory, services):
        say(line)
    console.print(f"Stop it with: docker rm -f {d.CONTAINER}")
    raise typer.Exit(code)


def _mirror_pins(inventory: Path | None):
    from chaton import inventory as inv
    from chaton import mirror

    try:
        return mirror.pins() if inventory is None else mirror.inventory_pins(inventory)
    except inv.InventoryError as exc:
        console.print(f"[red]{exc}[/red]: {exc.fix}")
        raise typer.Exit(2) from exc


def _mirror_report(statuses, directory: Path, again: str) -> None:
    if not statuses:
        console.print("No enabled service in the inventory: no file to mirror.")
        return
    problems = [s for s in statuses if s.state != "present"]
    console.print(f"{len(statuses) - len(problems)} of {len(statuses)} files present and verified in {directory}")
    if problems:
        console.print(f"[red]{len(problems)} missing or wrong[/red]: run {again}")
        raise typer.Exit(1)


MIRROR_INVENTORY = typer.Argument(help="Inventory whose enabled services count (all services when absent).")


@mirror_app.command("fetch")
def mirror_fetch(
    directory: Annotated[Path, typer.Argument(help="The mirror directory (created when absent).")],
    inventory: Annotated[Path | None, MIRROR_INVENTORY] = None,
) -> None:
    """On a connected machine: download every file the services need into DIR/<host>/<path>, verified against
    the roles' pins, and write DIR/SHA256SUMS. Files already there with the right checksum are kept.

    Example: chaton mirror fetch /srv/chaton-mirror inventories/mine
    """
    from chaton import mirror

    def log(line: str) -> None:
        console.print(line, markup=False, soft_wrap=True)

    statuses = mirror.fetch(directory, _mirror_pins(inventory), log=log)
    _mirror_report(statuses, directory, f"chaton mirror fetch {directory}" + (f" {inventory}" if inventory else ""))


@mirror_app.command("check")
def mirror_check(
    directory: Annotated[Path, typer.Argument(help="The mirror directory.")],
    inventory: Annotated[Path | None, MIRROR_INVENTORY] = None,
) -> None:
    """Per file the services need: present (right checksum), missing, or wrong (expected and actual checksums).
    Exits non-zero on any missing or wrong file.

    Example: chaton mirror check /srv/chaton-mirror inventories/mine
    """
    from chaton import mirror

    statuses = mirror.check(directory, _mirror_pins(inventory))
    for status in statuses:
        console.print(status.line(), markup=False, soft_wrap=True)
    again = f"chaton mirror fetch {directory}" + (f" {inventory}" if inventory else "") + " on a connected machine"
    _mirror_report(statuses, directory, again)


def specs_subdomain(service: str) -> str:
    from chaton import specs

    return specs.services()[service].subdomain


@harness.command("engine")
def harness_engine() -> None:
    """Make sure a Docker engine answers (installs docker.io and starts dockerd when needed).

    Example: chaton harness engine
    """
    from chaton.harness import docker as engine

    engine.ensure_engine()
    console.print("Docker engine answers.")


@harness.command("images")
def harness_images(
    releases: Annotated[list[str] | None, typer.Argument(help="Debian versions (12, 13).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when the recipe has not changed.")] = False,
) -> None:
    """Build the local Debian systemd images (debootstrap, docker import) and their warm variants, cached by recipe.

    Example: chaton harness images 12 13
    """
    from chaton.harness import docker as engine
    from chaton.harness import images

    engine.ensure_engine()
    for release in releases or ["12", "13"]:
        images.build(release, force=force)
        images.build_warm(release)


@harness.command("test")
def harness_test(
    scenarios: Annotated[list[str] | None, typer.Argument(help="Scenarios to run (default: all, in order).")] = None,
    jobs: Annotated[int, typer.Option(help="Scenario runs (scenario, release) at once.")] = 2,
) -> None:
    """Run Molecule scenarios on Debian 12 and 13 (CHATON_RELEASES="12" for one).

    Example: CHATON_RELEASES=13 chaton harness test base
    """
    from chaton.harness import scenarios as sc

    root = project_root()
    names = scenarios or sc.available(root)
    results = sc.run(root, names, jobs=jobs, log=say)
    table = Table(title="Molecule scenarios")
    for col in ("scenario", "debian", "result", "seconds", "skipped"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.scenario, r.release, "passed" if r.ok else "[red]FAILED[/red]", f"{r.seconds:.0f}", "; ".join(r.skipped)
        )
    console.print(table)
    print(f"Seconds per phase (also in {root / '.cache' / 'logs' / 'times.md'}):")
    print(sc.times_table(results), end="")
    passed = sum(r.ok for r in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


@harness.command("clean")
def harness_clean() -> None:
    """Remove the Molecule instances left behind by interrupted runs.

    Example: chaton harness clean
    """
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "name=^chaton-"], capture_output=True, text=True, check=False
    ).stdout.split()
    if out:
        subprocess.run(["docker", "rm", "-f", *out], check=False)
    console.print(f"removed {len(out)} instance(s)")


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    release: Annotated[str, typer.Option(help="Debian release of the host (12 or 13).")] = "12",
    reuse: Annotated[
        bool, typer.Option(help="Measure the host converged by the last run instead of a new one.")
    ] = False,
    report_only: Annotated[bool, typer.Option(help="Rewrite the report from the last run's figures.")] = False,
    only: Annotated[
        str | None,
        typer.Option(
            help="Measure only this part, keep the rest: etherpad, deploy (`chaton deploy --only` for each "
            "service) or transcode (PeerTube under Etherpad load), on the host the last run converged, or light "
            "(the three light services in a new 1 GB container)."
        ),
    ] = None,
) -> None:
    """Footprint, converge cost and Etherpad's served performance of a whole host (PeerTube transcoding under
    Etherpad load too), then the light profile in 1 GB; writes bench/RESULTS.md.

    Example: CHATON_ARTIFACT_MIRROR=/srv/mirror chaton bench
    """
    if ctx.invoked_subcommand:
        return
    from chaton.bench import run

    command = " ".join(["chaton", *sys.argv[1:]])
    raise typer.Exit(run.bench(console, release, reuse, report_only, command, only))


@bench_app.command("audit")
def bench_audit(
    release: Annotated[str, typer.Option(help="Debian release of the host (12 or 13).")] = "12",
    keep: Annotated[bool, typer.Option(help="Keep the host container afterwards.")] = False,
    report_only: Annotated[bool, typer.Option(help="Rewrite the report from the last run's figures.")] = False,
) -> None:
    """Lynis, testssl.sh, unit exposure, open sockets, secret search, against stock Debian; writes bench/RESULTS.md.

    Example: CHATON_ARTIFACT_MIRROR=/srv/mirror chaton bench audit
    """
    from chaton.bench import run

    raise typer.Exit(run.audit(console, release, keep, report_only, " ".join(["chaton", *sys.argv[1:]])))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
