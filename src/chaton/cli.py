"""The chaton command."""

from __future__ import annotations

import subprocess
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from chaton import __version__, project_root

console = Console()
app = typer.Typer(
    help="Turn a small Debian server into a CHATONS host.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
harness = typer.Typer(help="Test harness for maintainers: Docker engine, Debian images, Molecule scenarios.")
app.add_typer(harness, name="harness")


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
    """Build the local Debian systemd images (debootstrap, docker import), cached by recipe.

    Example: chaton harness images 12 13
    """
    from chaton.harness import docker as engine
    from chaton.harness import images

    engine.ensure_engine()
    for release in releases or ["12", "13"]:
        images.build(release, force=force)


@harness.command("test")
def harness_test(
    scenarios: Annotated[list[str] | None, typer.Argument(help="Scenarios to run (default: all, in order).")] = None,
    jobs: Annotated[int, typer.Option(help="Releases tested at once.")] = 2,
) -> None:
    """Run Molecule scenarios on Debian 12 and 13 (CHATON_RELEASES="12" for one).

    Example: CHATON_RELEASES=13 chaton harness test base
    """
    from chaton.harness import scenarios as sc

    root = project_root()
    names = scenarios or sc.available(root)
    results = sc.run(root, names, jobs=jobs, log=console.print)
    table = Table(title="Molecule scenarios")
    for col in ("scenario", "debian", "result", "seconds", "skipped"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.scenario, r.release, "passed" if r.ok else "[red]FAILED[/red]", f"{r.seconds:.0f}", "; ".join(r.skipped)
        )
    console.print(table)
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
