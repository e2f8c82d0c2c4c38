"""Load generator: N concurrent clients POST one GraphQL request in a loop, for a while.

    python -m bench.load URL BODY_FILE [--token T] [--concurrency 16] [--duration 10]
                         [--warmup 2] [--max-requests 100000]

Runs in its own process (so that it does not share the server's or the orchestrator's
event loop), talks to 127.0.0.1 only, stops after `duration` seconds or `max-requests`
requests, whichever comes first, and prints one JSON object: requests, errors, req/s,
p50/p90/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

import httpx

HARD_LIMIT_SECONDS = 120
# Between the clients' first requests (16 clients: 0.3 s of the warm-up).
CONNECT_INTERVAL = 0.02
HARD_LIMIT_REQUESTS = 1_000_000


async def main(args: argparse.Namespace) -> dict[str, object]:
    host = urlsplit(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the load generator only talks to this machine (127.0.0.1)")
    body = open(args.body, "rb").read()
    headers = {"content-type": "application/json", "accept": "application/json"}
    if args.token:
        headers["authorization"] = f"Bearer {args.token}"
    duration = min(args.duration, HARD_LIMIT_SECONDS)
    budget = min(args.max_requests, HARD_LIMIT_REQUESTS)
    latencies: list[float] = []
    errors = 0
    sample_error = ""
    issued = 0
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        # Warm-up: not counted.
        warm_until = time.monotonic() + args.warmup

        async def warm(client_number: int) -> None:
            # One connection at a time: opened all at once, the first of uvicorn's workers
            # to wake accepts every one of them (its event loop, uvloop, accepts all that
            # are pending), and the run measures one core whatever the number of workers.
            await asyncio.sleep(client_number * CONNECT_INTERVAL)
            while time.monotonic() < warm_until:
                await client.post(args.url, content=body, headers=headers)

        await asyncio.gather(*(warm(n) for n in range(args.concurrency)))
        start = time.monotonic()
        stop_at = start + duration

        async def worker() -> None:
            nonlocal errors, issued, sample_error
            while time.monotonic() < stop_at and issued < budget:
                issued += 1
                t0 = time.perf_counter()
                try:
                    response = await client.post(args.url, content=body, headers=headers)
                    content = response.content
                    ok = response.status_code == 200 and b'"errors"' not in content
                    if not ok and not sample_error:
                        sample_error = f"{response.status_code} {content[:300]!r}"
                except httpx.HTTPError as error:
                    ok = False
                    sample_error = sample_error or repr(error)
                elapsed = time.perf_counter() - t0
                if ok:
                    latencies.append(elapsed)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall = time.monotonic() - start
    latencies.sort()

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, round(q / 100 * (len(latencies) - 1)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "sample_error": sample_error,
        "seconds": wall,
        "rps": len(latencies) / wall if wall else 0.0,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("body")
    parser.add_argument("--token", default="")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--max-requests", type=int, default=100_000)
    arguments = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(main(arguments))
    except ImportError:
        result = asyncio.run(main(arguments))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
