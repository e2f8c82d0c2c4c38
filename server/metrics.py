"""Prometheus metrics of this process: requests, latency, and per-item results by type."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "contacts_http_requests",
    "HTTP requests answered, by method, path and status.",
    ["method", "path", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "contacts_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["path"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
RESULTS = Counter(
    "contacts_item_results",
    "Per-contact results of bulk mutations, by payload and result type.",
    ["payload", "result"],
    registry=REGISTRY,
)
# Apart from RESULTS, so that a dry run (which changes nothing) never reads as work done.
DRY_RUN_RESULTS = Counter(
    "contacts_dry_run_results",
    "Per-contact results that bulk mutations' dry runs predicted, by payload and result type.",
    ["payload", "result"],
    registry=REGISTRY,
)
# Requests served without the rate limit because its storage (Redis) failed: fail open.
RATE_LIMIT_STORAGE_ERRORS = Counter(
    "contacts_rate_limit_storage_errors",
    "Rate limit checks whose storage (RATE_LIMIT_STORAGE) failed; the request was served.",
    registry=REGISTRY,
)

KNOWN_PATHS = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})


def path_label(path: str) -> str:
    """Unknown paths share one label, so that scanners cannot grow the metrics without bound."""
    return path if path in KNOWN_PATHS else "other"


def count_results(payload: str, results: Iterable[object], *, dry_run: bool = False) -> None:
    counter = DRY_RUN_RESULTS if dry_run else RESULTS
    for result_type, count in Tally(type(item).__name__ for item in results).items():
        counter.labels(payload=payload, result=result_type).inc(count)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
