"""`chaton migrate`: bring people's pads and sheets from another host (Framapad, Framacalc...) to this one.

What runs where:

- here (the controller): the addresses people gave are read and sorted (`classify`), each is given its name on
  the host (`plan`), and a state file remembers what is already done, so a second run imports nothing twice and
  an interrupted run takes up where it stopped;
- on the host, through `playbooks/migrate.yml`: each pad or sheet is downloaded from its source and imported on
  loopback. The host, not the volunteer's computer, downloads: it has the bandwidth, the data crosses the network
  once, and EtherCalc only accepts writes from loopback (the proxy refuses them from outside). Etherpad's API key
  never leaves the host either.

Etherpad: the `.etherpad` export (`/p/<pad>/export/etherpad`) carries every revision, the authors with their
colours and the chat; the host's own import endpoint (`/p/<pad>/import`) writes it in one step (upstream's
`setPadRaw`). The HTTP API has no call that takes a history (`setText`/`setHTML` make one new revision, `copyPad`
works within one host), so the import endpoint is the only way that keeps the timeslider. Upstream refuses it
into a pad of 10 revisions or more; chaton refuses earlier, into any pad that has revisions on the host, unless
`--force` (the host's pad is deleted first).

EtherCalc: `GET /_/<sheet>` gives the SocialCalc save (formulas, formats), put back with `PUT /_/<sheet>`
(`text/x-socialcalc`); a multi-sheet workbook (`/=<name>`) is its index sheet plus one sheet per tab.

Framadate: from a poll's admin address (what its creator holds), the admin page is read back into the poll's
fields, choices, votes and comments (plugins/filter/chaton_framadate.py) and written into the host's database in
one transaction (playbooks/files/framadate-import.php): Framadate has neither an export that keeps a poll whole nor
an import. The poll's public id on the host derives from its admin address, so a second run finds it; its admin id
is new, and the new admin address is what the mapping gives.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import urllib.parse
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

# What the playbook can import; the other services are recognised to say "not yet".
SUPPORTED = ("etherpad", "ethercalc", "framadate", "peertube")
PEERTUBE_ACCOUNT_ONLY = (
    "a PeerTube video or channel address: PeerTube moves a whole account, with its videos, channels and comments; "
    "give the account's address (…/a/<name>) and its password (--peertube-password-file)"
)
# Statuses of a row; the first two mean done: a later run leaves the item alone.
DONE = ("imported", "already there")
URL = re.compile(r"https?://[^\s<>\"']+")
PEERTUBE_PATHS = ("/w/", "/videos/", "/a/", "/c/", "/v/")
SHEET_NAME = re.compile(r"^[A-Za-z0-9_.~-]+$")
PUBLIC_POLL = (
    "the public address of a Framadate poll: moving a poll takes its admin address, the one ending in /admin that "
    "Framadate gave its creator (in the mail it sent)"
)


@dataclass(frozen=True)
class Item:
    """One address people gave, sorted."""

    source: str
    service: str  # etherpad, ethercalc, framadate, peertube or unknown
    kind: str = ""  # pad, readonly, sheet, workbook
    base: str = ""  # scheme://host[:port][/path] where the application lives
    name: str = ""  # the pad's or sheet's name on the source (a read-only id: r.<id>)
    problem: str = ""  # why it is not imported, when known before any request

    @property
    def export(self) -> str:
        """Where the host downloads it from."""
        quoted = urllib.parse.quote(self.name, safe="=.~-_")
        if self.service == "etherpad":
            return f"{self.base}/p/{quoted}/export/etherpad"
        if self.service == "framadate":
            # The admin page answers under this name with or without Framadate's short addresses (URL_PROPRE).
            return f"{self.base}/adminstuds.php?poll={quoted}"
        if self.service == "peertube":
            # The account's archive is asked for through the API (playbooks/files/peertube-move.py).
            return self.base
        return f"{self.base}/_/{quoted}"


def _hint(hostname: str) -> str:
    """The service a host name suggests (framapad.org, calc.example.org...), if any."""
    labels = hostname.lower()
    for word, service in (("pad", "etherpad"), ("calc", "ethercalc"), ("date", "framadate"), ("tube", "peertube")):
        if word in labels:
            return service
    return ""


def _peertube_archive(path: Path) -> Item:
    """A PeerTube account archive (the .zip PeerTube's user export gives): its account's name, read from it."""
    source = str(path.resolve())
    try:
        with zipfile.ZipFile(path) as archive:
            account = json.loads(archive.read("peertube/account.json"))
        name = str(account.get("name") or "")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        return Item(source, "peertube", "archive", problem="not a PeerTube account archive (no peertube/account.json)")
    if not SHEET_NAME.match(name):
        return Item(source, "peertube", "archive", problem="the archive names no account")
    return Item(source, "peertube", "archive", source, name)


def classify(address: str) -> Item:
    """Sort one address: which application, which pad or sheet, or why it cannot be migrated."""
    if address.endswith(".zip") and Path(address).is_file():
        return _peertube_archive(Path(address))
    address = address.strip().rstrip(".,;)")
    parsed = urllib.parse.urlsplit(address)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return Item(address, "unknown", problem="not a web address (http:// or https://)")
    path = urllib.parse.unquote(parsed.path)
    hint = _hint(parsed.hostname)
    # Etherpad: .../p/<pad>[/timeslider|/export/...]; the application may live under a path (/pad/p/<pad>).
    found = re.match(r"^(?P<prefix>.*?)/p/(?P<pad>[^/]+)(?:/.*)?$", path)
    if found and hint != "peertube":
        base = f"{parsed.scheme}://{parsed.netloc}{urllib.parse.quote(found['prefix'])}"
        pad = found["pad"]
        if pad.startswith("g.") and "$" in pad:
            return Item(
                address,
                "etherpad",
                "group",
                base,
                pad,
                "group pad: private to its group on the source, chaton cannot read it; export it from the pad's "
                "menu (Etherpad format) and import it by hand",
            )
        kind = "readonly" if pad.startswith("r.") else "pad"
        return Item(address, "etherpad", kind, base, pad)
    poll = _framadate(parsed, path)
    if poll:
        return poll
    account = re.match(r"^(?P<prefix>.*?)/(?:a|accounts)/(?P<name>[^/]+)(?:/.*)?$", path)
    if account and (hint == "peertube" or path.startswith(("/a/", "/accounts/"))):
        base = f"{parsed.scheme}://{parsed.netloc}{urllib.parse.quote(account['prefix'])}"
        name = account["name"]
        if "@" in name:
            return Item(
                address,
                "peertube",
                "account",
                problem="an account of another PeerTube instance (name@instance): move it from its own instance",
            )
        return Item(address, "peertube", "account", base, name)
    if hint == "peertube" or path.startswith(PEERTUBE_PATHS):
        return Item(address, "peertube", problem=PEERTUBE_ACCOUNT_ONLY)
    # EtherCalc: /<sheet>, /<sheet>/view|edit|app, /=<workbook>, /_/<sheet>.
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["_"]:
        parts = parts[1:]
    if parts and len(parts) <= 2 and (len(parts) == 1 or parts[1] in ("view", "edit", "app")):
        name = parts[0]
        if SHEET_NAME.match(name.removeprefix("=")) and not name.startswith(("_", "=_")):
            base = f"{parsed.scheme}://{parsed.netloc}"
            return Item(address, "ethercalc", "workbook" if name.startswith("=") else "sheet", base, name)
    return Item(address, "unknown", problem="not the address of an Etherpad pad, EtherCalc sheet or Framadate poll")


def _framadate(parsed: urllib.parse.SplitResult, path: str) -> Item | None:
    """A Framadate poll's address: its admin address (<id of 24>/admin or adminstuds.php?poll=) is migrated; its
    public address (<id of 16> or studs.php?poll=) gives no right to, and is reported."""
    address = urllib.parse.urlunsplit(parsed)
    query = urllib.parse.parse_qs(parsed.query)
    found = re.match(r"^(?P<prefix>.*?)/(?P<id>[A-Za-z0-9]{24})/admin(?:/.*)?$", path)
    script = re.match(r"^(?P<prefix>.*?)/(?P<page>adminstuds|studs|exportcsv)\.php$", path)
    if script:
        poll = (query.get("poll") or query.get("admin") or [""])[0]
        if script["page"] == "adminstuds" and re.fullmatch(r"[A-Za-z0-9]{24}", poll):
            found = re.match(r"(?P<prefix>.*)", script["prefix"])
            admin_id = poll
        else:
            return Item(address, "framadate", "public", problem=PUBLIC_POLL)
    else:
        admin_id = found["id"] if found else ""
    if found:
        base = f"{parsed.scheme}://{parsed.netloc}{urllib.parse.quote(found['prefix'])}"
        return Item(address, "framadate", "poll", base, admin_id)
    if _hint(parsed.hostname or "") == "framadate" and re.fullmatch(r"/[A-Za-z0-9]{16}(/vote/[A-Za-z0-9]+)?/?", path):
        return Item(address, "framadate", "public", problem=PUBLIC_POLL)
    return None


def read_sources(values: list[str]) -> list[str]:
    """Addresses from the --from values: an address itself, or a file holding addresses (any text: one per
    line, a pasted mail or a bookmarks export). Duplicates are kept once, in order."""
    found: list[str] = []
    for value in values:
        if URL.match(value):
            candidates = [value]
        elif value.endswith(".zip") and zipfile.is_zipfile(value):
            # A PeerTube account archive, given as a file.
            candidates = [str(Path(value).resolve())]
        else:
            path = Path(value)
            if not path.is_file():
                raise FileNotFoundError(value)
            text = path.read_text(encoding="utf-8", errors="replace")
            candidates = [m.group(0) for m in URL.finditer(text)]
        for candidate in candidates:
            candidate = candidate.rstrip(".,;)")
            if candidate not in found:
                found.append(candidate)
    return found


@dataclass
class Row:
    """One item's outcome, as shown and as kept in the state file."""

    source: str
    service: str
    status: str
    address: str = ""
    name: str = ""
    bytes: int = 0
    detail: str = ""
    # A poll's public address on the source and on the host: the mapping and --redirect take it too.
    public_source: str = ""
    public: str = ""


@dataclass
class State:
    """What earlier runs did for one host: rows by source address (JSON beside the inventory)."""

    path: Path
    rows: dict[str, Row] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        if not path.is_file():
            return cls(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        known = set(Row.__dataclass_fields__)
        rows = {src: Row(**{k: v for k, v in row.items() if k in known}) for src, row in data["rows"].items()}
        return cls(path, rows)

    def done(self, source: str) -> bool:
        row = self.rows.get(source)
        return row is not None and row.status in DONE

    def record(self, row: Row) -> None:
        """Keep a row, written at once (an interrupted run keeps what it did)."""
        self.rows[row.source] = row
        write_atomic(self.path, json.dumps({"rows": {s: asdict(r) for s, r in self.rows.items()}}, indent=2))

    def write_mapping(self, json_path: Path, csv_path: Path) -> None:
        """Old address → new address of every item done, as JSON and CSV (what a host sends its users)."""
        done = [r for r in self.rows.values() if r.status in DONE]
        mapping = [{"old": r.source, "new": r.address, "service": r.service} for r in done]
        # Who holds a poll's public address (its voters) is sent to the public address on the host.
        mapping += [
            {"old": r.public_source, "new": r.public, "service": r.service}
            for r in done
            if r.public_source and r.public and r.public_source != r.source
        ]
        write_atomic(json_path, json.dumps(mapping, indent=2, ensure_ascii=False) + "\n")
        with tempfile.NamedTemporaryFile("w", dir=csv_path.parent, delete=False, newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["old", "new", "service"])
            writer.writerows([m["old"], m["new"], m["service"]] for m in mapping)
        os.replace(f.name, csv_path)


def write_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all, readable by its owner only (tempfile makes it 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as f:
        f.write(text)
    os.replace(f.name, path)


def read_peertube_passwords(path: Path) -> dict[str, str]:
    """The source passwords of PeerTube accounts: a file of one line (the password of every account given) or of
    lines "<account name> <password>". Keys: account names, "*" for every account."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(lines) == 1 and " " not in lines[0]:
        return {"*": lines[0]}
    found = {}
    for line in lines:
        name, _, password = line.partition(" ")
        found[name] = password.strip()
    return found


def plan(
    items: list[Item],
    state: State,
    force: bool = False,
    peertube_passwords: dict[str, str] | None = None,
    peertube_account: str = "",
) -> tuple[list[dict], list[Row]]:
    """What to send to the playbook, and the rows decided here.

    An item done by an earlier run is not sent again (``--force`` sends it again). Each pad or sheet keeps its
    name on the host, unless another source already took it (two hosts' pads named "notes"): then
    ``notes-2``. A name given by an earlier run is kept, so a resumed run writes where the first one did.
    A PeerTube account goes into the account of the same name on the host, or ``peertube_account``; without its
    password on the source it is not sent.
    """
    passwords = peertube_passwords or {}
    rows: list[Row] = []
    batch: list[dict] = []
    taken = {(r.service, r.name) for r in state.rows.values() if r.name}
    for item in items:
        if item.problem:
            status = "not yet" if item.problem.startswith("not yet") else "not supported"
            rows.append(Row(item.source, item.service, status, detail=item.problem.removeprefix("not yet: ")))
            continue
        earlier = state.rows.get(item.source)
        if earlier and earlier.status in DONE and not force:
            rows.append(
                Row(item.source, item.service, "skipped", earlier.address, earlier.name, earlier.bytes, "done earlier")
            )
            continue
        if item.kind == "account" and not (passwords.get(item.name) or passwords.get("*")):
            rows.append(
                Row(
                    item.source,
                    item.service,
                    "failed",
                    detail=f"no password for the PeerTube account {item.name}: give it with --peertube-password-file",
                )
            )
            continue
        if earlier and earlier.name:
            name = earlier.name
        elif item.service == "peertube":
            # An account is not renamed: it goes into the host's account of that name (or the one given).
            name = peertube_account or item.name
        elif item.service == "framadate":
            # The poll's id on the host comes from its admin address (the playbook's framadate_poll_id).
            name = ""
        elif item.kind == "workbook":
            # Its sheets' names (<name>.1...) are written in its index and in formulas: the name stays.
            name = item.name
        else:
            # Etherpad hides a pad's own name from those who hold its read-only address.
            wanted = f"readonly-{item.name[2:]}" if item.kind == "readonly" else item.name
            name, n = wanted, 2
            while (item.service, name) in taken:
                name, n = f"{wanted}-{n}", n + 1
        taken.add((item.service, name))
        batch.append(
            {
                "i": str(len(batch)),
                "service": item.service,
                "kind": item.kind,
                "source": item.source,
                "base": item.base,
                "export": item.export,
                "name": name,
                **({"account": item.name, "archive": item.kind == "archive"} if item.service == "peertube" else {}),
            }
        )
    return batch, rows


def paths(directory: Path, host: str) -> dict[str, Path]:
    """Where a host's migration files live: beside the inventory's directory, in <inventory>-migrate/.

    Not inside it: Ansible (and Molecule's verifier) read every file of an inventory directory as an inventory,
    a CSV as an INI one.
    """
    folder = directory.with_name(f"{directory.name}-migrate")
    return {
        "state": folder / f"{host}.state.json",
        "json": folder / f"{host}.json",
        "csv": folder / f"{host}.csv",
    }


def rows_from_results(results: list[dict], batch: list[dict]) -> list[Row]:
    """The playbook's rows (one per item and per sheet of a workbook); an item it did not report is failed."""
    rows = []
    seen = set()
    for r in results:
        seen.add(r.get("i"))
        rows.append(
            Row(
                r["source"],
                r["service"],
                r["status"],
                r.get("address", ""),
                r.get("name", ""),
                int(r.get("bytes") or 0),
                " ".join(str(r.get("detail") or "").split()),
                str(r.get("public_source") or ""),
                str(r.get("public") or ""),
            )
        )
    for item in batch:
        if item["i"] not in seen:
            rows.append(Row(item["source"], item["service"], "failed", detail="the run stopped before this item"))
    return rows


def size(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)
