"""The desktops and the attacker of `bench_relay_load`, in their own process: N WebSocket
subscribers spread over the shops (and over the relay processes, and over loopback source
addresses, as real desktops come from many addresses), plus optional slow-loris sockets from a
single address that reconnect as soon as the relay closes them.

    python -m tests.benchmarks.relay_load_client CONFIG.json

CONFIG: {"ws_urls": [...], "token": "...", "shops": [...], "subscribers": N, "first": I, "loris": M,
"loris_host": "127.0.0.1", "loris_port": P, "seconds": S, "arrivals": PATH}. Prints one JSON
line when every subscriber is ready ({"ready": n, "failed": k}) and one at the end; arrival
times ("<notification id> <epoch seconds>" per delivery) go to PATH.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import uvloop
import websockets

from app.sync.consumer import STREAM_COMPRESSION

MARKER = '"tts_notification_id":"'


def _source(i: int) -> str:
    """A loopback source address for desktop `i`: 200 desktops per address."""
    n = i // 200
    return f"127.{10 + n // 250}.{n % 250}.1"


async def _subscriber(
    i: int,
    url: str,
    token: str,
    shop: str,
    ready: asyncio.Event,
    out: list[str],
    stop: asyncio.Event,
) -> bool:
    try:
        ws = await websockets.connect(
            url,
            additional_headers={"Authorization": f"Bearer {token}"},
            local_addr=(_source(i), 0),
            open_timeout=60,
            max_size=2**22,
            ping_interval=None,
            compression=STREAM_COMPRESSION,  # as the desktop connects
        )
    except Exception:
        return False
    try:
        await ws.send(json.dumps({"op": "subscribe", "shops": [shop]}))
        frame = await asyncio.wait_for(ws.recv(), 60)
        if '"ready"' not in str(frame):
            return False
        ready.set()
        while not stop.is_set():
            try:
                frame = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            text = frame if isinstance(frame, str) else frame.decode()
            start = text.find(MARKER)
            if start >= 0:
                start += len(MARKER)
                out.append(f"{text[start : text.find(chr(34), start)]} {now:.6f}\n")
        return True
    except Exception:
        return False
    finally:
        await ws.close()


class Loris:
    """One slow-loris socket, reconnected whenever the relay closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.connections = 0
        self.closed_by_relay = 0
        self.held_seconds: list[float] = []

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, local_addr=("127.0.9.9", 0)
                )
            except OSError:
                await asyncio.sleep(0.2)
                continue
            self.connections += 1
            opened = time.monotonic()
            writer.write(b"POST /webhooks/tiktok HTTP/1.1\r\nHost: relay\r\n")
            try:
                while not stop.is_set():
                    writer.write(b"X-Loris: 1\r\n")
                    await writer.drain()
                    try:
                        if await asyncio.wait_for(reader.read(4096), 1.0) == b"":
                            self.closed_by_relay += 1
                            break
                    except TimeoutError:
                        continue
            except OSError:
                self.closed_by_relay += 1
            finally:
                self.held_seconds.append(time.monotonic() - opened)
                writer.close()


async def main(config: dict[str, Any]) -> None:
    stop = asyncio.Event()
    urls: list[str] = config["ws_urls"]
    shops: list[str] = config["shops"]
    outs: list[list[str]] = []
    tasks = []
    readies = []
    first = int(config.get("first", 0))
    for i in range(first, first + config["subscribers"]):
        out: list[str] = []
        ready = asyncio.Event()
        outs.append(out)
        readies.append(ready)
        url = urls[i % len(urls)]
        tasks.append(
            asyncio.create_task(
                _subscriber(i, url, config["token"], shops[i % len(shops)], ready, out, stop)
            )
        )
        if (i - first) % 100 == 99:
            await asyncio.sleep(0.05)  # desktops do not all connect in the same millisecond
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        done_failed = sum(1 for t in tasks if t.done())
        if sum(r.is_set() for r in readies) + done_failed >= len(tasks):
            break
        await asyncio.sleep(0.2)
    loris = [Loris(config["loris_host"], config["loris_port"]) for _ in range(config["loris"])]
    loris_tasks = [asyncio.create_task(one.run(stop)) for one in loris]
    ready_count = sum(r.is_set() for r in readies)
    print(json.dumps({"ready": ready_count, "failed": len(tasks) - ready_count}), flush=True)
    # The parent sends webhooks now; it closes our stdin when done.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.sleep(2.0)  # the last deliveries
    stop.set()
    await asyncio.gather(*tasks, *loris_tasks, return_exceptions=True)
    with open(config["arrivals"], "w") as handle:
        for out in outs:
            handle.writelines(out)
    held = [s for one in loris for s in one.held_seconds]
    print(
        json.dumps(
            {
                "loris_connections": sum(one.connections for one in loris),
                "loris_closed_by_relay": sum(one.closed_by_relay for one in loris),
                "loris_max_held_s": round(max(held), 1) if held else 0,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        settings = json.load(f)
    uvloop.run(main(settings))
