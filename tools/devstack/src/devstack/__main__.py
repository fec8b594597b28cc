"""``python -m devstack run|test`` (normally reached through ``python3 hc.py``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from devstack import stack, suites

ROOT = Path(__file__).resolve().parents[4]


def main() -> None:
    parser = argparse.ArgumentParser(prog="hc.py", description="Home Craft 3D local tooling")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start nats-server, the five services and the gateway")
    run.add_argument("--data-dir", type=Path, default=ROOT / "var", help="where databases, media and logs go")
    run.add_argument("--port", type=int, default=8000, help="the storefront's port (services use the next ones)")
    run.add_argument("--ready-timeout", type=float, default=60.0)
    run.add_argument("--verbose", action="store_true", help="show every process's log lines on the console too")
    test = commands.add_parser("test", help="run every package's tests and the contract tests")
    test.add_argument("--postgres", action="store_true", help="run against a throwaway PostgreSQL cluster")
    test.add_argument("--no-lint", action="store_true", help="skip ruff and mypy")
    test.add_argument("packages", nargs="*", help="only these packages (e.g. services/catalog)")
    args = parser.parse_args()

    if args.command == "run":
        try:
            sys.exit(asyncio.run(stack.run(ROOT, args.data_dir.resolve(), args.port, args.ready_timeout, args.verbose)))
        except KeyboardInterrupt:  # a signal before the run installed its handlers: nothing started yet
            sys.exit(130)
    sys.exit(suites.run(ROOT, postgres=args.postgres, lint=not args.no_lint, only=args.packages))


if __name__ == "__main__":
    main()
