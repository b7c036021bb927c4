"""Whether a PeerTube release is in the mirror (the application tests need it)."""

import os
from pathlib import Path

MIRROR = os.environ.get("CHATON_ARTIFACT_MIRROR", "")
VERSION = "6.3.0"
APP_AVAILABLE = bool(MIRROR) and Path(MIRROR, "peertube", f"peertube-v{VERSION}.tar.xz").is_file()
# Molecule names the test files on pytest's command line, so collect_ignore
# would not apply: the application modules skip themselves.
