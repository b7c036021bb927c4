"""Whether a PeerTube release is in the mirror (the application tests need it)."""

import os
from pathlib import Path

MIRROR = os.environ.get("CHATON_ARTIFACT_MIRROR", "")
# The test build of the mirror (molecule.yml: molecule_peertube_version / _mirror_path).
VERSION = "8.0.1"
APP_AVAILABLE = bool(MIRROR) and Path(MIRROR, "test-builds", f"peertube-v{VERSION}.tar.xz").is_file()
# Molecule names the test files on pytest's command line, so collect_ignore
# would not apply: the application modules skip themselves.
