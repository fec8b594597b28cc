"""Drive the run command from tests: start the whole stack as a real process, read its URLs, stop it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from homecraft_shared.testing.infra import free_port

ROOT = Path(__file__).resolve().parents[4]


def processes_mentioning(marker: str) -> list[int]:
    """PIDs whose command line or environment contains ``marker`` (e.g. a stack's data dir)."""
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


@dataclass
class RunningStack:
    data_dir: Path
    process: subprocess.Popen[str]
    banner: str
    storefront: str = ""
    services: dict[str, str] = field(default_factory=dict)

    @property
    def ready_seconds(self) -> float:
        match = re.search(r"ready in ([\d.]+)s", self.banner)
        assert match, self.banner[-2000:]
        return float(match.group(1))

    def pid_of(self, app: str) -> int:
        pids = [pid for pid in processes_mentioning(str(self.data_dir))
                if f"-m\x00{app}\x00serve".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(pids) == 1, pids
        return pids[0]

    def stop(self) -> str:
        """Ctrl-C, as a person would; returns the rest of the output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        rest, _ = self.process.communicate(timeout=60)
        return rest


def start_stack(data_dir: Path, timeout: float = 120.0, *, via_hc_py: bool = False) -> RunningStack:
    """The run command as a real process; ``via_hc_py`` starts it as a person does (``python3 hc.py run``),
    in a session of its own (like a terminal's job), so its pid and process group are the ones a person
    would signal."""
    entry = [str(ROOT / "hc.py")] if via_hc_py else ["-m", "devstack"]
    process = subprocess.Popen(
        [sys.executable, *entry, "run", "--data-dir", str(data_dir), "--port", str(free_port(count=6))],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=via_hc_py,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line)
        if "Press Ctrl-C" in line or time.monotonic() > deadline:
            break
    banner = "".join(lines)
    if "Home Craft 3D is running" not in banner:
        process.kill()
        process.communicate()
        raise AssertionError(f"the stack did not start:\n{banner[-4000:]}")
    stack = RunningStack(data_dir, process, banner)
    storefront = re.search(r"storefront:\s+(\S+)", banner)
    assert storefront is not None, f"no storefront URL in the banner:\n{banner[-4000:]}"
    stack.storefront = storefront.group(1).rstrip("/")
    stack.services = {
        name: url for name, url in re.findall(r"^\s+(\w+)\s+(http://127\.0\.0\.1:\d+)/docs$", banner, re.M)
    }
    return stack
