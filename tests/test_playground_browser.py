"""The GraphQL playground, used in a real browser: headless Chromium driven by Playwright.

playground/run.mjs opens the playground of a real demo server, puts the demo ADMIN's token
in GraphiQL's headers editor, runs `{ viewer { name role } }` and prints the result pane.
The machines have no internet, so the files the page loads from its CDN are answered from
playground/node_modules (the same versions; the page's integrity hashes check them).

Needs Debian's Chromium, node and `npm ci --prefix playground`: `make browser-deps` installs
them, and CI runs it. Without them this test fails, saying what is missing; it never skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from demo_server import ROOT, DemoServer, demo_server

CHROMIUM = Path("/usr/bin/chromium")
PLAYGROUND = ROOT / "playground"
TIMEOUT = 120.0
EXPECTED = {"data": {"viewer": {"name": "Demo Admin", "role": "ADMIN"}}}
CDN = "https://unpkg.com/"


def browser_tools() -> str:
    """The node executable; fails the test, saying what to install, when a tool is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Chromium ({CHROMIUM}: apt-get install -y chromium)")
    node = shutil.which("node")
    if node is None:
        missing.append("node (apt-get install -y nodejs npm)")
    if not (PLAYGROUND / "node_modules" / "playwright-core").is_dir():
        missing.append("the playground's npm packages (npm ci --prefix playground)")
    if missing or node is None:
        pytest.fail(
            "The playground's browser test needs " + "; ".join(missing) + ". "
            "`make browser-deps` installs them all."
        )
    return node


def use_playground(node: str, server: DemoServer, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own command line)
        [node, str(PLAYGROUND / "run.mjs"), server.url, server.token],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def playground_page(server: DemoServer) -> str:
    response = httpx.get(server.url, headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


@pytest.fixture
def node() -> str:
    return browser_tools()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DemoServer]:
    with demo_server(tmp_path) as running:
        yield running


def test_the_playground_runs_a_query_with_a_token_from_its_headers_editor(
    node: str, server: DemoServer, tmp_path: Path
) -> None:
    assert CDN in playground_page(server)

    ran = use_playground(node, server, tmp_path)

    assert ran.returncode == 0, ran.stderr
    assert "Demo Admin" in ran.stdout
    assert "ADMIN" in ran.stdout
    assert json.loads(ran.stdout) == EXPECTED
    # Everything the page needed from its CDN was answered from playground/node_modules.
    assert f"served {CDN}graphiql@" in ran.stderr
    assert f"served {CDN}react@" in ran.stderr
    assert "refused" not in ran.stderr


def test_the_playground_loads_its_files_from_graphiql_assets_url(node: str, tmp_path: Path) -> None:
    mirror = "http://assets.invalid/npm/"  # a self-hosted mirror, for an offline deployment
    with demo_server(tmp_path, GRAPHIQL_ASSETS_URL=mirror.rstrip("/")) as server:
        page = playground_page(server)
        assert CDN not in page
        assert f"{mirror}graphiql@" in page

        ran = use_playground(node, server, tmp_path)

    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == EXPECTED
    assert f"served {mirror}graphiql@" in ran.stderr
    assert CDN not in ran.stderr
