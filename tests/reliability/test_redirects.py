"""A redirect to another host never carries the ``Authorization`` header.

A minimal aiohttp app plays two hosts: ``127.0.0.1:<a>`` (the Dify base URL) answers every
request with a redirect to ``localhost:<b>``, and ``localhost:<b>`` (another host name, as
far as HTTP is concerned) answers like Dify would and records what it received. The
clients do not follow redirects at all: the call fails with an ``APIStatusError`` naming
the redirect, and the other host never sees the key (nor any request).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from aiohttp import web

from dify_integrations import APIStatusError, AsyncDifyClient, DifyClient

from ._subjects import Mode
from .conftest import closed_port

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

KEY = "app-redirect-test-secret-0123456789"


@dataclass
class TwoHosts:
    """The redirecting host and the other host, with what each received."""

    status: int
    seen: dict[str, list[dict[str, str]]] = field(default_factory=lambda: {"a": [], "b": []})
    port_a: int = 0
    port_b: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port_a}/v1"

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.StreamResponse:
            host = "a" if request.url.port == self.port_a else "b"
            self.seen[host].append(dict(request.headers))
            if host == "a":
                location = f"http://localhost:{self.port_b}{request.path_qs}"
                return web.Response(status=self.status, headers={"Location": location})
            return web.json_response(
                {"name": "Elsewhere", "description": "", "tags": [], "mode": "chat"}
            )

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


@pytest.fixture(params=[302, 307])
def hosts(request: pytest.FixtureRequest) -> Iterator[TwoHosts]:
    """Both hosts, served from a background thread."""
    hosts = TwoHosts(status=request.param)
    hosts.port_a, hosts.port_b = closed_port(), closed_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(hosts.app(), access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", hosts.port_a).start())
    loop.run_until_complete(web.TCPSite(runner, "localhost", hosts.port_b).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        # The other host is reachable under its name: a client that followed the redirect
        # would have reached it, so its empty log below means something.
        with requests.Session() as session:
            assert session.get(f"http://localhost:{hosts.port_b}/v1/info", timeout=5).ok
        hosts.seen["b"].clear()
        yield hosts
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _call(mode: Mode, base_url: str, operation: str) -> None:
    kwargs: dict[str, Any] = {"base_url": base_url, "user": "u", "max_retries": 2}
    if mode == "sync":
        with DifyClient(KEY, **kwargs) as client:
            if operation == "chat":
                client.send_chat_message("hello")
            else:
                client.get_info()
        return

    async def go() -> None:
        async with AsyncDifyClient(KEY, **kwargs) as client:
            if operation == "chat":
                await client.send_chat_message("hello")
            else:
                await client.get_info()

    asyncio.run(go())


@pytest.mark.parametrize("operation", ["chat", "info"])
def test_redirect_to_another_host_does_not_carry_the_key(
    hosts: TwoHosts, mode: Mode, operation: str
) -> None:
    with pytest.raises(APIStatusError) as info:
        _call(mode, hosts.base_url, operation)
    exc = info.value
    assert exc.status_code == hosts.status
    assert "redirect" in exc.message
    assert f"localhost:{hosts.port_b}" in exc.message  # where it was sent, for the user
    assert [h.get("Authorization") for h in hosts.seen["a"]] == [f"Bearer {KEY}"]  # once
    assert hosts.seen["b"] == []  # no request at all, so no key, reached the other host
