"""The base host: firewall, sshd, journald, fail2ban, nginx with real ACME certificates."""

import re
import time

import pytest

from chaton.testing import assert_check_mode_clean, curl, instance_address, pebble_root, tcp_reachable

DOMAIN = "chaton.test"
NAMES = [DOMAIN, f"www.{DOMAIN}"]


@pytest.fixture(scope="module")
def root(host):
    return pebble_root(host)


def test_check_mode_reports_no_change_on_converged_host():
    assert_check_mode_clean()


def test_nftables_drops_unlisted_port_and_keeps_listed_ones(host):
    ruleset = host.check_output("nft list ruleset")
    assert "policy drop" in ruleset
    assert re.search(r"tcp dport \{[^}]*\b2222\b", ruleset)
    host.run("systemd-run --unit=chaton-test-listener python3 -m http.server 8081 --bind 0.0.0.0")
    try:
        time.sleep(1)
        assert host.run("curl -fsS -o /dev/null http://127.0.0.1:8081/").rc == 0, "listener did not start"
        address = instance_address(host)
        assert tcp_reachable(address, 443), "HTTPS must be reachable from outside"
        assert not tcp_reachable(address, 8081), "an unlisted port must be dropped"
    finally:
        host.run("systemctl stop chaton-test-listener")


def test_sshd_refuses_root_and_passwords(host):
    effective = host.check_output("sshd -T")
    assert "permitrootlogin no" in effective
    assert "passwordauthentication no" in effective
    assert "kbdinteractiveauthentication no" in effective
    assert host.service("ssh").is_running


def test_admin_user_has_key_and_sudo(host):
    user = host.user("camille")
    assert "sudo" in user.groups
    keys = host.file("/home/camille/.ssh/authorized_keys")
    assert keys.mode == 0o600
    assert "camille@example" in keys.content_string
    assert host.run("sudo -l -U camille").stdout.count("NOPASSWD") >= 1


def test_security_sources_and_unattended_upgrades(host):
    sources = host.file("/etc/apt/sources.list.d/debian.sources").content_string
    codename = host.system_info.codename
    assert f"{codename}-security" in sources
    assert f"{codename}-updates" in sources
    assert host.run("apt-get -s -o Debug::NoLocking=1 check").rc == 0
    dry = host.run("unattended-upgrade --dry-run -d 2>&1 | grep -i 'allowed origins'")
    assert "security" in dry.stdout.lower()


def test_log_retention(host):
    journald = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "MaxRetentionSec=10day" in journald
    assert "rotate 10" in host.file("/etc/logrotate.conf").content_string
    assert host.run("logrotate -d /etc/logrotate.conf").rc == 0


def test_fail2ban_watches_sshd_and_nginx(host):
    status = host.run("fail2ban-client status")
    assert status.rc == 0, status.stderr
    assert "sshd" in status.stdout
    assert "nginx-http-auth" in status.stdout


def test_nginx_configuration_is_valid(host):
    assert host.run("nginx -t").rc == 0


@pytest.mark.parametrize("name", NAMES)
def test_https_certificate_comes_from_the_acme_server(host, root, name):
    # Verified against pebble's own root: the certificate went through the real ACME flow.
    result = curl(host, f"https://{name}/", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}", cacert=root)
    assert result.rc == 0, result.stderr
    code, verify = result.stdout.split()
    assert verify == "0"
    assert code in {"200", "301"}
    issuer = host.check_output(
        f"echo | openssl s_client -connect 127.0.0.1:443 -servername {name} 2>/dev/null | openssl x509 -noout -issuer"
    )
    assert "Pebble" in issuer


def test_unknown_name_gets_no_certificate(host):
    result = host.run("echo | openssl s_client -connect 127.0.0.1:443 -servername unknown.chaton.test 2>&1")
    assert "BEGIN CERTIFICATE" not in result.stdout


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_versions_are_refused(host, version):
    result = host.run(
        f"echo | openssl s_client {version} -cipher 'DEFAULT@SECLEVEL=0'"
        f" -connect 127.0.0.1:443 -servername {DOMAIN} 2>&1"
    )
    assert "BEGIN CERTIFICATE" not in result.stdout
    assert result.rc != 0


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_current_tls_versions_work(host, version):
    result = host.run(f"echo | openssl s_client {version} -connect 127.0.0.1:443 -servername {DOMAIN} 2>&1")
    assert "BEGIN CERTIFICATE" in result.stdout


def test_security_headers(host, root):
    headers = curl(host, f"https://{DOMAIN}/", "-D", "-", "-o", "/dev/null", cacert=root).stdout.lower()
    assert "strict-transport-security: max-age=63072000" in headers
    assert "x-content-type-options: nosniff" in headers
    assert "referrer-policy: same-origin" in headers
    assert "x-frame-options: sameorigin" in headers
    assert "content-security-policy: default-src 'self'" in headers
    assert "server: nginx\r" in headers  # no version


def test_compression(host, root):
    headers = curl(
        host, f"https://{DOMAIN}/", "-H", "Accept-Encoding: gzip", "-D", "-", "-o", "/dev/null", cacert=root
    ).stdout.lower()
    # Pages under gzip_min_length stay plain; the setting itself is checked.
    assert "gzip on;" in host.file("/etc/nginx/conf.d/chaton.conf").content_string
    assert "vary: accept-encoding" in headers or "content-length" in headers


def test_http_redirects_to_https(host):
    result = curl(host, f"http://{DOMAIN}/some/page?x=1", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}")
    assert result.stdout == f"301 https://{DOMAIN}/some/page?x=1"


def test_alias_site_redirects(host, root):
    result = curl(host, f"https://www.{DOMAIN}/p", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", cacert=root)
    assert result.stdout == f"301 https://{DOMAIN}/p"


def test_renewal_replaces_certificate_and_reloads_nginx(host, root):
    def serial():
        return host.check_output(
            f"echo | openssl s_client -connect 127.0.0.1:443 -servername {DOMAIN} 2>/dev/null"
            " | openssl x509 -noout -serial"
        )

    before = serial()
    # Through certbot.service, as its timer runs it (chaton's sandbox, the CA from the drop-in); only forced
    # here by a runtime drop-in, since a fresh certificate is not due for renewal.
    force = "/run/systemd/system/certbot.service.d"
    host.run(
        f"mkdir -p {force} && printf '%s\\n' '[Service]' 'ExecStart=' "
        f"'ExecStart=/usr/bin/certbot -q renew --force-renewal --no-random-sleep-on-renew --cert-name {DOMAIN}'"
        f" > {force}/zz-test-force.conf && systemctl daemon-reload"
    )
    try:
        renew = host.run("systemctl start certbot.service")
        log = host.run("journalctl -u certbot.service -n 20 --no-pager").stdout
    finally:
        host.run(f"rm -rf {force} && systemctl daemon-reload && systemctl reset-failed certbot.service")
    assert renew.rc == 0, log
    for _ in range(20):
        if serial() != before:
            break
        time.sleep(0.5)
    assert serial() != before, "nginx still serves the old certificate: the deploy hook did not reload it"
    assert host.service("certbot.timer").is_enabled
    dropin = host.file("/etc/systemd/system/certbot.service.d/chaton.conf").content_string
    assert "REQUESTS_CA_BUNDLE=/etc/pebble-test/api-ca.pem" in dropin
    assert "ProtectSystem=strict" in dropin and "CapabilityBoundingSet=\n" in dropin
    out = host.check_output("systemd-analyze security --no-pager certbot.service")
    exposure = float(out.rsplit("Overall exposure level for certbot.service: ", 1)[1].split()[0])
    assert exposure <= 2.0, out


def test_access_log_has_no_full_client_address_nor_query_string(host, root):
    curl(host, f"https://{DOMAIN}/?apikey=do-not-log-me", "-o", "/dev/null", cacert=root)
    log = host.file(f"/var/log/nginx/{DOMAIN}.access.log").content_string
    assert log.strip()
    assert "127.0.0.1 " not in log
    assert "127.0.0.0 " in log
    assert "do-not-log-me" not in log


def test_kernel_hardening_settings_are_written(host):
    sysctl = host.file("/etc/sysctl.d/60-chaton-hardening.conf")
    assert sysctl.mode == 0o644
    content = sysctl.content_string
    for line in (
        "kernel.kptr_restrict = 2",
        "kernel.yama.ptrace_scope = 1",
        "fs.suid_dumpable = 0",
        "net.ipv4.conf.all.accept_redirects = 0",
        "net.ipv4.conf.all.send_redirects = 0",
        "net.ipv4.tcp_syncookies = 1",
    ):
        assert line in content.splitlines(), line
    # Applied where the kernel can be changed (a container sees the machine's, read-only).
    if host.run("test -w /proc/sys/kernel/sysrq").rc == 0:
        assert host.check_output("sysctl -n kernel.kptr_restrict") == "2"
        assert host.check_output("sysctl -n net.ipv4.conf.all.accept_redirects") == "0"
    modprobe = host.file("/etc/modprobe.d/chaton-hardening.conf").content_string
    for module in ("dccp", "sctp", "usb-storage", "firewire-core"):
        assert f"install {module} /bin/true" in modprobe


def test_core_dumps_are_off(host):
    assert "* hard core 0" in host.file("/etc/security/limits.d/60-chaton-core.conf").content_string
    coredump = host.check_output("systemd-analyze cat-config systemd/coredump.conf")
    assert "Storage=none" in coredump and "ProcessSizeMax=0" in coredump
    # A login shell of an administrator starts with core dumps off.
    assert host.check_output("runuser -l camille -c 'ulimit -c'") == "0"


def test_new_accounts_get_password_aging_and_private_homes(host):
    defs = dict(
        line.split(None, 1)
        for line in host.file("/etc/login.defs").content_string.splitlines()
        if line.strip() and not line.startswith("#") and len(line.split(None, 1)) == 2
    )
    assert defs["HOME_MODE"].strip() == "0700"
    # Debian 13 applies UMASK to sudo sessions (pam_umask): 027 would leave what the roles build unreadable.
    # Debian 12 writes UMASK 022; Debian 13's login.defs has no UMASK line and keeps the same 022.
    assert defs.get("UMASK", "022").strip() == "022"
    assert defs["PASS_MAX_DAYS"].strip() == "365"
    assert defs["PASS_MIN_DAYS"].strip() == "1"
    assert defs["SHA_CRYPT_MIN_ROUNDS"].strip() == "65536"
    # The key-only administrator is never forced to change a password she does not have.
    assert host.check_output("chage -l camille | sed -n 's/^Maximum[^:]*: //p'").strip() == "99999"
    try:
        assert host.run("useradd -m chaton-test-aging").rc == 0
        assert host.file("/home/chaton-test-aging").mode & 0o027 == 0, "the group may write or others reach it"
        assert "365" in host.check_output("chage -l chaton-test-aging | grep -i maximum")
    finally:
        host.run("userdel -r chaton-test-aging")


def test_sshd_hardening_and_banner(host):
    effective = host.check_output("sshd -T")
    for line in (
        "allowtcpforwarding no",
        "compression no",
        "loglevel VERBOSE",
        "maxsessions 4",
        "tcpkeepalive no",
        "banner /etc/issue.net",
    ):
        assert line in effective.splitlines(), line
    assert "authorised access only" in host.file("/etc/issue.net").content_string
    assert "authorised access only" in host.file("/etc/issue").content_string
    assert host.file("/etc/ssh/sshd_config").mode == 0o600
    for cron in ("/etc/cron.d", "/etc/cron.daily", "/etc/cron.weekly"):
        assert host.file(cron).mode == 0o700, cron
    # The administrator still gets in with her key (sshd -T for her connection).
    assert "permitrootlogin no" in host.check_output("sshd -T -C user=camille,host=client,addr=192.0.2.1")


def test_audit_tools_run(host):
    assert host.package("acct").is_installed
    assert host.package("libpam-pwquality").is_installed
    assert 'ENABLED="true"' in host.file("/etc/default/sysstat").content_string
    assert host.run("debsums -s openssh-server").rc == 0


def test_backup_unit_exposure_and_a_real_backup_run(host):
    security = host.check_output("systemd-analyze security --no-pager chaton-backup.service")
    exposure = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", security).group(1))
    assert exposure <= 2.0, security
    unit = host.check_output("systemctl cat chaton-backup.service")
    assert "ProtectSystem=strict" in unit and "ProtectHome=read-only" in unit
    # The hardened unit still backs up: borgmatic writes the repository and its state under /root.
    run = host.run("systemctl start chaton-backup.service")
    assert run.rc == 0, host.check_output("journalctl -u chaton-backup.service -n 30 --no-pager -o cat")
    env = "BORG_PASSCOMMAND='cat /etc/chaton/backup/passphrase'"
    archives = host.check_output(f"{env} borg list --short /var/backups/chaton/borg")
    assert re.search(r"^host-\d{4}-", archives, re.M), archives
