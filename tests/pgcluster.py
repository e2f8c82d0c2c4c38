"""Provide an empty PostgreSQL database for the test suite.

The suite runs twice: once against SQLite and once against PostgreSQL. SQLite is
fast and needs nothing, but it hides the behaviour that matters most in
production: real row locks (``SELECT ... FOR UPDATE``), concurrent transactions
on several connections, and PostgreSQL's stricter typing. Tests that only pass
on SQLite are not evidence that the server works.

So the PostgreSQL run must really happen. :func:`postgres_database` either uses
the server named by ``TEST_DATABASE_URL`` (creating and dropping a uniquely
named database on it) or starts a throwaway cluster from the locally installed
PostgreSQL server binaries. If neither is possible it raises ``RuntimeError``
with the reason and the tail of the server log. It never skips: a CI run that
silently skipped PostgreSQL would report success without having tested it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import glob
import importlib
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["postgres_database"]

_T = TypeVar("_T")

#: Environment variable naming an existing server to create test databases on.
ENV_URL = "TEST_DATABASE_URL"
#: OS user that owns and runs the cluster when this process is root.
SERVER_OS_USER = "postgres"
#: Seconds to wait for the server to accept connections.
START_TIMEOUT = 30
#: How many lines of the server log to put into error messages.
LOG_TAIL_LINES = 40

# libpq environment variables that would redirect our client tools elsewhere.
_LIBPQ_ENV = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGSERVICE",
    "PGOPTIONS",
    "PGDATA",
)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """Yield a Tortoise URL `postgres://USER@HOST:PORT/DBNAME` of an empty database."""
    server_url = os.environ.get(ENV_URL, "").strip()
    if server_url:
        with database_on_server(server_url) as url:
            yield url
    else:
        with _throwaway_cluster() as url:
            yield url


# --------------------------------------------------------------------------
# An existing server (TEST_DATABASE_URL)
# --------------------------------------------------------------------------


def _normalize_scheme(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise RuntimeError(
            f"{ENV_URL} must be a postgres:// or postgresql:// URL, got scheme {parts.scheme!r}"
        )
    if not parts.hostname:
        raise RuntimeError(f"{ENV_URL} must name a host, e.g. postgres://user@localhost:5432/")
    return parts._replace(scheme="postgres")


def _with_database(parts: SplitResult, dbname: str, *, admin: bool) -> str:
    query = parts.query
    if admin:
        # Tortoise-only parameters (minsize, maxsize, ...) would be sent to the
        # server as settings by asyncpg; keep only the libpq TLS options.
        kept = [(k, v) for k, v in parse_qsl(parts.query) if k.startswith("ssl")]
        query = urlencode(kept)
    return urlunsplit(parts._replace(path="/" + quote(dbname), query=query, fragment=""))


def _run_async(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion on a private loop in a separate thread.

    A thread keeps this usable from sync code even when the caller already runs
    an event loop (e.g. inside a pytest-asyncio fixture).
    """
    result: list[_T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(factory()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="pgcluster-admin", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _asyncpg() -> Any:
    # asyncpg ships no type information; importing it dynamically keeps mypy
    # --strict clean whether or not third-party stubs are installed.
    return importlib.import_module("asyncpg")


async def connect(url: str) -> Any:
    """An asyncpg connection of its own to the database at `url` (a Tortoise URL)."""
    parts = _normalize_scheme(url)
    return await _asyncpg().connect(
        _with_database(parts, parts.path.lstrip("/"), admin=True), timeout=10
    )


async def _admin_execute(parts: SplitResult, statements: Sequence[str]) -> None:
    asyncpg = _asyncpg()
    candidates = ["postgres", "template1"]
    own_db = parts.path.lstrip("/")
    if own_db and own_db not in candidates:
        candidates.append(own_db)
    conn: Any = None
    errors: list[str] = []
    for dbname in candidates:
        try:
            conn = await asyncpg.connect(_with_database(parts, dbname, admin=True), timeout=10)
            break
        except Exception as exc:
            errors.append(f"{dbname}: {type(exc).__name__}: {exc}")
    if conn is None:
        raise RuntimeError(
            f"cannot connect to the maintenance database of {ENV_URL} "
            f"({_redact(parts)}):\n  " + "\n  ".join(errors)
        )
    try:
        for statement in statements:
            try:
                await conn.execute(statement)
            except asyncpg.PostgresSyntaxError:
                # DROP DATABASE ... WITH (FORCE) needs PostgreSQL 13+.
                if "WITH (FORCE)" not in statement:
                    raise
                await conn.execute(statement.replace(" WITH (FORCE)", ""))
    finally:
        await conn.close()


def _redact(parts: SplitResult) -> str:
    if parts.password is None:
        return urlunsplit(parts)
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def database_on_server(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of `server_url`, dropped afterwards."""
    parts = _normalize_scheme(server_url)
    dbname = f"contacts_test_{secrets.token_hex(6)}"
    try:
        _run_async(lambda: _admin_execute(parts, [f'CREATE DATABASE "{dbname}"']))
    except RuntimeError:
        raise
    except Exception as exc:
        raise RuntimeError(
            f"cannot create test database {dbname} on {_redact(parts)}: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        yield _with_database(parts, dbname, admin=False)
    finally:
        _run_async(
            lambda: _admin_execute(parts, [f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'])
        )


# --------------------------------------------------------------------------
# A throwaway local cluster
# --------------------------------------------------------------------------


def _server_bindir() -> Path:
    """Locate the PostgreSQL server binaries (initdb, pg_ctl, postgres, createdb)."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            if out:
                candidates.append(Path(out))

    def version_key(path: str) -> tuple[int, ...]:
        version = Path(path).parent.name
        return tuple(int(n) for n in re.findall(r"\d+", version)) or (0,)

    candidates += [
        Path(p)
        for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True)
    ]
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "createdb")):
            return bindir
    looked = ", ".join(str(c) for c in candidates) or "(nothing found)"
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres, createdb) not found; "
        f"looked in: {looked}. Install the PostgreSQL server (e.g. apt-get install "
        f"postgresql-15) or set {ENV_URL}=postgres://USER@HOST:PORT/ to use an existing server."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no server log: the server was not started)"
    except OSError as exc:
        return f"(server log {path} unreadable: {exc})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(server log {path} is empty)"


class _Cluster:
    """Paths and command runner for one throwaway cluster."""

    def __init__(self, root: Path, bindir: Path) -> None:
        self.root = root
        self.bindir = bindir
        self.datadir = root / "data"
        self.sockdir = root / "s"
        self.logfile = root / "postgres.log"
        self.as_root = os.geteuid() == 0
        self.prefix: list[str] = []
        self.uid = self.gid = -1
        self.env = {k: v for k, v in os.environ.items() if k not in _LIBPQ_ENV}
        self.env.setdefault("LC_ALL", "C")
        if self.as_root:
            try:
                user = pwd.getpwnam(SERVER_OS_USER)
            except KeyError:
                raise RuntimeError(
                    f"running as root, but there is no {SERVER_OS_USER!r} OS user to run "
                    "PostgreSQL as (the server refuses to run as root)"
                ) from None
            runuser = shutil.which("runuser") or next(
                (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.isfile(p)), None
            )
            if runuser is None:
                raise RuntimeError("running as root, but `runuser` is not available")
            self.prefix = [runuser, "-u", SERVER_OS_USER, "--"]
            self.env["HOME"] = user.pw_dir
            self.env["USER"] = self.env["LOGNAME"] = SERVER_OS_USER
            self.uid, self.gid = user.pw_uid, user.pw_gid

    def prepare_dirs(self) -> None:
        self.sockdir.mkdir(mode=0o700)
        if self.as_root:
            for path in (self.root, self.sockdir):
                os.chown(path, self.uid, self.gid)

    def run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [*self.prefix, str(self.bindir / tool), *args]
        try:
            return subprocess.run(  # noqa: S603 - argv list, no shell
                argv,
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(
                f"running {shlex.join(argv)} failed: {exc}\n"
                f"--- server log ({self.logfile}) ---\n{_tail(self.logfile)}"
            ) from exc

    def fail(self, what: str, proc: subprocess.CompletedProcess[str]) -> RuntimeError:
        output = (proc.stdout + proc.stderr).strip() or "(no output)"
        return RuntimeError(
            f"{what} (exit code {proc.returncode}): {shlex.join(proc.args)}\n"
            f"--- output ---\n{output}\n"
            f"--- server log ({self.logfile}) ---\n{_tail(self.logfile)}"
        )

    def initdb(self) -> None:
        proc = self.run(
            "initdb",
            "-D",
            str(self.datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        if proc.returncode != 0:
            raise self.fail("initdb failed", proc)

    def start(self, port: int) -> subprocess.CompletedProcess[str]:
        options = " ".join(
            [
                f"-p {port}",
                f"-k {shlex.quote(str(self.sockdir))}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        return self.run(
            "pg_ctl",
            "-w",
            "-t",
            str(START_TIMEOUT),
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.logfile),
            "start",
            timeout=START_TIMEOUT + 15,
        )

    def stop(self) -> None:
        if not (self.datadir / "postmaster.pid").exists():
            return
        with contextlib.suppress(RuntimeError):
            proc = self.run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
            if proc.returncode == 0:
                return
        # pg_ctl could not stop it: kill the postmaster we started, by its pid.
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def createdb(self, port: int, dbname: str) -> None:
        proc = self.run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", dbname)
        if proc.returncode != 0:
            raise self.fail(f"createdb {dbname} failed", proc)


@contextlib.contextmanager
def _throwaway_cluster() -> Iterator[str]:
    bindir = _server_bindir()
    root = Path(tempfile.mkdtemp(prefix="contacts-pg-"))
    try:
        cluster = _Cluster(root, bindir)
        cluster.prepare_dirs()
        cluster.initdb()
        try:
            port = _start_on_free_port(cluster)
            dbname = "contacts_test"
            cluster.createdb(port, dbname)
            yield f"postgres://postgres@127.0.0.1:{port}/{dbname}"
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start_on_free_port(cluster: _Cluster, attempts: int = 3) -> int:
    """Start the server, retrying with a new port if another process grabbed ours."""
    for attempt in range(1, attempts + 1):
        port = _free_port()
        proc = cluster.start(port)
        if proc.returncode == 0:
            return port
        log_tail = _tail(cluster.logfile)
        port_taken = "could not bind" in log_tail or "already in use" in log_tail
        if not port_taken or attempt == attempts:
            raise cluster.fail(
                f"PostgreSQL server failed to start on port {port} "
                f"(waited up to {START_TIMEOUT} s)",
                proc,
            )
        cluster.stop()
        # Each attempt appends to the same log; mark the boundary for readers.
        with contextlib.suppress(OSError), cluster.logfile.open("a") as log:
            log.write(f"--- pgcluster: port {port} was taken, retrying ---\n")
    raise AssertionError("unreachable")


@dataclasses.dataclass
class RunningCluster:
    """A throwaway cluster a test may stop and start again (to take the database away)."""

    url: str
    port: int
    cluster: _Cluster

    def stop(self) -> None:
        self.cluster.stop()

    def start(self) -> None:
        # No pipes: a postmaster started from here must not inherit this process's output.
        options = (
            f"-p {self.port} -k {shlex.quote(str(self.cluster.sockdir))} "
            "-c listen_addresses=127.0.0.1 -c fsync=off"
        )
        argv = [
            *self.cluster.prefix,
            str(self.cluster.bindir / "pg_ctl"),
            "-w",
            "-D",
            str(self.cluster.datadir),
            "-o",
            options,
            "-l",
            str(self.cluster.logfile),
            "start",
        ]
        returncode = subprocess.call(  # noqa: S603 - argv list, no shell
            argv,
            cwd=self.cluster.root,
            env=self.cluster.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=START_TIMEOUT + 15,
        )
        if returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not restart on port {self.port}:\n{_tail(self.cluster.logfile)}"
            )


@contextlib.contextmanager
def restartable_cluster() -> Iterator[RunningCluster]:
    """A cluster of its own (never TEST_DATABASE_URL's server: this one gets stopped)."""
    bindir = _server_bindir()
    root = Path(tempfile.mkdtemp(prefix="contacts-pg-"))
    try:
        cluster = _Cluster(root, bindir)
        cluster.prepare_dirs()
        cluster.initdb()
        try:
            port = _start_on_free_port(cluster)
            cluster.createdb(port, "contacts_test")
            url = f"postgres://postgres@127.0.0.1:{port}/contacts_test"
            yield RunningCluster(url=url, port=port, cluster=cluster)
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------
# A hot standby of a throwaway cluster
# --------------------------------------------------------------------------


@dataclasses.dataclass
class HotStandby:
    """A streaming replica of a `RunningCluster`, read-only (PostgreSQL's hot standby)."""

    url: str
    port: int
    datadir: Path
    logfile: Path
    cluster: _Cluster

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def stop(self) -> None:
        """An immediate stop, as a crash looks to its clients (idempotent)."""
        if (self.datadir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self.cluster.run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def hot_standby(primary: RunningCluster) -> Iterator[HotStandby]:
    """A standby of `primary` made with `pg_basebackup -R` (which writes the standby.signal
    and primary_conninfo that make it one), started on a port of its own.

    The primary as initdb made it serves one: wal_level=replica, max_wal_senders=10 and
    `trust` replication entries for 127.0.0.1 are PostgreSQL 15's defaults."""
    cluster = primary.cluster
    if not (cluster.bindir / "pg_basebackup").is_file():
        raise RuntimeError(
            f"pg_basebackup is not in {cluster.bindir}: install the PostgreSQL server package "
            "that ships it with initdb (e.g. apt-get install postgresql-15)"
        )
    name = f"standby-{secrets.token_hex(4)}"
    datadir = cluster.root / name
    logfile = cluster.root / f"{name}.log"
    proc = cluster.run(
        "pg_basebackup",
        "-h",
        "127.0.0.1",
        "-p",
        str(primary.port),
        "-U",
        "postgres",
        "-D",
        str(datadir),
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
        "--no-sync",
        timeout=120,
    )
    if proc.returncode != 0:
        raise cluster.fail("pg_basebackup failed", proc)
    port = _free_port()
    options = (
        f"-p {port} -k {shlex.quote(str(cluster.sockdir))} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c hot_standby=on -c max_connections=200"
    )
    proc = cluster.run(
        "pg_ctl",
        "-w",
        "-t",
        str(START_TIMEOUT),
        "-D",
        str(datadir),
        "-o",
        options,
        "-l",
        str(logfile),
        "start",
        timeout=START_TIMEOUT + 15,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"the standby did not start on port {port}: {proc.stdout}{proc.stderr}\n"
            f"--- standby log ({logfile}) ---\n{_tail(logfile)}"
        )
    standby = HotStandby(
        url=f"postgres://postgres@127.0.0.1:{port}/{primary.url.rsplit('/', 1)[1]}",
        port=port,
        datadir=datadir,
        logfile=logfile,
        cluster=cluster,
    )
    try:
        yield standby
    finally:
        standby.stop()
