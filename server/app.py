"""create_app(): the Starlette application (/graphql, /healthz, /readyz)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any, Literal

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from server import db
from server.auth import Viewer, authenticate
from server.failsafe import Failsafe
from server.metrics import exposition, process_exited
from server.observability import RequestLog, configure_logging
from server.playground import Playground
from server.ratelimit import Decision, RateLimiter
from server.routing import PRIMARY, REPLICA, reading_on
from server.settings import Environment, Settings, get_settings


def _unauthenticated(message: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="contacts-server"'},
    )


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# ---------------------------------------------------------------- GraphQL over HTTP
#
# Responses are `application/graphql-response+json` when the client asks for it, else
# `application/json` (also for `*/*` and no Accept header at all, as the GraphQL over HTTP
# spec says for legacy clients). A request error (the document does not parse or validate,
# variables do not coerce: no execution, so no `data` entry) is 400 with the former and 200
# with the latter; an Accept header that allows neither is 406; a mutation over GET is 405.
# Batching stays off (Strawberry's default): a JSON array is 400.

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
# Allocations between two young-generation collections (Python's default: 700). A page of
# 100 contacts keeps ~2,500 objects until its response is sent, so the default collected
# 3-4 times per page and rescanned them, 5 % of a page's CPU; at 10,000, under 2 %.
YOUNG_GENERATION_THRESHOLD = 10_000

_HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def negotiate_media_type(accept: str | None) -> str | None:
    """The response's media type for an Accept header; None when it allows neither of ours."""
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    # For each of our types: the q of the most specific range that matches it (RFC 9110).
    quality = {GRAPHQL_RESPONSE_JSON: (-1, 0.0), APPLICATION_JSON: (-1, 0.0)}
    for part in accept.split(","):
        media_range, *parameters = (piece.strip() for piece in part.split(";"))
        media_range = media_range.lower()
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        for media_type, (specificity, _) in quality.items():
            if media_range == media_type:
                match = 2
            elif media_range == "application/*":
                match = 1
            elif media_range == "*/*":
                match = 0
            else:
                continue
            if match > specificity:
                quality[media_type] = (match, q)
    response_specificity, response_q = quality[GRAPHQL_RESPONSE_JSON]
    _, json_q = quality[APPLICATION_JSON]
    if response_q <= 0 and json_q <= 0:
        return None
    # On a tie, only a client that names the new type gets it; `*/*` means legacy JSON.
    if response_q > json_q or (response_q == json_q and response_specificity == 2):
        return GRAPHQL_RESPONSE_JSON
    return APPLICATION_JSON


class _HTTPError(HTTPException):
    def __init__(self, status_code: int, reason: str, headers: dict[str, str]) -> None:
        super().__init__(status_code, reason)
        self.headers = headers


def _http_error(error: HTTPException, accept: str | None) -> JSONResponse:
    """Strawberry's protocol errors (plain text there) as JSON errors with a code."""
    code = _HTTP_ERROR_CODES.get(error.status_code, "BAD_REQUEST")
    headers = dict(getattr(error, "headers", {}))
    if error.status_code == 405:
        headers.setdefault("Allow", "GET, POST")
    return JSONResponse(
        {"errors": [{"message": error.reason, "extensions": {"code": code}}]},
        status_code=error.status_code,
        headers=headers,
        media_type=negotiate_media_type(accept) or APPLICATION_JSON,
    )


def _is_request_error(response_data: GraphQLHTTPResponse) -> bool:
    return "data" not in response_data and bool(response_data.get("errors"))


class GraphQLApp(GraphQL[Any, None]):
    """Strawberry's ASGI app, with the viewer and a fresh set of loaders in the context."""

    def __init__(self, settings: Settings) -> None:
        from schema import build_schema

        super().__init__(
            build_schema(settings),
            # The playground is ours (server/playground.py), not Strawberry's CDN page.
            graphql_ide=None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=True,
        )
        self.settings = settings

    # orjson (installed with Tortoise's accel extra) reads and writes JSON several times faster
    # than the json module: encoding the 10,000 results of a bulk archive was 6 % of it, and
    # a 5,000-contact sync body is a megabyte. It is also strict RFC 8259 (no NaN).
    def decode_json(self, data: str | bytes) -> object:
        decoded = orjson.loads(data)
        # Strawberry reads a request (and a multipart request's operations and map) as an
        # object, or a list of them for a batch: anything else failed inside it as a 500.
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, 'The body must be a JSON object: {"query": "..."}.')
        return decoded

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, str]:
        try:
            return await super().parse_multipart(request)
        except HTTPException:
            raise
        except (AttributeError, TypeError, ValueError, IndexError, KeyError):
            # Strawberry follows the map's paths into operations as given; a path or a map
            # of the wrong shape is the client's request at fault, not ours.
            raise HTTPException(
                400,
                "The multipart request's map does not fit its operations: map is an object "
                'of file fields to lists of paths such as ["variables.file"].',
            ) from None

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(self, request: Any, response: Any) -> Any:
        from schema.context import Context
        from schema.loaders import Loaders

        viewer: Viewer = request.state.viewer
        return Context(
            request=request,
            response=response,
            viewer=viewer,
            settings=self.settings,
            loaders=Loaders(viewer.workspace_id),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            try:
                response = await self.run(request)
            except HTTPException as error:
                response = _http_error(error, request.headers.get("accept"))
            await response(scope, receive, send)
        finally:
            # Closes a multipart request's uploads, which Strawberry parses but never closes
            # (a resolver that reads its file may close it too; one that does not, or a
            # document that never reaches one, would leave a temporary file open).
            await request.close()

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # Remembered here: create_response() sees only the sub-response, not the request.
        sub_response.media_type = (
            negotiate_media_type(request.headers.get("accept")) or APPLICATION_JSON
        )
        return sub_response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        # After the IDE page (text/html) has had its chance, so only GraphQL requests get here.
        if negotiate_media_type(request.headers.get("accept")) is None:
            raise HTTPException(
                406, f"Accept {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON} to query this API."
            )
        return await super().parse_http_body(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Any,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Strawberry runs a document's first operation when no operationName is given;
        # schema/operation_name.py refuses that for a document with several (the spec's
        # "must provide operation name"), and needs to know whether one was given.
        request.state.operation_name_given = request_data.operation_name is not None
        try:
            return await super().execute_single(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        except HTTPException as error:
            if request_adapter.method == "GET" and isinstance(
                error.__cause__, InvalidOperationTypeError
            ):
                raise _HTTPError(
                    405, "Mutations are only accepted over POST.", {"Allow": "POST"}
                ) from error
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response_data = await super().process_result(request, result)
        # Nothing ran (parse, validation or variable errors carry no path): no `data` entry.
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            response_data.pop("data", None)
        return response_data

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or APPLICATION_JSON
        response.headers["content-type"] = media_type
        if (
            media_type == GRAPHQL_RESPONSE_JSON
            and not sub_response.status_code
            and isinstance(response_data, dict)
            and _is_request_error(response_data)
        ):
            errors = response_data.get("errors") or []
            internal = any(
                isinstance(error, dict)
                and (error.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"
                for error in errors
            )
            response.status_code = 500 if internal else 400
        return response


def _too_large(max_upload_mb: int) -> JSONResponse:
    message = _too_large_message(max_upload_mb)
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]},
        status_code=413,
    )


def _too_large_message(max_upload_mb: int) -> str:
    return f"The request is larger than the {max_upload_mb} MB an upload may be (MAX_UPLOAD_MB)."


class BodyTooLarge(StarletteHTTPException):
    """The request's body grew past the limit while it was being read. An HTTP exception,
    so that Starlette answers it (as JSON, `_routing_error`) wherever the body is read,
    unless the response has begun."""

    def __init__(self, max_upload_mb: int) -> None:
        super().__init__(413, _too_large_message(max_upload_mb))


def _body_limit(max_upload_mb: int) -> int:
    """The bytes a request's body may have: an upload's, and a mebibyte for the multipart
    envelope (operations, map, part headers)."""
    return (max_upload_mb + 1) * 1024 * 1024


def _counting(receive: Receive, max_upload_mb: int) -> Receive:
    """`receive`, raising BodyTooLarge once the body passes `_body_limit`."""
    limit = _body_limit(max_upload_mb)
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(max_upload_mb)
        return message

    return counted


def _database_unavailable() -> JSONResponse:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": "The database is not answering; nothing was done. "
                    "Try again in a few seconds.",
                    "extensions": {"code": "SERVICE_UNAVAILABLE"},
                }
            ]
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )


def _rate_limited(decision: Decision) -> JSONResponse:
    seconds = decision.retry_after
    return JSONResponse(
        {
            "errors": [
                {
                    "message": f"Too many requests for this token; retry in {seconds} s.",
                    "extensions": {"code": "RATE_LIMITED"},
                }
            ]
        },
        status_code=429,
        headers={"Retry-After": str(seconds), **decision.headers()},
    )


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    """`send` that adds `headers` to the response it starts."""
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *raw]
        await send(message)

    return sending


async def _whole_body(receive: Receive) -> bytes:
    """The request's body, read to its end (or to the client's disconnect)."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` for an app that reads the body again: `body` whole, then `receive`'s own."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _may_write(request: Request, body: bytes) -> bool:
    """Whether a POST may write: a JSON mutation, and whatever is not JSON (a multipart
    upload is a mutation; the primary is always right, the replica only for reads)."""
    if not request.headers.get("content-type", "").lower().startswith(APPLICATION_JSON):
        return True
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False  # refused with 400 before anything runs
    if not isinstance(decoded, dict):
        return False  # likewise (batches are off)
    # Here, not at the top: importing the schema package reads the settings (as GraphQLApp).
    from schema.operation_kind import may_write

    return may_write(decoded.get("query"), decoded.get("operationName"))


# What a browser script may read of a response beyond the basics (CORS): how to pace itself.
RATE_LIMIT_HEADERS = (
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
)


class AuthenticatedGraphQL:
    """Resolves the bearer token before GraphQL runs; the IDE page itself needs none."""

    def __init__(self, settings: Settings, playground: Playground | None) -> None:
        self.graphql = GraphQLApp(settings)
        self.settings = settings
        self.playground = playground
        self.replica = settings.database_read_url is not None
        self.limiter = (
            RateLimiter(
                settings.rate_limit_per_minute,
                settings.rate_limit_burst,
                settings.rate_limit_storage,
            )
            if settings.rate_limit_per_minute
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self.playground is not None and self._is_ide_page(request):
            await (await self.playground.page(request))(scope, receive, send)
            return
        token = _bearer_token(request)
        # Counted before authentication, by the token's hash: a refused request costs no
        # database query, whether its token is valid or not.
        if token is not None and self.limiter is not None:
            decision = await self.limiter.check(token)
            if decision is not None:
                if not decision.allowed:
                    await _rate_limited(decision)(scope, receive, send)
                    return
                send = _with_headers(send, decision.headers())
        if self.replica:
            await self._routed(scope, receive, send, request, token)
            return
        viewer = await self._viewer(token, scope, receive, send)
        if viewer is not None:
            await self._guarded(scope, receive, send, request, viewer)

    async def _routed(
        self, scope: Scope, receive: Receive, send: Send, request: Request, token: str | None
    ) -> None:
        """With a read replica (server/routing.py): a query reads from it, its token included;
        a mutation, and whatever may be one, reads and writes on the primary."""
        with reading_on(REPLICA):
            try:
                viewer = await authenticate(token) if token else None
            except Exception as error:
                if not db.is_unavailable(error):
                    raise
                # The replica is away (stopped, restarting): the primary serves everything
                # until it is back, as it does without a replica.
                viewer = None
        if viewer is None:
            # Unknown to the replica: perhaps a token issued a moment ago that the replica
            # has yet to replay; the primary judges, and then serves the whole request (the
            # replica may not have the token's user either).
            with reading_on(PRIMARY):
                viewer = await self._viewer(token, scope, receive, send)
                if viewer is not None:
                    await self._guarded(scope, receive, send, request, viewer)
            return
        if self._too_large(request):
            await _too_large(self.settings.max_upload_mb)(scope, receive, send)
            return
        counted = _counting(receive, self.settings.max_upload_mb)
        if request.method != "GET":
            # Only the body says whether a POST is a query or a mutation (a GET cannot be a
            # mutation: GraphQLApp refuses one with 405 before it runs).
            try:
                body = await _whole_body(counted)
            except BodyTooLarge:
                await _too_large(self.settings.max_upload_mb)(scope, receive, send)
                return
            counted = _replaying(body, receive)
            if _may_write(request, body):
                with reading_on(PRIMARY):
                    # Everything a mutating request reads is the primary's, its token too:
                    # one revoked a moment ago must not write while the replica catches up.
                    viewer = await self._viewer(token, scope, receive, send)
                    if viewer is not None:
                        await self._execute(scope, counted, send, viewer)
                return
        with reading_on(REPLICA):
            await self._execute(scope, counted, send, viewer)

    async def _authenticate(
        self, token: str | None, scope: Scope, receive: Receive, send: Send
    ) -> Viewer | Literal[False] | None:
        """The token's viewer, or None; False once a 503 has been sent instead."""
        try:
            return await authenticate(token) if token else None
        except Exception as error:
            if not db.is_unavailable(error):
                raise
            await _database_unavailable()(scope, receive, send)
            return False

    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, request: Request, viewer: Viewer
    ) -> None:
        """The request executed for `viewer`, unless its body is larger than an upload may be."""
        if self._too_large(request):
            await _too_large(self.settings.max_upload_mb)(scope, receive, send)
            return
        await self._execute(scope, _counting(receive, self.settings.max_upload_mb), send, viewer)

    async def _viewer(
        self, token: str | None, scope: Scope, receive: Receive, send: Send
    ) -> Viewer | None:
        """The token's viewer; None once a refusal (401, 503) has been sent instead."""
        viewer = await self._authenticate(token, scope, receive, send)
        if viewer is False:
            return None
        if viewer is None:
            message = (
                "Send an API token as 'Authorization: Bearer <token>'."
                if token is None
                else "The API token is unknown or revoked."
            )
            await _unauthenticated(message)(scope, receive, send)
        return viewer

    async def _execute(self, scope: Scope, receive: Receive, send: Send, viewer: Viewer) -> None:
        scope.setdefault("state", {})["viewer"] = viewer
        await self.graphql(scope, receive, send)

    async def close(self) -> None:
        if self.limiter is not None:
            await self.limiter.aclose()

    def _too_large(self, request: Request) -> bool:
        """A body announced as larger than an upload may be, refused before it is read."""
        length = request.headers.get("content-length", "")
        return length.isdigit() and int(length) > _body_limit(self.settings.max_upload_mb)

    def _is_ide_page(self, request: Request) -> bool:
        return (
            request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )


async def metrics(request: Request) -> Response:
    return Response(exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    # The primary only: while a read replica is away its requests go to the primary (see
    # AuthenticatedGraphQL._routed), so every process can still serve everything.
    if await db.ping():
        return PlainTextResponse("ready")
    return PlainTextResponse("database unavailable", status_code=503)


def create_app(settings: Settings | None = None, *, manage_database: bool = True) -> Starlette:
    """The application; `manage_database=False` when the caller has connected already."""
    settings = settings or get_settings()
    playground = Playground(settings) if settings.playground_enabled else None
    graphql = AuthenticatedGraphQL(settings, playground)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not manage_database:
            try:
                yield
            finally:
                await graphql.close()
            return
        await db.connect(settings.database_url, settings.database_read_url)
        # What is alive now (modules, the schema, the ORM's metadata) lives as long as the
        # process; frozen, the collector stops rescanning it on every full collection that a
        # large response's allocations set off (15-20 % of a 10,000-contact archive).
        gc.freeze()
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            await graphql.close()
            await db.disconnect()
            process_exited()

    if settings.environment is not Environment.TEST:
        configure_logging(settings.log_level)
    middleware = [Middleware(RequestLog), Middleware(Failsafe)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                # X-Request-ID both ways: a browser app may send its own and read ours, to
                # quote in a bug report.
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                expose_headers=[*RATE_LIMIT_HEADERS, "X-Request-ID"],
                max_age=600,
            )
        )
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *(playground.routes() if playground is not None else []),
        ],
        middleware=middleware,
        exception_handlers={StarletteHTTPException: _routing_error},
        lifespan=lifespan,
    )


async def _routing_error(request: Request, error: Exception) -> Response:
    """Starlette's own refusals (404 for an unknown path, 405 for another method, and a
    preflight without CORS_ORIGINS), and BodyTooLarge, as JSON errors with a code, like
    every other refusal."""
    assert isinstance(error, StarletteHTTPException)
    response = _http_error(
        HTTPException(error.status_code, error.detail), request.headers.get("accept")
    )
    response.headers.update(error.headers or {})
    return response
