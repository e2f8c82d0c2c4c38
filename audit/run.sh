#!/usr/bin/env bash
# GraphQL over HTTP conformance: starts a real contacts-server on a fresh SQLite database,
# with an ADMIN token, and runs graphql-http's server audits against it (run-audit.mjs).
# Fails if any audit fails, if the server does not come up, or if npm cannot install.
#
#   bash audit/run.sh            (make audit does this; BIN defaults to .venv/bin)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${BIN:-$ROOT/.venv/bin}"
PY="$BIN/python"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$work/audit.sqlite3"
export ENVIRONMENT=development
# The audits send ~70 requests in a burst; the rate limiter has tests of its own.
export RATE_LIMIT_PER_MINUTE=0

# ---------------------------------------------------------------- database and token
if "$BIN/contacts-server" --help >/dev/null 2>&1; then
    "$BIN/contacts-server" --database-url "$DATABASE_URL" migrate
    token="$("$BIN/contacts-server" --database-url "$DATABASE_URL" create-user \
        --workspace Audit --email audit@example.test --name Audit --role admin | tail -n 1)"
else
    # Until the command line exists: the same steps through the library.
    token="$("$PY" - "$DATABASE_URL" <<'PYTHON' | tail -n 1
import asyncio
import sys

from server import db
from server.auth import create_user
from server.policy import Role


async def main(url: str) -> None:
    await db.migrate(url)
    await db.connect(url)
    try:
        _, token = await create_user("Audit", "audit@example.test", "Audit", Role.ADMIN)
    finally:
        await db.disconnect()
    print(token)


asyncio.run(main(sys.argv[1]))
PYTHON
)"
fi
if [[ -z "$token" ]]; then
    echo "audit: could not create a user and token" >&2
    exit 1
fi

# ---------------------------------------------------------------- server
port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
"$BIN/uvicorn" server.app:create_app --factory --host 127.0.0.1 --port "$port" \
    --log-level warning >"$work/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 100); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        break
    fi
    if "$PY" -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1).status != 200)" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.2
done
if [[ -z "$ready" ]]; then
    echo "audit: the server did not answer /healthz on port $port; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
fi

# ---------------------------------------------------------------- audits
(cd audit && npm ci --no-audit --no-fund --loglevel=error)
status=0
(cd audit && AUDIT_URL="http://127.0.0.1:$port/graphql" AUDIT_TOKEN="$token" node run-audit.mjs) \
    || status=$?
if [[ $status -ne 0 && -s "$work/server.log" ]]; then
    echo "--- server log" >&2
    cat "$work/server.log" >&2
fi
exit $status
