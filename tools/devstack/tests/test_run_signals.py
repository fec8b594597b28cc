"""The run command started as a person does (``python3 hc.py run``) and stopped as a person does
(issue 7, finding 7): ``kill -INT`` or ``kill -TERM`` of hc.py's pid, or a terminal's Ctrl-C (SIGINT to
the whole foreground process group), stops every process it started, nats-server last, with no
traceback; the console shows the banner and warnings, request logs go to the log files only."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from devstack.harness import processes_mentioning, start_stack

APPS = ("gateway", "catalog", "orders", "payments", "refunds", "engagement")
NATS_EXIT = re.compile(r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+) \[INF\] Server Exiting")


def last_log_time(log: Path) -> dt.datetime:
    """When a service wrote its last JSON log line (its shutdown)."""
    stamps = [json.loads(line)["ts"] for line in log.read_text().splitlines() if line.startswith("{")]
    return dt.datetime.strptime(stamps[-1], "%Y-%m-%dT%H:%M:%S.%fZ")


def nats_exit_time(log: Path) -> dt.datetime:
    match = NATS_EXIT.search(log.read_text())
    assert match, log.read_text()[-2000:]
    return dt.datetime.strptime(match.group(1), "%Y/%m/%d %H:%M:%S.%f")


@pytest.mark.parametrize("how", ["kill -INT", "kill -TERM", "terminal Ctrl-C"])
def test_hc_py_stops_everything_nats_server_last_without_a_traceback(tmp_path: Path, how: str) -> None:
    data_dir = tmp_path / "var"
    stack = start_stack(data_dir, via_hc_py=True)
    try:
        # The console: the command's own lines, no JSON log lines (about 60 came before the banner).
        assert not [line for line in stack.banner.splitlines() if '"level"' in line], stack.banner
        for _ in range(3):
            assert httpx.get(stack.storefront + "/", timeout=10).status_code == 200
        pids = processes_mentioning(str(data_dir))
        assert len(pids) >= 8  # hc.py (become the supervisor), nats-server, the stripe stand-in, six apps
    finally:
        if how == "kill -INT":
            os.kill(stack.process.pid, signal.SIGINT)
        elif how == "kill -TERM":
            os.kill(stack.process.pid, signal.SIGTERM)
        else:  # the terminal signals the foreground job's whole process group
            os.killpg(stack.process.pid, signal.SIGINT)
        rest, _ = stack.process.communicate(timeout=90)
    console = stack.banner + rest
    warnings = "\n".join(line for line in console.splitlines() if line.startswith("!!"))
    assert stack.process.returncode == 0, f"{warnings}\n...\n{console[-3000:]}"
    assert "Traceback" not in console and "KeyboardInterrupt" not in console, console[-3000:]
    assert '"msg": "request"' not in console  # request logs are in the files ...
    logs = data_dir / "logs"
    assert '"msg": "request"' in (logs / "gateway.log").read_text()  # ... here
    assert "stopped every process this command started." in rest
    assert processes_mentioning(str(data_dir)) == []
    nats_exit = nats_exit_time(logs / "nats.log")
    for app in APPS:
        assert last_log_time(logs / f"{app}.log") <= nats_exit, f"{app} still logging after nats-server exited"


def test_a_killed_supervisor_leaves_no_process_behind(tmp_path: Path) -> None:
    """``kill -KILL`` of hc.py cannot be handled, so nothing is stopped in order; the children (each in a
    session of its own) get the kernel's parent-death signal and stop by themselves, nats-server included."""
    data_dir = tmp_path / "var"
    stack = start_stack(data_dir, via_hc_py=True)
    children = [pid for pid in processes_mentioning(str(data_dir)) if pid != stack.process.pid]
    assert len(children) >= 7  # nats-server, the stripe stand-in, the mail catcher, six apps
    os.kill(stack.process.pid, signal.SIGKILL)
    stack.process.communicate(timeout=30)
    deadline = time.monotonic() + 60
    while processes_mentioning(str(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes_mentioning(str(data_dir))
    for pid in left:  # do not leave them running if the proof fails
        os.kill(pid, signal.SIGKILL)
    assert left == [], "still running after the supervisor was killed"
