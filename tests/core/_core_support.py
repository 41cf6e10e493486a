"""Helpers shared by the core tests (fixture paths, apps record, sync/async runner)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.testing import DifyTestServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dify"
SSE_FILES = sorted(FIXTURES.glob("*.sse"))


HANDBOOK = [
    {
        "name": "returns.md",
        "text": "Customers can return unused items within 30 days of delivery. "
        "Refunds go to the original payment method within 5 business days.",
        "metadata": {"category": "returns"},
    },
    {
        "name": "shipping.md",
        "text": "Standard shipping takes 3 to 5 business days. Express shipping arrives "
        "the next day for orders placed before noon.",
        "metadata": {"category": "shipping"},
    },
]


def load_json(name: str) -> Any:
    """A JSON fixture, decoded."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class Apps:
    """Apps and knowledge created once on the session server."""

    server: DifyTestServer
    chat_key: str
    agent_key: str
    chatflow_key: str
    completion_key: str
    workflow_key: str
    slow_chat_key: str
    slow_workflow_key: str
    dataset_id: str
    dataset_key: str


class Runner:
    """Runs the same client call through `DifyClient` or `AsyncDifyClient`.

    The async client is driven from a new event loop for every call, which also exercises
    its one-session-per-loop handling.
    """

    def __init__(self, kind: str, **client_kwargs: Any) -> None:
        self.kind = kind
        self.client_kwargs = client_kwargs
        self.sync = DifyClient(**client_kwargs) if kind == "sync" else None
        self.aclient = AsyncDifyClient(**client_kwargs) if kind == "async" else None

    def close(self) -> None:
        if self.sync is not None:
            self.sync.close()

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.sync is not None:
            return getattr(self.sync, method)(*args, **kwargs)
        assert self.aclient is not None
        aclient = self.aclient

        async def go() -> Any:
            try:
                return await getattr(aclient, method)(*args, **kwargs)
            finally:
                await aclient.aclose()

        return asyncio.run(go())

    def stream(
        self, method: str, *args: Any, take: int | None = None, **kwargs: Any
    ) -> tuple[list[Any], Any]:
        """Consume a stream (or only its first ``take`` events, then close it early)."""
        events: list[Any] = []
        if self.sync is not None:
            try:
                with getattr(self.sync, method)(*args, **kwargs) as stream:
                    for event in stream:
                        events.append(event)
                        if take is not None and len(events) >= take:
                            break
            except BaseException as exc:
                exc.events = events  # type: ignore[attr-defined]
                raise
            return events, stream
        assert self.aclient is not None
        aclient = self.aclient

        async def go() -> Any:
            try:
                async with getattr(aclient, method)(*args, **kwargs) as stream:
                    async for event in stream:
                        events.append(event)
                        if take is not None and len(events) >= take:
                            break
                return stream
            finally:
                await aclient.aclose()

        try:
            return events, asyncio.run(go())
        except BaseException as exc:
            exc.events = events  # type: ignore[attr-defined]
            raise
