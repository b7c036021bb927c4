"""Starting the Docker engine on a machine that stopped under it (stale pid files, pid reuse)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from chaton.harness import docker as engine


def test_a_pid_file_naming_another_program_or_no_process_is_removed(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        # Until it has called exec, the child is still a copy of this Python process.
        deadline = time.monotonic() + 10
        while engine._process_name(sleeper.pid) != "sleep" and time.monotonic() < deadline:
            time.sleep(0.01)
        mine = tmp_path / "reused.pid"  # a live process, but not the daemon: pid reused after a restart
        mine.write_text(f"{os.getpid()}\n")
        gone = tmp_path / "gone.pid"
        gone.write_text("4194304\n")  # above the kernel's pid_max: no such process
        alive = tmp_path / "alive.pid"
        alive.write_text(f"{sleeper.pid}\n")
        garbage = tmp_path / "garbage.pid"
        garbage.write_text("not a pid")
        files = {
            mine: "dockerd",
            gone: "dockerd",
            alive: "sleep",
            garbage: "dockerd",
            tmp_path / "absent.pid": "dockerd",
        }
        removed = engine.remove_stale_pid_files(files)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sorted(removed) == sorted([mine, gone, garbage])
    assert alive.exists() and not mine.exists() and not gone.exists()


def test_a_daemon_that_exits_at_once_is_reported_with_its_last_words(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dockerd"
    fake.write_text("#!/bin/sh\necho 'failed to start daemon: pid file found'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(engine, "DOCKERD_LOG", tmp_path / "dockerd.log")
    monkeypatch.setattr(engine, "daemon_answers", lambda: False)
    monkeypatch.setattr(engine, "ensure_packages", lambda commands: None)
    monkeypatch.setattr(engine, "STALE_PID_FILES", {})
    monkeypatch.setattr(engine, "SYSTEMD_RUNNING", tmp_path / "no-systemd")
    with pytest.raises(SystemExit) as stopped:
        engine._start_engine(timeout=30)
    assert "exit code 1" in str(stopped.value)
    assert "failed to start daemon: pid file found" in str(stopped.value)
