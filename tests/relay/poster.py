"""A minimal keep-alive HTTP/1.1 webhook poster on asyncio streams.

httpx spends about a millisecond per request in Python, which would make burst tests measure
the client; this sends signed POSTs over a few persistent connections with almost no overhead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from tests.relay.conftest import sign


class Poster:
    """One persistent connection; `post` returns the status code (raises OSError when the
    connection breaks, as it does when the relay is killed)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, raw: bytes, timeout: float = 5.0) -> int:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        head = (
            f"POST /webhooks/tiktok HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n"
            f"Authorization: {sign(raw)['Authorization']}\r\n\r\n"
        ).encode()
        try:
            self._writer.write(head + raw)
            return await asyncio.wait_for(self._response(self._reader), timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            await self.close()
            raise ConnectionError("no answer") from None

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> int:
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length:
            await reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


async def post_all(
    base_url: str,
    raws: list[bytes],
    concurrency: int = 16,
    on_answer: Callable[[int, int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> list[int | None]:
    """POST every body over `concurrency` connections; status per body (None: no answer)."""
    statuses: list[int | None] = [None] * len(raws)
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        poster = Poster(base_url)
        try:
            while next_index < len(raws) and not (stop is not None and stop.is_set()):
                index = next_index
                next_index += 1
                try:
                    statuses[index] = await poster.post(raws[index])
                except ConnectionError:
                    continue
                if on_answer is not None:
                    on_answer(index, statuses[index] or 0)
        finally:
            await poster.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


async def retry_until_acknowledged[T](
    base_url: str,
    ids: Sequence[T],
    ok: set[T],
    body: Callable[[T], bytes],
    rounds: int = 20,
) -> None:
    """Re-POST every webhook of `ids` not yet answered 200, as TikTok's retries would, adding
    the acknowledged ones to `ok`. A stored one comes back as a duplicate (200)."""
    for _ in range(rounds):
        missing = [n for n in ids if n not in ok]
        if not missing:
            return
        answers = await post_all(base_url, [body(n) for n in missing], 8)
        ok.update(n for n, s in zip(missing, answers, strict=True) if s == 200)
        await asyncio.sleep(0.2)
