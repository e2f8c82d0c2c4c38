"""create_app(): the Starlette application (/graphql, /healthz, /readyz)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from server import db
from server.auth import Viewer, authenticate
from server.ratelimit import RateLimiter
from server.settings import Settings, get_settings


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


# Where Strawberry's GraphiQL page loads React, GraphiQL and its plugin from; the setting
# GRAPHIQL_ASSETS_URL replaces it with a self-hosted mirror of the same PACKAGE@VERSION/PATH
# files (the page's integrity hashes still check them).
GRAPHIQL_CDN = "https://unpkg.com/"


class GraphQLApp(GraphQL[Any, None]):
    """Strawberry's ASGI app, with the viewer and a fresh set of loaders in the context."""

    def __init__(self, settings: Settings) -> None:
        from schema import build_schema

        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.playground_enabled else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=True,
        )
        self.settings = settings

    async def render_graphql_ide(self, request: Request) -> Response:
        html = self.graphql_ide_html
        if self.settings.graphiql_assets_url:
            html = html.replace(GRAPHIQL_CDN, self.settings.graphiql_assets_url)
        return HTMLResponse(html)

    async def get_context(self, request: Any, response: Any) -> Any:
        from schema.context import Context
        from schema.loaders import Loaders

        viewer: Viewer | None = getattr(request.state, "viewer", None)
        if viewer is None:
            # Only the IDE page gets here without a viewer (see AuthenticatedGraphQL);
            # Strawberry builds a context before it decides to render the page.
            return {"request": request, "response": response}
        return Context(
            request=request,
            response=response,
            viewer=viewer,
            settings=self.settings,
            loaders=Loaders(viewer.workspace_id),
        )


def _rate_limited(retry_after: float) -> JSONResponse:
    seconds = max(1, math.ceil(retry_after))
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
        headers={"Retry-After": str(seconds)},
    )


class AuthenticatedGraphQL:
    """Resolves the bearer token before GraphQL runs; the IDE page itself needs none."""

    def __init__(self, settings: Settings) -> None:
        self.graphql = GraphQLApp(settings)
        self.settings = settings
        self.limiter = (
            RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
            if settings.rate_limit_per_minute
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self._is_ide_page(request):
            await self.graphql(scope, receive, send)
            return
        token = _bearer_token(request)
        viewer = await authenticate(token) if token else None
        if viewer is None:
            message = (
                "Send an API token as 'Authorization: Bearer <token>'."
                if token is None
                else "The API token is unknown or revoked."
            )
            await _unauthenticated(message)(scope, receive, send)
            return
        if self.limiter is not None:
            wait = self.limiter.retry_after(viewer.token_id)
            if wait is not None:
                await _rate_limited(wait)(scope, receive, send)
                return
        scope.setdefault("state", {})["viewer"] = viewer
        await self.graphql(scope, receive, send)

    def _is_ide_page(self, request: Request) -> bool:
        return (
            self.settings.playground_enabled
            and request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    if await db.ping():
        return PlainTextResponse("ready")
    return PlainTextResponse("database unavailable", status_code=503)


def create_app(settings: Settings | None = None, *, manage_database: bool = True) -> Starlette:
    """The application; `manage_database=False` when the caller has connected already."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not manage_database:
            yield
            return
        await db.connect(settings.database_url)
        try:
            yield
        finally:
            await db.disconnect()

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    graphql = AuthenticatedGraphQL(settings)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
