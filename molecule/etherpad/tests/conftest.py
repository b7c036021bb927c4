"""Whether the Etherpad release is in the mirror (the application tests need it)."""

import os
from pathlib import Path

MIRROR = os.environ.get("CHATON_ARTIFACT_MIRROR", "")
APP_AVAILABLE = bool(MIRROR) and Path(MIRROR, "github.com/ether/etherpad/archive/refs/tags/v3.3.1.tar.gz").is_file()
# Molecule names the test files on pytest's command line, so collect_ignore
# would not apply: the application modules skip themselves.
