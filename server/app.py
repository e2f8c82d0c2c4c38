"""create_app(): the Starlette application (/graphql, /healthz, /readyz)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
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
from server.metrics import exposition, process_exited
from server.observability import RequestLog, configure_logging
from server.playground import Playground
from server.ratelimit import Decision, RateLimiter
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
        return orjson.loads(data)

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
    message = f"The request is larger than the {max_upload_mb} MB an upload may be (MAX_UPLOAD_MB)."
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]},
        status_code=413,
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
        viewer = await authenticate(token) if token else None
        if viewer is None:
            message = (
                "Send an API token as 'Authorization: Bearer <token>'."
                if token is None
                else "The API token is unknown or revoked."
            )
            await _unauthenticated(message)(scope, receive, send)
            return
        if self._too_large(request):
            await _too_large(self.settings.max_upload_mb)(scope, receive, send)
            return
        scope.setdefault("state", {})["viewer"] = viewer
        await self.graphql(scope, receive, send)

    async def close(self) -> None:
        if self.limiter is not None:
            await self.limiter.aclose()

    def _too_large(self, request: Request) -> bool:
        """A body announced as larger than an upload may be, refused before it is read."""
        length = request.headers.get("content-length", "")
        # The multipart envelope (operations, map, part headers) gets a mebibyte of its own.
        limit = (self.settings.max_upload_mb + 1) * 1024 * 1024
        return length.isdigit() and int(length) > limit

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
        await db.connect(settings.database_url)
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
    middleware = [Middleware(RequestLog)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                expose_headers=list(RATE_LIMIT_HEADERS),
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
        lifespan=lifespan,
    )
