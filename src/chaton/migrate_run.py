"""`chaton migrate` for one inventory: plan here, import on each host through playbooks/migrate.yml, report."""

from __future__ import annotations

import json
import tempfile
import urllib.parse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from chaton import migrate
from chaton.inventory import Inventory
from chaton.runner import playbook_progress, run_playbook

# The playbook's tasks whose items move the bar: one download and one import per item.
STEPS = (
    "Download each pad, sheet and poll",
    "Move each PeerTube account",
    "Download each sheet of the workbooks",
    "Import each",
)
PROBLEMS = ("failed", "refused", "not yet", "not supported")


def run(
    inv: Inventory,
    addresses: list[str],
    console: Console,
    *,
    force: bool = False,
    extra_args: list[str] | None = None,
    peertube_passwords: dict[str, str] | None = None,
    peertube_account: str = "",
) -> tuple[list[migrate.Row], dict[str, dict[str, Path]]]:
    """Migrate the addresses to every host of the inventory; the rows and the files written per host."""
    items = [migrate.classify(a) for a in addresses]
    all_rows: list[migrate.Row] = []
    written: dict[str, dict[str, Path]] = {}
    for host in inv.chaton_hosts.values():
        files = migrate.paths(inv.directory, host.name)
        state = migrate.State.load(files["state"])
        batch, rows = migrate.plan(
            items, state, force=force, peertube_passwords=peertube_passwords, peertube_account=peertube_account
        )
        if batch:
            # The passwords go to the playbook by the items' keys, never into the state or the rows.
            secrets = {
                b["i"]: (peertube_passwords or {}).get(b["account"]) or (peertube_passwords or {}).get("*", "")
                for b in batch
                if b["service"] == "peertube"
            }
            rows += _import(inv, host.name, batch, console, force, extra_args or [], secrets)
        for row in rows:
            if row.status != "skipped":
                state.record(row)
        state.write_mapping(files["json"], files["csv"])
        all_rows += rows
        written[host.name] = files
    return all_rows, written


def _import(
    inv: Inventory,
    host: str,
    batch: list[dict],
    console: Console,
    force: bool,
    extra_args: list[str],
    peertube_passwords: dict[str, str],
) -> list[migrate.Row]:
    with tempfile.TemporaryDirectory(prefix="chaton-migrate-") as tmp:
        results_file = Path(tmp) / "results.json"
        with playbook_progress(console) as progress:
            bar = progress.add_task(f"migrating to {host}", total=2 * len(batch), current="")
            done = 0

            def on_event(event: dict) -> None:
                nonlocal done
                data = event.get("event_data") or {}
                task = data.get("task", "")
                if event.get("event") == "playbook_on_task_start":
                    progress.update(bar, current=task[:50])
                elif event.get("event", "").startswith("runner_item_on_") and task.startswith(STEPS):
                    done += 1
                    progress.update(bar, completed=done, total=max(done, progress.tasks[0].total or 0))

            result = run_playbook(
                "playbooks/migrate.yml",
                inv.path,
                extravars={
                    "migrate_items": batch,
                    "migrate_force": force,
                    "migrate_results": str(results_file),
                    "migrate_peertube_passwords": peertube_passwords,
                },
                limit=host,
                extra_args=extra_args,
                quiet=True,
                on_event=on_event,
            )
            progress.update(bar, completed=progress.tasks[0].total, current="done" if result.ok else "stopped")
        results = json.loads(results_file.read_text(encoding="utf-8")) if results_file.is_file() else []
    rows = migrate.rows_from_results(results, batch)
    if not result.ok:
        why = "; ".join(f"task '{f.task}': {f.message}"[:300] for f in result.failures) or result.status
        for row in rows:
            if row.detail == "the run stopped before this item":
                row.detail = f"the run stopped ({why}); run the same command again to take it up"
    return rows


def _run_with_bar(
    playbook: str, inv: Inventory, extravars: dict, label: str, console: Console, extra_args: list[str]
) -> str | None:
    """Run a playbook on an inventory behind a bar naming its current task; None, or why it stopped."""
    with playbook_progress(console) as progress:
        bar = progress.add_task(label, total=None, current="")
        result = run_playbook(
            playbook,
            inv.path,
            extravars=extravars,
            extra_args=extra_args,
            quiet=True,
            on_event=lambda e: progress.update(bar, current=((e.get("event_data") or {}).get("task") or "")[:50]),
        )
        progress.update(bar, current="done" if result.ok else "stopped")
    if result.ok:
        return None
    return "; ".join(f"task '{f.task}': {f.message}"[:300] for f in result.failures) or result.status


# What playbooks/migrate-list.yml lists of a host, in this order.
LISTED = ("etherpad", "ethercalc", "framadate", "peertube")


def list_host(
    old: Inventory, console: Console, extra_args: list[str]
) -> tuple[dict[str, dict[str, list[str]]], str | None]:
    """Every pad, sheet, poll and local PeerTube account of each host of ``old`` (chaton's), as addresses by
    service, read on the host (playbooks/migrate-list.yml); and why not, when the playbook stopped."""
    with tempfile.TemporaryDirectory(prefix="chaton-list-") as tmp:
        why = _run_with_bar(
            "playbooks/migrate-list.yml",
            old,
            {"list_results_dir": tmp},
            f"listing what {old.path} holds",
            console,
            extra_args,
        )
        if why is not None:
            return {}, why
        found = {}
        for path in sorted(Path(tmp).glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            found[path.stem] = {service: [str(a) for a in data.get(service) or []] for service in LISTED}
    return found, None


def listed_addresses(found: dict[str, dict[str, list[str]]], with_accounts: bool) -> list[str]:
    """The addresses to move from what ``list_host`` found; PeerTube accounts only with their passwords."""
    services = LISTED if with_accounts else tuple(s for s in LISTED if s != "peertube")
    return [address for lists in found.values() for service in services for address in lists[service]]


def redirect(old: Inventory, written: dict[str, dict[str, Path]], console: Console, extra_args: list[str]) -> bool:
    """Make the source host (chaton's, inventory ``old``) answer 301 from each moved address to its new one.

    The mapping is every address done so far on every host of the new inventory (the files ``run`` wrote), so
    the redirects always cover every run. Return whether the playbook ran through.
    """
    mapping = []
    for files in written.values():
        if files["json"].is_file():
            mapping += json.loads(files["json"].read_text(encoding="utf-8"))
    names = {urllib.parse.urlsplit(m["old"]).hostname for m in mapping}
    why = _run_with_bar(
        "playbooks/redirect.yml", old, {"redirect_mapping": mapping}, f"redirecting on {old.path}", console, extra_args
    )
    if why is not None:
        console.print(f"[red]the redirects were not written[/red]: {why}")
        return False
    console.print(
        f"{len(mapping)} moved address(es) of {', '.join(sorted(n for n in names if n)) or 'no site'}: the sites of "
        f"{old.path} that serve them answer 301 to the new addresses",
        highlight=False,
    )
    return True


def table(rows: list[migrate.Row], title: str) -> Table:
    tab = Table(title=title)
    for col in ("source", "new address", "status", "size", "detail"):
        tab.add_column(col, overflow="fold")
    colours = {"imported": "green", "already there": "green", "skipped": "dim"}
    for r in rows:
        colour = colours.get(r.status, "red" if r.status in ("failed", "refused") else "yellow")
        tab.add_row(
            r.source,
            r.address or "-",
            f"[{colour}]{r.status}[/{colour}]",
            migrate.size(r.bytes) if r.bytes else "-",
            r.detail,
        )
    return tab
