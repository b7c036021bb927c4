"""Collect the application tests only when the Framadate artifacts are in the mirror."""

import os
from pathlib import Path

MIRROR = os.environ.get("CHATON_ARTIFACT_MIRROR", "")
# framadate_php_libraries of the scenario (molecule.yml): debian or bundled.
LIBRARIES = os.environ.get("CHATON_FRAMADATE_LIBRARIES") or "debian"
FILES = {
    "debian": [
        "github.com/framasoft/framadate/archive/refs/tags/1.1.19.tar.gz",
        "github.com/sabre-io/vobject/archive/refs/tags/4.4.1.tar.gz",
        "github.com/sabre-io/xml/archive/refs/tags/2.2.5.tar.gz",
        "github.com/sabre-io/uri/archive/refs/tags/2.2.2.tar.gz",
        "github.com/olivierperez/o80-i18n/archive/ef98bd7bd733d23729999ac148f79ea1d7b9008c.tar.gz",
    ],
    # framadate_bundled_url of molecule.yml, as host/path.
    "bundled": ["framagit.org/framasoft/framadate/framadate/-/releases/1.1.19"],
}[LIBRARIES]
APP = bool(MIRROR) and all(Path(MIRROR, f).is_file() for f in FILES)

# The converge already printed the one "SKIPPED framadate: ..." line.
collect_ignore = [] if APP else ["test_framadate_app.py"]
