"""Serve a populated ``DifyTestServer`` in the foreground: the one path every server command takes.

``dify-integrations serve`` (the demo content, printed as ``export`` lines),
``python -m dify_integrations.testing`` (one app of each mode, printed as one JSON line)
and the benchmark server (its own apps, one JSON line) differ only in what they create
and how they announce it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TypeVar

from ._server import DifyTestServer

__all__ = ["serve_populated"]

T = TypeVar("T")


def serve_populated(
    populate: Callable[[DifyTestServer], T],
    announce: Callable[[T], None],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ping_interval: float = 10.0,
    token_delay: float = 0.0,
    stop: threading.Event | None = None,
    max_connections: int | None = None,
) -> int:
    """Start a server, fill it, announce it, and serve until SIGTERM, Ctrl-C or ``stop``.

    Args:
        populate: Creates the knowledge bases and apps on the started server; its result
            goes to ``announce``.
        announce: Tells the caller where things are (prints keys, a JSON line...).
        host: Interface to bind (keep it on loopback: the keys are test keys).
        port: Port (0: a free one).
        ping_interval: Seconds of silence before a stream sends ``event: ping``.
        token_delay: Seconds before each streamed piece.
        stop: An event that ends serving when set (for tests and embedding).
        max_connections: Open connections the server accepts at once (default: the
            server's own, from the file-descriptor limit).

    Returns:
        The exit code (0).
    """
    done = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    with DifyTestServer(
        host,
        port,
        ping_interval=ping_interval,
        token_delay=token_delay,
        max_connections=max_connections,
    ) as server:
        announce(populate(server))
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0
