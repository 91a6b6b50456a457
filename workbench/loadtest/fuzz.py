"""Schema fuzzing of the HTTP contract: schemathesis cases generated from the app's own OpenAPI schema.

:func:`fuzz_app` loads ``/openapi.json`` from an ASGI app in process, generates requests for every operation
(positive: bodies the schema allows; negative: bodies it forbids), sends them, and checks each response:
no 5xx, a status the schema declares, the declared content type, body and headers. The served schema must
therefore declare the request bodies and every error response; a case the app answers with a 500 is kept
as a ``curl`` line to reproduce it::

    report = fuzz_app(create_app(AsyncEngine.from_config(PipelineConfig.load("fast"))), cases=500, seed=0)
    print(report.table())
    assert report.server_errors == 0

Needs ``schemathesis`` (``pip install schemathesis``); it is imported when :func:`fuzz_app` runs.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError

__all__ = ["FuzzReport", "fuzz_app"]


@dataclass
class FuzzReport:
    """What a fuzz run sent and what came back."""

    cases: int = 0
    """Requests sent."""
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    """(``METHOD /path``, status) → count."""
    failures: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    """(check failure, ``METHOD /path``, status) → count."""
    examples: list[str] = field(default_factory=list)
    """The first failures: the failure and a ``curl`` line reproducing the request."""
    seconds: float = 0.0
    seed: int = 0

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx status."""
        return sum(n for (_, status), n in self.statuses.items() if status >= 500)

    def table(self) -> str:
        """A plain-text table: cases per operation and status, then the check failures."""
        lines = [f"{'operation':<28} {'status':>6} {'cases':>7}"]
        lines += [f"{op:<28} {status:>6} {n:>7}" for (op, status), n in sorted(self.statuses.items())]
        lines.append(f"{'total':<28} {'':>6} {self.cases:>7}   5xx: {self.server_errors}   "
                     f"check failures: {sum(self.failures.values())}   {self.seconds:.1f} s   seed {self.seed}")
        lines += [f"FAIL {name} {op} {status}: {n}" for (name, op, status), n in sorted(self.failures.items())]
        return "\n".join(lines)


def _checks() -> list[Any]:
    from schemathesis import checks

    return [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
            checks.response_schema_conformance, checks.response_headers_conformance]


def fuzz_app(app: Any, *, cases: int = 500, seed: int = 0, batch: int = 1000, keep_examples: int = 10,
             schema_path: str = "/openapi.json") -> FuzzReport:
    """Send at least ``cases`` schemathesis-generated requests to ``app`` (in process) and check every response.

    Positive and negative generation alternate in batches of ``batch`` examples, each batch seeded from
    ``seed`` (the run is reproducible).

    :param app: an ASGI app serving its OpenAPI schema at ``schema_path``.
    :param cases: the minimum number of requests to send.
    :param seed: the seed of the first batch (batch *i* uses ``seed + i``).
    :param batch: examples per generation batch.
    :param keep_examples: how many failures to keep with a reproducing ``curl`` line.
    :param schema_path: where the app serves its schema.
    :returns: the report (statuses, check failures, examples).
    :raises ConfigError: when schemathesis is not installed or ``cases`` < 1.
    """
    if cases < 1 or batch < 1:
        raise ConfigError("cases and batch must be >= 1", field="fuzz_app")
    try:
        import schemathesis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError("schema fuzzing needs schemathesis: pip install schemathesis", field="fuzz_app") from exc

    from schemathesis.python.asgi import shutdown_lifespans

    schema = schemathesis.openapi.from_asgi(schema_path, app)  # runs the app's lifespan (target started)
    report = FuzzReport(seed=seed)
    t0 = time.perf_counter()
    try:
        _generate(schema, report, cases=cases, seed=seed, batch=batch, keep_examples=keep_examples)
    finally:
        shutdown_lifespans()  # the app's lifespan ends: the target is closed
    report.seconds = time.perf_counter() - t0
    return report


def _generate(schema: Any, report: FuzzReport, *, cases: int, seed: int, batch: int, keep_examples: int) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from schemathesis import GenerationMode

    checks = _checks()
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    round_no = 0
    while report.cases < cases:
        strategy = schema.as_strategy(generation_mode=modes[round_no % 2])
        todo = min(batch, cases - report.cases)

        @hypothesis_seed(seed + round_no)
        @settings(max_examples=todo, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck), print_blob=False)
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call()
            operation = f"{case.operation.method.upper()} {case.operation.path}"
            report.cases += 1
            report.statuses[(operation, response.status_code)] += 1
            try:
                case.validate_response(response, checks=checks)
            except BaseExceptionGroup as group:
                for failure in group.exceptions:
                    name = getattr(failure, "title", type(failure).__name__)
                    report.failures[(name, operation, response.status_code)] += 1
                    if len(report.examples) < keep_examples:
                        report.examples.append(f"{name} ({operation} → {response.status_code}): "
                                               f"{case.as_curl_command()}")

        before = report.cases
        run()
        round_no += 1
        if report.cases == before:  # the strategy is exhausted: nothing new to send
            break
