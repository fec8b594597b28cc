"""The command line every service has: ``python -m <service> serve | migrate | replay-dead-letters``."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Awaitable, Callable

import uvicorn

from homecraft_shared.messaging.consumer import replay_dead_letters
from homecraft_shared.runtime import ServiceRuntime

ExtraCommand = Callable[[ServiceRuntime, argparse.Namespace], Awaitable[None]]


def run_cli(
    *,
    service: str,
    app_factory: str,
    runtime_factory: Callable[[], ServiceRuntime],
    default_port: int,
    extra_commands: dict[str, tuple[str, ExtraCommand]] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {service}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    commands.add_parser("migrate", help="apply database migrations and exit")
    replay = commands.add_parser("replay-dead-letters", help="re-run dead-lettered events after a fix")
    replay.add_argument("--event-id", action="append", type=uuid.UUID, default=None)
    for name, (help_text, _) in (extra_commands or {}).items():
        commands.add_parser(name, help=help_text)
    args = parser.parse_args()

    if args.command == "serve":
        uvicorn.run(app_factory, factory=True, host=args.host, port=args.port, log_config=None,
                    access_log=False)
        return
    asyncio.run(_run_command(args, runtime_factory, extra_commands or {}))


async def _run_command(
    args: argparse.Namespace,
    runtime_factory: Callable[[], ServiceRuntime],
    extra_commands: dict[str, tuple[str, ExtraCommand]],
) -> None:
    runtime = runtime_factory()
    try:
        await runtime.migrate()
        if args.command == "replay-dead-letters":
            if runtime.handlers is None:
                print("this service consumes no events")
                return
            result = await replay_dead_letters(runtime.sessionmaker, runtime.handlers, event_ids=args.event_id)
            print(f"replayed {result.replayed}, failed {result.failed}")
        elif args.command in extra_commands:
            await extra_commands[args.command][1](runtime, args)
    finally:
        await runtime.engine.dispose()
