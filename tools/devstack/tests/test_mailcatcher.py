"""The local mail catcher: a real SMTP server whose web page lists received mail with clickable links (O7)."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import httpx

from homecraft_shared.testing.infra import free_port


def test_received_mail_is_listed_with_clickable_links(tmp_path: Path) -> None:
    web_port, smtp_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.mailcatcher", "serve", "--port", str(web_port), "--smtp-port", str(smtp_port),
         "--store", str(tmp_path / "mail")], env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{web_port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "shop@example.com", "ada@example.com", "Your order <1>"
        message.set_content("Open http://127.0.0.1:8000/orders/1?t=abc&x=1 to see it.")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as client:
            client.send_message(message)
        page = httpx.get(f"http://127.0.0.1:{web_port}/", timeout=5).text
        assert "Your order &lt;1&gt;" in page  # escaped
        assert '<a href="http://127.0.0.1:8000/orders/1?t=abc&amp;x=1">' in page
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
