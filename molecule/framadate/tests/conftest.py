"""Collect the application tests only when the Framadate artifacts are in the mirror."""

import os
from pathlib import Path

MIRROR = os.environ.get("CHATON_ARTIFACT_MIRROR", "")
# framadate_php_libraries of the scenario (molecule.yml): debian or bundled.
LIBRARIES = os.environ.get("CHATON_FRAMADATE_LIBRARIES") or "debian"
FILES = {
    "debian": [
        "framadate/framadate-1.1.19.tar.gz",
        "framadate-libs/sabre-vobject-4.4.1.tar.gz",
        "framadate-libs/sabre-xml-2.2.5.tar.gz",
        "framadate-libs/sabre-uri-2.2.2.tar.gz",
        "framadate-libs/o80-i18n-develop-ef98bd7.tar.gz",
    ],
    "bundled": ["framadate/framadate-1.1.19-bundled.zip"],
}[LIBRARIES]
APP = bool(MIRROR) and all(Path(MIRROR, f).is_file() for f in FILES)

# The converge already printed the one "SKIPPED framadate: ..." line.
collect_ignore = [] if APP else ["test_framadate_app.py"]
