"""The directory where `serve --workers N` workers share their metrics (prometheus_client's
multiprocess mode), so that /metrics answers for all of them, whichever takes the scrape.

Each worker writes its values to files of its own there; a scrape sums them all. The files
of a worker that exited stay, so that the counters never go backwards when one is replaced.
This module imports no prometheus_client: the variable must be set before a process
imports it, which the workers (started afresh by uvicorn) then do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "contacts-server-metrics-"


@contextlib.contextmanager
def shared_metrics(workers: int) -> Iterator[str | None]:
    """For the body (uvicorn's run): a new private directory in VARIABLE if there are several
    workers, removed afterwards; yields it, or None for one process, which keeps its own
    registry. Any VARIABLE set before is put aside either way: files left there by other
    runs would be summed in."""
    previous = os.environ.pop(VARIABLE, None)
    directory = tempfile.mkdtemp(prefix=PREFIX) if workers > 1 else None
    if directory is not None:
        os.environ[VARIABLE] = directory
    try:
        yield directory
    finally:
        os.environ.pop(VARIABLE, None)
        if previous is not None:
            os.environ[VARIABLE] = previous
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
