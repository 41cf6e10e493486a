"""Connection hygiene of `DifyTestServer`: a connection limit and request read timeouts.

aiohttp's server has no deadline for a request's headers and no limit on connections, so
a *slowloris* client (many connections, each sending its headers a byte at a time) holds
sockets until the process runs out of file descriptors; then every ``accept()`` fails and
asyncio logs each failure. `GuardedSite` wraps each connection's protocol:

- at most ``max_connections`` connections are open; one more is closed at once;
- a request's headers must arrive within ``header_timeout`` seconds of its first byte
  (of the connection, for the first request);
- while a request body is being received, a silence of ``body_timeout`` seconds closes
  the connection (see `watch_body`);
- a flood is logged once: the first refused or timed-out connection logs a warning, the
  next ones are only counted (`GuardStats`) until the server is quiet again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_runner import BaseSite

logger = logging.getLogger("dify_integrations.testing")

_QUIET_AFTER = 30.0  # seconds without a refusal or timeout before a new flood is logged


@dataclass
class GuardStats:
    """Counters of what the guard closed (for tests and diagnostics).

    Attributes:
        open: Connections open now.
        refused: Connections closed at once because ``max_connections`` were open.
        header_timeouts: Connections closed because headers did not arrive in time.
        body_timeouts: Connections closed because a request body stalled.
        warnings: Warnings logged (one per flood).
    """

    open: int = 0
    refused: int = 0
    header_timeouts: int = 0
    body_timeouts: int = 0
    warnings: int = 0
    _last_event: float = field(default=-1e9, repr=False)

    def incident(self, loop: asyncio.AbstractEventLoop, message: str, *args: Any) -> None:
        """Log ``message`` if this is the first incident of a flood; count it either way."""
        now = loop.time()
        quiet = now - self._last_event > _QUIET_AFTER
        self._last_event = now
        if quiet:
            self.warnings += 1
            logger.warning(
                message + " (further ones are counted, not logged, until the server has "
                "been quiet for %g s)",
                *args,
                _QUIET_AFTER,
            )


def default_max_connections() -> int:
    """Half the process's file-descriptor limit, between 64 and 1024 (512 without one)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 512
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(64, min(1024, soft // 2))


@dataclass(frozen=True)
class GuardLimits:
    """The limits `GuardedSite` enforces."""

    max_connections: int = field(default_factory=default_max_connections)
    header_timeout: float = 10.0
    body_timeout: float = 30.0


class _GuardedProtocol(asyncio.Protocol):
    """Wraps aiohttp's per-connection ``RequestHandler``."""

    def __init__(self, inner: Any, limits: GuardLimits, stats: GuardStats) -> None:
        self._inner = inner
        self._limits = limits
        self._stats = stats
        self._transport: asyncio.Transport | None = None
        self._counted = False
        self._awaiting_headers = True
        self._tail = b""
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        loop = asyncio.get_running_loop()
        if self._stats.open >= self._limits.max_connections:
            self._stats.refused += 1
            self._stats.incident(
                loop,
                "DifyTestServer: %d connections open (the limit): refusing new ones",
                self._limits.max_connections,
            )
            transport.abort()
            return
        self._stats.open += 1
        self._counted = True
        _PROTOCOLS[transport] = self
        self._arm(loop)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if not self._counted:
            return
        self._counted = False
        self._stats.open -= 1
        if self._transport is not None:
            _PROTOCOLS.pop(self._transport, None)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._counted:
            return
        if self._awaiting_headers:
            if self._timer is None:  # first byte of a keep-alive connection's next request
                self._arm(asyncio.get_running_loop())
            seen = self._tail + data
            if b"\r\n\r\n" in seen:
                self._awaiting_headers = False
                self._cancel()
            self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if not self._counted:
            return None
        result: bool | None = self._inner.eof_received()
        return result

    def pause_writing(self) -> None:
        if self._counted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._counted:
            self._inner.resume_writing()

    # -- request boundaries --------------------------------------------------------

    def request_done(self) -> None:
        """The response was sent: the next bytes start a new request (timer armed then)."""
        self._awaiting_headers = True
        self._tail = b""
        self._cancel()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._cancel()
        self._timer = loop.call_later(self._limits.header_timeout, self._headers_late)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        if not self._awaiting_headers or self._transport is None:
            return
        self._stats.header_timeouts += 1
        self._stats.incident(
            asyncio.get_running_loop(),
            "DifyTestServer: closed a connection that sent no complete request headers within %g s",
            self._limits.header_timeout,
        )
        self._transport.abort()


_PROTOCOLS: dict[asyncio.BaseTransport, _GuardedProtocol] = {}


def request_done(request: web.Request) -> None:
    """Tell the guard of ``request``'s connection that its response is complete."""
    transport = request.transport
    protocol = _PROTOCOLS.get(transport) if transport is not None else None
    if protocol is not None:
        protocol.request_done()


async def watch_body(request: web.Request, limits: GuardLimits, stats: GuardStats) -> None:
    """Close the connection when the request body stops arriving for ``body_timeout`` s.

    Run as a task beside the handler while the body is unread; it ends at the body's end.
    """
    content = request.content
    seen = -1
    while not content.is_eof():
        received = content.total_bytes
        if received == seen:
            stats.body_timeouts += 1
            stats.incident(
                asyncio.get_running_loop(),
                "DifyTestServer: closed a connection whose request body stalled for %g s",
                limits.body_timeout,
            )
            if request.transport is not None:
                request.transport.abort()
            return
        seen = received
        await asyncio.sleep(limits.body_timeout)


class GuardedSite(web.TCPSite):
    """A `web.TCPSite` whose connections go through the guard."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        limits: GuardLimits,
        stats: GuardStats,
        backlog: int = 128,
        reuse_address: bool | None = None,
    ) -> None:
        super().__init__(runner, host, port, backlog=backlog, reuse_address=reuse_address)
        self._limits = limits
        self._stats = stats

    async def start(self) -> None:
        await BaseSite.start(self)  # registers the site with the runner
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        limits, stats = self._limits, self._stats
        self._server = await loop.create_server(
            lambda: _GuardedProtocol(server(), limits, stats),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
        )
        with contextlib.suppress(Exception):
            self._bound_port = self._server.sockets[0].getsockname()[1]
