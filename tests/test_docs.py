"""The README and docs/, read as a newcomer reads them and checked against the real thing.

The README stays short and every relative link in it and in docs/ resolves. Shell blocks
say `.venv/bin/contacts-server` and `.venv/bin/python examples/...`, so that they work as
written from a checkout (only docs/deployment.md, where the package is installed, says
`contacts-server` alone). A sample of what a command prints is marked with
`<!-- output: NAME -->` on the line before its fenced block, and a test below runs the
command and compares; a marker whose name no test checks fails too, so a sample cannot
drift from what the commands print. The site builds with `mkdocs build --strict`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo_server import ROOT, DemoServer, demo_server, project_environment, run_command

from server import ids

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = (README, *sorted(DOCS.rglob("*.md")))
# Where the command is installed on the PATH (an image, a package), and may be called bare.
INSTALLED_PAGES = frozenset({DOCS / "deployment.md"})
README_MAX_LINES = 300

# The commands as a checkout has them, beside the Python that runs the suite.
CONTACTS_SERVER = Path(sys.executable).with_name("contacts-server")
MKDOCS = Path(sys.executable).with_name("mkdocs")

MARKED_BLOCK = re.compile(
    r"^<!-- (?P<kind>output|query|variables|request): (?P<name>[a-z0-9-]+) -->\n"
    r"```[a-z]*\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
MARKER = re.compile(r"^<!-- (?P<kind>[a-z]+): (?P<name>[^ ]+) -->$", re.MULTILINE)
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (?P<title>.+)$", re.MULTILINE)
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console"})
BARE_COMMAND = re.compile(r"(?<![\w/.-])contacts-server(?![\w.-])")
BARE_EXAMPLE = re.compile(r"(?<![\w/.-])python3? examples/")

# Every sample that a test below checks. A marker with another name fails.
CHECKED_OUTPUTS = frozenset(
    {
        "serve-demo",
        "serve-demo-again",
        "first-query",
        "audiences",
        "create-token",
        "create-user",
        "stats-demo",
        "help",
        "migrate",
        "migrate-again",
        "import-again",
    }
)
# The lifecycle story of docs/api/mutations.md and the pages after it, in the order its
# requests were sent to one demo server: each answer depends on the ones before.
STORY = (
    "archive-dry-run",
    "archive",
    "archive-audience-dry-run",
    "unarchive",
    "delete",
    "sync-after-delete",
    "log-interaction-suppressed",
    "delete-audience-dry-run",
    "csv-upload",
    "audit-trail",
    "too-many-ids",
    "viewer-archiving",
)
CHECKED_OUTPUTS |= frozenset(STORY)
# The steps whose query (and variables) the page shows whole, sent as they are.
SENT_AS_SHOWN = (
    "archive",
    "archive-audience-dry-run",
    "unarchive",
    "delete",
    "sync-after-delete",
    "log-interaction-suppressed",
)
CHECKED_QUERIES = frozenset(
    {
        "first-query",
        "audiences",
        "archive",
        "archive-audience-dry-run",
        "unarchive",
        "delete",
        "sync-after-delete",
        "log-interaction-suppressed",
        "audit-trail",
        "viewer-archiving",
    }
)
CHECKED_VARIABLES = frozenset({"archive", "unarchive", "delete"})
CHECKED_REQUESTS = frozenset({"delete-audience-dry-run", "csv-upload"})
# A timestamp in an answer, made fixed: the docs show the one of the run they come from.
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)$")
# In a sample, {"…": "…"} among an object's fields stands for the ones left out.
TRIMMED = "…"

PEOPLE_CSV = """\
first_name,last_name,email,phone,company,tags
Alan,Jansen,alan.jansen@greenfield.example,,Greenfield Energy,customer
Grace,Hopper,grace@navy.example,+1 555 010 0199,US Navy,vip;speaker
,,not-an-email,,,
"""


# ---------------------------------------------------------------- reading the pages


def relative(page: Path) -> str:
    return str(page.relative_to(ROOT))


def without_fences(text: str) -> str:
    return FENCE.sub("", text)


def marked(kind: str, name: str) -> list[tuple[Path, str]]:
    """Every block marked `<!-- KIND: NAME -->`, with its page: at least one."""
    found = [
        (page, match["body"])
        for page in PAGES
        for match in MARKED_BLOCK.finditer(page.read_text())
        if (match["kind"], match["name"]) == (kind, name)
    ]
    assert found, f"no page has a block marked <!-- {kind}: {name} -->"
    return found


def the_one(kind: str, name: str) -> str:
    """The block marked `<!-- KIND: NAME -->`, which one page has."""
    (found,) = marked(kind, name)
    return found[1]


def without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_times(item) for item in value]
    if isinstance(value, str) and TIMESTAMP.match(value):
        return "<time>"
    return value


def as_shown(actual: Any, sample: Any) -> Any:
    """`actual` trimmed as `sample` is: only the fields it shows where it says TRIMMED."""
    if isinstance(sample, dict) and isinstance(actual, dict):
        keys = [key for key in sample if key != TRIMMED] if TRIMMED in sample else list(actual)
        shown = {key: as_shown(actual[key], sample[key]) if key in sample else actual[key]
                 for key in keys if key in actual}  # fmt: skip
        return shown | ({TRIMMED: TRIMMED} if TRIMMED in sample else {})
    if isinstance(sample, list) and isinstance(actual, list) and len(sample) == len(actual):
        return [as_shown(a, s) for a, s in zip(actual, sample, strict=True)]
    return actual


def normalised(text: str) -> str:
    """Output with what differs from run to run made fixed: tokens and ports."""
    text = re.sub(r"\bcs_[A-Za-z0-9_-]+", "cs_TOKEN", text)
    text = re.sub(r"http://127\.0\.0\.1:\d+/", "http://127.0.0.1:8000/", text)
    return text.strip("\n")


def slug(title: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) gives a heading."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^\w\s-]", "", ascii_title).strip().lower()
    return re.sub(r"[-\s]+", "-", cleaned)


def anchors(page: Path) -> set[str]:
    return {slug(m["title"]) for m in HEADING.finditer(without_fences(page.read_text()))}


def shell_lines(page: Path) -> Iterator[str]:
    for block in FENCE.finditer(page.read_text()):
        if block["lang"] in SHELL_LANGUAGES:
            yield from block["body"].splitlines()


# ---------------------------------------------------------------- running the commands


def contacts_server(*args: str, cwd: Path, database: Path | None = None) -> str:
    """What `.venv/bin/contacts-server ARGS` prints; fails the test unless it exits 0."""
    before = ("--database-url", f"sqlite://{database}") if database is not None else ()
    ran = run_command(CONTACTS_SERVER, *before, *args, cwd=cwd, env={"COLUMNS": "80"})
    assert ran.code == 0, ran.stderr
    return ran.stdout


@dataclass
class Demo:
    """`serve --demo` run twice on one database: what each start printed; the second runs."""

    first_start: str
    server: DemoServer


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    directory = tmp_path_factory.mktemp("docs-demo")
    with demo_server(directory) as first:
        first_start = first.stdout.text
    with demo_server(directory) as second:
        yield Demo(first_start, second)


def post(server: DemoServer, body: dict[str, Any], *, token: str | None = None) -> Any:
    response = httpx.post(
        server.url,
        json=body,
        headers={"Authorization": f"Bearer {token or server.token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def documented(name: str) -> dict[str, Any]:
    """The request of a step of the story, as its page shows it."""
    body: dict[str, Any] = {"query": the_one("query", name)}
    if name in CHECKED_VARIABLES:
        body["variables"] = json.loads(the_one("variables", name))
    return body


def told_story(server: DemoServer, directory: Path) -> dict[str, Any]:
    """Every step of STORY sent to a new demo server, in order: the answers by name."""
    answers: dict[str, Any] = {}
    archive = documented("archive")
    ticked = archive["variables"]["input"]["selection"]["ids"]
    # "The same IDs less the one archived already", as a dry run, before the real run.
    dry_ids = [contact_id for contact_id in ticked if contact_id != ids.encode("Contact", 291)]
    dry_run = {"input": {"dryRun": True, "selection": {"ids": dry_ids}}}
    answers["archive-dry-run"] = post(server, {"query": archive["query"], "variables": dry_run})
    for name in SENT_AS_SHOWN:
        answers[name] = post(server, documented(name))
    heredoc = re.search(
        r"<<'JSON'\n(?P<body>.*)\nJSON\n", the_one("request", "delete-audience-dry-run"), re.DOTALL
    )
    assert heredoc is not None
    answers["delete-audience-dry-run"] = post(server, json.loads(heredoc["body"]))
    upload = the_one("request", "csv-upload")
    fields = dict(re.findall(r"-F (operations|map)='([^']*)'", upload))
    assert "-F 0=@people.csv" in upload
    (csv_file,) = [
        b["body"]
        for b in FENCE.finditer((DOCS / "csv-import.md").read_text())
        if b["lang"] == "csv"
    ]
    uploaded = httpx.post(
        server.url,
        data=fields,
        files={"0": ("people.csv", csv_file.encode(), "text/csv")},
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    assert uploaded.status_code == 200, uploaded.text
    answers["csv-upload"] = uploaded.json()
    trail = post(server, documented("audit-trail"))
    answers["audit-trail"] = trail["data"]["auditTrail"]["edges"][0]  # "(one edge shown)"
    too_many = {"input": {"selection": {"ids": [ids.encode("Contact", n) for n in range(1001)]}}}
    answers["too-many-ids"] = post(server, {"query": archive["query"], "variables": too_many})
    viewer = contacts_server(
        "create-token", "--workspace", "Demo", "--email", "sam@demo.example",
        cwd=directory, database=server.database,
    ).splitlines()[-1]  # fmt: skip
    answers["viewer-archiving"] = post(server, documented("viewer-archiving"), token=viewer)
    return answers


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("docs-story")
    with demo_server(directory) as server:
        yield told_story(server, directory)


# ---------------------------------------------------------------- the pages themselves


def test_the_readme_is_well_under_three_hundred_lines() -> None:
    assert len(README.read_text().splitlines()) < README_MAX_LINES


def test_the_readme_names_the_two_commands_and_links_into_the_docs() -> None:
    text = README.read_text()
    assert "make serve " in text
    assert "make test " in text
    linked = {m["target"].split("#")[0] for m in LINK.finditer(without_fences(text))}
    assert "docs/getting-started.md" in linked
    assert "docs/index.md" in linked


@pytest.mark.parametrize("page", PAGES, ids=relative)
def test_every_relative_link_resolves_to_a_file_and_a_heading(page: Path) -> None:
    for link in LINK.finditer(without_fences(page.read_text())):
        target = link["target"]
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{relative(page)}: {target} does not exist"
        if anchor:
            assert resolved.suffix == ".md", f"{relative(page)}: {target}"
            assert anchor in anchors(resolved), f"{relative(page)}: no heading for {target}"


@pytest.mark.parametrize("page", sorted(set(PAGES) - INSTALLED_PAGES), ids=relative)
def test_shell_blocks_call_the_commands_of_the_checkout(page: Path) -> None:
    for line in shell_lines(page):
        code = line.split("#", 1)[0]
        assert not BARE_COMMAND.search(code), f"{relative(page)}: say .venv/bin/: {line}"
        assert not BARE_EXAMPLE.search(code), f"{relative(page)}: say .venv/bin/python: {line}"


def test_the_deployment_page_calls_the_installed_command() -> None:
    lines = list(shell_lines(DOCS / "deployment.md"))
    assert any(BARE_COMMAND.search(line) for line in lines)
    assert not any(".venv/bin/" in line for line in lines)


def test_every_marked_sample_is_one_a_test_checks() -> None:
    found: dict[str, set[str]] = {
        kind: set() for kind in ("output", "query", "variables", "request")
    }
    for page in PAGES:
        for marker in MARKER.finditer(page.read_text()):
            assert marker["kind"] in found, f"{relative(page)}: unknown marker {marker[0]}"
            found[marker["kind"]].add(marker["name"])
    assert found == {
        "output": CHECKED_OUTPUTS,
        "query": CHECKED_QUERIES,
        "variables": CHECKED_VARIABLES,
        "request": CHECKED_REQUESTS,
    }


def test_every_marker_stands_right_before_a_fenced_block() -> None:
    for page in PAGES:
        text = page.read_text()
        markers = [m[0] for m in MARKER.finditer(text)]
        blocks = [m[0].split("\n", 1)[0] for m in MARKED_BLOCK.finditer(text)]
        assert blocks == markers, f"{relative(page)}: a marker without its block"


def test_the_site_builds_strict_with_every_page_in_the_nav(tmp_path: Path) -> None:
    built = subprocess.run(  # noqa: S603 (our own command line)
        [str(MKDOCS), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=project_environment(NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert "WARNING" not in built.stderr
    pages = {str(page.relative_to(DOCS).with_suffix("")) for page in DOCS.rglob("*.md")}
    built_pages = {
        str(page.parent.relative_to(tmp_path / "site"))
        for page in (tmp_path / "site").rglob("index.html")
        if page.parent != tmp_path / "site" and page.parent.name != "404"
    }
    assert built_pages == (pages - {"index", "api/index"}) | {"api"}


# ---------------------------------------------------------------- what serve --demo prints


def test_serve_demo_prints_what_the_docs_show_on_a_new_database(demo: Demo) -> None:
    for page, sample in marked("output", "serve-demo"):
        assert normalised(demo.first_start) == normalised(sample), relative(page)


def test_serve_demo_again_prints_what_the_docs_show(demo: Demo) -> None:
    for page, sample in marked("output", "serve-demo-again"):
        assert normalised(demo.server.stdout.text) == normalised(sample), relative(page)


def test_the_first_query_answers_what_the_docs_show(demo: Demo) -> None:
    queries = {body for _, body in marked("query", "first-query")}
    assert len(queries) == 1, "the pages show different first queries"
    answer = post(demo.server, {"query": queries.pop()})
    for page, sample in marked("output", "first-query"):
        assert answer == json.loads(sample), relative(page)


def test_the_audiences_query_answers_what_the_docs_show(demo: Demo) -> None:
    answer = post(demo.server, {"query": the_one("query", "audiences")})
    assert answer == json.loads(the_one("output", "audiences"))


def test_the_first_query_with_curl_sends_the_query_the_playground_runs(demo: Demo) -> None:
    (query,) = {body for _, body in marked("query", "first-query")}
    sent = []
    for page in (README, DOCS / "getting-started.md"):
        command = " ".join(line.rstrip("\\") for line in shell_lines(page))
        for data in re.findall(
            r"curl -sS http://127\.0\.0\.1:8000/graphql .*?--data '([^']*)'", command
        ):
            sent.append(json.loads(data))
    assert len(sent) == 2
    assert all(" ".join(body["query"].split()) == " ".join(query.split()) for body in sent)
    (_, sample), *_ = marked("output", "first-query")
    assert post(demo.server, sent[0]) == json.loads(sample)


# ---------------------------------------------------------------- the other commands


def test_create_token_prints_what_the_docs_show(demo: Demo, tmp_path: Path) -> None:
    printed = contacts_server(
        "create-token", "--workspace", "Demo", "--email", "sam@demo.example",
        cwd=tmp_path, database=demo.server.database,
    )  # fmt: skip
    for page, sample in marked("output", "create-token"):
        assert normalised(printed) == normalised(sample), relative(page)


def test_the_create_token_command_the_docs_give_is_the_one_checked() -> None:
    command = ".venv/bin/contacts-server create-token --workspace Demo --email sam@demo.example"
    assert command in shell_lines(DOCS / "getting-started.md")


def test_stats_prints_what_the_docs_show_for_the_demo_workspace(demo: Demo, tmp_path: Path) -> None:
    printed = contacts_server(
        "stats", "--workspace", "Demo", cwd=tmp_path, database=demo.server.database
    )
    for page, sample in marked("output", "stats-demo"):
        assert normalised(printed) == normalised(sample), relative(page)


def test_help_prints_what_the_docs_show(tmp_path: Path) -> None:
    printed = contacts_server("--help", cwd=tmp_path)
    for page, sample in marked("output", "help"):
        assert normalised(printed) == normalised(sample), relative(page)


def test_migrate_lists_the_four_migrations_then_has_nothing_to_do(tmp_path: Path) -> None:
    database = tmp_path / "new.sqlite3"
    first = contacts_server("migrate", cwd=tmp_path, database=database)
    again = contacts_server("migrate", cwd=tmp_path, database=database)
    for page, sample in marked("output", "migrate"):
        assert normalised(first) == normalised(sample), relative(page)
    for page, sample in marked("output", "migrate-again"):
        assert normalised(again) == normalised(sample), relative(page)
    assert first.count(", ") == 3


def test_create_user_prints_what_the_docs_show(tmp_path: Path) -> None:
    contacts_server("migrate", cwd=tmp_path, database=tmp_path / "new.sqlite3")
    printed = contacts_server(
        "create-user", "--workspace", "Acme", "--email", "ada@acme.example",
        "--name", "Ada Lovelace", "--role", "admin",
        cwd=tmp_path, database=tmp_path / "new.sqlite3",
    )  # fmt: skip
    for page, sample in marked("output", "create-user"):
        assert normalised(printed) == normalised(sample), relative(page)


def test_importing_the_docs_csv_file_again_prints_what_the_docs_show(tmp_path: Path) -> None:
    (page_csv,) = {
        block["body"]
        for block in FENCE.finditer((DOCS / "csv-import.md").read_text())
        if block["lang"] == "csv"
    }
    assert page_csv == PEOPLE_CSV
    (tmp_path / "people.csv").write_text(page_csv)
    database = tmp_path / "new.sqlite3"
    contacts_server("migrate", cwd=tmp_path, database=database)
    contacts_server(
        "create-user", "--workspace", "Demo", "--email", "admin@demo.example",
        "--name", "Demo Admin", "--role", "admin",
        cwd=tmp_path, database=database,
    )  # fmt: skip
    first = contacts_server(
        "import", "people.csv", "--workspace", "Demo", cwd=tmp_path, database=database
    )
    assert first.splitlines()[0] == (
        "Imported people.csv into 'Demo': 2 created, 0 updated, 0 unchanged, 1 row(s) refused."
    )
    again = contacts_server(
        "import", "people.csv", "--workspace", "Demo", cwd=tmp_path, database=database
    )
    for page, sample in marked("output", "import-again"):
        assert normalised(again) == normalised(sample), relative(page)


# ---------------------------------------------------------------- the lifecycle story


@pytest.mark.parametrize("name", STORY)
def test_each_step_of_the_lifecycle_story_answers_what_the_docs_show(
    story: dict[str, Any], name: str
) -> None:
    for page, text in marked("output", name):
        sample = without_times(json.loads(text))
        assert without_times(as_shown(story[name], sample)) == sample, relative(page)
