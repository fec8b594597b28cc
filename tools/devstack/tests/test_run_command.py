"""The README's run command: every process ready within 60 s, the storefront answers, Ctrl-C leaves
nothing behind, and a child that dies is reported by name."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from devstack.harness import processes_mentioning, start_stack

APPS = ("catalog", "orders", "payments", "refunds", "engagement")


def test_run_command_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    stack = start_stack(data_dir)
    try:
        assert stack.ready_seconds < 60
        assert sorted(stack.services) == sorted(APPS)
        for url in [stack.storefront, *stack.services.values()]:
            ready = httpx.get(f"{url}/readyz", timeout=5)
            assert ready.status_code == 200, (url, ready.text)
        page = httpx.get(stack.storefront + "/", timeout=10)
        assert page.status_code == 200 and "Home Craft 3D" in page.text
        assert (data_dir / "logs" / "catalog.log").stat().st_size > 0
        assert len(processes_mentioning(str(data_dir))) >= 7  # nats-server, five services, gateway
    finally:
        rest = stack.stop()
    assert stack.process.returncode == 0, rest[-3000:]
    assert "stopped every process" in rest
    assert processes_mentioning(str(data_dir)) == []


def test_a_child_that_dies_is_reported_by_name_and_the_rest_stopped(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    stack = start_stack(data_dir)
    try:
        os.kill(stack.pid_of("orders"), signal.SIGKILL)
        rest, _ = stack.process.communicate(timeout=60)
    finally:
        if stack.process.poll() is None:
            stack.stop()
    assert stack.process.returncode == 1
    assert "orders exited unexpectedly" in rest
    assert processes_mentioning(str(data_dir)) == []
