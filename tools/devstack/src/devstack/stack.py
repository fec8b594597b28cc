"""The run command: nats-server, the five services and the gateway, each with its own SQLite file,
and the offline Stripe stand-in (unless real Stripe test keys are set; see devstack.standin).

Children (nats-server included) run in their own sessions, so a terminal's Ctrl-C reaches only this
supervisor, which then stops them in order (gateway and services first, nats-server last) and leaves
nothing behind; SIGINT or SIGTERM sent to it does the same, at any moment, start-up included. A child
that exits on its own is reported by name and brings the stack down with a non-zero exit.

The console shows this command's own lines (the banner), and the children's warnings and errors;
everything a child prints (request logs included) goes to ``<data>/logs/<name>.log``. ``--verbose``
shows every line on the console too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack import standin
from homecraft_shared.identity import generate_keypair
from homecraft_shared.testing.infra import NatsServer, die_with_parent, free_port, port_is_free

SERVICES = ("catalog", "orders", "payments", "refunds", "engagement")
APPS = ("gateway", *SERVICES)  # the gateway takes the base port, services the next ones
NATS_DEFAULT_PORT = 4222
MAIL_WEB_PORT, MAIL_SMTP_PORT = 8025, 1025
# Whose own service tokens an app accepts, where narrower than every app (decisions 0201, 0602): the
# gateway's internal contact lookup answers only the services that email registered users.
TRUSTED_SERVICES: dict[str, tuple[str, ...]] = {"gateway": ("refunds",)}


@dataclass
class Child:
    name: str
    port: int
    process: asyncio.subprocess.Process | None = None
    module: str | None = None  # python -m <module> serve; the name when None
    pump: asyncio.Task[None] | None = None


def pick_port(preferred: int) -> int:
    return preferred if port_is_free(preferred) else free_port()


def load_or_create_keys(folder: Path) -> tuple[str, str]:
    """The local identity key pair: the gateway signs with the private half, services verify."""
    folder.mkdir(parents=True, exist_ok=True)
    private_file, public_file = folder / "identity-private.pem", folder / "identity-public.pem"
    if not (private_file.exists() and public_file.exists()):
        private_pem, public_pem = generate_keypair()
        private_file.write_text(private_pem)
        private_file.chmod(0o600)
        public_file.write_text(public_pem)
    return private_file.read_text(), public_file.read_text()


def load_or_create_service_keys(folder: Path) -> dict[str, tuple[str, str]]:
    """Each app's own key pair (decision 0201): it signs its own calls and grants; others trust its public half.
    The gateway has one too (its service identity, apart from the key it signs users' tokens with): it
    records views, clicks and adds to cart through engagement's ingestion (E1)."""
    keys = {}
    for name in APPS:
        private_file, public_file = folder / f"{name}-private.pem", folder / f"{name}-public.pem"
        if not (private_file.exists() and public_file.exists()):
            folder.mkdir(parents=True, exist_ok=True)
            private_pem, public_pem = generate_keypair()
            private_file.write_text(private_pem)
            private_file.chmod(0o600)
            public_file.write_text(public_pem)
        keys[name] = (private_file.read_text(), public_file.read_text())
    return keys


DEMO_ACCOUNTS = ("ada", "grace", "hedy", "linus", "buyer", "owner")  # gateway.accounts.demo


def load_or_create_demo_passwords(folder: Path) -> dict[str, str]:
    """The demo accounts' passwords: made once per data directory, printed by the banner."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo-passwords.json"
    passwords: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if set(passwords) != set(DEMO_ACCOUNTS):
        passwords = {name: passwords.get(name) or secrets.token_urlsafe(9) for name in DEMO_ACCOUNTS}
        path.write_text(json.dumps(passwords, indent=2))
        path.chmod(0o600)
    return passwords


def app_environment(
    name: str, data_dir: Path, nats_url: str, keys: tuple[str, str], ports: dict[str, int]
) -> dict[str, str]:
    prefix = name.upper()
    env = {
        **os.environ,
        f"{prefix}_ENVIRONMENT": "local",
        f"{prefix}_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'data' / f'{name}.db'}",
        f"{prefix}_NATS_URL": nats_url,
        f"{prefix}_IDENTITY_PUBLIC_KEY": keys[1],
        f"{prefix}_MEDIA_ROOT": str(data_dir / "data" / f"{name}-media"),
        "PYTHONUNBUFFERED": "1",
    }
    for other, port in ports.items():
        env[f"{prefix}_{other.upper()}_URL"] = f"http://127.0.0.1:{port}"
    service_keys = load_or_create_service_keys(data_dir / "keys")
    trusted = TRUSTED_SERVICES.get(name, APPS)
    env[f"{prefix}_TRUSTED_SERVICE_KEYS"] = json.dumps({other: pair[1] for other, pair in service_keys.items()
                                                        if other in trusted})
    if name in service_keys:
        env[f"{prefix}_SERVICE_PRIVATE_KEY"] = service_keys[name][0]
    if "gateway" in ports:
        env[f"{prefix}_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{ports['gateway']}"
    if name == "gateway":
        env["GATEWAY_IDENTITY_PRIVATE_KEY"] = keys[0]
    return env


CONSOLE_LEVELS = frozenset({"warning", "error", "critical"})


def console_text(line: str, verbose: bool) -> str | None:
    """What the console shows of a child's output line: warnings and errors of its JSON log, and any
    line that is not a log record (a crash's traceback); None for the rest (it is in the log file)."""
    if verbose:
        return line
    try:
        entry = json.loads(line)
    except ValueError:
        return line if line.strip() else None
    if not isinstance(entry, dict) or "level" not in entry:
        return line
    if entry["level"] not in CONSOLE_LEVELS:
        return None
    text = f"{entry['level'].upper()} {entry.get('logger', '')}: {entry.get('msg', '')}"
    if "error" in entry:
        text += f" ({entry['error']})"
    if "exc" in entry:
        text += f" [{str(entry['exc']).strip().splitlines()[-1]}]"
    if "correlation_id" in entry:
        text += f" cid={entry['correlation_id']}"
    return text


async def pump_output(name: str, stream: asyncio.StreamReader, log_file: Path, verbose: bool = False) -> None:
    width = max(len(app) for app in APPS)
    with log_file.open("ab") as log:
        while line := await stream.readline():
            log.write(line)
            log.flush()
            text = console_text(line.decode(errors="replace").rstrip(), verbose)
            if text is not None:
                print(f"{name:<{width}} | {text}", flush=True)


async def wait_ready(children: list[Child], within_seconds: float) -> list[str]:
    """Poll every /readyz until all answer 200; returns the names still not ready."""
    pending = {child.name: child for child in children}
    deadline = time.monotonic() + within_seconds
    async with httpx.AsyncClient(timeout=1.0) as client:
        while pending and time.monotonic() < deadline:
            for name, child in list(pending.items()):
                if child.process is not None and child.process.returncode is not None:
                    return [name]
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{child.port}/readyz")).status_code == 200:
                        del pending[name]
            await asyncio.sleep(0.25)
    return list(pending)


async def run_step(command: list[str], env: dict[str, str], label: str, log_file: Path, verbose: bool) -> bool:
    """Run a one-off step (the seed) to its end; stopped with the stack if that is stopped meanwhile."""
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        preexec_fn=die_with_parent,
    )
    try:
        assert process.stdout is not None
        await pump_output(label, process.stdout, log_file, verbose)
        return await process.wait() == 0
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            await process.wait()


async def run(root: Path, data_dir: Path, base_port: int, ready_timeout: float, verbose: bool = False) -> int:
    started = time.monotonic()
    # First of all: from here on SIGINT/SIGTERM stop the stack (no KeyboardInterrupt, no traceback);
    # during start-up they interrupt it at once (the seed, the spawning, the readiness wait).
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    starting = True

    def on_signal() -> None:
        stop.set()
        if starting and main is not None:
            main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    logs = data_dir / "logs"
    for folder in (logs, data_dir / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    keys = load_or_create_keys(data_dir / "keys")
    ports = {name: pick_port(base_port + offset) for offset, name in enumerate(APPS)}

    nats = NatsServer(data_dir / "nats", port=pick_port(NATS_DEFAULT_PORT), log_file=logs / "nats.log",
                      stop_with_parent=True)
    print(f"starting nats-server (JetStream, fsync before ack) on {nats.url}", flush=True)
    nats.start()
    children = [Child(name, ports[name]) for name in APPS]
    stripe_port = None if standin.uses_real_stripe() else pick_port(standin.DEFAULT_PORT)
    if stripe_port is not None:
        children.insert(0, Child("stripe", stripe_port, module="stripe_standin"))
    # The local mail catcher (real SMTP; a web page lists what the marketplace sent, O7).
    mail_port, smtp_port = pick_port(MAIL_WEB_PORT), pick_port(MAIL_SMTP_PORT)
    children.insert(0, Child("mail", mail_port, module="devstack.mailcatcher"))
    exit_code = 0
    demo_accounts: asyncio.Task[bool] | None = None
    try:
        catalog_env = app_environment("catalog", data_dir, nats.url, keys, ports)
        seed = [sys.executable, "-m", "catalog", "seed"]
        if not await run_step(seed, catalog_env, "seed", logs / "seed.log", verbose):
            print(f"!! loading the demo catalog failed; see {logs / 'seed.log'}", flush=True)
            return 1
        passwords = load_or_create_demo_passwords(data_dir / "keys")
        gateway_env = {**app_environment("gateway", data_dir, nats.url, keys, ports),
                       "GATEWAY_DEMO_PASSWORDS": json.dumps(passwords)}
        if not await run_step([sys.executable, "-m", "gateway", "seed-demo"], gateway_env, "seed", logs / "seed.log", verbose):
            print(f"!! creating the demo accounts failed; see {logs / 'seed.log'}", flush=True)
            return 1
        for child in children:
            if child.module == "stripe_standin":
                env = standin.standin_environment(data_dir, child.port, ports["payments"])
            elif child.name == "mail":
                env = {**os.environ, "MAILCATCHER_SMTP_PORT": str(smtp_port), "MAILCATCHER_STORE": str(data_dir / "mail")}
            else:
                env = app_environment(child.name, data_dir, nats.url, keys, ports)
                if child.name == "payments" and stripe_port is not None:
                    env.update(standin.payments_settings(stripe_port))
                if child.name in ("orders", "refunds"):  # the services that send mail
                    env[f"{child.name.upper()}_SMTP_PORT"] = str(smtp_port)
            child.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", child.module or child.name, "serve", "--port", str(child.port),
                env=env, cwd=root, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent,
            )
            assert child.process.stdout is not None
            child.pump = asyncio.create_task(
                pump_output(child.name, child.process.stdout, logs / f"{child.name}.log", verbose)
            )
        not_ready = await wait_ready(children, ready_timeout)
        if not_ready:
            print(f"!! not ready after {ready_timeout:.0f}s or exited: {', '.join(not_ready)} (logs in {logs})",
                  flush=True)
            return 1
        if stripe_port is not None:
            # Demo sellers' Connect accounts on the stand-in, in the background (readiness is published the
            # normal way; the catalog's demo data already assumes it, so nothing waits for it).
            payments_env = {**app_environment("payments", data_dir, nats.url, keys, ports),
                            **standin.payments_settings(stripe_port)}
            demo_accounts = asyncio.create_task(run_step(
                [sys.executable, "-m", "payments", "seed-demo"], payments_env, "payments", logs / "payments-seed.log", verbose))
        starting = False
        banner(ports, nats, data_dir, logs, time.monotonic() - started, stripe_port, mail_port, passwords)
        exit_code = await supervise(children, stop)
    except asyncio.CancelledError:
        if not stop.is_set() or main is None:
            raise
        main.uncancel()  # our own interruption of the start-up: stop what started, quietly
    finally:
        if demo_accounts is not None:  # short-lived; let it finish so no process outlives the command
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(demo_accounts), timeout=60)
        await shutdown(children)
        print("services stopped; stopping nats-server", flush=True)
        nats.stop()
        print("stopped every process this command started.", flush=True)
    return exit_code


def banner(ports: dict[str, int], nats: NatsServer, data_dir: Path, logs: Path, seconds: float,
           stripe_port: int | None = None, mail_port: int | None = None,
           passwords: dict[str, str] | None = None) -> None:
    stripe_line = (f"  stripe:      http://127.0.0.1:{stripe_port}/  (offline stand-in; controls under /_standin)"
                   if stripe_port is not None else "  stripe:      real Stripe test mode (PAYMENTS_STRIPE_* from the environment)")
    lines = [
        "",
        f"Home Craft 3D is running (ready in {seconds:.1f}s).",
        f"  storefront:  http://127.0.0.1:{ports['gateway']}/",
        *(f"  {name:<11} http://127.0.0.1:{ports[name]}/docs" for name in SERVICES),
        stripe_line,
        *([f"  mail:        http://127.0.0.1:{mail_port}/  (every email the marketplace sent, links clickable)"]
          if mail_port is not None else []),
        *(["  demo accounts (sign in at the storefront; username / password):"]
          + [f"    {name:<7} {password}" for name, password in passwords.items()] if passwords else []),
        f"  nats:        {nats.url}",
        f"  data:        {data_dir / 'data'}",
        f"  logs:        {logs}",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


async def supervise(children: list[Child], stop: asyncio.Event) -> int:
    """Wait for Ctrl-C or for a child to die; a death is reported by name."""
    stop_waiter = asyncio.create_task(stop.wait())
    exits = {asyncio.create_task(child.process.wait()): child for child in children if child.process}
    done, _ = await asyncio.wait([stop_waiter, *exits], return_when=asyncio.FIRST_COMPLETED)
    stop_waiter.cancel()
    for task in exits:
        task.cancel()
    died = [exits[task] for task in done if task in exits]
    for child in died:
        code = child.process.returncode if child.process else None
        print(f"!! {child.name} exited unexpectedly with code {code}; stopping the stack "
              f"(see its log for why)", flush=True)
    return 1 if died else 0


async def shutdown(children: list[Child]) -> None:
    running = [c.process for c in children if c.process is not None and c.process.returncode is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in running:
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    for child in children:
        if child.pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(child.pump, timeout=2)
