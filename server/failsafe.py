"""The last resort: an exception nothing else handled is answered as JSON, and the
connection stays usable.

Starlette answers such an exception with a plain-text 500 and raises it again, and
uvicorn, seeing the exception after the response, drops the connection without
`Connection: close`, so a client's next request on it fails. Here it is logged once (with
the request ID; JsonFormatter keeps its message out of the log above DEBUG) and answered
as an error with a code; only when the response had already begun is it raised again,
since the connection cannot be saved then.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("contacts_server.errors")

MESSAGE = (
    "Something went wrong on our side. The X-Request-ID header of this response helps "
    "us find out what."
)


class Failsafe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ClientDisconnect:
            # The client went away before its request had arrived whole: nothing ran, and
            # no one is left to answer. It happens; it is no error of ours.
            logger.info(
                "client disconnected mid-request",
                extra={"fields": {"request_id": scope.get("state", {}).get("request_id")}},
            )
        except Exception as error:
            request_id = scope.get("state", {}).get("request_id")
            logger.error(
                "unexpected error", exc_info=error, extra={"fields": {"request_id": request_id}}
            )
            if started:
                raise
            response = JSONResponse(
                {"errors": [{"message": MESSAGE, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]},
                status_code=500,
            )
            await response(scope, receive, send)
