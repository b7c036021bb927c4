"""Functional checks of a converged host, as its users drive it: HTTPS through the proxy.

The same requests the Molecule verifiers make (molecule/<svc>/tests), reduced to one
write-then-read round trip per service, so that the bench can run them idle and under load.
Each check returns ``(name, ok, detail)``.
"""

from __future__ import annotations

import html
import json
import re
import time
import urllib.parse
import uuid
from pathlib import Path

from chaton import testing
from chaton.testing import curl

CA = "/usr/local/share/chaton-bench/ca.crt"


def _resolve(name: str) -> str:
    return f"{name}:443:127.0.0.1"


def https(host, name: str, path: str, *args: str):
    return curl(host, f"https://{name}{path}", "--resolve", _resolve(name), *args, cacert=CA)


def portal(host, domain: str) -> tuple[str, bool, str]:
    result = https(host, domain, "/", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}")
    return "portal answers over verified HTTPS", result.stdout == "200 0", result.stdout + result.stderr


def ethercalc(host, domain: str) -> tuple[str, bool, str]:
    """A sheet written over the loopback REST API, computed by a formula sent through nginx, read from outside."""
    name = f"calc.{domain}"
    sheet = f"bench{uuid.uuid4().hex[:8]}"
    put = curl(
        host,
        f"http://127.0.0.1:8000/_/{sheet}",
        "-X",
        "PUT",
        "-H",
        "Content-Type: text/csv",
        "--data-binary",
        "a,b\n1,2\n3,4\n",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    )
    post = https(
        host,
        name,
        f"/_/{sheet}",
        "-X",
        "POST",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "set C2 formula B2*2",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    )
    csv = ""
    for _ in range(40):
        csv = https(host, name, f"/{sheet}.csv").stdout
        if "1,2,4" in csv:
            break
        time.sleep(0.5)
    # From outside (the host's own non-loopback address, as molecule/ethercalc's verifier does):
    # loopback is trusted by design.
    outside = host.check_output("hostname -I").split()[0]
    refused = curl(
        host,
        f"https://{name}/_rooms",
        "--resolve",
        f"{name}:443:{outside}",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        cacert=CA,
    ).stdout
    ok = put.stdout == "201" and post.stdout == "202" and "1,2,4" in csv and refused == "403"
    return "ethercalc computes a sheet and keeps listings private", ok, f"{put.stdout} {post.stdout} {csv!r} {refused}"


def etherpad(host, domain: str) -> tuple[str, bool, str]:
    """A pad created and written with the HTTP API, exported as a visitor would through nginx."""
    name = f"pad.{domain}"
    key = host.run("cat /etc/etherpad/APIKEY.txt").stdout.strip()
    pad = f"bench{uuid.uuid4().hex[:8]}"

    def api(method: str, **params) -> dict:
        query = urllib.parse.urlencode({"apikey": key, **params})
        out = https(host, name, f"/api/1/{method}?{query}").stdout
        try:
            return json.loads(out)
        except ValueError:
            return {"code": -1, "message": out[:200]}

    created = api("createPad", padID=pad, text="bench")
    written = api("setText", padID=pad, text="Bonjour du banc d'essai")
    export = https(host, name, f"/p/{pad}/export/txt").stdout
    health = https(host, name, "/health").stdout
    ok = created.get("code") == 0 and written.get("code") == 0 and export == "Bonjour du banc d'essai\n"
    ok = ok and '"pass"' in health
    return "etherpad writes a pad through its API and serves it", ok, f"{created} {written} {export!r} {health}"


def framadate(host, domain: str) -> tuple[str, bool, str]:
    """A classic poll created step by step like a browser would (cookies, forms), then read back."""
    name = f"date.{domain}"
    jar = f"/root/chaton-bench-{uuid.uuid4().hex[:6]}.jar"
    title = f"Banc {uuid.uuid4().hex[:6]}"

    def req(path: str, fields: list[tuple[str, str]] | None = None, headers: bool = False) -> str:
        args = ["-c", jar, "-b", jar]
        for key, value in fields or []:
            args += ["--data-urlencode", f"{key}={value}"]
        if headers:
            args += ["-D", "-", "-o", "/dev/null"]
        return html.unescape(https(host, name, path, *args).stdout)

    req("/create_poll.php?type=classic")
    step1 = req(
        "/create_poll.php?type=classic",
        [
            ("name", "Alice"),
            ("mail", "alice@example.net"),
            ("title", title),
            ("description", ""),
            ("editable", "1"),
            ("type", "classic"),
            ("gotostep2", "classic"),
        ],
        headers=True,
    )
    req("/create_classic_poll.php")
    step2 = req(
        "/create_classic_poll.php", [("choices[]", "Lundi"), ("choices[]", "Mardi"), ("fin_sondage_autre", "Next")]
    )
    enddate = re.search(r'name="enddate" value="([0-9/.-]+)"', step2)
    step3 = (
        req("/create_classic_poll.php", [("enddate", enddate.group(1)), ("confirmation", "confirmation")], headers=True)
        if enddate
        else ""
    )
    found = re.search(rf"^location:\s*https://{re.escape(name)}/([A-Za-z0-9]{{24}})/admin", step3, re.I | re.M)
    page = req(f"/{found.group(1)[:16]}") if found else ""
    host.run(f"rm -f {jar}")
    ok = "create_classic_poll.php" in step1 and bool(found) and title in page
    return "framadate creates a poll and shows it", ok, (step3 or step2)[-300:]


def peertube(
    host, domain: str, secrets: Path | None = None, seconds: int = 5, size: str = "640x360"
) -> tuple[str, bool, str]:
    """A test-pattern clip (``seconds`` long, ``size``) uploaded by the root user, transcoded to HLS by the host, a
    segment read through nginx (the peertube scenario's path, testing.peertube_*); the detail says how long the
    transcoding took."""
    name = f"transcodes an uploaded {size} video of {seconds} s and plays it as HLS"
    clip = f"/root/chaton-bench-clip-{seconds}s-{size}.mp4"
    if f"tube.{domain}" != testing.PEERTUBE_DOMAIN:
        return f"peertube {name}", False, f"the check knows {testing.PEERTUBE_DOMAIN} only"
    password = (secrets / "peertube_root_password").read_text().split()[0] if secrets else ""
    made = host.run(
        f"test -s {clip} || ffmpeg -loglevel error -y -f lavfi -i testsrc=duration={seconds}:size={size}:rate=25"
        f" -f lavfi -i sine=duration={seconds} -c:v libx264 -c:a aac {clip}"
    )
    if made.rc != 0:
        return f"peertube {name}", False, f"ffmpeg could not make the clip: {made.stderr[-200:]}"
    testing.peertube_wait_up(host, CA, 120)
    token = testing.peertube_login(host, CA, password).get("access_token")
    if not token:
        return f"peertube {name}", False, "root could not log in with the generated password"
    start = time.monotonic()
    video = testing.peertube_upload(host, CA, token, clip, f"bench {uuid.uuid4().hex[:8]}")
    published = testing.peertube_wait_published(host, CA, video, seconds=900)
    # PeerTube publishes after the first resolution; the others follow as jobs of their own. Transcoded means
    # every resolution the instance is set to, up to the upload's.
    height = int(size.split("x")[1])
    enabled = testing.peertube_get_json(host, CA, "/api/v1/config")["transcoding"]["enabledResolutions"]
    expected = {r for r in enabled if r <= height}
    deadline = time.monotonic() + 900
    while True:
        resolutions = {f["resolution"]["id"] for p in published["streamingPlaylists"] for f in p["files"]}
        if expected <= resolutions or time.monotonic() > deadline:
            break
        time.sleep(2)
        published = testing.peertube_get_json(host, CA, f"/api/v1/videos/{video}")
    took = time.monotonic() - start
    if not expected <= resolutions:
        return (
            f"peertube {name}",
            False,
            f"after {took:.0f} s: resolutions {sorted(resolutions)}, not {sorted(expected)}",
        )
    segment = testing.peertube_hls_segment(host, CA, published)
    resolutions = sorted(resolutions)
    return (
        f"peertube {name}",
        True,
        f"upload to every resolution in {took:.0f} s, HLS {resolutions}, segment {segment.rsplit('/', 1)[-1]}",
    )


CHECKS = {"ethercalc": ethercalc, "etherpad": etherpad, "framadate": framadate, "peertube": peertube}


def run_all(host, domain: str, services: list[str], secrets: Path | None = None) -> list[tuple[str, bool, str, float]]:
    """Each check: its name, whether it passed, its detail and how long it took (seconds)."""
    start = time.monotonic()
    results = [(*portal(host, domain), time.monotonic() - start)]
    for svc in services:
        check = CHECKS.get(svc)
        start = time.monotonic()
        if check is None:
            results.append((f"{svc}: no functional check in chaton.bench.checks", False, "", 0.0))
            continue
        try:
            result = check(host, domain, secrets) if svc == "peertube" else check(host, domain)
        except Exception as exc:  # a check that crashes (an assertion of a testing helper too) fails, with its reason
            result = (f"{svc} check", False, repr(exc)[:300])
        results.append((*result, time.monotonic() - start))
    return results
