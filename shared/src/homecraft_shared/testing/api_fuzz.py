"""Schemathesis against a real service process: generated requests from its own OpenAPI document,
as several identities, bounded in time; no 5xx and no response that breaks the declared schema.

Each service adds one small test (see ``services/catalog/tests/test_api_fuzz.py``; ``service_process``
is in ``homecraft_shared.testing.infra``)::

    def test_api_holds_against_generated_requests(database_url, nats_server, identity_keys, tmp_path):
        with service_process("catalog", database_url, nats_server.url, identity_keys[1], tmp_path) as url:
            report = fuzz_api(url, identities(identity_keys[0]))
        assert report.failures == [], report.summary()

The service runs as ``python -m <service> serve`` (real uvicorn, real database, real NATS), so what
is tested is what is deployed. Generation is derandomized (the same cases every run: a finding is
reproducible, CI does not flicker); ``HOMECRAFT_FUZZ_SEED`` picks another seed, and
``HOMECRAFT_FUZZ_EXAMPLES`` / ``HOMECRAFT_FUZZ_SECONDS`` widen or narrow a run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import checks as openapi_checks

from homecraft_shared.testing import bearer

# What "holds" means: no 5xx, every status/content type/header/body as the document declares.
CHECKS: list[CheckFunction] = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]
DEFAULT_EXAMPLES = 5  # per operation, identity and generation mode
DEFAULT_SECONDS = 60.0  # per service and database


def identities(private_pem: str) -> dict[str, dict[str, str]]:
    """Anonymous, a marketplace owner and a seller: the callers every service must hold against."""
    return {
        "anonymous": {},
        "owner": bearer(private_pem, "fuzz-owner", "owner"),
        "seller": bearer(private_pem, "fuzz-seller", "seller"),
    }


@dataclass
class FuzzReport:
    service_url: str
    cases: int = 0
    operations: int = 0
    seconds: float = 0.0
    skipped_for_time: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"{self.cases} generated requests over {self.operations} operations in {self.seconds:.1f}s",
            *([f"not run within the time budget: {len(self.skipped_for_time)} (e.g. {self.skipped_for_time[0]})"]
              if self.skipped_for_time else []),
            *self.failures,
        ]
        return "\n".join(lines)


def fuzz_api(
    base_url: str,
    callers: Mapping[str, Mapping[str, str]],
    *,
    max_examples: int | None = None,
    budget_seconds: float | None = None,
    checks: list[CheckFunction] | None = None,
) -> FuzzReport:
    """Every operation of the service's document, as each caller, positive and negative data."""
    max_examples = max_examples or int(os.environ.get("HOMECRAFT_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
    budget = budget_seconds or float(os.environ.get("HOMECRAFT_FUZZ_SECONDS", DEFAULT_SECONDS))
    seed = int(os.environ.get("HOMECRAFT_FUZZ_SEED", "0"))
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    report = FuzzReport(base_url)
    started = time.monotonic()
    settings = hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed == 0,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            operations.append(result.ok())
        else:
            report.failures.append(f"an operation the document describes cannot be tested: {result.err()}")
    report.operations = len(operations)
    # Every operation once before any twice: if the budget runs out, what is left is one caller or
    # mode of many operations, never whole operations. The first round (valid data, first caller)
    # always runs to the end, however slow the machine.
    rounds = [(mode, caller) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) for caller in callers]
    with requests.Session() as session:
        for index, (mode, caller) in enumerate(rounds):
            for operation in operations:
                label = f"{operation.label} as {caller} ({mode.value})"
                if index > 0 and time.monotonic() - started > budget:
                    report.skipped_for_time.append(label)
                    continue
                failure = _run(operation, mode, dict(callers[caller]), settings, session, seed, report, checks or CHECKS)
                if failure:
                    report.failures.append(f"{label}: {failure}")
    report.seconds = time.monotonic() - started
    return report


def _run(
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    headers: dict[str, str],
    settings: hypothesis.settings,
    session: requests.Session,
    seed: int,
    report: FuzzReport,
    checks: list[CheckFunction],
) -> str | None:
    @settings
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case[Any]) -> None:
        report.cases += 1
        case.call_and_validate(headers=headers, session=session, checks=checks, timeout=30)

    if seed:
        run = hypothesis.seed(seed)(run)
    try:
        run()
    except hypothesis.errors.Unsatisfiable:  # nothing to negate (no parameters): no negative case exists
        return None
    except (Exception, BaseExceptionGroup) as exc:  # checks failed (a group of failures) or the call broke
        return str(exc).strip()[:4000]
    return None
