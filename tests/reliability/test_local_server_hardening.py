"""`DifyTestServer` under abuse (issue 12, items 20-21).

- Auth comes before the body: an unauthenticated POST announcing 50 MB gets its 401
  while the body is still being sent, and nothing of it is logged.
- The request log keeps at most ``log_body_limit`` bytes of a body.
- A slowloris flood (connections that never finish their headers) is cut by the header
  timeout and the connection limit, logged once, and the server keeps serving.
- A request body that stalls is cut by the body timeout; keep-alive clients that pause
  between requests are not.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from dify_integrations import DifyClient
from dify_integrations.testing import DifyTestServer

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

WAIT = 30.0  # generous bound for events that must happen (never a speed assertion)


@pytest.fixture
def server() -> Iterator[DifyTestServer]:
    with DifyTestServer(max_connections=16, header_timeout=0.5, body_timeout=0.5) as srv:
        yield srv


@pytest.fixture
def plain() -> Iterator[DifyTestServer]:
    """A server with the default limits."""
    with DifyTestServer() as srv:
        yield srv


def _connect(server: DifyTestServer) -> socket.socket:
    assert server.port is not None
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or WAIT passes)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    return received


def _post_head(path: str, length: int, key: str | None) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {length}\r\n\r\n"
    ).encode()


# ------------------------------------------------------------------------ item 20


@pytest.mark.parametrize("key", [None, "app-not-a-key-of-this-server"])
def test_an_unauthenticated_body_is_neither_read_nor_logged(
    plain: DifyTestServer, key: str | None
) -> None:
    server = plain
    before = len(server.request_log)
    with _connect(server) as sock:
        sock.sendall(_post_head("/v1/chat-messages", 50 * 1024 * 1024, key))
        sock.sendall(b'{"query": "' + b"x" * 1024)
        # The answer comes while 50 MB are still owed: the server did not wait for them.
        sock.settimeout(WAIT)
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 401"), head[:200]
    logged = server.request_log[before:]
    assert [entry.body for entry in logged] == [None]


def test_the_request_log_keeps_at_most_the_body_limit(plain: DifyTestServer) -> None:
    server = plain
    app = server.create_chat_app("Echo")
    big = {"query": "hi", "user": "u", "response_mode": "blocking", "inputs": {"x": "y" * 2**20}}
    before = len(server.request_log)
    with requests.Session() as session:
        session.post(
            f"{server.base_url}/chat-messages",
            json=big,
            headers={"Authorization": f"Bearer {app.api_key}"},
            timeout=WAIT,
        )
    (entry,) = server.request_log[before:]
    assert isinstance(entry.body, str)
    assert entry.body.endswith("bytes, cut]")
    assert len(entry.body.encode()) <= 64 * 1024 + 64  # the default limit: 64 KiB
    assert entry.user == "u"  # read from the whole body before it was cut


# ------------------------------------------------------------------------ item 21


def test_a_slowloris_flood_is_cut_logged_once_and_the_server_keeps_serving(
    server: DifyTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = server.create_chat_app("Echo")
    caplog.set_level(logging.WARNING, logger="dify_integrations.testing")
    socks = [_connect(server) for _ in range(40)]
    try:
        for sock in socks:
            sock.sendall(b"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        closed = [_read_until_closed(sock) for sock in socks]  # every one is closed
    finally:
        for sock in socks:
            sock.close()
    assert closed == [b""] * 40
    stats = server.settings.guard_stats
    assert stats.refused + stats.header_timeouts == 40
    assert stats.header_timeouts >= 16
    flood_logs = [r for r in caplog.records if r.name == "dify_integrations.testing"]
    assert len(flood_logs) == 1, [r.getMessage() for r in flood_logs]
    assert stats.warnings == 1
    with DifyClient(app.api_key, base_url=server.base_url, user="u") as client:
        assert client.get_info().name == "Echo"


def test_a_stalled_request_body_is_cut(server: DifyTestServer) -> None:
    app = server.create_chat_app("Echo")
    with _connect(server) as sock:
        sock.sendall(_post_head("/v1/chat-messages", 1000, app.api_key) + b'{"query": "')
        received = _read_until_closed(sock)
    assert received == b""
    assert server.settings.guard_stats.body_timeouts == 1


def test_a_keep_alive_client_pausing_between_requests_is_not_cut(
    server: DifyTestServer,
) -> None:
    app = server.create_chat_app("Echo")
    with DifyClient(app.api_key, base_url=server.base_url, user="u") as client:
        for _ in range(3):
            assert client.get_info().name == "Echo"
            time.sleep(1.0)  # longer than the header timeout, on the same pooled connection
        assert client.send_chat_message("still there?").answer
    stats = server.settings.guard_stats
    assert (stats.header_timeouts, stats.body_timeouts, stats.refused) == (0, 0, 0)
