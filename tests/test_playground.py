"""The playground page and the files it loads, over HTTP (the browser test uses them for real).

The npm packages are stand-ins written into tmp_path: what is served, and what is refused,
does not depend on what `npm ci` installed.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from conftest import GraphQL, World
from demo_server import ROOT
from starlette.applications import Starlette
from starlette.routing import Mount

from server.app import create_app
from server.playground import (
    EXAMPLE_QUERY,
    HEADERS_TEMPLATE,
    IMMUTABLE,
    INSTALL_COMMAND,
    PINNED_VERSIONS,
    SCRIPTS,
    STYLES,
    Asset,
)
from server.policy import StageCategory
from server.settings import Environment, Settings

HTML = {"Accept": "text/html"}
VERSIONS = {
    "react": "18.2.0",
    "react-dom": "18.2.0",
    "graphiql": "3.8.3",
    "@graphiql/plugin-explorer": "1.0.2",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; font-src data:; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
PAGE_SCRIPTS = [
    "/playground/assets/react@18.2.0/umd/react.production.min.js",
    "/playground/assets/react-dom@18.2.0/umd/react-dom.production.min.js",
    "/playground/assets/graphiql@3.8.3/graphiql.min.js",
    "/playground/assets/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js",
    "/playground/playground.js",
]
PAGE_STYLES = [
    "/playground/assets/graphiql@3.8.3/graphiql.min.css",
    "/playground/assets/@graphiql/plugin-explorer@1.0.2/dist/style.css",
    "/playground/playground.css",
]

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


class Page(HTMLParser):
    """The tags of a page that load something, and the #graphiql element's data."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.styles: list[dict[str, str | None]] = []
        self.mount: dict[str, str | None] = {}
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.styles.append(attributes)
        elif attributes.get("id") == "graphiql":
            self.mount = attributes


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    """A node_modules with our four packages at VERSIONS, each allow-listed file a stub."""
    root = tmp_path / "node_modules"
    for package, version in VERSIONS.items():
        (root / package).mkdir(parents=True)
        (root / package / "package.json").write_text(json.dumps({"version": version}))
        (root / package / "README.md").write_text("not served")
    for asset in SCRIPTS + STYLES:
        file = root / asset.package / asset.path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(f"/* {asset.package} {asset.path} */")
    (tmp_path / "secret.txt").write_text("outside node_modules")
    return root


@pytest.fixture
def app_client(database: str) -> Client:
    """An HTTP client of an app with these settings (on top of the suite's)."""

    @asynccontextmanager
    async def connect(**settings: object) -> AsyncIterator[httpx.AsyncClient]:
        values = {"database_url": database, "environment": Environment.TEST, **settings}
        app = create_app(Settings.model_validate(values), manage_database=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http

    return connect


async def test_the_page_loads_every_file_from_this_server_under_its_version(
    app_client: Client, modules: Path
) -> None:
    async with app_client(playground_assets_dir=modules) as http:
        response = await http.get("/graphql", headers=HTML)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = Page(response.text)
    assert [script["src"] for script in page.scripts] == PAGE_SCRIPTS
    assert [style["href"] for style in page.styles] == PAGE_STYLES
    assert "unpkg" not in response.text
    assert "https://" not in response.text


async def test_under_a_mount_the_page_loads_its_files_under_the_prefix(
    database: str, modules: Path
) -> None:
    settings = Settings(
        database_url=database, environment=Environment.TEST, playground_assets_dir=modules
    )
    outer = Starlette(routes=[Mount("/api", app=create_app(settings, manage_database=False))])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/api/graphql", headers=HTML)
        script = await http.get("/api/playground/playground.js")
        asset = await http.get("/api" + PAGE_SCRIPTS[0])

    page = Page(response.text)
    assert page.mount["data-endpoint"] == "/api/graphql"
    assert [script["src"] for script in page.scripts] == [f"/api{src}" for src in PAGE_SCRIPTS]
    assert (script.status_code, asset.status_code) == (200, 200)


async def test_the_page_allows_no_inline_script_and_no_other_origin(
    app_client: Client, modules: Path
) -> None:
    async with app_client(playground_assets_dir=modules) as http:
        response = await http.get("/graphql", headers=HTML)

    assert response.headers["content-security-policy"] == CSP
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    # Every script has a src and no body: the CSP would block an inline one anyway.
    assert all(script["src"] for script in Page(response.text).scripts)
    assert re.findall(r"<script[^>]*>([^<]+)</script>", response.text) == []


async def test_the_page_opens_with_the_example_query_and_the_headers_template(
    app_client: Client, modules: Path
) -> None:
    async with app_client(playground_assets_dir=modules) as http:
        response = await http.get("/graphql", headers=HTML)

    mount = Page(response.text).mount
    assert mount["data-endpoint"] == "/graphql"
    assert mount["data-example-query"] == EXAMPLE_QUERY
    assert mount["data-headers-template"] == HEADERS_TEMPLATE
    assert json.loads(HEADERS_TEMPLATE) == {"Authorization": "Bearer PASTE-YOUR-TOKEN-HERE"}


async def test_the_example_query_runs_as_it_is_for_any_member(world: World, gql: GraphQL) -> None:
    await world.contact("Ada", "Lovelace", stage=StageCategory.LEAD, assignee=world.member)

    data = await gql(EXAMPLE_QUERY, as_=world.viewer)

    assert data["viewer"] == {
        "name": "Viewer Acme",
        "role": "VIEWER",
        "workspace": {"name": "Acme"},
    }
    assert data["contacts"]["totalCount"] == 1
    (edge,) = data["contacts"]["edges"]
    assert {key: value for key, value in edge["node"].items() if key != "id"} == {
        "displayName": "Ada Lovelace",
        "status": "ACTIVE",
        "stage": {"name": world.stages[StageCategory.LEAD].name, "category": "LEAD"},
        "assignee": {"name": "Member Acme"},
    }


@pytest.mark.parametrize("asset", SCRIPTS + STYLES, ids=lambda a: f"{a.package}/{a.path}")
async def test_an_allow_listed_file_is_served_with_its_type_and_kept_for_a_year(
    app_client: Client, modules: Path, asset: object
) -> None:

    assert isinstance(asset, Asset)
    url = f"/playground/assets/{asset.package}@{VERSIONS[asset.package]}/{asset.path}"
    async with app_client(playground_assets_dir=modules) as http:
        response = await http.get(url)

    assert response.status_code == 200
    assert response.text == f"/* {asset.package} {asset.path} */"
    assert response.headers["content-type"] == asset.media_type
    assert response.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    "path",
    [
        "graphiql@3.8.3/package.json",
        "graphiql@3.8.3/README.md",
        "graphiql@3.8.2/graphiql.min.js",  # not the installed version
        "graphiql/graphiql.min.js",  # no version
        "left-pad@1.3.0/index.js",
        "graphiql@3.8.3/%2e%2e/react@18.2.0/umd/react.production.min.js",
        "graphiql@3.8.3/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "%2e%2e/secret.txt",
        "graphiql@3.8.3/graphiql.min.js/../../../secret.txt",
        "react@18.2.0/umd/react.production.min.js%00.css",
        "",
    ],
)
async def test_anything_else_under_the_assets_path_is_not_found(
    app_client: Client, modules: Path, path: str
) -> None:
    async with app_client(playground_assets_dir=modules) as http:
        response = await http.get(httpx.URL("http://test/playground/assets/" + path))

    assert response.status_code == 404
    assert response.text == "Not found"


async def test_our_own_script_and_style_are_served_and_nothing_else_beside_them(
    app_client: Client, modules: Path
) -> None:
    async with app_client(playground_assets_dir=modules) as http:
        script = await http.get("/playground/playground.js")
        style = await http.get("/playground/playground.css")
        template = await http.get("/playground/playground.html")

    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "GraphiQL.createFetcher" in script.text
    assert style.status_code == 200
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    assert template.status_code == 404


async def test_the_page_says_how_to_install_its_files_when_they_are_missing(
    app_client: Client, tmp_path: Path
) -> None:
    nowhere = tmp_path / "not-installed"
    async with app_client(playground_assets_dir=nowhere) as http:
        response = await http.get("/graphql", headers=HTML)

    assert response.status_code == 503
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert INSTALL_COMMAND == "npm ci --prefix playground --omit=dev"
    assert f"<code>{INSTALL_COMMAND}</code>" in response.text
    assert "<code>make serve</code>" in response.text
    assert str(nowhere) in response.text
    assert "react, react-dom, graphiql, @graphiql/plugin-explorer" in response.text
    assert Page(response.text).scripts == []


async def test_with_graphiql_assets_url_the_page_loads_the_same_files_from_the_mirror(
    app_client: Client, tmp_path: Path
) -> None:
    # The mirror needs nothing installed here: the versions are playground/package.json's.
    mirror = "https://mirror.example:8443/npm"
    async with app_client(playground_assets_dir=tmp_path, graphiql_assets_url=mirror) as http:
        response = await http.get("/graphql", headers=HTML)

    assert response.status_code == 200
    page = Page(response.text)
    assert [script["src"] for script in page.scripts] == [
        src.replace("/playground/assets/", f"{mirror}/") for src in PAGE_SCRIPTS[:-1]
    ] + ["/playground/playground.js"]
    assert [style["href"] for style in page.styles] == [
        href.replace("/playground/assets/", f"{mirror}/") for href in PAGE_STYLES[:-1]
    ] + ["/playground/playground.css"]
    # No integrity or crossorigin: either would need CORS headers from the mirror.
    assert all(set(tag) <= {"src", "rel", "href"} for tag in page.scripts + page.styles)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' https://mirror.example:8443;" in csp
    assert "style-src 'self' https://mirror.example:8443;" in csp
    assert "unpkg" not in response.text


async def test_a_same_origin_mirror_path_needs_no_other_origin_in_the_policy(
    app_client: Client, modules: Path
) -> None:
    async with app_client(playground_assets_dir=modules, graphiql_assets_url="/npm") as http:
        response = await http.get("/graphql", headers=HTML)

    assert Page(response.text).scripts[0]["src"] == "/npm/react@18.2.0/umd/react.production.min.js"
    assert response.headers["content-security-policy"] == CSP


def test_the_pinned_versions_are_what_playground_package_json_installs() -> None:
    manifest = json.loads((ROOT / "playground" / "package.json").read_text())
    assert manifest["dependencies"] == PINNED_VERSIONS == VERSIONS
    # What `npm ci --omit=dev` installs is what the server serves, and nothing else.
    assert set(manifest["devDependencies"]) == {"playwright-core"}


async def test_production_serves_neither_the_page_nor_its_files(
    app_client: Client, modules: Path
) -> None:
    async with app_client(
        playground_assets_dir=modules, environment=Environment.PRODUCTION
    ) as http:
        page = await http.get("/graphql", headers=HTML)
        asset = await http.get("/playground/assets/graphiql@3.8.3/graphiql.min.js")
        script = await http.get("/playground/playground.js")

    assert page.status_code == 401
    assert "graphiql" not in page.text.lower()
    assert asset.status_code == 404
    assert script.status_code == 404


async def test_the_playground_setting_serves_it_in_production_too(
    app_client: Client, modules: Path
) -> None:
    async with app_client(
        playground_assets_dir=modules, environment=Environment.PRODUCTION, playground=True
    ) as http:
        response = await http.get("/graphql", headers=HTML)

    assert response.status_code == 200
    assert Page(response.text).mount["data-example-query"] == EXAMPLE_QUERY
