"""Helpers the Molecule verifiers (testinfra) share.

They drive the instance the way a user or an outsider would: HTTPS through
the proxy with the ACME server's real root, the check-mode run of the
playbook, sockets from the controller.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

PEBBLE_ROOT = "/etc/pebble-test/root.pem"

RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def molecule_env() -> dict[str, str]:
    """The ansible environment Molecule gives its own steps."""
    env = dict(os.environ)
    project = Path(env.get("MOLECULE_PROJECT_DIRECTORY", Path.cwd()))
    env.setdefault("ANSIBLE_ROLES_PATH", str(project / "roles"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(project / ".collections"))
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def _scenario_playbook(
    playbook: str | None, extra: list[str], only: str | None, check: bool
) -> subprocess.CompletedProcess:
    """ansible-playbook on the scenario's instance: its converge playbook unless told otherwise.

    ``only`` limits the run to a service (``--tags <service>``: the host-wide validation, facts and that service's
    play), as `chaton deploy --only` does; the base host's own idempotence and check mode are the base scenario's.
    """
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook or str(scenario / "converge.yml")]
    cmd += ["--check", "--diff"] if check else []
    cmd += ["--tags", only] if only else []
    env = molecule_env()
    cfg = ephemeral / "ansible.cfg"
    if cfg.is_file():
        env["ANSIBLE_CONFIG"] = str(cfg)
    return subprocess.run([*cmd, *extra], env=env, capture_output=True, text=True, check=False)


def _recap(out: str) -> dict[str, dict]:
    return {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in RECAP.finditer(out)}


def run_playbook_check(
    playbook: str | None = None, extra: list[str] | None = None, only: str | None = None
) -> tuple[str, dict[str, dict]]:
    """Run the scenario's converge playbook with --check --diff; return output and recap per host."""
    proc = _scenario_playbook(playbook, extra or [], only, check=True)
    out = proc.stdout + proc.stderr
    recap = _recap(out)
    if proc.returncode != 0 or not recap:
        raise AssertionError(f"check-mode run failed (exit {proc.returncode}):\n{out[-6000:]}")
    return out, recap


def converge(*extra: str, only: str | None = None) -> str:
    """Run the scenario's converge playbook again (a volunteer's next deploy, -e as given); its output."""
    proc = _scenario_playbook(None, list(extra), only, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and RECAP.search(out), out[-6000:]
    return out


def converge_refused(*extra: str, only: str | None = None) -> str:
    """Run the converge playbook again, expecting the roles to refuse it (a failed task); its output."""
    proc = _scenario_playbook(None, list(extra), only, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and re.search(r"^fatal: ", out, re.MULTILINE), out[-6000:]
    return out


def assert_check_mode_clean(only: str | None = None) -> None:
    """`--check --diff` on the converged instance: no failure, nothing would change (``only``: one service)."""
    output, recap = run_playbook_check(only=only)
    assert all(r["failed"] == 0 for r in recap.values()), output[-4000:]
    assert all(r["changed"] == 0 for r in recap.values()), changed_tasks(output)
    if only:
        # The service's own play ran: a run that skipped it would prove nothing.
        assert f"TASK [{only} : " in output, output[-4000:]


def changed_tasks(output: str) -> list[str]:
    """Names of the tasks a run reported as changed."""
    tasks, current = [], None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            current = line[6:].split("]")[0]
        elif line.startswith("changed:") and current:
            tasks.append(current)
    return tasks


def secret(name: str) -> str:
    """A secret chaton generated for the scenario's host, as the controller keeps it (owner-only file)."""
    host_dir = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "secrets")
    files = list(host_dir.glob(f"*/{name}"))
    assert len(files) == 1, f"secret {name} not generated under {host_dir}"
    assert files[0].stat().st_mode & 0o077 == 0, f"{files[0]} must be readable by its owner only"
    return files[0].read_text().split()[0]


def pebble_root(host) -> str:
    """Save the ACME server's current root on the instance; return its path."""
    cmd = host.run("curl -fsS --cacert /etc/pebble-test/api-ca.pem https://127.0.0.1:15000/roots/0 -o %s", PEBBLE_ROOT)
    assert cmd.rc == 0, cmd.stderr
    return PEBBLE_ROOT


def curl(host, url: str, *args: str, cacert: str | None = None):
    """curl on the instance (names resolve to it through /etc/hosts)."""
    parts = ["curl", "-sS", "--max-time", "30"]
    if cacert:
        parts += ["--cacert", cacert]
    parts += [*args, url]
    return host.run(" ".join(shlex.quote(p) for p in parts))


def saved_pebble_root(host) -> str:
    """The ACME server's root saved by an earlier module, which signed the certificates nginx serves (the ACME
    server forgets it when the instance restarts), or the current one saved now."""
    return PEBBLE_ROOT if host.file(PEBBLE_ROOT).exists else pebble_root(host)


@contextlib.contextmanager
def host_trusts_itself(host, root: str, name: str | list[str]):
    """For a while, the instance reaches its own HTTPS site ``name`` (or sites) as it would another chaton host
    with a real certificate: the test ACME server's root in its trust store, the names in /etc/hosts (which Docker
    rewrites when the instance restarts). Both are taken back after."""
    names = [name] if isinstance(name, str) else list(name)
    lines = " && ".join(f"(grep -qw {n} /etc/hosts || echo '127.0.0.1 {n} # chaton-test' >> /etc/hosts)" for n in names)
    added = host.run(
        f"cp {root} /usr/local/share/ca-certificates/chaton-test-pebble.crt && update-ca-certificates && {lines}"
    )
    assert added.rc == 0, added.stderr
    try:
        yield
    finally:
        host.run(
            "rm -f /usr/local/share/ca-certificates/chaton-test-pebble.crt && update-ca-certificates --fresh;"
            " sed '/# chaton-test$/d' /etc/hosts > /tmp/hosts.chaton && cat /tmp/hosts.chaton > /etc/hosts"
        )


def restart_instance(host, timeout: int = 120) -> None:
    """Restart the instance itself (docker restart by its own name) and wait until systemd has booted."""
    subprocess.run(["docker", "restart", host.backend.get_hostname()], check=True, capture_output=True, timeout=180)
    for _ in range(timeout // 2):
        if host.run("systemctl is-system-running --wait").stdout.strip() in ("running", "degraded"):
            return
        time.sleep(2)


def instance_address(host) -> str:
    out = host.check_output("hostname -I")
    return out.split()[0]


def tcp_reachable(address: str, port: int, timeout: float = 3.0) -> bool:
    """Whether a TCP connection from the controller to the instance opens."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_playbook(playbook: str, extra: list[str] | None = None, *, check: bool = True) -> tuple[str, float]:
    """Run a project playbook (path relative to the project) against the scenario's instance.

    Return its output and wall time in seconds; fail the test with the output's tail when it fails
    (unless check is false: a test expecting the playbook to fail reads the output itself).
    """
    project = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path.cwd()))
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(project / playbook), *(extra or [])]
    env = molecule_env()
    cfg = ephemeral / "ansible.cfg"
    if cfg.is_file():
        env["ANSIBLE_CONFIG"] = str(cfg)
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f"{playbook} failed (exit {proc.returncode}):\n{out[-6000:]}")
    return out, elapsed


def chaton_command(*args: str, timeout: int = 1200) -> tuple[str, float]:
    """The volunteer's `chaton` command (the one installed beside this Python) against the scenario.

    Return its output and wall time in seconds; fail the test with the output's tail when it fails.
    """
    exe = shutil.which("chaton") or shutil.which("chaton", path=str(Path(sys.executable).parent))
    assert exe, "the chaton command is not installed"
    env = {**molecule_env(), "COLUMNS": "400"}  # one line per message, however long
    start = time.monotonic()
    proc = subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=False, timeout=timeout)
    elapsed = time.monotonic() - start
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"chaton {' '.join(args)} failed:\n{out[-6000:]}"
    return out, elapsed


def chaton_run(*args: str, timeout: int = 600) -> tuple[int, str, float]:
    """The volunteer's `chaton` command against the scenario, whatever its exit code: (code, output, seconds)."""
    exe = shutil.which("chaton") or shutil.which("chaton", path=str(Path(sys.executable).parent))
    assert exe, "the chaton command is not installed"
    env = {**molecule_env(), "COLUMNS": "400"}  # one line per row, however long
    start = time.monotonic()
    proc = subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=False, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def recreate_instance(name: str, timeout: int = 120) -> float:
    """Destroy a Molecule instance and create a new, empty one with the same image and options; wait for systemd.

    The options are read back from the instance itself (docker inspect), so the new one is what Molecule's
    create step would make. Return the wall time in seconds.
    """
    start = time.monotonic()
    info = json.loads(subprocess.run(["docker", "inspect", name], check=True, capture_output=True, text=True).stdout)[0]
    config, hostconfig = info["Config"], info["HostConfig"]
    cmd = ["docker", "run", "--detach", "--name", name, "--hostname", config["Hostname"]]
    cmd += [f"--cap-add={cap}" for cap in hostconfig.get("CapAdd") or []]
    cmd += [f"--tmpfs={path}" + (f":{opts}" if opts else "") for path, opts in (hostconfig.get("Tmpfs") or {}).items()]
    cmd += [f"--volume={bind}" for bind in hostconfig.get("Binds") or []]
    cmd += [f"--env={env}" for env in config.get("Env") or []]
    cmd += [f"--label={key}={value}" for key, value in (config.get("Labels") or {}).items()]
    if hostconfig.get("CgroupnsMode"):
        cmd.append(f"--cgroupns={hostconfig['CgroupnsMode']}")
    if hostconfig.get("Privileged"):
        cmd.append("--privileged")
    if config.get("StopSignal"):
        cmd.append(f"--stop-signal={config['StopSignal']}")
    cmd += [config["Image"], *(config.get("Cmd") or [])]
    subprocess.run(["docker", "rm", "--force", name], check=True, capture_output=True, timeout=180)
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=180)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = subprocess.run(
            ["docker", "exec", name, "systemctl", "is-system-running", "--wait"], capture_output=True, text=True
        )
        if state.stdout.strip() in ("running", "degraded"):
            return time.monotonic() - start
        time.sleep(2)
    raise AssertionError(f"{name}: systemd did not finish booting in {timeout} s")


# EtherCalc's REST API answers on loopback only (writes are refused through nginx from outside).
ETHERCALC_APP = "http://127.0.0.1:8000"


def ethercalc_make_sheet(host, sheet: str, csv: str, formulas: dict[str, str]) -> None:
    """Create a sheet from CSV (PUT) and set formulas (POST of SocialCalc commands), as a script would."""
    put = curl(
        host,
        f"{ETHERCALC_APP}/_/{sheet}",
        "-X",
        "PUT",
        "-H",
        "Content-Type: text/csv",
        "--data-binary",
        csv,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    )
    assert put.stdout == "201", (put.stdout, put.stderr)
    for cell, formula in formulas.items():
        post = curl(
            host,
            f"{ETHERCALC_APP}/_/{sheet}",
            "-X",
            "POST",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            f"set {cell} formula {formula}",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        )
        assert post.stdout == "202", (post.stdout, post.stderr)


def ethercalc_cell(host, sheet: str, cell: str, timeout: float = 15) -> dict:
    """A cell as EtherCalc computes it ({"formula": ..., "datavalue": ...}); {} when it never appears."""
    deadline = time.monotonic() + timeout
    while True:
        out = curl(host, f"{ETHERCALC_APP}/_/{sheet}/cells/{cell}")
        if out.rc == 0 and out.stdout.startswith("{"):
            found = json.loads(out.stdout)
            if found.get("datavalue") not in (None, ""):
                return found
        if time.monotonic() > deadline:
            return {}
        time.sleep(0.5)


def ethercalc_wait(host, timeout: int = 90) -> None:
    """Wait until EtherCalc answers from its Redis."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if curl(host, f"{ETHERCALC_APP}/_exists/chaton-probe").stdout == "false":
            return
        time.sleep(1)
    raise AssertionError(host.run("journalctl -u ethercalc -n 30 --no-pager").stdout)


def mirror_provides(service: str) -> bool:
    """Whether every file the service's application part needs is in CHATON_ARTIFACT_MIRROR or downloadable from
    here (GitHub is out of reach in CI, the npm registry is not): the files come from the roles' pins."""
    from chaton import mirror

    value = os.environ.get("CHATON_ARTIFACT_MIRROR", "")
    return not mirror.unavailable(service, Path(value) if value else None)


# Etherpad's HTTP API and pages, through nginx and TLS. Docker rewrites /etc/hosts when an instance restarts:
# curl is told the address.
ETHERPAD_DOMAIN = "pad.chaton.test"


def etherpad_api(host, root: str, method: str, apikey: str, domain: str = ETHERPAD_DOMAIN, **params) -> dict:
    """One call of Etherpad's HTTP API (version 1) through the proxy; its JSON answer."""
    query = urllib.parse.urlencode({"apikey": apikey, **params})
    result = curl(host, f"https://{domain}/api/1/{method}?{query}", "--resolve", f"{domain}:443:127.0.0.1", cacert=root)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def etherpad_export_txt(host, root: str, pad: str, domain: str = ETHERPAD_DOMAIN) -> str:
    """A pad's text as a reader downloads it (/p/<pad>/export/txt)."""
    result = curl(host, f"https://{domain}/p/{pad}/export/txt", "--resolve", f"{domain}:443:127.0.0.1", cacert=root)
    assert result.rc == 0, result.stderr
    return result.stdout


def etherpad_wait(host, root: str, timeout: int = 120, domain: str = ETHERPAD_DOMAIN) -> dict:
    """Wait until Etherpad's /health passes through the proxy; its answer."""
    deadline = time.monotonic() + timeout
    while True:
        result = curl(host, f"https://{domain}/health", "--resolve", f"{domain}:443:127.0.0.1", cacert=root)
        if result.rc == 0 and '"pass"' in result.stdout:
            return json.loads(result.stdout)
        if time.monotonic() > deadline:
            raise AssertionError(f"Etherpad did not come back healthy: {result.stdout} {result.stderr}")
        time.sleep(2)


# Framadate driven as a person does: its forms, a cookie jar, through nginx and TLS.
FRAMADATE_DOMAIN = "date.chaton.test"


class FramadateBrowser:
    """A Framadate user with a cookie jar, through the HTTPS proxy."""

    def __init__(self, host, root: str, name: str, domain: str = FRAMADATE_DOMAIN):
        self.host, self.root, self.base = host, root, f"https://{domain}"
        self.resolve = f"{domain}:443:127.0.0.1"
        self.jar = f"/root/framadate-test-{name}.jar"
        host.run(f"rm -f {self.jar}")

    def request(self, path: str, *args: str) -> str:
        result = curl(
            self.host,
            self.base + path,
            "--resolve",
            self.resolve,
            "-c",
            self.jar,
            "-b",
            self.jar,
            *args,
            cacert=self.root,
        )
        assert result.rc == 0, result.stderr
        return html.unescape(result.stdout)

    def get(self, path: str) -> str:
        return self.request(path)

    def post(self, path: str, fields: list[tuple[str, str]], headers: bool = False) -> str:
        args = []
        for key, value in fields:
            args += ["--data-urlencode", f"{key}={value}"]
        if headers:
            args += ["-D", "-", "-o", "/dev/null"]
        return self.request(path, *args)

    def vote(self, poll_id: str, name: str, choices: str) -> str:
        """Vote through the poll page's form, one of 2 (yes), 1 (if need be), 0 (no) per column; the page."""
        page = self.get(f"/{poll_id}")
        control = re.search(r'name="control" value="([0-9a-f]+)"', page)
        assert control, page[-2000:]
        fields = [("name", name), ("control", control.group(1))]
        fields += [(f"choices[{i}]", choice) for i, choice in enumerate(choices)]
        self.post(f"/{poll_id}", [*fields, ("save", "")])
        return page

    def start_poll(self, lang: str, kind: str, title: str, mail: str, description: str, editable: str) -> None:
        """The first form of a poll (kind: classic or date), in the language given; on to the choices' form."""
        self.post("/", [("lang", lang)])
        self.get(f"/create_poll.php?type={kind}")
        fields = [("name", "Alice Admin"), ("mail", mail), ("title", title), ("description", description)]
        fields += [("editable", editable), ("type", kind), ("gotostep2", kind)]
        step1 = self.post(f"/create_poll.php?type={kind}", fields, headers=True)
        assert f"create_{kind}_poll.php" in location(step1)
        self.get(f"/create_{kind}_poll.php")


def location(headers: str) -> str:
    """The Location header of a response read with curl -D -."""
    found = re.search(r"^location:\s*(\S+)", headers, re.IGNORECASE | re.MULTILINE)
    assert found, headers
    return found.group(1)


def framadate_create_and_vote(host, root: str, lang: str, title: str, creator_mail: str) -> dict:
    """Create a classic poll with three choices through the three forms, then vote on it as Bob Voter.

    Return the poll's ids (admin_id, poll_id), title and creator's mail.
    """
    user = FramadateBrowser(host, root, lang)
    base = user.base
    user.start_poll(lang, "classic", title, creator_mail, "Some *markdown*", "1")
    step2 = user.post(
        "/create_classic_poll.php",
        [("choices[]", "Pizza"), ("choices[]", "Sushi"), ("choices[]", "Crêpes"), ("fin_sondage_autre", "Next")],
    )
    enddate = re.search(r'name="enddate" value="([0-9/.-]+)"', step2)
    assert enddate, step2[-2000:]
    step3 = user.post(
        "/create_classic_poll.php", [("enddate", enddate.group(1)), ("confirmation", "confirmation")], headers=True
    )
    admin_url = location(step3)
    found = re.fullmatch(rf"{re.escape(base)}/([A-Za-z0-9]{{24}})/admin", admin_url)
    assert found, admin_url
    admin_id = found.group(1)
    poll_id = admin_id[:16]
    voter = FramadateBrowser(host, root, f"{lang}-voter")
    voter.get(f"/{poll_id}")
    page = user.vote(poll_id, "Bob Voter", "201")
    assert title in page
    return {"admin_id": admin_id, "poll_id": poll_id, "title": title, "mail": creator_mail}


def framadate_read_poll(host, root: str, poll_id: str) -> tuple[str, str]:
    """A poll as a reader sees it: its page and its CSV export (exportcsv.php)."""
    reader = FramadateBrowser(host, root, "reader")
    return reader.get(f"/{poll_id}"), reader.get(f"/exportcsv.php?poll={poll_id}")


# PeerTube's REST API and static files, through nginx and TLS (the address named: Docker rewrites /etc/hosts when
# an instance restarts).
PEERTUBE_DOMAIN = "tube.chaton.test"
PEERTUBE_BASE = f"https://{PEERTUBE_DOMAIN}"


def peertube_get(host, root: str, path: str, *args: str) -> str:
    """The body of one request to PeerTube through the proxy."""
    result = curl(host, f"{PEERTUBE_BASE}{path}", "--resolve", f"{PEERTUBE_DOMAIN}:443:127.0.0.1", *args, cacert=root)
    assert result.rc == 0, result.stderr
    return result.stdout


def peertube_get_json(host, root: str, path: str, *args: str):
    return json.loads(peertube_get(host, root, path, *args))


def peertube_wait_up(host, root: str, seconds: int = 180) -> None:
    """Wait until PeerTube answers its ping through the proxy."""
    deadline = time.time() + seconds
    while True:
        result = curl(
            host, f"{PEERTUBE_BASE}/api/v1/ping", "--resolve", f"{PEERTUBE_DOMAIN}:443:127.0.0.1", cacert=root
        )
        if result.rc == 0 and result.stdout.strip() == "pong":
            return
        if time.time() > deadline:
            raise AssertionError(f"PeerTube did not come back: {result.stdout} {result.stderr}")
        time.sleep(2)


def peertube_login(host, root: str, password: str, username: str = "root") -> dict:
    """The OAuth password grant of PeerTube's own web client; its JSON answer (access_token when it worked)."""
    client = peertube_get_json(host, root, "/api/v1/oauth-clients/local")
    form = {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "grant_type": "password",
        "response_type": "code",
        "username": username,
        "password": password,
    }
    args = [a for key, value in form.items() for a in ("--data-urlencode", f"{key}={value}")]
    return peertube_get_json(host, root, "/api/v1/users/token", *args)


def peertube_upload(host, root: str, token: str, clip: str, name: str) -> str:
    """Upload a file to the user's first channel (public); the video's uuid."""
    auth = f"Authorization: Bearer {token}"
    channel = peertube_get_json(host, root, "/api/v1/users/me", "-H", auth)["videoChannels"][0]["id"]
    fields = {"videofile": f"@{clip}", "channelId": channel, "name": name, "privacy": 1}
    args = [a for key, value in fields.items() for a in ("-F", f"{key}={value}")]
    # PeerTube answers once it has probed the file: more than curl's 30 s on a loaded host.
    upload = peertube_get_json(host, root, "/api/v1/videos/upload", "-H", auth, *args, "--max-time", "300")
    assert "video" in upload, upload
    return upload["video"]["uuid"]


def peertube_wait_published(host, root: str, uuid: str, seconds: int = 600) -> dict:
    """Wait until the video is published with its HLS playlist's files; the video."""
    deadline = time.time() + seconds
    while True:
        video = peertube_get_json(host, root, f"/api/v1/videos/{uuid}")
        playlists = video["streamingPlaylists"]
        if video["state"]["id"] == 1 and playlists and playlists[0]["files"]:
            return video
        if time.time() > deadline:
            raise AssertionError(f"not published after {seconds} s: {video['state']}")
        time.sleep(2)


def peertube_hls_segment(host, root: str, video: dict) -> str:
    """Fetch the master playlist, its first variant and a range of its first segment through nginx; its path."""
    master_path = video["streamingPlaylists"][0]["playlistUrl"].removeprefix(PEERTUBE_BASE)
    master = peertube_get(host, root, master_path)
    assert master.startswith("#EXTM3U"), master
    directory = master_path.rsplit("/", 1)[0]
    variant_name = next(line for line in master.splitlines() if line and not line.startswith("#"))
    variant = peertube_get(host, root, f"{directory}/{variant_name}")
    assert "#EXTINF" in variant or "#EXT-X-MAP" in variant, variant
    segment = next(line for line in variant.splitlines() if line and not line.startswith("#"))
    range_args = ["-H", "Range: bytes=0-1023", "-o", "/dev/null", "-w", "%{http_code} %{size_download}"]
    answer = peertube_get(host, root, f"{directory}/{segment}", *range_args)
    assert answer == "206 1024", answer
    return f"{directory}/{segment}"
