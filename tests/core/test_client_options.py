"""Client constructor habits: positional base URL, a caller's aiohttp session, default
headers and a proxy. Over HTTP against the local server (and a small loopback proxy)."""

from __future__ import annotations

import asyncio
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.testing import DifyTestServer


@pytest.fixture(scope="module")
def local() -> Iterator[tuple[DifyTestServer, str]]:
    with DifyTestServer() as server:
        yield server, server.create_chat_app("Echo").api_key


def test_positional_api_key_and_base_url(local: tuple[DifyTestServer, str]) -> None:
    server, key = local
    with DifyClient(key, server.base_url) as client:
        assert client.base_url == server.base_url
        assert client.get_info().name == "Echo"


async def test_async_positional_api_key_and_base_url(local: tuple[DifyTestServer, str]) -> None:
    server, key = local
    async with AsyncDifyClient(key, server.base_url) as client:
        assert (await client.get_info()).name == "Echo"


class _Headers(http.server.BaseHTTPRequestHandler):
    """A loopback endpoint that answers /info with the headers it received."""

    seen: list[dict[str, str]] = []  # noqa: RUF012 - a test recorder

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        body = b'{"name": "Echo", "description": "", "tags": [], "mode": "chat"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def header_server() -> Iterator[str]:
    _Headers.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Headers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_default_headers_are_sent(header_server: str) -> None:
    with DifyClient("app-x", header_server, headers={"X-Tenant": "acme"}) as client:
        client.get_info()
    assert _Headers.seen[-1]["X-Tenant"] == "acme"
    assert _Headers.seen[-1]["Authorization"] == "Bearer app-x"


async def test_async_default_headers_are_sent(header_server: str) -> None:
    async with AsyncDifyClient("app-x", header_server, headers={"X-Tenant": "acme"}) as client:
        await client.get_info()
    assert _Headers.seen[-1]["X-Tenant"] == "acme"


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"Authorization": "Bearer other"}, ValueError),
        ({"X-Bad": "a\r\nInjected: 1"}, ValueError),
        ({"X-Num": 1}, TypeError),
    ],
)
def test_bad_default_headers_are_refused(headers: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        DifyClient("app-x", "http://127.0.0.1:9/v1", headers=headers)
    with pytest.raises(error):
        AsyncDifyClient("app-x", "http://127.0.0.1:9/v1", headers=headers)


async def test_async_client_uses_the_callers_session(local: tuple[DifyTestServer, str]) -> None:
    server, key = local
    async with aiohttp.ClientSession() as session:
        client = AsyncDifyClient(key, server.base_url, session=session)
        reply = await client.send_chat_message("hello", user="u")
        assert reply.answer
        await client.aclose()
        assert not session.closed  # the caller's session stays the caller's
        assert (await client.get_info()).name == "Echo"


def test_a_session_from_another_loop_is_a_clear_error(local: tuple[DifyTestServer, str]) -> None:
    server, key = local

    async def make() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(make())
    try:
        client = AsyncDifyClient(key, server.base_url, session=session)
        with pytest.raises(RuntimeError, match="another event loop"):
            asyncio.run(client.get_info())
    finally:
        loop.run_until_complete(session.close())
        loop.close()


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A loopback forward proxy for plain http: relays GETs and records them."""

    seen: list[str] = []  # noqa: RUF012 - a test recorder

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        request = urllib.request.Request(
            self.path, headers={k: v for k, v in self.headers.items() if k.lower() != "host"}
        )
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request) as r:
            body = r.read()
            self.send_response(r.status)
            self.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    _Proxy.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_proxy_is_used(local: tuple[DifyTestServer, str], proxy: str) -> None:
    server, key = local
    with DifyClient(key, server.base_url, proxy=proxy) as client:
        assert client.get_info().name == "Echo"
    assert _Proxy.seen == [f"{server.base_url}/info"]


async def test_async_proxy_is_used(local: tuple[DifyTestServer, str], proxy: str) -> None:
    server, key = local
    async with AsyncDifyClient(key, server.base_url, proxy=proxy) as client:
        assert (await client.get_info()).name == "Echo"
    assert _Proxy.seen == [f"{server.base_url}/info"]


def test_proxy_and_a_session_together_are_refused() -> None:
    import requests

    with pytest.raises(ValueError, match="proxy"):
        DifyClient("app-x", "http://127.0.0.1:9/v1", session=requests.Session(), proxy="http://p")
