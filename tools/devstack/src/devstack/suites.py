"""The test command: ruff and mypy, then every package's pytest suite in its own process, then the
contract tests.

Each package is tested from its own folder (its own pytest configuration), as a team owning only
that package would. ``--postgres`` creates a throwaway PostgreSQL cluster for the run and points
every database fixture at it. The last line is the combined count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from homecraft_shared.testing.infra import PostgresCluster

PACKAGES = (
    "shared",
    "services/catalog",
    "services/orders",
    "services/payments",
    "services/refunds",
    "services/engagement",
    "gateway",
    "tests/contract",
    "tests/flows",
    "tools/devstack",
    "tools/stripe_standin",
    "tests/e2e",
)


# What mypy checks (strict, configured in the root pyproject.toml): the platform library and every
# service whose code is clean. A new package goes here once `mypy -p <package>` passes.
TYPED_PACKAGES = ("homecraft_shared", "catalog", "orders", "gateway", "payments", "refunds", "engagement",
                  "stripe_standin", "devstack")


# Suites that never touch the test database (the run command uses its own SQLite files): the
# PostgreSQL pass skips them, since they would only repeat the SQLite pass.
DATABASE_FREE_SUITES = ("tests/contract", "tools/devstack", "tools/stripe_standin", "tests/e2e")

# Suites that drive pages in a real browser (Debian's chromium through Playwright).
BROWSER_SUITES = ("tests/e2e",)
CHROMIUM = "/usr/bin/chromium"


def ensure_chromium() -> bool:
    """Install Debian's chromium when it is missing and we may (root with apt-get), as CI needs."""
    if Path(CHROMIUM).exists():
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print("== installing chromium (apt-get) for the browser tests", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.call(["apt-get", "update", "-qq"], env=env)
    subprocess.call(["apt-get", "install", "-y", "-qq", "chromium"], env=env, stdout=subprocess.DEVNULL)
    return Path(CHROMIUM).exists()


@dataclass
class Outcome:
    package: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    exit_code: int = 0


def run(root: Path, *, postgres: bool, lint: bool, only: list[str]) -> int:
    bin_dir = Path(sys.executable).parent
    if lint:
        print("== ruff check", flush=True)
        if subprocess.call([str(bin_dir / "ruff"), "check", "."], cwd=root) != 0:
            print("0 passed, 1 failed (ruff found problems; fix them or run ruff check --fix)")
            return 1
        print("== mypy", flush=True)
        packages_args = [arg for package in TYPED_PACKAGES for arg in ("-p", package)]
        if subprocess.call([str(bin_dir / "mypy"), *packages_args], cwd=root) != 0:
            print("0 passed, 1 failed (mypy found type errors)")
            return 1
    packages = [p.rstrip("/") for p in only] or [p for p in PACKAGES if (root / p).exists()]
    if postgres and not only:
        packages = [p for p in packages if p not in DATABASE_FREE_SUITES]
    if any(p in BROWSER_SUITES for p in packages) and not ensure_chromium():
        print("0 passed, 1 failed (no Chromium for the browser tests; install Debian's chromium package)")
        return 1
    env = {**os.environ}
    cluster: PostgresCluster | None = None
    with tempfile.TemporaryDirectory(prefix="homecraft-tests-") as scratch:
        if postgres:
            if not PostgresCluster.available():
                print("initdb/pg_ctl/postgres are not on PATH; cannot run the PostgreSQL suite", flush=True)
                return 2
            cluster = PostgresCluster(Path(scratch) / "pg")
            cluster.start()
            env["HOMECRAFT_TEST_POSTGRES_URL"] = cluster.admin_url()
            print(f"== PostgreSQL cluster on port {cluster.port} (throwaway)", flush=True)
        try:
            outcomes = [run_package(root, bin_dir, package, env, Path(scratch)) for package in packages]
        finally:
            if cluster is not None:
                cluster.stop()
    return report(outcomes, "PostgreSQL" if postgres else "SQLite")


def run_package(root: Path, bin_dir: Path, package: str, env: dict[str, str], scratch: Path) -> Outcome:
    folder = root / package
    junit = scratch / f"{package.replace('/', '_')}.xml"
    print(f"== {package}", flush=True)
    started = time.monotonic()
    exit_code = subprocess.call(
        [str(bin_dir / "pytest"), "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"], cwd=folder, env=env
    )
    outcome = Outcome(package, seconds=time.monotonic() - started, exit_code=exit_code)
    if junit.exists():
        for suite in ElementTree.parse(junit).getroot().iter("testsuite"):
            tests = int(suite.get("tests", 0))
            failures = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped = int(suite.get("skipped", 0))
            outcome.failed += failures
            outcome.skipped += skipped
            outcome.passed += tests - failures - skipped
    if exit_code not in (0, 5) and outcome.failed == 0:
        outcome.failed = 1  # pytest itself failed (collection error, crash): count it
    if exit_code == 5:
        print(f"!! {package} has no tests", flush=True)
        outcome.failed += 1
    return outcome


def report(outcomes: list[Outcome], database: str) -> int:
    print(f"\n== summary ({database})", flush=True)
    for o in outcomes:
        status = "ok" if o.failed == 0 else "FAILED"
        print(f"  {o.package:<22} {o.passed:>4} passed {o.failed:>3} failed {o.skipped:>3} skipped "
              f"{o.seconds:>6.1f}s  {status}")
    passed = sum(o.passed for o in outcomes)
    failed = sum(o.failed for o in outcomes)
    skipped = sum(o.skipped for o in outcomes)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""), flush=True)
    return 0 if failed == 0 else 1
