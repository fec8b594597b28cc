"""Benchmark the storefront's pages through the gateway with the real services behind it.

Starts the whole marketplace the way the run command does (``devstack.harness.start_stack``: every
service, nats-server, the demo catalog), and, in the same run on the same machine, a bare FastAPI +
Jinja2 app (``bench/bare_page.py``) answering, for each scenario, the very same HTML bytes as that
scenario's pages (fetched from the gateway first). Drives each baseline and then its scenario with C
concurrent clients (aiohttp, 16 by default) for D seconds, back to back, and prints requests/s and
p50/p99, and for each page its throughput as a ratio of its baseline's (target ≥ 0.5), its p99 as
a multiple of its baseline's (target ≤ 3) and the CPU time the gateway, engagement and the catalog
spent per page (from /proc: what the two cores limit). Clients keep a session cookie, as browsers do. The
anonymous scenarios are what the page cache serves (decision 0702); the signed-in ones (the demo
buyer) are served its pages filled for them (decision 0703), except home, which is their dashboard
(C6, built every time).

    .venv/bin/python bench/storefront_pages.py
    .venv/bin/python bench/storefront_pages.py --duration 5 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from benchkit import uvicorn_service, wait_ready  # noqa: E402

from devstack.harness import start_stack  # noqa: E402


async def drive(base: str, paths: list[str], concurrency: int, duration: float,
                cookies: dict[str, str] | None = None) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration

    async def client(index: int) -> None:
        nonlocal errors
        jar = aiohttp.CookieJar(unsafe=True)
        if cookies:
            jar.update_cookies(cookies)
        async with aiohttp.ClientSession(base, cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=30)) as session:
            n = index
            while time.monotonic() < deadline:
                path = paths[n % len(paths)]
                n += 1
                started = time.perf_counter()
                try:
                    async with session.get(path) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                            continue
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

    began = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    elapsed = time.monotonic() - began
    latencies.sort()
    if not latencies:
        return 0.0, 0.0, 0.0, errors
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, p50, p99, errors


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MEASURED = ("gateway", "engagement", "catalog")  # whose CPU per page is printed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def sign_in(storefront: str, data_dir: Path) -> dict[str, str]:
    """The demo buyer's session cookie (its password is the run command's, in the data directory)."""
    password = json.loads((data_dir / "keys" / "demo-passwords.json").read_text())["buyer"]
    with httpx.Client(base_url=storefront, timeout=10) as client:
        form = client.get("/account/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, "no CSRF token on the sign-in form"
        done = client.post("/account/signin", data={"csrf_token": token.group(1), "username": "buyer",
                                                    "password": password, "next": "/"})
        assert done.status_code in (200, 303), f"sign-in failed: {done.status_code}"
        assert "signed-in-as" in client.get("/browse").text, "the buyer is not signed in"
        return {"hc_session": client.cookies["hc_session"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", action="append", default=[],
                        help="a scenario to run, by name (e.g. 'product' or 'product, signed in'); repeat for more; all by default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hc-bench-storefront-") as tmp:
        work = Path(tmp)
        stack = start_stack(work / "var")
        try:
            home = httpx.get(stack.storefront + "/", timeout=10).text
            browse = httpx.get(stack.storefront + "/browse", timeout=10).text
            products = sorted(set(re.findall(r'href="(/products/[0-9a-f-]{36})[?"]', home + browse)))
            browse_paths = ["/browse", "/browse/models", "/browse/files?sort=new", "/browse?q=lamp",
                            "/browse?sort=trending"]
            # Anonymous visitors (each client keeps the cookie a page gives it), and a signed-in buyer
            # (the demo buyer, signed in once; its clients share that session, like tabs of one browser).
            signed_in = sign_in(stack.storefront, work / "var")
            scenarios: dict[str, tuple[list[str], dict[str, str] | None]] = {
                "home": (["/"], None),
                "browse": (browse_paths, None),
                "product": (products, None),
                "home, signed in": (["/"], signed_in),  # the dashboard (C6): personal, never kept
                "browse, signed in": (browse_paths, signed_in),
                "product, signed in": (products, signed_in),
            }
            if args.only:
                unknown = set(args.only) - scenarios.keys()
                if unknown:
                    parser.error(f"no scenario named {', '.join(sorted(unknown))}; the names: {', '.join(scenarios)}")
                scenarios = {name: spec for name, spec in scenarios.items() if name in args.only}
            # Each scenario's baseline answers the same bytes as its pages (one file per address, as
            # an anonymous first visit gets it): neither a bigger nor a smaller page than the gateway's.
            pages_dir = work / "bare-pages"
            pages_dir.mkdir()
            bare_paths: dict[str, list[str]] = {}
            sizes: dict[str, int] = {}
            n = 0
            for name, (paths, cookies) in scenarios.items():
                bare_paths[name] = []
                total = 0
                for path in paths:
                    body = httpx.get(stack.storefront + path, cookies=cookies, timeout=10).content
                    (pages_dir / f"{n}.html").write_bytes(body)
                    bare_paths[name].append(f"/bare/{n}")
                    total += len(body)
                    n += 1
                sizes[name] = total // len(paths)
            with uvicorn_service("bare", {"BARE_PAGES_DIR": str(pages_dir), "PYTHONPATH": str(ROOT / "bench")},
                                 work, factory="bare_page:create_app") as bare:
                wait_ready(bare)
                baseline = (1.0, 1.0)
                print(f"storefront pages: {args.concurrency} clients, {args.duration:.0f}s each; "
                      f"{len(products)} products; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
                      flush=True)
                pids = {app: stack.pid_of(app) for app in MEASURED}
                for name, (paths, cookies) in scenarios.items():
                    for base, run_paths, label, jar in ((bare, bare_paths[name], f"bare {name}", None),
                                                        (stack.storefront, paths, name, cookies)):
                        asyncio.run(drive(base, run_paths, args.concurrency, min(2.0, args.duration), jar))  # warm-up
                        used = {app: cpu_seconds(pid) for app, pid in pids.items()}
                        rps, p50, p99, errors = asyncio.run(
                            drive(base, run_paths, args.concurrency, args.duration, jar))
                        used = {app: cpu_seconds(pid) - used[app] for app, pid in pids.items()}
                        line = (f"  {label:<23} {rps:8.1f} req/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
                                f"errors {errors}")
                        if base == bare:
                            baseline = (rps, p99)
                            line += f"  ({sizes[name]} bytes a page)"
                        else:
                            pages = max(1.0, rps * args.duration)
                            line += (f"  | throughput {rps / baseline[0]:.2f} x bare (>= 0.5)  "
                                     f"p99 {p99 / baseline[1]:.1f} x bare (<= 3)  | CPU ms a page: "
                                     + ", ".join(f"{app} {1000 * used[app] / pages:.2f}" for app in MEASURED))
                        print(line + f"  (load {os.getloadavg()[0]:.1f})", flush=True)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
