"""One JSON log line per request, request IDs, and the HTTP metrics (an ASGI middleware).

Logs carry no tokens, no query strings and no personal data: method, path, status,
duration, request ID, GraphQL operation name and the acting user's ID. Above DEBUG, a
traceback keeps its frames and exception types but not the exceptions' messages, which
may quote what a client sent (a database's "Key (email)=(...) already exists").
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.metrics import LATENCY, REQUESTS, path_label

access_log = logging.getLogger("contacts_server.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            exception = record.exc_info[1]
            entry["exception"] = (
                self.formatException(record.exc_info)
                if record.levelno <= logging.DEBUG
                else traceback_without_messages(exception)
            )
        return json.dumps(entry, default=str)


WITHHELD = "(message withheld: it may hold what a client sent; LOG_LEVEL=DEBUG shows it)"


def traceback_without_messages(exception: BaseException) -> str:
    """The traceback of `exception` and of the exceptions it came from, oldest first, as
    Python prints it but with each exception's message withheld."""
    chain: list[tuple[BaseException, str | None]] = []
    current: BaseException | None = exception
    link: str | None = None
    while current is not None and all(current is not seen for seen, _ in chain):
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    parts: list[str] = []
    for error, link_to_next in reversed(chain):
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(error.__traceback__))
        kind = type(error)
        parts.append(f"{kind.__module__}.{kind.__qualname__}: {WITHHELD}\n")
        if link_to_next is not None:
            parts.append(link_to_next)
    return "".join(parts).rstrip("\n")


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the whole process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = path_label(scope["path"])
            REQUESTS.labels(method=scope["method"], path=path, status=str(status)).inc()
            LATENCY.labels(path=path).observe(elapsed)
            viewer = state.get("viewer")
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "operation": state.get("operation_name"),
                        "user_id": getattr(viewer, "user_id", None),
                    }
                },
            )
