"""Transport security: TLS verification is on by default; plain http to a remote host warns.

The TLS tests run a tiny HTTPS server on loopback with a self-signed certificate
(``tls/cert.pem``, valid 2000-2126 for ``127.0.0.1`` and ``localhost``; test-only key).
Every component refuses it by default (the handshake fails, nothing is sent), and the core
clients accept it once told to trust that certificate, which shows the server works.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from dify_integrations import APIConnectionError, AsyncDifyClient, DifyClient

from ._subjects import ALL, Mode, Subject
from .conftest import Rig, closed_port

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

CERT = Path(__file__).parent / "tls" / "cert.pem"
KEY_FILE = Path(__file__).parent / "tls" / "key.pem"
API_KEY = "app-tls-test-secret-0123456789"


@dataclass
class TLSServer:
    """An HTTPS server that answers ``GET /v1/info`` and counts the requests it got."""

    port: int = 0
    requests: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/v1"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TLSServer]:
    """The HTTPS server, served from a background thread."""
    server = TLSServer(port=closed_port())

    async def handle(request: web.Request) -> web.StreamResponse:
        server.requests.append(request.path)
        return web.json_response({"name": "Secure", "description": "", "tags": [], "mode": "chat"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(CERT, KEY_FILE)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(
        web.TCPSite(runner, "127.0.0.1", server.port, ssl_context=context).start()
    )
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_sync_client_session_verifies_certificates_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    with DifyClient(API_KEY, base_url="https://dify.example.com/v1") as client:
        assert client.session.verify is True
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(CERT))  # a CA bundle keeps verification on
    with DifyClient(API_KEY, base_url="https://dify.example.com/v1") as client:
        assert client.session.verify == str(CERT)
    with DifyClient(API_KEY, base_url="https://dify.example.com/v1", verify=False) as client:
        assert client.session.verify is False  # only an explicit opt-out turns it off


@pytest.mark.parametrize("subject", ALL, ids=str)
def test_every_component_rejects_an_untrusted_certificate(
    rig: Rig, subject: Subject, tls_server: TLSServer
) -> None:
    before = len(tls_server.requests)
    call = rig.call(subject, max_retries=0, base_url=tls_server.base_url)
    exc = rig.fail(subject, call, APIConnectionError)
    assert "SSL" in repr(exc.__cause__) or "certificate" in repr(exc.__cause__).lower()
    assert len(tls_server.requests) == before  # the handshake failed: nothing was sent


def _get_info(mode: Mode, base_url: str, verify: bool | str) -> str:
    kwargs: dict[str, Any] = {"base_url": base_url, "max_retries": 0, "verify": verify}
    if mode == "sync":
        with DifyClient(API_KEY, **kwargs) as client:
            return str(client.get_info().name)

    async def go() -> str:
        async with AsyncDifyClient(API_KEY, **kwargs) as client:
            return str((await client.get_info()).name)

    return asyncio.run(go())


def test_core_clients_accept_the_certificate_once_trusted(
    mode: Mode, tls_server: TLSServer
) -> None:
    before = len(tls_server.requests)
    assert _get_info(mode, tls_server.base_url, str(CERT)) == "Secure"
    assert len(tls_server.requests) == before + 1


# ------------------------------------------------------------------------ plain http


def _build(kind: str, base_url: str) -> None:
    """Construct a component (no request is sent) and close it."""
    from llama_index.core.tools import ToolMetadata

    from dify_integrations import llama_index as li

    common: dict[str, Any] = {"api_key": API_KEY, "base_url": base_url}
    if kind == "DifyClient":
        DifyClient(API_KEY, base_url=base_url).close()
    elif kind == "AsyncDifyClient":
        AsyncDifyClient(API_KEY, base_url=base_url)
    elif kind == "llama_index.DifyLLM":
        li.DifyLLM(**common, app_mode="chat")
    elif kind == "llama_index.DifyChatEngine":
        li.DifyChatEngine(**common)
    elif kind == "llama_index.DifyWorkflowTool":
        li.DifyWorkflowTool(ToolMetadata(name="t", description="d"), **common)
    else:
        li.DifyRetriever("dataset-id", **common)


BUILT_AT_CONSTRUCTION = [
    "DifyClient",
    "AsyncDifyClient",
    "llama_index.DifyLLM",
    "llama_index.DifyChatEngine",
    "llama_index.DifyWorkflowTool",
    "llama_index.DifyRetriever",
]


@pytest.mark.parametrize("kind", BUILT_AT_CONSTRUCTION)
@pytest.mark.parametrize(
    "base_url", ["http://dify.example.com/v1", "http://10.1.2.3:5001/v1", "http://[2001:db8::1]/v1"]
)
def test_plain_http_to_a_remote_host_warns(kind: str, base_url: str) -> None:
    with pytest.warns(UserWarning, match="plain http") as record:
        _build(kind, base_url)
    assert all(API_KEY not in str(w.message) for w in record)


@pytest.mark.parametrize("kind", BUILT_AT_CONSTRUCTION)
@pytest.mark.parametrize(
    "base_url",
    [
        "https://dify.example.com/v1",
        "http://127.0.0.1:5001/v1",
        "http://localhost/v1",
        "http://[::1]:5001/v1",
    ],
)
def test_https_or_loopback_does_not_warn(kind: str, base_url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _build(kind, base_url)
