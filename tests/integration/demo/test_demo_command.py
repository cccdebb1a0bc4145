"""``inboxcrm demo`` uses a directory of its own, deletes only what it created, and leaves no
process behind when its start-up fails (issue 7, defect 10)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from inboxcrm.cli.demo_command import DEMO_MARKER, DemoDirectoryRefused, prepare_demo_directory


def test_a_directory_the_demo_did_not_create_is_refused_and_kept(tmp_path: Path) -> None:
    precious = tmp_path / "real-data"
    precious.mkdir()
    (precious / "control.sqlite3").write_text("a deployment's data")

    with pytest.raises(DemoDirectoryRefused, match="nothing was deleted"):
        prepare_demo_directory(precious)
    assert (precious / "control.sqlite3").read_text() == "a deployment's data"


def test_the_demo_s_own_directory_is_created_marked_and_cleared_at_the_next_start(
    tmp_path: Path,
) -> None:
    first = prepare_demo_directory(tmp_path / "demo")
    assert (first / DEMO_MARKER).is_file()
    (first / "control.sqlite3").write_text("last run")

    again = prepare_demo_directory(tmp_path / "demo")
    assert again == first and (again / DEMO_MARKER).is_file()
    assert not (again / "control.sqlite3").exists()


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in environ or text.encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_a_failed_start_up_deletes_nothing_else_and_stops_every_child(tmp_path: Path) -> None:
    precious = tmp_path / "deployment"
    precious.mkdir()
    (precious / "control.sqlite3").write_text("a deployment's data")
    demo_dir = tmp_path / "demo-files"
    with socket.socket() as taken:  # the web port is taken: the demo cannot start
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "INBOXCRM_DATA_DIR": str(precious), "INBOXCRM_LOG_LEVEL": "ERROR"}
        result = subprocess.run(
            [sys.executable, "-c", "from inboxcrm.cli import main; main()", "demo",
             "--dir", str(demo_dir), "--port", str(port), "--messages", "40",
             "--new-mail-every", "0"],
            env=env, capture_output=True, timeout=240, check=False,
        )  # fmt: skip
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 1, output[-3000:]
    assert "set-up failed" in output
    assert (precious / "control.sqlite3").read_bytes() == b"a deployment's data"
    assert (demo_dir / DEMO_MARKER).is_file()  # it used its own directory
    assert _processes_mentioning(str(demo_dir)) == []  # the worker it started is gone
