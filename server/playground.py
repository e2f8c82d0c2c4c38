"""The GraphQL playground: our own page, mounting GraphiQL from files this server serves.

The page (static/playground.html, .js, .css) is ours. React, GraphiQL and its explorer
plugin come from the npm packages `npm ci --prefix playground --omit=dev` installs, so the
playground works with no network at all; GRAPHIQL_ASSETS_URL points the page at a mirror
of the same PACKAGE@VERSION/PATH files instead.

Mirror files are loaded without `integrity` or `crossorigin` attributes: either would make
the browser demand CORS headers from a mirror on another origin, and a plain static file
server (or a CDN) should be enough. The mirror is trusted as the server itself is.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from server.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"
# Beside the project's checkout (make serve, an editable install); the setting wins.
PROJECT_MODULES = Path(__file__).resolve().parents[1] / "playground" / "node_modules"
INSTALL_COMMAND = "npm ci --prefix playground --omit=dev"

ASSETS_PATH = "/playground/assets/"
OWN_PATH = "/playground/"
# Versioned URLs never change content: a year, and no revalidation.
IMMUTABLE = "public, max-age=31536000, immutable"

JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"


@dataclass(frozen=True)
class Asset:
    package: str
    path: str
    media_type: str


# In the order the page loads them: React first, GraphiQL's UMD build expects it global,
# and the explorer plugin expects both.
SCRIPTS = (
    Asset("react", "umd/react.production.min.js", JAVASCRIPT),
    Asset("react-dom", "umd/react-dom.production.min.js", JAVASCRIPT),
    Asset("graphiql", "graphiql.min.js", JAVASCRIPT),
    Asset("@graphiql/plugin-explorer", "dist/index.umd.js", JAVASCRIPT),
)
STYLES = (
    Asset("graphiql", "graphiql.min.css", CSS),
    Asset("@graphiql/plugin-explorer", "dist/style.css", CSS),
)
# The only files the asset route serves: nothing else of node_modules is reachable.
ALLOWED = {(asset.package, asset.path): asset for asset in SCRIPTS + STYLES}
PACKAGES = tuple(dict.fromkeys(asset.package for asset in SCRIPTS + STYLES))
# What playground/package.json pins (a test keeps them equal): the versions a mirror is
# asked for when this server has no packages of its own to read them from.
PINNED_VERSIONS = {
    "react": "18.2.0",
    "react-dom": "18.2.0",
    "graphiql": "3.8.3",
    "@graphiql/plugin-explorer": "1.0.2",
}
# "@scope/name@1.2.3/some/file.js" or "name@1.2.3/file.js"
PACKAGE_FILE = re.compile(r"^((?:@[^/@]+/)?[^/@]+)@([^/@]+)/(.+)$")

OWN_FILES = {
    "playground.js": JAVASCRIPT,
    "playground.css": CSS,
}

EXAMPLE_QUERY = """\
# Welcome to the contacts-server playground.
#
# Every request needs an API token. Paste yours in the Headers tab below, in place of
# PASTE-YOUR-TOKEN-HERE (`contacts-server serve --demo` prints one). The Docs and
# Explorer panels on the left load the schema as soon as the token is in.
#
# Then run this query: the play button, or Ctrl-Enter.
query FirstContacts {
  viewer {
    name
    role
    workspace { name }
  }
  contacts(first: 3) {
    totalCount
    edges {
      node {
        id
        displayName
        status
        stage { name category }
        assignee { name }
      }
    }
  }
}
"""
TOKEN_PLACEHOLDER = "PASTE-YOUR-TOKEN-HERE"  # noqa: S105 (what the user replaces)
HEADERS_TEMPLATE = json.dumps({"Authorization": f"Bearer {TOKEN_PLACEHOLDER}"}, indent=2)


def assets_dir(settings: Settings) -> Path:
    """Where the npm packages are: PLAYGROUND_ASSETS_DIR, else beside the project or cwd."""
    if settings.playground_assets_dir is not None:
        return settings.playground_assets_dir
    beside_cwd = Path.cwd() / "playground" / "node_modules"
    if not PROJECT_MODULES.is_dir() and beside_cwd.is_dir():
        return beside_cwd  # an installed (non-editable) package, run from a checkout
    return PROJECT_MODULES


def installed_versions(modules: Path) -> dict[str, str]:
    """The version of each of our packages that is installed under `modules`.

    Read on each request (four small files, and only the playground asks): an `npm ci` run
    while the server is up takes effect on the next reload, with no restart, and the URLs
    follow the versions it installed.
    """
    versions = {}
    for package in PACKAGES:
        try:
            manifest = json.loads((modules / package / "package.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and isinstance(manifest.get("version"), str):
            versions[package] = manifest["version"]
    return versions


def _origin(url: str) -> str | None:
    """The origin a CSP source list must allow for `url`; None for a same-origin path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(mirror: str | None) -> str:
    extra = _origin(mirror) if mirror else None
    sources = "'self'" + (f" {extra}" if extra else "")
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {sources}",
            f"style-src {sources}",
            # GraphiQL's CSS embeds its fonts and icons as data: URLs.
            "font-src data:",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def _attribute(value: str) -> str:
    return html.escape(value, quote=True)


class Playground:
    """The playground page at the GraphQL endpoint, and the files it loads."""

    def __init__(self, settings: Settings) -> None:
        self.modules = assets_dir(settings)
        self.mirror = settings.graphiql_assets_url
        self.csp = content_security_policy(self.mirror)
        self.template = Template((STATIC / "playground.html").read_text())
        self.missing_template = Template((STATIC / "playground-missing.html").read_text())

    def routes(self) -> list[Route]:
        return [
            Route(ASSETS_PATH + "{name:path}", self.asset, methods=["GET", "HEAD"]),
            Route(OWN_PATH + "{name}", self.own_file, methods=["GET", "HEAD"]),
        ]

    def _headers(self, cache: str) -> dict[str, str]:
        return {
            "Content-Security-Policy": self.csp,
            "Cache-Control": cache,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }

    async def page(self, request: Request) -> Response:
        # Under a Mount (root_path), our routes are under its prefix too; the endpoint is
        # the URL the browser asked for, prefix included.
        root = request.scope.get("root_path", "")
        installed = installed_versions(self.modules)
        if self.mirror is None:
            missing = [package for package in PACKAGES if package not in installed]
            if missing:
                return self._missing(missing)
            base = root + ASSETS_PATH
            versions = installed
        else:
            base = self.mirror
            versions = {**PINNED_VERSIONS, **installed}

        def url(asset: Asset) -> str:
            return _attribute(f"{base}{asset.package}@{versions[asset.package]}/{asset.path}")

        body = self.template.substitute(
            styles="\n    ".join(f'<link rel="stylesheet" href="{url(a)}">' for a in STYLES),
            scripts="\n    ".join(f'<script src="{url(a)}"></script>' for a in SCRIPTS),
            own=_attribute(root + OWN_PATH),
            endpoint=_attribute(request.url.path),
            example_query=_attribute(EXAMPLE_QUERY),
            headers_template=_attribute(HEADERS_TEMPLATE),
        )
        return HTMLResponse(body, headers=self._headers("no-cache"))

    def _missing(self, packages: list[str]) -> Response:
        body = self.missing_template.substitute(
            directory=_attribute(str(self.modules)),
            packages=_attribute(", ".join(packages)),
            command=_attribute(INSTALL_COMMAND),
        )
        return HTMLResponse(body, status_code=503, headers=self._headers("no-store"))

    async def asset(self, request: Request) -> Response:
        match = PACKAGE_FILE.match(request.path_params["name"])
        asset = ALLOWED.get((match[1], match[3])) if match else None
        if match is None or asset is None:
            return _not_found()
        if installed_versions(self.modules).get(asset.package) != match[2]:
            return _not_found()
        file = self.modules / asset.package / asset.path
        if not file.is_file():
            return _not_found()
        return FileResponse(file, media_type=asset.media_type, headers=self._headers(IMMUTABLE))

    async def own_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        media_type = OWN_FILES.get(name)
        if media_type is None:
            return _not_found()
        # Not versioned in its URL: the browser asks again each time (it is small).
        return FileResponse(STATIC / name, media_type=media_type, headers=self._headers("no-cache"))


def _not_found() -> Response:
    return Response("Not found", status_code=404, media_type="text/plain; charset=utf-8")
