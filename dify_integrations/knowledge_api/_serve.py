"""Running the service: load ``module:attribute``, print Dify's form, serve until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

from aiohttp import web

from ._app import ServiceSettings, create_app

__all__ = ["KnowledgeAPIServer", "load_retrievers", "serve"]

KEY_ENV = "DIFY_KNOWLEDGE_API_KEY"


def load_retrievers(target: str) -> Mapping[str, Any]:
    """The mapping named by ``module:attribute`` (a mapping, or a factory returning one).

    Raises:
        ValueError: Malformed target, missing attribute, or not a non-empty mapping.
        ImportError: The module cannot be imported.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected module:attribute, got {target!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: modules of the current directory
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, Mapping) and callable(obj):
        obj = obj()
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{target} must be a non-empty mapping knowledge_id -> retriever")
    return obj


def connection_help(endpoint: str, knowledge_ids: list[str], key_env: str) -> str:
    """What to type into Dify's forms to use the service."""
    lines = [
        f"External Knowledge API serving {len(knowledge_ids)} knowledge base(s) at {endpoint}",
        f"  (Dify calls POST {endpoint}/retrieval; health check: GET {endpoint}/health)",
        "",
        "In Dify: Knowledge > External Knowledge API > Add an External Knowledge API",
        "  Name:          any label, e.g. my-retrievers",
        f"  API Endpoint:  {endpoint}",
        f"  API Key:       the value of ${key_env}",
        "Then Knowledge > Connect to an External Knowledge Base, once per knowledge base:",
    ]
    lines += [f"  External Knowledge ID:  {kid}" for kid in knowledge_ids]
    if "://127.0.0.1" in endpoint or "://localhost" in endpoint:
        lines += [
            "",
            "Note: Dify must reach this address. A Dify in Docker or on another host cannot "
            "reach 127.0.0.1: use --host 0.0.0.0 and this machine's address.",
        ]
    return "\n".join(lines)


async def _run(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    return runner, bound


def serve(
    retrievers: Mapping[str, Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    key_env: str = KEY_ENV,
    settings: ServiceSettings | None = None,
    out: TextIO | None = None,
) -> int:
    """Serve ``retrievers`` in the foreground until interrupted; prints Dify's settings.

    Args:
        retrievers: ``knowledge_id -> retriever`` (see ``create_app``).
        host: Address to bind.
        port: Port (0: a free one).
        api_key: The key; default: the environment variable ``key_env``.
        key_env: Variable holding the key (named in the printed settings; the key itself
            is never printed).
        settings: Limits.
        out: Where to print (default stdout).

    Returns:
        0 after a clean shutdown.

    Raises:
        ValueError: No key.
    """
    key = api_key if api_key is not None else os.environ.get(key_env, "")
    if not key:
        raise ValueError(
            f"set {key_env} to the API key Dify will send, e.g. "
            f"export {key_env}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    settings = settings or ServiceSettings()
    app = create_app(retrievers, api_key=key, settings=settings)
    stream = out or sys.stdout

    async def main() -> None:
        runner, bound = await _run(app, host, port)
        try:
            shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
            if ":" in shown:
                shown = f"[{shown}]"
            endpoint = f"http://{shown}:{bound}{settings.path_prefix}"
            print(connection_help(endpoint, list(retrievers), key_env), file=stream, flush=True)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


class KnowledgeAPIServer:
    """The service in a background thread (tests, notebooks): ``with KnowledgeAPIServer(...)``.

    Example:
        ```python
        with KnowledgeAPIServer({"kb": lambda q: [q]}, api_key="k") as service:
            print(service.endpoint)  # http://127.0.0.1:<port>, the API Endpoint for Dify
        ```

    Args:
        retrievers: ``knowledge_id -> retriever`` (see ``create_app``).
        api_key: The key (or a mapping ``knowledge_id -> key``).
        settings: Limits.
        host: Address to bind (default loopback).
        port: Port (default: a free one).
    """

    def __init__(
        self,
        retrievers: Mapping[str, Any],
        *,
        api_key: Any,
        settings: ServiceSettings | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.settings = settings or ServiceSettings()
        self._app = create_app(retrievers, api_key=api_key, settings=self.settings)
        self._host, self._port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        """The API Endpoint to register in Dify (``/retrieval`` is appended by Dify)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}{self.settings.path_prefix}"

    def start(self) -> KnowledgeAPIServer:
        """Start serving; returns when the port is bound."""
        if self._thread is not None:
            raise RuntimeError("already started")
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._runner, self.port = loop.run_until_complete(
                    _run(self._app, self._host, self._port)
                )
            except BaseException as exc:  # reported to the caller of start()
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=main, name="knowledge-api-server", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._thread = None

    def __enter__(self) -> KnowledgeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
