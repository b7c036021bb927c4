"""Backups proven by a restore: real borgmatic and Borg, a demo service's files and PostgreSQL row."""

import json
import os
import re
from pathlib import Path

from chaton.testing import run_playbook

REPO = "/var/backups/chaton/borg"
BORG_ENV = "BORG_PASSCOMMAND='cat /etc/chaton/backup/passphrase'"


def sql(query: str) -> str:
    """A psql command running query as the demo service's user."""
    return f'PGPASSWORD=demo-test-password psql -XAt -h 127.0.0.1 -U demo demo -c "{query}"'


ROW = sql("SELECT body FROM pads WHERE id = 1")


def secrets_dir() -> Path:
    hosts = list((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets").iterdir())
    assert len(hosts) == 1, hosts
    return hosts[0]


def figures(line: str) -> None:
    """Measured figures, kept for the maintainer's note."""
    with (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "backup-figures.txt").open("a") as out:
        out.write(line + "\n")
    print(line)


def test_timer_is_enabled_with_the_schedule(host):
    timer = host.service("chaton-backup.timer")
    assert timer.is_enabled and timer.is_running
    unit = host.check_output("systemctl cat chaton-backup.timer")
    assert "OnCalendar=*-*-* 02:30:00" in unit
    assert "RandomizedDelaySec=30min" in unit
    assert not host.service("borgmatic.timer").is_enabled, "Debian's own timer would run a second backup"


def test_passphrase_is_root_only_and_repository_encrypted(host):
    passphrase = host.file("/etc/chaton/backup/passphrase")
    assert passphrase.user == "root" and passphrase.group == "root"
    assert passphrase.mode == 0o600
    assert host.file("/etc/borgmatic.d/demo.yaml").mode == 0o600, "the config holds the database password"
    info = host.run(f"{BORG_ENV} borg info --json {REPO}")
    assert info.rc == 0, info.stderr
    assert json.loads(info.stdout)["encryption"]["mode"] == "repokey-blake2"
    assert host.run(f"BORG_PASSPHRASE=wrong borg info {REPO}").rc != 0, "a wrong passphrase must be refused"


def test_passphrase_and_key_are_kept_on_the_controller(host):
    secrets = secrets_dir()
    key = secrets / "backup_key_local"
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().startswith("BORG_KEY ")
    passphrase = (secrets / "backup_passphrase").read_text().split()[0]
    assert passphrase == host.file("/etc/chaton/backup/passphrase").content_string.strip()


def test_backup_then_restore_brings_files_and_row_back(host):
    before = host.check_output("cat /root/demo-blob.sha256").strip()
    assert host.check_output(ROW) == "hello from the demo"

    output, backup_time = run_playbook("playbooks/backup.yml")
    listing = host.run(f"{BORG_ENV} borg list --short --glob-archives 'demo-*' {REPO}")
    archives = listing.stdout.split()
    assert archives, listing.stderr
    assert re.search(r"demo-\d{4}-\d\d-\d\dT", output), "the playbook lists the demo service's archives"
    assert "host-" in output, "the host's configuration has its own archives"
    stats = json.loads(host.check_output(f"{BORG_ENV} borg info --json {REPO}::{archives[-1]}"))["archives"][0]
    contents = host.check_output(f"{BORG_ENV} borg list --short {REPO}::{archives[-1]}")
    assert "srv/demo-data/note.txt" in contents
    assert "etc/chaton/backup/passphrase" in contents
    assert re.search(r"borgmatic/postgresql_databases/127\.0\.0\.1/demo", contents), "the database dump is archived"

    # Lose everything: the files, the table, the whole database.
    host.run("systemctl stop demo-data.service && rm -rf /srv/demo-data")
    drop = host.run("runuser -u postgres -- dropdb demo")
    assert drop.rc == 0, drop.stderr
    assert not host.file("/srv/demo-data").exists

    output, restore_time = run_playbook("playbooks/restore.yml", ["-e", "restore_service=demo"])
    assert f"demo restored from {archives[-1]}" in output

    assert host.file("/srv/demo-data/note.txt").content_string == "the cat sleeps on the keyboard\n"
    assert host.check_output("sha256sum /srv/demo-data/sub/blob.bin").split()[0] == before
    assert host.check_output(ROW) == "hello from the demo"
    assert host.service("demo-data.service").is_running, "the restore starts the units again"
    served = host.run("curl -fsS --retry 5 --retry-connrefused http://127.0.0.1:8099/note.txt")
    assert served.stdout == "the cat sleeps on the keyboard\n", served.stderr
    figures(
        f"backup {backup_time:.1f} s, restore {restore_time:.1f} s (ansible-playbook wall time); "
        f"archive {archives[-1]}: original {stats['stats']['original_size']} B, "
        f"compressed {stats['stats']['compressed_size']} B, deduplicated {stats['stats']['deduplicated_size']} B"
    )


EXTENSION_OWNER = (
    "runuser -u postgres -- psql -XAt -d demo -c "
    "\"SELECT r.rolname FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner WHERE e.extname = 'pg_trgm'\""
)


def test_restore_replaces_a_living_database_whose_extension_belongs_to_postgres(host):
    """PeerTube's case: pg_trgm belongs to postgres, not to the service's user, and the restore replaces the
    database in place (pg_restore --clean drops and recreates the extension, which only its owner may do)."""
    assert host.check_output(EXTENSION_OWNER) == "postgres"
    host.check_output(sql("UPDATE pads SET body = 'overwritten' WHERE id = 1"))
    output, _ = run_playbook("playbooks/restore.yml", ["-e", "restore_service=demo"])
    assert "demo restored from" in output
    assert host.check_output(ROW) == "hello from the demo"
    assert host.check_output(EXTENSION_OWNER) == "postgres"
    indexes = host.check_output(sql("SELECT indexname FROM pg_indexes WHERE tablename = 'pads'")).split()
    assert "pads_body_trgm" in indexes
    assert host.check_output(sql("SELECT tableowner FROM pg_tables WHERE tablename = 'pads'")) == "demo"


def test_an_interrupted_restore_keeps_the_data_from_before_it_when_taken_up_again(host):
    marker = "/var/lib/chaton/restore/demo.in-progress"
    # Data newer than the last archive: the restore set aside must keep it.
    host.run_expect([0], "echo 'written after the backup' > /srv/demo-data/after-backup.txt")
    # The restore stops half-way for real: its directories are moved aside and extracted, then the database
    # server does not answer.
    host.run_expect([0], "systemctl stop postgresql")
    try:
        output, _ = run_playbook("playbooks/restore.yml", ["-e", "restore_service=demo"], check=False)
        assert re.search(r"failed=1\b", output), output[-3000:]
        assert host.file(marker).exists, "an interrupted restore stays marked"
        assert host.file("/srv/demo-data.chaton-pre-restore/after-backup.txt").exists
        assert not host.file("/srv/demo-data/after-backup.txt").exists, "what is in place came out of the archive"
    finally:
        host.run_expect([0], "systemctl start postgresql")

    output, _ = run_playbook("playbooks/restore.yml", ["-e", "restore_service=demo"])
    assert "A restore of demo was interrupted" in " ".join(output.split())
    # Taken up again: the data from before the first attempt is still beside, the archive's is in place.
    aside = host.file("/srv/demo-data.chaton-pre-restore/after-backup.txt")
    assert aside.content_string == "written after the backup\n"
    assert host.file("/srv/demo-data/note.txt").content_string == "the cat sleeps on the keyboard\n"
    assert not host.file("/srv/demo-data/after-backup.txt").exists
    assert not host.file(marker).exists, "a finished restore is no longer marked"
    assert host.check_output(ROW) == "hello from the demo"
    assert host.service("demo-data.service").is_running

    # The next restore is an ordinary one again: it sets the current directories aside.
    output, _ = run_playbook("playbooks/restore.yml", ["-e", "restore_service=demo"])
    assert "A restore of demo was interrupted" not in " ".join(output.split())
    assert not host.file("/srv/demo-data.chaton-pre-restore/after-backup.txt").exists


def test_restore_names_what_to_do_for_an_unknown_service():
    try:
        run_playbook("playbooks/restore.yml", ["-e", "restore_service=nothere"])
    except AssertionError as failure:
        assert "Services with backups:" in str(failure) and "demo" in str(failure)
    else:
        raise AssertionError("restoring an unknown service must fail")
