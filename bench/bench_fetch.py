"""CPU per conditional GET: httpx over its stock transport (httpcore's pool) and over
feedwatch's own pool (``feedwatch/transport.py``), side by side on the same loopback server.

Each round sends one conditional GET (If-None-Match, answered 304) for each of N feeds,
C at a time, after a first round that fetched them all; the figure is the process's CPU time
per request, median of the rounds, and the ratio of the two.

    python bench/bench_fetch.py [--n 1000] [--concurrency 16,64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.feedgen import generate  # noqa: E402
from feedwatch.transport import Transport  # noqa: E402


def _client(kind: str, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport: httpx.AsyncBaseTransport = (
        httpx.AsyncHTTPTransport(limits=limits) if kind == "httpcore"
        else Transport(max_idle=concurrency))
    return httpx.AsyncClient(transport=transport, limits=limits,
                             headers={"Accept-Encoding": "gzip"})


async def _rounds(kind: str, urls: list[str], concurrency: int, rounds: int) -> float:
    """Median CPU milliseconds per conditional GET over ``rounds`` rounds."""
    etags: dict[str, str] = {}
    gate = asyncio.Semaphore(concurrency)
    async with _client(kind, concurrency) as client:
        async def get(url: str, conditional: bool) -> int:
            async with gate:
                headers = {"If-None-Match": etags[url]} if conditional else {}
                async with client.stream("GET", url, headers=headers) as response:
                    async for _ in response.aiter_raw():
                        pass
                    etags.setdefault(url, response.headers.get("etag", ""))
                    return response.status_code

        await asyncio.gather(*(get(u, False) for u in urls))
        per_request = []
        for _ in range(rounds):
            cpu = time.process_time()
            statuses = await asyncio.gather(*(get(u, True) for u in urls))
            per_request.append((time.process_time() - cpu) * 1000 / len(urls))
            if statuses.count(304) != len(urls):
                raise RuntimeError(f"{kind}: expected only 304s, got {set(statuses)}")
    return statistics.median(per_request)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="feeds (one request each a round)")
    parser.add_argument("--concurrency", default="16,64", help="comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    server = subprocess.Popen([sys.executable, "-m", "bench.server", "--n", str(args.n)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        urls = [f"http://127.0.0.1:{port}{feed.path}" for feed in generate(args.n)]
        print("| connections | httpx + httpcore, CPU ms/request | httpx + feedwatch pool "
              "| ratio |\n|---|---|---|---|")
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            stock = asyncio.run(_rounds("httpcore", urls, concurrency, args.rounds))
            ours = asyncio.run(_rounds("feedwatch", urls, concurrency, args.rounds))
            print(f"| {concurrency} | {stock:.3f} | {ours:.3f} | ×{ours / stock:.2f} |",
                  flush=True)
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
