"""The README's run command: every process ready within 60 s, the storefront answers, Ctrl-C leaves
nothing behind, and a child that dies is reported by name."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import httpx

from devstack import standin
from devstack.harness import processes_mentioning, start_stack

APPS = ("catalog", "orders", "payments", "refunds", "engagement")


def assert_payments_wired_to_the_stripe_standin(banner: str, payments_pid: int) -> None:
    match = re.search(r"stripe:\s+(http://127\.0\.0\.1:\d+)/", banner)
    assert match, banner[-2000:]
    assert httpx.get(f"{match.group(1)}/readyz", timeout=5).status_code == 200
    environ = dict(item.split("=", 1) for item in
                   Path(f"/proc/{payments_pid}/environ").read_text().split("\0") if "=" in item)
    assert environ["PAYMENTS_STRIPE_API_BASE"] == match.group(1)
    assert environ["PAYMENTS_STRIPE_SECRET_KEY"] == standin.API_KEY
    assert environ["PAYMENTS_STRIPE_WEBHOOK_SECRET"] and environ["PAYMENTS_STRIPE_CONNECT_WEBHOOK_SECRET"]
    # The stand-in posts webhooks to payments' two paths (docs/decisions/0401-stripe-standin.md).
    pages = httpx.get(f"{match.group(1)}/_standin/webhooks", timeout=5).json()
    assert pages["platform"]["url"].endswith(standin.PLATFORM_WEBHOOK_PATH)
    assert pages["connect"]["url"].endswith(standin.CONNECT_WEBHOOK_PATH)


def assert_orders_mail_goes_to_the_mail_catcher(banner: str, orders_pid: int) -> None:
    """The banner names where mail is read (O7); orders sends to the catcher's SMTP port."""
    match = re.search(r"mail:\s+(http://127\.0\.0\.1:\d+)/", banner)
    assert match, banner[-2000:]
    smtp = httpx.get(f"{match.group(1)}/readyz", timeout=5).json()["smtp"]
    environ = dict(item.split("=", 1) for item in
                   Path(f"/proc/{orders_pid}/environ").read_text().split("\0") if "=" in item)
    assert smtp == f"127.0.0.1:{environ['ORDERS_SMTP_PORT']}"
    assert "Mail sent by the local marketplace" in httpx.get(f"{match.group(1)}/", timeout=5).text


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
        assert len(processes_mentioning(str(data_dir))) >= 8  # nats-server, five services, gateway, Stripe stand-in
        assert_payments_wired_to_the_stripe_standin(stack.banner, stack.pid_of("payments"))
        assert_orders_mail_goes_to_the_mail_catcher(stack.banner, stack.pid_of("orders"))
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
