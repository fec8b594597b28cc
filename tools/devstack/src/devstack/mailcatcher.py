"""The local mail catcher: a real SMTP server (aiosmtpd) that keeps every message, and a small web
page listing them with clickable links, so a person can follow a guest's order and download links.

    python -m devstack.mailcatcher serve --port 8025 [--smtp-port 1025] [--store var/mail]

The run command starts it and prints its URL; the orders service sends to its SMTP port. Messages
are kept as .eml files in the store folder, so they survive a restart of the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import html
import os
import re
import signal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

URL = re.compile(r"https?://[^\s<>\"']+")


class Store:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        existing = sorted(self.folder.glob("*.eml"))
        number = int(existing[-1].stem) + 1 if existing else 1
        (self.folder / f"{number:06d}.eml").write_bytes(envelope.content)
        return "250 Message accepted"

    def messages(self) -> list[tuple[str, EmailMessage]]:
        found = []
        for path in sorted(self.folder.glob("*.eml"), reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append((path.stem, message))
        return found


def _linkify(text: str) -> str:
    out, last = [], 0
    for match in URL.finditer(text):
        out.append(html.escape(text[last:match.start()]))
        url = html.escape(match.group(0), quote=True)
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def page(store: Store) -> str:
    items = []
    for number, message in store.messages():
        items.append(
            f"<article><h2>#{int(number)} {html.escape(str(message['Subject'] or '(no subject)'))}</h2>"
            f"<p class=meta>To {html.escape(str(message['To']))} &middot; from {html.escape(str(message['From']))}"
            f" &middot; {html.escape(str(message['Date'] or ''))}</p><pre>{_linkify(_body(message))}</pre></article>")
    listing = "\n".join(items) or "<p>No mail yet. Guest orders get an email when they are paid.</p>"
    return ("<!doctype html><html><head><meta charset=utf-8><title>Home Craft 3D mail</title>"
            "<meta http-equiv=refresh content=5><style>body{font-family:system-ui,sans-serif;max-width:60rem;"
            "margin:2rem auto;padding:0 1rem}article{border-bottom:1px solid #ddd;padding:.5rem 0}"
            "pre{white-space:pre-wrap}.meta{color:#555}</style></head><body>"
            f"<h1>Mail sent by the local marketplace</h1>{listing}</body></html>")


async def serve(http_port: int, smtp_port: int, folder: Path) -> None:
    store = Store(folder)
    controller = Controller(store, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    app = web.Application()

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page(store), content_type="text/html")

    async def ready(_: web.Request) -> web.Response:
        return web.json_response({"status": "ready", "smtp": f"127.0.0.1:{smtp_port}"})

    app.router.add_get("/", index)
    app.router.add_get("/readyz", ready)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    print(f"mail catcher: SMTP on 127.0.0.1:{smtp_port}, messages at http://127.0.0.1:{http_port}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.mailcatcher")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the SMTP server and the web page")
    run.add_argument("--port", type=int, default=8025, help="the web page's port")
    run.add_argument("--smtp-port", type=int, default=int(os.environ.get("MAILCATCHER_SMTP_PORT", "1025")))
    run.add_argument("--store", type=Path, default=Path(os.environ.get("MAILCATCHER_STORE", "var/mail")))
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.smtp_port, args.store))


if __name__ == "__main__":
    main()
