#!/usr/bin/env python3
"""chaton migrate (playbooks/migrate.yml): move one PeerTube account to this host with PeerTube's own user
export and import (PeerTube 6.1 and later on both sides).

    python3 peertube-move.py INPUT_JSON

INPUT_JSON (0600, removed by the playbook): source (https://old.example), account (its name there), password
(its password there), host (this host's PeerTube on loopback) and domain (its name), root_password (the host's
root account, from chaton's secrets), target (the account on this host that receives it), archive (an archive
already on the host, instead of the source), force, timeout (seconds per wait).

On the source, as the account itself: its archive with video files is requested (or the one it already has is
taken), waited for and downloaded. On the host, as root (who may manage any user's imports): the archive is
uploaded into the target account through PeerTube's resumable upload and imported by PeerTube; the script waits
for the import to end. An account whose latest import on the host is complete is "already there" (a second run,
or one taken up after an interruption, imports nothing twice), unless force.

Prints one JSON object: status (imported, already there, failed), detail, bytes, videos.
Standard library only: it runs with the host's python3.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

# PeerTube's UserExportState and UserImportState.
PENDING, PROCESSING, COMPLETED, ERRORED = 1, 2, 3, 4
CHUNK = 1 << 20
# The name each loopback address answers for: PeerTube gives its web client's OAuth client only to requests for
# its own name (oauth-clients/local), and builds its upload addresses from it.
VHOST: dict[str, dict[str, str]] = {}


class Failed(Exception):
    """What stops the move: its message is the row's detail."""


def web(url: str, **kwargs) -> urllib.request.Request:
    """A request to an http(s) address only (an address from a source's answer is not trusted further)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise Failed(f"not a web address: {url[:100]}")
    return urllib.request.Request(url, **kwargs)  # noqa: S310 (scheme checked above)


def call(base, path, *, method="GET", token=None, form=None, body=None, headers=None, timeout=60):
    """One request; (status, headers, parsed JSON or raw bytes). HTTP errors are answers too."""
    url = path if path.startswith(("http://", "https://")) else base + path
    head = {"Accept": "application/json", **VHOST.get(base, {}), **(headers or {})}
    data = None
    if token:
        head["Authorization"] = f"Bearer {token}"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        head["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        head["Content-Type"] = "application/json"
    request = web(url, data=data, headers=head, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (web() checked the scheme)
            raw, status, got = answer.read(), answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise Failed(f"{base} is unreachable: {getattr(error, 'reason', error)}") from None
    try:
        return status, got, json.loads(raw) if raw else {}
    except ValueError:
        return status, got, raw


def message(answer) -> str:
    if isinstance(answer, dict):
        return str(answer.get("detail") or answer.get("error") or answer.get("message") or answer)[:200]
    return str(answer[:200])


def login(base, username, password, who):
    status, _, client = call(base, "/api/v1/oauth-clients/local")
    if status != 200 or not isinstance(client, dict) or "client_id" not in client:
        raise Failed(f"{base} does not answer as PeerTube does (HTTP {status})")
    form = {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "grant_type": "password",
        "response_type": "code",
        "username": username,
        "password": password,
    }
    status, _, token = call(base, "/api/v1/users/token", method="POST", form=form)
    if status != 200 or "access_token" not in token:
        raise Failed(f"{who} refused the login of {username}: {message(token)}")
    return token["access_token"]


def version(base) -> tuple[int, ...]:
    status, _, config = call(base, "/api/v1/config")
    if status != 200 or not isinstance(config, dict):
        raise Failed(f"{base} does not answer as PeerTube does (HTTP {status})")
    found = str(config.get("serverVersion", "0"))
    return tuple(int(p) for p in found.split("-")[0].split(".")[:2] if p.isdigit())


def wait(what, fetch, timeout):
    """Poll fetch() (a state id and the object) until COMPLETED; fail on ERRORED or after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state, found = fetch()
        if state == COMPLETED:
            return found
        if state == ERRORED:
            raise Failed(f"{what} failed: {message(found.get('error') or found)}")
        if time.monotonic() > deadline:
            raise Failed(f"{what} did not end within {timeout} s: run the same command again to take it up")
        time.sleep(5)


def export_archive(spec, work) -> tuple[str, int]:
    """The account's archive on the source, with its video files, downloaded into work; (path, bytes)."""
    source = spec["source"]
    if version(source) < (6, 1):
        raise Failed("the source runs a PeerTube older than 6.1, which has no user export")
    token = login(source, spec["account"], spec["password"], "the source")
    status, _, me = call(source, "/api/v1/users/me", token=token)
    if status != 200:
        raise Failed(f"the source did not give the account: {message(me)}")
    exports = f"/api/v1/users/{me['id']}/exports"

    def latest():
        status, _, listed = call(source, exports, token=token)
        if status != 200:
            raise Failed(f"the source did not list the account's archives: {message(listed)}")
        alive = [e for e in listed.get("data", []) if e["state"]["id"] != ERRORED]
        return alive[-1] if alive else None

    if latest() is None:
        status, _, asked = call(source, f"{exports}/request", method="POST", token=token, body={"withVideoFiles": True})
        if status != 200:
            raise Failed(f"the source refused the archive: {message(asked)}")

    def state():
        found = latest()
        return (found["state"]["id"], found) if found else (ERRORED, {"error": "it disappeared"})

    found = wait("the archive on the source", state, spec["timeout"])
    path = os.path.join(work, "archive.zip")
    request = web(found["privateDownloadUrl"])
    size = 0
    try:
        with urllib.request.urlopen(request, timeout=120) as answer, open(path, "wb") as out:  # noqa: S310
            while chunk := answer.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
    except (urllib.error.URLError, OSError) as error:
        raise Failed(f"the archive could not be downloaded: {getattr(error, 'reason', error)}") from None
    return path, size


def archive_videos(path) -> int:
    """How many videos an account archive holds (peertube/videos.json)."""
    try:
        with zipfile.ZipFile(path) as archive:
            listed = json.loads(archive.read("peertube/videos.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise Failed(f"not a PeerTube account archive: {error}") from None
    return len(listed.get("videos", []) if isinstance(listed, dict) else listed)


def account_videos(host, root, name) -> int:
    """The account's videos on the host, whatever their state or privacy (as root sees them)."""
    query = "count=1&include=3&" + "&".join(f"privacyOneOf={p}" for p in range(1, 6))
    status, _, videos = call(host, f"/api/v1/accounts/{urllib.parse.quote(name)}/videos?{query}", token=root)
    return int(videos.get("total", 0)) if status == 200 and isinstance(videos, dict) else 0


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    work = os.path.dirname(os.path.abspath(sys.argv[1]))
    host = spec["host"]
    VHOST[host] = {"Host": spec["domain"], "X-Forwarded-Proto": "https"}
    row = {"status": "failed", "detail": "", "bytes": 0, "videos": 0}
    expected = 0
    try:
        root = login(host, "root", spec["root_password"], "the host")
        status, _, users = call(host, "/api/v1/users?" + urllib.parse.urlencode({"search": spec["target"]}), token=root)
        matches = [u for u in users.get("data", []) if u["username"] == spec["target"]] if status == 200 else []
        if not matches:
            raise Failed(
                f"the host has no account {spec['target']}: create it (or let its owner register), then run again"
            )
        user = matches[0]["id"]
        imports = f"/api/v1/users/{user}/imports"

        def latest_import():
            status, _, found = call(host, f"{imports}/latest", token=root)
            return (found["state"]["id"], found) if status == 200 else (None, {})

        state, _ = latest_import()
        if state == COMPLETED and not spec["force"]:
            row.update(status="already there", detail="the account's archive was imported on the host earlier")
        else:
            if state not in (PENDING, PROCESSING):
                if spec.get("archive"):
                    path, size = spec["archive"], os.path.getsize(spec["archive"])
                else:
                    path, size = export_archive(spec, work)
                row["bytes"] = size
                expected = archive_videos(path)
                init = {"X-Upload-Content-Length": str(size), "X-Upload-Content-Type": "application/zip"}
                status, head, answer = call(
                    host,
                    f"{imports}/import-resumable",
                    method="POST",
                    token=root,
                    body={"filename": f"{spec['account']}.zip"},
                    headers=init,
                )
                where = {k.lower(): v for k, v in head.items()}.get("location", "")
                if status not in (200, 201) or not where:
                    raise Failed(f"the host refused the archive: {message(answer)}")
                parts = urllib.parse.urlsplit(where)
                url = host + parts.path + (f"?{parts.query}" if parts.query else "")
                with open(path, "rb") as archive:
                    request = web(
                        url,
                        data=archive,
                        method="PUT",
                        headers={
                            **VHOST[host],
                            "Authorization": f"Bearer {root}",
                            "Content-Type": "application/octet-stream",
                            "Content-Length": str(size),
                            "Content-Range": f"bytes 0-{size - 1}/{size}",
                        },
                    )
                    try:
                        with urllib.request.urlopen(request, timeout=600) as done:  # noqa: S310
                            done.read()
                    except urllib.error.HTTPError as error:
                        raise Failed(f"the host refused the archive: {message(error.read())}") from None
                os.remove(path)
            wait("the import on the host", latest_import, spec["timeout"])
            row.update(status="imported")
        row["videos"] = account_videos(host, root, spec["target"])
        if row["status"] == "imported" and row["videos"] < expected:
            row.update(
                status="failed",
                detail=f"PeerTube imported {row['videos']} of the archive's {expected} video(s): see the host's "
                "PeerTube log (a channel whose name another account of the host holds is not imported, nor its videos)",
            )
        else:
            row["detail"] = (row["detail"] + "; " if row["detail"] else "") + f"{row['videos']} video(s) on the account"
    except Failed as failure:
        row.update(status="failed", detail=str(failure))
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
