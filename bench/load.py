"""A small HTTP/1.1 load generator on asyncio streams: keep-alive connections, one request in flight each.

Lighter than an HTTP client library, so on a 2-core machine more of the CPU goes to the server measured.
"""

from __future__ import annotations

import asyncio
import time


def request_bytes(method: str, path: str, body: bytes = b"", token: str = "bench") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
    return status, await reader.readexactly(length) if length else b""


async def hammer(port: int, make_request, connections: int, seconds: float) -> tuple[float, float]:
    """Requests/s and p99 latency (ms) of `connections` keep-alive clients sending `make_request(i)` for `seconds`."""
    rate, latencies = await timed(port, make_request, connections, seconds)
    return rate, latencies[int(len(latencies) * 0.99) - 1] * 1000


async def timed(port: int, make_request, connections: int, seconds: float) -> tuple[float, list[float]]:
    """Requests/s, and every request's latency in seconds (sorted), of `connections` keep-alive clients."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client(number: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = 0
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(make_request(number, i))
            status, _ = await read_response(reader)
            if status >= 400:
                raise RuntimeError(f"status {status}")
            latencies.append(time.perf_counter() - started)
            i += 1
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return len(latencies) / elapsed, latencies
