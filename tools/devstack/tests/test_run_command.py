"""The README's run command: every process ready within 60 s, the storefront answers, Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from homecraft_shared.local_infra import free_port

ROOT = Path(__file__).resolve().parents[3]


def processes_mentioning(marker: str) -> list[int]:
    """PIDs whose command line or environment contains ``marker`` (our data dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            blob = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in blob:
            found.append(int(proc.name))
    return found


def test_run_command_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    base_port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "run", "--data-dir", str(data_dir), "--port", str(base_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    started = time.monotonic()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "Press Ctrl-C" in line or time.monotonic() - started > 90:
                break
        text = "".join(output)
        assert "Home Craft 3D is running" in text, text[-3000:]
        ready_in = float(re.search(r"ready in ([\d.]+)s", text).group(1))
        assert ready_in < 60, f"took {ready_in}s to become ready"
        storefront = re.search(r"storefront:\s+(\S+)", text).group(1)
        service_urls = [u.removesuffix("/docs") for u in re.findall(r"(http://127\.0\.0\.1:\d+)/docs", text)]
        assert len(service_urls) == 5
        for url in [storefront.rstrip("/"), *service_urls]:
            ready = httpx.get(f"{url}/readyz", timeout=5)
            assert ready.status_code == 200, (url, ready.text)
        page = httpx.get(storefront, timeout=10)
        assert page.status_code == 200 and "Home Craft 3D" in page.text
        assert (data_dir / "logs" / "catalog.log").stat().st_size > 0
        assert len(processes_mentioning(str(data_dir))) >= 7  # nats-server, five services, gateway
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest[-3000:]
    assert "stopped every process" in rest
    assert processes_mentioning(str(data_dir)) == []


def test_a_child_that_dies_is_reported_by_name_and_the_rest_stopped(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "run", "--data-dir", str(data_dir), "--port", str(free_port())],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "Press Ctrl-C" in line:
                break
        orders = [pid for pid in processes_mentioning(str(data_dir))
                  if b"-m\x00orders\x00serve" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(orders) == 1
        os.kill(orders[0], signal.SIGKILL)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=60)
    assert process.returncode == 1
    assert "orders exited unexpectedly" in rest
    assert processes_mentioning(str(data_dir)) == []
