"""docker-compose.yml and the Dockerfile, checked as files: CI has no Docker engine.

What the deployment page (docs/deployment.md) promises must hold in the files it describes:
the services and their order, the secrets compose refuses to start without, production mode,
the health checks, a non-root image, and install and start commands identical to the
page's manual steps.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
MAKEFILE = ROOT / "Makefile"
DEPLOYMENT = ROOT / "docs" / "deployment.md"

# Settings compose must refuse to start without, rather than fall back to empty.
REQUIRED_SECRETS = frozenset({"POSTGRES_PASSWORD"})
PASSWORD = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (in .env or the environment)}"
DATABASE_URL = f"postgres://contacts:{PASSWORD}@db:5432/contacts"
PROBE = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/{}', timeout=4)"
HEALTHZ_PROBE = PROBE.format("healthz")
READYZ_PROBE = PROBE.format("readyz")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<operator>:?[-?])?(?P<rest>[^}]*)\}"
)
BARE_VARIABLE = re.compile(r"(?<!\$)\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


# ---------------------------------------------------------------- reading the files


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert isinstance(services, dict)
    found = services[name]
    assert isinstance(found, dict)
    return found


def environment(name: str) -> dict[str, str]:
    """A service's environment, whether written as a mapping or as KEY=VALUE items."""
    raw = service(name).get("environment", {})
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {key: str(value) for key, value in raw.items()}


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, arguments = stripped.partition(" ")
        found.append((keyword.upper(), " ".join(arguments.split())))
    return found


def arguments_of(keyword: str) -> list[str]:
    return [arguments for found, arguments in instructions() if found == keyword]


def exec_form(arguments: str) -> list[str]:
    """An instruction's JSON (exec) form, e.g. ENTRYPOINT ["contacts-server"]."""
    loaded = yaml.safe_load(arguments)  # JSON is YAML
    assert isinstance(loaded, list), f"not in exec form: {arguments}"
    return [str(item) for item in loaded]


def manual_steps() -> list[str]:
    """The command lines of the deployment page's "Without Docker" section."""
    text = DEPLOYMENT.read_text()
    section = text.split("## Without Docker", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(?P<body>.*?)```", section, re.DOTALL)
    assert block is not None, "docs/deployment.md's 'Without Docker' section has no sh block"
    return [line.strip() for line in block["body"].splitlines() if line.strip()]


# ---------------------------------------------------------------- compose: services


def test_compose_defines_exactly_the_db_redis_and_server_services() -> None:
    assert sorted(compose()["services"]) == ["db", "redis", "server"]


def test_the_server_runs_as_two_replicas_on_host_ports_8000_and_8001_of_loopback_only() -> None:
    server = service("server")
    assert server["deploy"] == {"replicas": 2}
    assert server["ports"] == ["127.0.0.1:8000-8001:8000"]


def test_redis_is_redis_7_on_alpine_with_a_ping_healthcheck_and_nothing_on_disk() -> None:
    redis = service("redis")
    assert redis["image"] == "redis:7-alpine"
    assert redis["command"] == ["redis-server", "--save", "", "--appendonly", "no"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "volumes" not in redis
    assert "ports" not in redis


def test_the_replicas_count_the_rate_limit_in_the_redis_service() -> None:
    assert environment("server")["RATE_LIMIT_STORAGE"] == "redis://redis:6379"


def test_every_replica_migrates_as_it_starts_so_no_one_shot_migrate_is_needed() -> None:
    # serve applies pending migrations under the migration lock (tests/test_migration_lock.py
    # starts replicas together; tests/test_topology.py runs this file's topology).
    cli = (ROOT / "server" / "cli.py").read_text()
    assert "await apply_migrations(url" in cli
    assert "migrate" not in compose()["services"]


def test_the_database_is_postgres_15_on_alpine_with_a_named_volume() -> None:
    db = service("db")
    assert db["image"] == "postgres:15-alpine"
    assert db["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert compose()["volumes"] == {"pgdata": None}


def test_the_database_user_and_name_are_the_ones_the_database_url_names() -> None:
    assert environment("db") == {
        "POSTGRES_USER": "contacts",
        "POSTGRES_DB": "contacts",
        "POSTGRES_PASSWORD": PASSWORD,
    }


def test_the_database_has_a_pg_isready_healthcheck() -> None:
    healthcheck = service("db")["healthcheck"]
    assert healthcheck["test"] == [
        "CMD-SHELL",
        "pg_isready --username=contacts --dbname=contacts",
    ]
    assert healthcheck["retries"] == 12


def test_the_server_runs_the_image_built_from_this_directory() -> None:
    assert service("server")["build"] == "."
    assert service("server")["image"] == "contacts-server:latest"


def test_the_server_waits_for_a_healthy_database_and_a_healthy_redis() -> None:
    assert service("server")["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


def test_the_server_serves_on_port_8000_on_all_interfaces() -> None:
    server = service("server")
    assert server["command"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104


def test_the_server_is_healthy_when_ready_checked_without_curl() -> None:
    healthcheck = service("server")["healthcheck"]
    assert healthcheck["test"] == ["CMD", "python", "-c", READYZ_PROBE]


def test_compose_waits_longer_than_the_servers_graceful_shutdown_before_killing_it() -> None:
    graceful = re.search(
        r"timeout_graceful_shutdown=(\d+)", (ROOT / "server" / "cli.py").read_text()
    )
    assert graceful is not None
    stop = re.fullmatch(r"(\d+)s", service("server")["stop_grace_period"])
    assert stop is not None
    assert int(stop[1]) > int(graceful[1])


# ---------------------------------------------------------------- compose: settings


def test_the_server_runs_in_production_mode() -> None:
    assert environment("server")["ENVIRONMENT"] == "production"


def test_the_database_url_points_at_the_db_service() -> None:
    url = environment("server")["DATABASE_URL"]
    assert url == DATABASE_URL
    # Compose interpolates before anything parses the URL: read it as it will be.
    parts = urlsplit(url.replace(PASSWORD, "secret"))
    assert (parts.scheme, parts.hostname, parts.port, parts.path) == (
        "postgres",
        "db",
        5432,
        "/contacts",
    )
    assert (parts.username, parts.password) == ("contacts", "secret")


def test_cors_origins_and_log_level_pass_through_with_defaults() -> None:
    settings = environment("server")
    assert settings["CORS_ORIGINS"] == "${CORS_ORIGINS:-}"
    assert settings["LOG_LEVEL"] == "${LOG_LEVEL:-INFO}"


def test_every_required_secret_is_written_with_a_message_compose_fails_with() -> None:
    text = COMPOSE.read_text()
    uses = [m for m in INTERPOLATION.finditer(text) if m["name"] in REQUIRED_SECRETS]
    assert len(uses) == 2  # db's POSTGRES_PASSWORD, server's DATABASE_URL
    for use in uses:
        assert use["operator"] == ":?", f"{use[0]} must be ${{{use['name']}:?message}}"
        assert use["rest"].strip(), f"{use[0]} needs a message"


def test_every_interpolation_either_has_a_default_or_is_required() -> None:
    text = COMPOSE.read_text()
    for use in INTERPOLATION.finditer(text):
        assert use["operator"] in {":?", ":-"}, f"{use[0]}: give a default or make it required"
        if use["operator"] == ":-":
            assert use["name"] not in REQUIRED_SECRETS, f"{use[0]} must not have a default"
    without_braces = BARE_VARIABLE.findall(INTERPOLATION.sub("", text))
    assert without_braces == []


# ---------------------------------------------------------------- the Dockerfile


def test_the_image_builds_on_python_3_11_slim_with_its_files_from_npm_and_uv_lock() -> None:
    assert arguments_of("FROM") == [
        "node:20-slim AS playground",
        "python:3.11-slim AS build",
        "python:3.11-slim",
    ]
    # The image itself gets the two stages' results, not their tools.
    assert arguments_of("COPY")[-2:] == [
        "--from=build /app/.venv /app/.venv",
        "--from=playground /playground/node_modules /app/playground/node_modules",
    ]
    assert "PLAYGROUND_ASSETS_DIR=/app/playground/node_modules" in " ".join(arguments_of("ENV"))


def test_the_image_installs_the_uv_the_makefile_installs() -> None:
    (version,) = re.findall(r"^UV_VERSION\s*:=\s*(\S+)$", MAKEFILE.read_text(), re.MULTILINE)
    assert f'pip install "uv=={version}"' in arguments_of("RUN")


def test_the_image_runs_as_a_non_root_user() -> None:
    users = arguments_of("USER")
    assert users == ["contacts"]
    # The last USER wins, and it must come before the command it runs.
    keywords = [keyword for keyword, _ in instructions()]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")


def test_the_image_installs_the_locked_versions_without_dev_tools() -> None:
    installs = [run for run in arguments_of("RUN") if "uv sync" in run]
    assert installs == ["uv sync --locked --no-dev --no-editable"]
    assert "npm ci --omit=dev --no-audit --no-fund" in arguments_of("RUN")


def test_the_install_command_is_the_one_the_deployment_page_documents() -> None:
    (install,) = [run for run in arguments_of("RUN") if "uv sync" in run]
    assert install in " ".join(manual_steps())


def test_the_image_starts_with_the_command_the_deployment_page_documents() -> None:
    (entrypoint,) = arguments_of("ENTRYPOINT")
    (command,) = arguments_of("CMD")
    started = shlex.join(exec_form(entrypoint) + exec_form(command))
    assert started == "contacts-server serve --host 0.0.0.0 --port 8000"
    assert started in manual_steps()


def test_the_entrypoint_is_contacts_server_and_the_default_command_serves() -> None:
    (entrypoint,) = arguments_of("ENTRYPOINT")
    (command,) = arguments_of("CMD")
    assert exec_form(entrypoint) == ["contacts-server"]
    assert exec_form(command) == ["serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104


def test_the_image_has_a_healthcheck_on_healthz_without_curl() -> None:
    (healthcheck,) = arguments_of("HEALTHCHECK")
    options, _, probe = healthcheck.partition(" CMD ")
    assert options == "--interval=30s --timeout=5s --start-period=20s --retries=3"
    assert exec_form(probe) == ["python", "-c", HEALTHZ_PROBE]


def test_the_image_exposes_port_8000() -> None:
    assert arguments_of("EXPOSE") == ["8000"]


def test_the_build_context_leaves_out_local_state_caches_and_secrets() -> None:
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".env", "data", "node_modules", "__pycache__"} <= ignored
    assert {".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"} <= ignored
    # What the Dockerfile copies must stay in the context.
    assert not {"pyproject.toml", "uv.lock", "README.md", "server", "schema"} & ignored
    assert {"playground/*", "!playground/package.json", "!playground/package-lock.json"} <= ignored


def test_the_playground_stage_gets_every_npm_file_it_copies_and_its_npmrc() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    (copied,) = [copy for copy in arguments_of("COPY") if copy.startswith("playground/")]
    *sources, destination = copied.split()
    # Without .npmrc (legacy-peer-deps), npm ci refuses the explorer plugin's peer range.
    assert sources == [
        "playground/package.json",
        "playground/package-lock.json",
        "playground/.npmrc",
    ]
    assert destination == "./"
    assert {f"!{source}" for source in sources} <= ignored
