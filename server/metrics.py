"""Prometheus metrics: requests, latency, and per-item results by type.

One process reports its own registry. Under `serve --workers N` (server/shared_metrics.py)
every worker writes its values to the shared directory, and a scrape sums them all.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from server.shared_metrics import VARIABLE as MULTIPROCESS_DIRECTORY

REGISTRY = CollectorRegistry(auto_describe=True)
# A gauge added here needs a `multiprocess_mode` (e.g. "livesum"): workers' values of a
# gauge do not add up by themselves.

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


def _shared_directory() -> str | None:
    return os.environ.get(MULTIPROCESS_DIRECTORY) or None


def exposition() -> bytes:
    directory = _shared_directory()
    if directory is None:
        return generate_latest(REGISTRY)
    # A registry per scrape, as prometheus_client's multiprocess mode asks: the collector
    # reads every worker's files each time. (Its multiprocess module is unannotated.)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def process_exited() -> None:
    """Called as a worker stops: its live gauges leave the sum (its counters stay in it)."""
    directory = _shared_directory()
    if directory is not None:
        mark_process_dead(os.getpid(), path=directory)  # type: ignore[no-untyped-call]
