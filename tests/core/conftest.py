"""Fixtures for the core tests: one local Dify server per session, sync/async runners."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.testing import DifyTestServer, UploadLimits

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


@pytest.fixture(scope="session")
def dify_server() -> Iterator[DifyTestServer]:
    """One local Dify server for the whole session (fast pings so stream tests stay short)."""
    limits = UploadLimits(image=64 * 1024, other=64 * 1024)
    with DifyTestServer(ping_interval=0.2, upload_limits=limits) as server:
        yield server


@pytest.fixture(scope="session")
def apps(dify_server: DifyTestServer) -> Apps:
    """A chat, agent, chatflow, completion and workflow app plus one knowledge base."""
    ds = dify_server.create_dataset("Handbook", documents=HANDBOOK)
    chat = dify_server.create_chat_app("Support", mode="chat", dataset_ids=[ds.id])
    agent = dify_server.create_chat_app("Agent", mode="agent-chat", dataset_ids=[ds.id])
    flow = dify_server.create_chat_app("Flow", mode="advanced-chat", dataset_ids=[ds.id])
    comp = dify_server.create_completion_app("Writer", template="Summary of {{query}}")
    wf = dify_server.create_workflow_app(
        "Upper", handler=lambda inputs: {"text": str(inputs.get("text", "")).upper()}
    )
    slow_chat = dify_server.create_chat_app(
        "Slow", responder=lambda q, i, h, f: iter([f"w{n} " for n in range(400)]), token_delay=0.02
    )

    def slow_words(inputs: dict[str, Any]) -> Iterator[str]:
        for n in range(400):
            yield f"w{n} "

    slow_wf = dify_server.create_workflow_app("SlowFlow", handler=slow_words, token_delay=0.02)
    return Apps(
        server=dify_server,
        chat_key=chat.api_key,
        agent_key=agent.api_key,
        chatflow_key=flow.api_key,
        completion_key=comp.api_key,
        workflow_key=wf.api_key,
        slow_chat_key=slow_chat.api_key,
        slow_workflow_key=slow_wf.api_key,
        dataset_id=ds.id,
        dataset_key=dify_server.dataset_api_key,
    )


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "dify_server" in request.fixturenames:
        request.getfixturevalue("dify_server").clear_faults()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over the sync and the async client."""
    return str(request.param)


@pytest.fixture
def make_runner(kind: str, dify_server: DifyTestServer) -> Iterator[Any]:
    """Factory: ``make_runner(api_key, **kwargs)`` -> `Runner` of the current kind."""
    runners: list[Runner] = []

    def make(api_key: str, **kwargs: Any) -> Runner:
        kwargs.setdefault("base_url", dify_server.base_url)
        runner = Runner(kind, api_key=api_key, **kwargs)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()
