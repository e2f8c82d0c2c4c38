"""SIGTERM lets the request in flight finish before the server stops."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from demo_server import demo_server

CONTACTS = 30_000
ARCHIVE_ALL = """mutation($audience: ID!) {
  archiveContacts(input: {selection: {audienceId: $audience}}) { succeeded failed } }"""


def test_a_bulk_archive_in_flight_completes_when_the_server_is_told_to_stop(
    tmp_path: Path,
) -> None:
    with demo_server(tmp_path) as server:
        now = datetime.now(UTC).isoformat()
        rows = [
            (1, f"Bulk{n:05d}", "Person", f"bulk{n:05d} person", f"bulk{n:05d}\nperson", now)
            for n in range(CONTACTS)
        ]
        with sqlite3.connect(server.database, timeout=30) as connection:
            connection.executemany(
                "INSERT INTO contact (workspace_id, first_name, last_name, sort_name,"
                " search_text, emails, phones, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, '[]', '[]', 'active', ?, ?)",
                [(*row, now) for row in rows],
            )
        audiences = server.graphql("{ audiences { id kind } }")["audiences"]
        everyone = next(a["id"] for a in audiences if a["kind"] == "ALL_PEOPLE")

        answer: dict[str, Any] = {}

        def archive() -> None:
            response = httpx.post(
                server.url,
                json={"query": ARCHIVE_ALL, "variables": {"audience": everyone}},
                headers={"Authorization": f"Bearer {server.token}"},
                timeout=120,
            )
            answer["status"] = response.status_code
            answer["body"] = response.json()

        request = threading.Thread(target=archive)
        request.start()
        time.sleep(0.2)
        assert request.is_alive(), "the request must still be in flight when SIGTERM comes"
        server.process.send_signal(signal.SIGTERM)
        request.join(timeout=120)
        assert answer["status"] == 200, answer
        assert answer["body"]["data"]["archiveContacts"]["succeeded"] >= CONTACTS
        # uvicorn re-raises the signal once it has shut down, so the exit status says SIGTERM.
        assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
        archived = server.sql("SELECT count(*) FROM contact WHERE status = 'archived'")
        assert archived[0][0] >= CONTACTS
