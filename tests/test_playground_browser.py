"""The GraphQL playground, used in a real browser: headless Chromium driven by Playwright.

playground/run.mjs opens the playground of a real demo server with every other origin
walled off (nothing is intercepted and answered: the page must need the server alone),
reads the first view, opens the docs, types the demo ADMIN's token over the headers
template's placeholder, waits for the docs to show the schema, runs `{ viewer { name role } }`
and prints a JSON report of what it saw.

Needs Debian's Chromium, node and `npm ci --prefix playground` (with its dev dependency,
playwright-core): `make browser-deps` installs them, and CI runs it. Without them this test
fails, saying what is missing; it never skips.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo_server import ROOT, DemoServer, demo_server, free_port

from server.playground import EXAMPLE_QUERY, HEADERS_TEMPLATE, SCRIPTS, STYLES

CHROMIUM = Path("/usr/bin/chromium")
PLAYGROUND = ROOT / "playground"
MODULES = PLAYGROUND / "node_modules"
TIMEOUT = 120.0
EXPECTED = {"data": {"viewer": {"name": "Demo Admin", "role": "ADMIN"}}}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def browser_tools() -> str:
    """The node executable; fails the test, saying what to install, when a tool is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Chromium ({CHROMIUM}: apt-get install -y chromium)")
    node = shutil.which("node")
    if node is None:
        missing.append("node (apt-get install -y nodejs npm)")
    if not (MODULES / "playwright-core").is_dir() or not (MODULES / "graphiql").is_dir():
        missing.append("the playground's npm packages (npm ci --prefix playground)")
    if missing or node is None:
        pytest.fail(
            "The playground's browser test needs " + "; ".join(missing) + ". "
            "`make browser-deps` installs them all."
        )
    return node


def use_playground(
    node: str, server: DemoServer, screenshot: Path, allow: str = ""
) -> dict[str, Any]:
    ran = subprocess.run(  # noqa: S603 (our own command line)
        [node, str(PLAYGROUND / "run.mjs"), server.url, server.token],
        cwd=screenshot.parent,
        env={**os.environ, "PLAYGROUND_SCREENSHOT": str(screenshot), "PLAYGROUND_ALLOW": allow},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout)
    return report


# One server and one browser session for the module: the tests read one report of it.
@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("playground")


@pytest.fixture(scope="module")
def server(directory: Path) -> Iterator[DemoServer]:
    with demo_server(directory) as running:
        yield running


@pytest.fixture(scope="module")
def report(server: DemoServer, directory: Path) -> dict[str, Any]:
    return use_playground(browser_tools(), server, directory / "playground.png")


def test_the_playground_needs_no_network_but_the_server(report: dict[str, Any]) -> None:
    assert report["refused"] == []
    assert report["pageErrors"] == []
    assert report["cspViolations"] == []
    # Each allow-listed file and our own two, from the server, once.
    assert sorted(report["assets"]) == sorted(
        [f"/playground/assets/{name}" for name in package_files()]
        + ["/playground/playground.css", "/playground/playground.js"]
    )


def test_the_playground_opens_with_the_example_query_and_the_headers_template(
    report: dict[str, Any],
) -> None:
    assert report["exampleQuery"] == EXAMPLE_QUERY
    assert report["headersTemplate"] == HEADERS_TEMPLATE


def test_the_docs_load_once_the_token_is_typed_without_a_manual_refetch(
    report: dict[str, Any],
) -> None:
    # With the placeholder, the schema cannot be fetched; the token alone fixes that.
    assert report["docsBeforeToken"] == "Error fetching schema"
    assert report["rootTypes"] == ["query: Query", "mutation: Mutation"]
    assert report["introspections"][0] == "Bearer PASTE-YOUR-TOKEN-HERE"
    assert report["introspections"][-1] == "Bearer TOKEN"


def test_the_playground_runs_a_query_with_the_token_from_its_headers_editor(
    report: dict[str, Any],
) -> None:
    assert report["result"] == EXPECTED


def test_the_playground_screenshot_shows_a_whole_page(
    report: dict[str, Any], directory: Path
) -> None:
    screenshot = (directory / "playground.png").read_bytes()
    assert screenshot.startswith(PNG_SIGNATURE)
    # The PNG's IHDR: the viewport run.mjs asks for, and more than a blank page's bytes.
    assert int.from_bytes(screenshot[16:20]) == 1400
    assert int.from_bytes(screenshot[20:24]) == 900
    assert len(screenshot) > 50_000


def test_the_playground_page_names_no_cdn(server: DemoServer) -> None:
    response = httpx.get(server.url, headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200
    assert "unpkg" not in response.text
    assert "https://" not in response.text


def test_the_playground_works_from_a_mirror_on_another_origin_without_cors(
    tmp_path: Path,
) -> None:
    node = browser_tools()
    # A plain static file server (no CORS headers) with PACKAGE@VERSION/ folders, as a CDN.
    mirror = tmp_path / "mirror"
    for package in {asset.package for asset in SCRIPTS + STYLES}:
        folder = mirror / f"{package}@{version_of(package)}"
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.symlink_to(MODULES / package, target_is_directory=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}/npm"
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "npm").symlink_to(mirror, target_is_directory=True)
    with (
        static_server(tmp_path / "root", port),
        demo_server(tmp_path, GRAPHIQL_ASSETS_URL=base) as server,
    ):
        report = use_playground(node, server, tmp_path / "mirror.png", allow=base)

    assert report["refused"] == []
    assert report["cspViolations"] == []
    assert report["pageErrors"] == []
    assert sorted(report["assets"]) == sorted(
        [f"{base}/{name}" for name in package_files()]
        + ["/playground/playground.css", "/playground/playground.js"]
    )
    assert report["rootTypes"] == ["query: Query", "mutation: Mutation"]
    assert report["result"] == EXPECTED


def version_of(package: str) -> str:
    version: str = json.loads((MODULES / package / "package.json").read_text())["version"]
    return version


def package_files() -> list[str]:
    return [f"{a.package}@{version_of(a.package)}/{a.path}" for a in STYLES + SCRIPTS]


@contextlib.contextmanager
def static_server(directory: Path, port: int) -> Iterator[None]:
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=directory,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
