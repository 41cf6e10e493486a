"""No exception carries the key, however a hostile server answers (issue 12, items 12-13).

A raw-socket server on loopback reads each request's ``Authorization`` header and echoes
the key back in whatever part of the answer the case names: a redirect's ``Location``, a
broken status line, a header the HTTP parser rejects, a non-JSON body, a body of the wrong
shape. The call must fail with a `DifyError`, and the key must appear nowhere reachable
from it: not in ``str``/``repr``/traceback text, and not in any attribute of any exception
chained to it (``__cause__``/``__context__``, aiohttp's ``request_info`` headers, requests'
``request``, `json.JSONDecodeError.doc`...), sync and async.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
import threading
import traceback
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from dify_integrations import AsyncDifyClient, DifyClient, DifyError

from ._subjects import Mode

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

KEY = "app-EchoThisSecret0123456789"
_SECRET_PART = KEY.split("-", 1)[1]
FRAGMENTS = [KEY] + [_SECRET_PART[i : i + 8] for i in range(len(_SECRET_PART) - 7)]


def _json(body: str, status: str = "200 OK", length: str = "{len}") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n{body}"
    ).encode()


# What the server answers; ``{key}`` is replaced by the key the request carried, ``{len}``
# by the length of the body after that, ``{cut}`` by a length that cuts the key in two.
ANSWERS: dict[str, bytes] = {
    "redirect-location": (
        b"HTTP/1.1 302 Found\r\nLocation: https://collector.invalid/steal?k={key}\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    ),
    "redirect-location-relative": (
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /v1/{key}/info\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    ),
    "bad-status-line": b"garbage {key}\r\n\r\n",
    "bad-header-and-chunk": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked"
        b"\r\nX-Bad: \x01{key}\r\n\r\n{key}\r\n{}\r\n0\r\n\r\n"
    ),
    "bad-chunk-size": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked"
        b"\r\nConnection: close\r\n\r\n{key}\r\n{}\r\n0\r\n\r\n"
    ),
    "reason-phrase": _json('{"code": "x", "message": "m"}', status="400 {key}"),
    "non-json-body": _json("not json, your key is {key}"),
    "cut-echo": _json('{"message": "your key is {key} and more"}', length="{cut}"),
    "wrong-shape-body": _json(
        '{"name": {"k": "{key}"}, "mode": ["{key}"], "tags": "{key}", "answer": 1}'
    ),
    "error-header-and-body": (
        b"HTTP/1.1 500 Internal Server Error\r\nX-Debug: {key}\r\nContent-Type: text/html\r\n"
        b"Connection: close\r\n\r\n<html><b>Bearer {key}</b></html>"
    ),
}


def render(answer: bytes, key: bytes) -> bytes:
    """The answer for one request: the key echoed, then lengths filled in."""
    answer = answer.replace(b"{key}", key)
    body = answer.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in answer else b""
    cut = body.find(key) + len(key) // 2 if key in body else len(body)
    return answer.replace(b"{len}", str(len(body)).encode()).replace(b"{cut}", str(cut).encode())


class EchoServer:
    """Answers every connection with one canned answer that echoes the request's key."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                head = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in head:
                        data = conn.recv(65536)
                        if not data:
                            break
                        head += data
                self.requests += 1
                key = b""
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"authorization: bearer "):
                        key = line.split(b" ", 2)[2]
                with contextlib.suppress(OSError):
                    conn.sendall(render(self.answer, key))
                    conn.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def echo(request: pytest.FixtureRequest) -> Iterator[EchoServer]:
    server = EchoServer(ANSWERS[request.param])
    try:
        yield server
    finally:
        server.close()


def _call(mode: Mode, base_url: str, operation: str) -> None:
    kwargs: dict[str, Any] = {"base_url": base_url, "user": "u", "max_retries": 0}
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


_WALKED_MODULES = ("requests", "urllib3", "aiohttp", "multidict", "yarl", "http", "json")


def key_paths(root: BaseException) -> list[str]:
    """Where key material is reachable from ``root``: attribute paths into its object graph.

    Walks exceptions (args, attributes, cause, context), containers, and the objects of
    the HTTP libraries they hold (requests, headers, URLs); not frames or tracebacks.
    """
    found: list[str] = []
    seen: set[int] = set()
    stack: list[tuple[Any, str, int]] = [(root, "exc", 0)]
    while stack:
        obj, path, depth = stack.pop()
        if id(obj) in seen or depth > 12:
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes):
            text = obj if isinstance(obj, str) else obj.decode("latin-1")
            if any(f in text for f in FRAGMENTS):
                found.append(path)
            continue
        children: list[tuple[Any, str]] = []
        if isinstance(obj, BaseException):
            children += [(obj.__cause__, ".__cause__"), (obj.__context__, ".__context__")]
            children += [(a, f".args[{i}]") for i, a in enumerate(obj.args)]
            children += [(v, f".{k}") for k, v in vars(obj).items() if k != "__traceback__"]
        elif isinstance(obj, Mapping):
            children += [(k, f"[key {k!r}]") for k in obj]
            children += [(v, f"[{k!r}]") for k, v in obj.items()]
        elif isinstance(obj, list | tuple | set | frozenset):
            children += [(v, f"[{i}]") for i, v in enumerate(obj)]
        elif type(obj).__module__.split(".")[0] in _WALKED_MODULES:
            children.append((str(obj), ".__str__()"))
            attributes = getattr(obj, "__dict__", None)
            if isinstance(attributes, dict):
                children += [(v, f".{k}") for k, v in attributes.items()]
            for name in getattr(type(obj), "__slots__", ()):
                children.append((getattr(obj, name, None), f".{name}"))
        stack.extend((child, path + suffix, depth + 1) for child, suffix in children)
    return found


def assert_no_key_anywhere(exc: BaseException) -> None:
    views = {
        "str": str(exc),
        "repr": repr(exc),
        "traceback": "".join(traceback.format_exception(exc)),
        "pickle": pickle.dumps(exc).decode("latin-1"),
    }
    for view, text in views.items():
        leaked = [f for f in FRAGMENTS if f in text]
        assert not leaked, f"key in {view}: {text[:2000]!r}"
    assert key_paths(exc) == []


@pytest.mark.parametrize("echo", list(ANSWERS), indirect=True)
@pytest.mark.parametrize("operation", ["info", "chat"])
def test_no_exception_reachable_from_the_error_carries_the_key(
    echo: EchoServer, mode: Mode, operation: str
) -> None:
    with pytest.raises(DifyError) as info:
        _call(mode, echo.base_url, operation)
    assert echo.requests >= 1, "the hostile server was never reached"
    assert_no_key_anywhere(info.value)


@pytest.mark.parametrize("echo", ["redirect-location"], indirect=True)
def test_a_redirect_error_still_says_where_it_pointed(echo: EchoServer, mode: Mode) -> None:
    with pytest.raises(DifyError) as info:
        _call(mode, echo.base_url, "info")
    message = str(info.value)
    assert "redirect" in message
    assert "https://collector.invalid/steal?k=[REDACTED]" in message


def test_the_walker_finds_a_key_in_an_unscrubbed_aiohttp_error() -> None:
    """The check above can fail: the raw aiohttp error does carry the key."""
    import aiohttp

    server = EchoServer(ANSWERS["bad-header-and-chunk"])

    async def go() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.get(server.base_url, headers={"Authorization": f"Bearer {KEY}"}) as answer,
        ):
            await answer.read()

    try:
        with pytest.raises(aiohttp.ClientResponseError) as info:
            asyncio.run(go())
    finally:
        server.close()
    assert key_paths(info.value)
