"""chaton: turn a small Debian server into a CHATONS host."""

from pathlib import Path

__version__ = "0.1.0"


def project_root() -> Path:
    """The repository (or installed tree) holding site.yml, roles/ and molecule/."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "site.yml").is_file() and (parent / "roles").is_dir():
            return parent
    return Path.cwd()
