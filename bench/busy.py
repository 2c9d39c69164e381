#!/usr/bin/env python3
"""A busy machine, on purpose: a live mock under hostile load, for running the test suite beside.

    .venv/bin/python bench/busy.py [--seconds 600] [--idle 200] [--clients 8] [--spinners 2]

It starts `python -m mockserver serve --port 0`, then until --seconds pass (or Ctrl-C):
  - holds --idle connections open (half of them never finish their headers),
  - runs --clients loops asking for large answers (the journal listing with bodies, a full Gravy
    page, a state export) and posting large bodies,
  - keeps --spinners processes busy on the CPU (both cores, on a 2-core machine).
Every loop is bounded by the deadline, and the traffic only goes to 127.0.0.1. In another shell:
`make test`; the suite must pass as it does on a quiet machine (issue 18, bench/README.md).
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import subprocess
import sys
import time

import httpx

HOST = "127.0.0.1"
HEAVY = [  # (method, path, body): large answers and large bodies
    ("GET", "/__admin/requests?limit=1000", None),
    ("GET", "/__admin/state", None),
    ("GET", "/gravy/integrations?limit=100", None),
    ("POST", "/gravitec/api/v3/push", b'{"payload": {"message": "' + b"x" * 200_000 + b'"}}'),
    ("POST", "/integry/functions/list/", b'{"x": "' + b"y" * 200_000 + b'"}'),
]


def spin(deadline: float) -> None:
    while time.monotonic() < deadline:
        sum(i * i for i in range(10_000))


async def idle(url_port: int, n: int, deadline: float) -> None:
    socks = []
    for i in range(n):
        try:
            s = socket.create_connection((HOST, url_port), timeout=5)
        except OSError:
            break
        if i % 2:  # half send a head they never finish
            s.sendall(b"GET /__admin/health HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    for s in socks:
        s.close()


async def client(base: str, deadline: float, seen: dict[str, int]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        i = 0
        while time.monotonic() < deadline:
            method, path, body = HEAVY[i % len(HEAVY)]
            i += 1
            try:
                r = await http.request(method, path, content=body,
                                       headers={"Content-Type": "application/json"} if body else {})
                seen[str(r.status_code)] = seen.get(str(r.status_code), 0) + 1
            except httpx.HTTPError as exc:
                seen[type(exc).__name__] = seen.get(type(exc).__name__, 0) + 1


async def drive(port: int, args: argparse.Namespace, deadline: float) -> dict[str, int]:
    seen: dict[str, int] = {}
    base = f"http://{HOST}:{port}"
    await asyncio.gather(idle(port, args.idle, deadline),
                         *(client(base, deadline, seen) for _ in range(args.clients)))
    return seen


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--idle", type=int, default=200, help="connections held open")
    p.add_argument("--clients", type=int, default=8, help="loops asking for large answers")
    p.add_argument("--spinners", type=int, default=os.cpu_count() or 2, help="CPU-bound processes")
    args = p.parse_args()
    proc = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        port = int(line.rsplit(":", 1)[1])
        deadline = time.monotonic() + args.seconds
        spinners = [multiprocessing.Process(target=spin, args=(deadline,), daemon=True)
                    for _ in range(args.spinners)]
        for s in spinners:
            s.start()
        print(f"busy: mock on port {port}, {args.idle} idle connections, {args.clients} clients, "
              f"{args.spinners} spinners, {args.seconds:.0f} s", flush=True)
        try:
            seen = asyncio.run(drive(port, args, deadline))
        except KeyboardInterrupt:
            seen = {}
        for s in spinners:
            s.terminate()
        print(f"busy: answers by status {seen}", flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
