"""A real HTTP proxy on loopback that can garble answers on the way back (or throttle).

The sandbox injects 5xx, latency and 429s; it has no fault for a *malformed* 200 answer (a
truncated body, HTML from a captive portal, a JSON that is not TikTok's envelope). This proxy
forwards each request to the sandbox unchanged and, while `garble` is above zero, replaces the
answer with junk, so the client's handling of malformed responses is tested over real HTTP
against the real sandbox, with no mock of our own code. It also counts what it forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import httpx

JUNK = b"<html><body>502 Bad Gateway</body></html>"


class GarblingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.garble = 0  # how many of the next answers to replace with junk (status kept)
        self.truncate = False  # garble by cutting the JSON in half instead of HTML junk
        # answer the next `throttle` requests itself with TikTok's 429 and this Retry-After
        self.throttle = 0
        self.retry_after = "1"
        self.forwarded: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._http = httpx.AsyncClient(timeout=10)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> GarblingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        await self._http.aclose()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: list[tuple[str, str]] = []
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers.append((name.strip(), value.strip()))
                length = int(dict((n.lower(), v) for n, v in headers).get("content-length", 0))
                body = await reader.readexactly(length) if length else b""
                if self.throttle > 0:
                    self.throttle -= 1
                    content = (
                        b'{"code":36009002,"message":"Too many requests","request_id":"proxy429",'
                        b'"data":null}'
                    )
                    head = (
                        f"HTTP/1.1 429 X\r\ncontent-type: application/json\r\n"
                        f"retry-after: {self.retry_after}\r\ncontent-length: {len(content)}\r\n\r\n"
                    )
                    writer.write(head.encode("latin-1") + content)
                    await writer.drain()
                    continue
                forward = [(n, v) for n, v in headers if n.lower() not in ("host", "connection")]
                self.forwarded[target.split("?", 1)[0]] += 1
                answer = await self._http.request(
                    method, self.upstream + target, headers=forward, content=body
                )
                content = answer.content
                if self.garble > 0:
                    self.garble -= 1
                    content = content[: len(content) // 2] if self.truncate else JUNK
                head = (
                    f"HTTP/1.1 {answer.status_code} X\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(content)}\r\n\r\n"
                )
                writer.write(head.encode("latin-1") + content)
                await writer.drain()
        except (OSError, ValueError, asyncio.IncompleteReadError):
            return
        finally:
            with contextlib.suppress(OSError):
                writer.close()
