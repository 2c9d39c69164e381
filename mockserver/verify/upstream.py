"""The two ends `verify` talks to: the real API, politely, and the mock, in process.

Politeness towards the real API: at most `rate` requests a second, a timeout per request, a
wait for `Retry-After` (429, 503) and for `X-RateLimit-Reset` once `X-RateLimit-Remaining` is
0, each wait bounded. What makes a run impossible (no connection, TLS refused, no answer in
time, a gateway error, an HTML page, a rate limit that never lifts) is an `Unreachable`: one
line, exit 2.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from email.utils import parsedate_to_datetime
from typing import Awaitable, Callable, Mapping

import httpx

from ..core.clock import Clock
from ..core.probe import Answer, Call

RATE = 2.0            # requests a second to the real API, by default
MAX_RATE = 5.0        # --rate's ceiling: "at most a few requests a second"
TIMEOUT = 10.0        # seconds per request, by default
MAX_WAIT = 60.0       # the longest Retry-After or rate-limit reset honoured, in seconds
RETRIES = 2           # tries again after a 429 or 503, each after its Retry-After
MAX_BODY = 8 * 2**20  # the most of an answer read: a probe's answer is small
GATEWAY = (502, 503, 504)


class Unreachable(Exception):
    """The run cannot be made: `str()` is the one line that says why."""


Sleep = Callable[[float], Awaitable[None]]


def _answer(response: httpx.Response, body: bytes) -> Answer:
    headers: dict[str, str] = {}
    for k, v in response.headers.multi_items():
        k = k.lower()
        headers[k] = f"{headers[k]}, {v}" if k in headers else v
    return Answer(response.status_code, headers, body)


def _url(base: str, call: Call) -> str:
    return base.rstrip("/") + call.path


class Real:
    """The real API (or whatever `--base-url` names): TLS verified, polite."""

    def __init__(self, bases: Mapping[str, str], rate: float = RATE, timeout: float = TIMEOUT,
                 sleep: Sleep = asyncio.sleep, verify: ssl.SSLContext | bool = True,
                 clock: Callable[[], float] = time.monotonic, wall: Clock | None = None) -> None:
        self.bases = dict(bases)
        self.interval = 1.0 / min(max(rate, 0.01), MAX_RATE)
        self.timeout = timeout
        self._sleep, self._clock = sleep, clock
        # the real world's time, which the API's Retry-After dates and X-RateLimit-Reset
        # instants are in (a Clock in real mode; tests may give a frozen one)
        self.wall = wall if wall is not None else Clock()
        self._next = 0.0  # the earliest monotonic time the next request may go
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), verify=verify,
                                         follow_redirects=False, trust_env=False,
                                         headers={"user-agent": "mockserver-verify"})
        self.requests = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, call: Call) -> Answer:
        url = _url(self.bases[call.base], call)
        where = f"{call.method} {url}"
        for attempt in range(RETRIES + 1):
            await self._wait(self._next - self._clock())
            self._next = self._clock() + self.interval
            answer = await self._once(call, url, where)
            self.requests += 1
            if answer.status in (429, 503) and attempt < RETRIES:
                await self._wait(self._retry_after(answer))
                continue
            break
        if answer.status == 429:
            raise Unreachable(f"the API rate-limited every try of {where} ({RETRIES + 1} tries "
                              "with its Retry-After): try again later, or with a lower --rate")
        self._after(answer)
        return answer

    async def _once(self, call: Call, url: str, where: str) -> Answer:
        try:  # the timeout bounds the whole exchange: an answer dripping in ends too
            async with asyncio.timeout(self.timeout):
                return await self._exchange(call, url)
        except (TimeoutError, httpx.TimeoutException):
            raise Unreachable(f"{where} gave no answer within {self.timeout:g} s "
                              "(--timeout)") from None
        except httpx.ConnectError as exc:
            if tls_failure(exc):
                raise Unreachable(f"TLS with {host_of(url)} failed: {reason(exc)}") from None
            raise Unreachable(f"cannot connect to {host_of(url)}: {reason(exc)}") from None
        except (httpx.TransportError, httpx.InvalidURL, ValueError) as exc:
            raise Unreachable(f"{where} failed: {reason(exc)}") from None

    async def _exchange(self, call: Call, url: str) -> Answer:
        async with self._client.stream(call.method, url, headers=dict(call.headers),
                                       params=list(call.query) or None,
                                       content=call.body or None) as response:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY:
                    break
            return _answer(response, b"".join(chunks)[:MAX_BODY])

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            await self._sleep(min(seconds, MAX_WAIT))

    def _retry_after(self, answer: Answer) -> float:
        raw = answer.headers.get("retry-after", "").strip()
        if not raw:
            return self.interval
        try:
            return float(raw)
        except ValueError:
            try:
                return parsedate_to_datetime(raw).timestamp() - self.wall.time()
            except (TypeError, ValueError):
                return self.interval

    def _after(self, answer: Answer) -> None:
        """Spent the rate limit: the next request waits for its reset (bounded)."""
        if answer.headers.get("x-ratelimit-remaining", "").strip() != "0":
            return
        try:
            reset = float(answer.headers.get("x-ratelimit-reset", ""))
        except ValueError:
            return
        wait = reset - self.wall.time() if reset > 1e9 else reset  # epoch seconds, or seconds left
        self._next = max(self._next, self._clock() + min(max(wait, 0.0), MAX_WAIT))


class Mock:
    """The mock in process (no socket), reached by the vendor's real hostnames."""

    def __init__(self, app, bases: Mapping[str, str]) -> None:
        self.bases = dict(bases)
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         headers={"user-agent": "mockserver-verify"})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, call: Call) -> Answer:
        response = await self._client.request(call.method, _url(self.bases[call.base], call),
                                              headers=dict(call.headers),
                                              params=list(call.query) or None,
                                              content=call.body or None)
        return _answer(response, response.content)


def html(answer: Answer) -> bool:
    """An HTML page (a proxy's, a login's, an outage's) where an API answers."""
    media = answer.content_type.split(";", 1)[0].strip().lower()
    return media == "text/html" or (answer.body.lstrip()[:1] == b"<" and "xml" not in media)


def tls_failure(exc: Exception) -> bool:
    seen = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "SSL" in str(exc) or "CERTIFICATE" in str(exc).upper()


def reason(exc: Exception) -> str:
    seen: BaseException | None = exc
    text = ""
    while seen is not None:  # the innermost cause says the most (an ssl or socket error)
        text = str(seen) or type(seen).__name__
        seen = seen.__cause__ or seen.__context__
    return " ".join(text.split())[:300]


def host_of(url: str) -> str:
    return httpx.URL(url).netloc.decode("ascii", "replace")
