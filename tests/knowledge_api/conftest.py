"""Helpers for the knowledge API tests: the service on a loopback port, and a Dify-like caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

KEY = "kb-secret-key-123"


class Service:
    """A running service and a Dify-shaped caller."""

    def __init__(self, server: TestServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    @property
    def endpoint(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def post(
        self,
        body: Any = None,
        *,
        key: str | None = KEY,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        path: str = "/retrieval",
    ) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json"}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        sent.update(headers or {})
        async with self.session.post(
            self.endpoint + path, json=None if data is not None else body, data=data, headers=sent
        ) as resp:
            return resp.status, await resp.json(content_type=None)

    async def retrieve(
        self,
        query: str,
        knowledge_id: str = "kb",
        top_k: int = 5,
        score_threshold: float = 0.0,
        metadata_condition: Any = None,
        key: str = KEY,
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {
            "knowledge_id": knowledge_id,
            "query": query,
            "retrieval_setting": {"top_k": top_k, "score_threshold": score_threshold},
        }
        if metadata_condition is not None:
            body["metadata_condition"] = metadata_condition
        status, answer = await self.post(body, key=key)
        assert status == 200, answer
        records = answer["records"]
        assert isinstance(records, list)
        return records


StartService = Callable[..., Any]


@pytest.fixture
async def start_service() -> AsyncIterator[StartService]:
    """``await start_service(app)`` -> a :class:`Service` on 127.0.0.1 (closed after the test)."""
    running: list[tuple[TestServer, aiohttp.ClientSession]] = []

    async def start(app: web.Application) -> Service:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        session = aiohttp.ClientSession()
        running.append((server, session))
        return Service(server, session)

    yield start
    for server, session in running:
        await session.close()
        await server.close()
