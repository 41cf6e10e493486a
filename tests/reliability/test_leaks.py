"""Connections are closed on every way out: early exits, cancellation, owned clients.

Leaving a stream early (``break``, ``close()``, garbage collection, cancelling the task)
must close its connection and stop the generation on the server exactly once, with the
same user. An async client's session (also one an adapter builds for itself and never
closes) must not outlive its event loop. The suite's leak detector (``conftest.py``)
checks every test; the tests below also collect explicitly, right after the call.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from dify_integrations import APITimeoutError, AsyncDifyClient, DifyClient
from dify_integrations.core.config import Timeout
from dify_integrations.testing import DifyTestServer

from ._subjects import CORE, LANGCHAIN, LLAMA_INDEX, Subject
from .conftest import RELAXED, Apps, Rig, collect_leaks

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

QUERY = "tell me a long story"


def _kwargs(rig: Rig) -> dict[str, Any]:
    return {
        "base_url": rig.server.base_url,
        "user": rig.user,
        "timeout": RELAXED,
        "max_retries": 0,
    }


# ------------------------------------------------------------------------ early exits


def core_sync_break_in_with(rig: Rig, key: str) -> None:
    with DifyClient(key, **_kwargs(rig)) as client, client.stream_chat_message(QUERY) as s:
        for _ in s:
            break


def core_sync_abandoned_to_gc(rig: Rig, key: str) -> None:
    with DifyClient(key, **_kwargs(rig)) as client:
        stream = client.stream_chat_message(QUERY)
        next(iter(stream))
        del stream  # no close(), no with: garbage collection must clean up


def core_async_break_in_async_with(rig: Rig, key: str) -> None:
    async def go() -> None:
        async with (
            AsyncDifyClient(key, **_kwargs(rig)) as client,
            client.stream_chat_message(QUERY) as stream,
        ):
            async for _ in stream:
                break

    asyncio.run(go())


def core_async_task_cancelled(rig: Rig, key: str) -> None:
    async def go() -> None:
        async with AsyncDifyClient(key, **_kwargs(rig)) as client:
            started = asyncio.Event()

            async def consume() -> None:
                async for _ in client.stream_chat_message(QUERY):
                    started.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(started.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(go())


def core_async_stream_closed_explicitly(rig: Rig, key: str) -> None:
    async def go() -> None:
        async with AsyncDifyClient(key, **_kwargs(rig)) as client:
            stream = client.stream_chat_message(QUERY)
            await stream.__anext__()
            await stream.aclose()

    asyncio.run(go())


def langchain_stream_closed(rig: Rig, key: str) -> None:
    from dify_integrations.langchain import ChatDify

    chunks: Any = ChatDify(api_key=key, model="m", **_kwargs(rig)).stream(QUERY)
    next(chunks)
    next(chunks)
    chunks.close()


def langchain_astream_closed(rig: Rig, key: str) -> None:
    from dify_integrations.langchain import ChatDify

    async def go() -> None:
        async with AsyncDifyClient(key, **_kwargs(rig)) as client:
            model = ChatDify(api_key=key, model="m", async_client=client, **_kwargs(rig))
            chunks: Any = model.astream(QUERY)
            await chunks.__anext__()
            await chunks.aclose()
            await _wait_for_stop(rig)  # LangChain finalizes the inner generator later

    asyncio.run(go())


def llama_index_stream_chat_closed(rig: Rig, key: str) -> None:
    from llama_index.core.llms import ChatMessage

    from dify_integrations.llama_index import DifyLLM

    llm = DifyLLM(api_key=key, app_mode="chat", model_name="m", **_kwargs(rig))
    try:
        chunks = llm.stream_chat([ChatMessage(role="user", content=QUERY)])
        next(chunks)
        chunks.close()
    finally:
        llm.close()


def llama_index_astream_chat_closed(rig: Rig, key: str) -> None:
    from llama_index.core.llms import ChatMessage

    from dify_integrations.llama_index import DifyLLM

    async def go() -> None:
        llm = DifyLLM(api_key=key, app_mode="chat", model_name="m", **_kwargs(rig))
        try:
            chunks = await llm.astream_chat([ChatMessage(role="user", content=QUERY)])
            await chunks.__anext__()
            await chunks.aclose()
        finally:
            await llm.aclose()

    asyncio.run(go())


EXITS: list[Callable[[Rig, str], None]] = [
    core_sync_break_in_with,
    core_sync_abandoned_to_gc,
    core_async_break_in_async_with,
    core_async_task_cancelled,
    core_async_stream_closed_explicitly,
    langchain_stream_closed,
    langchain_astream_closed,
    llama_index_stream_chat_closed,
    llama_index_astream_chat_closed,
]


def _stops(rig: Rig) -> list[Any]:
    return [
        r for r in rig.server.request_log[rig.start :] if r.route == "/chat-messages/{task_id}/stop"
    ]


async def _wait_for_stop(rig: Rig) -> None:
    for _ in range(500):
        if _stops(rig):
            return
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("leave", EXITS, ids=lambda f: f.__name__)
def test_leaving_a_stream_early_closes_it_and_stops_the_task_once(
    apps: Apps, leave: Callable[[Rig, str], None]
) -> None:
    rig = Rig(apps, "sync")
    leave(rig, apps.slow_chat_key)
    deadline = time.monotonic() + 5
    while not _stops(rig) and time.monotonic() < deadline:
        time.sleep(0.01)
    stops = _stops(rig)
    assert [s.user for s in stops] == [rig.user]  # once, for the same user
    chats = [r for r in rig.server.request_log[rig.start :] if r.path == "/v1/chat-messages"]
    assert len(chats) == 1


@pytest.mark.parametrize("subject", [CORE[0], LANGCHAIN[0], LLAMA_INDEX[0]], ids=str)
def test_cancelling_while_waiting_for_the_answer_leaves_nothing_open(
    apps: Apps, subject: Subject
) -> None:
    rig = Rig(apps, "async")
    rig.fault(subject, "delay", delay=1.0)
    call = rig.call(subject, max_retries=2)

    async def go() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(subject.arun(call), 0.2)

    asyncio.run(go())
    assert rig.posts(subject) == 1  # cancelled, not resent
    apps.server.clear_faults()


# ------------------------------------------------------------------------ owned clients


def test_async_client_session_is_closed_with_its_loop(apps: Apps) -> None:
    # DESIGN: one session per running loop, "closed with it", even if aclose() is forgotten
    rig = Rig(apps, "async")

    async def go() -> None:
        client = AsyncDifyClient(apps.chat_key, **_kwargs(rig))  # never aclose()d
        await client.send_chat_message(QUERY)

    asyncio.run(go())
    assert collect_leaks() == []


def test_langchain_sync_adapters_leave_nothing_open_when_dropped(apps: Apps) -> None:
    rig = Rig(apps, "sync")
    for subject in LANGCHAIN:
        subject.run("sync", rig.call(subject, max_retries=0))  # adapter-owned DifyClient
    assert collect_leaks() == []


def _owned_async_call(subject: Subject, rig: Rig) -> Any:
    """The subject's async call on a client the adapter builds itself, never closed."""
    from llama_index.core.llms import ChatMessage

    from dify_integrations import langchain as lc
    from dify_integrations import llama_index as li

    call = rig.call(subject, max_retries=0)
    common: dict[str, Any] = {
        "api_key": call.api_key,
        "base_url": call.base_url,
        "timeout": call.timeout,
    }
    name = subject.name
    if name == "langchain-ChatDify":
        return lc.ChatDify(**common, model="m").ainvoke(call.query)
    if name == "langchain-DifyLLM":
        return lc.DifyLLM(**common, model="m").ainvoke(call.query)
    if name == "langchain-DifyWorkflowTool":
        return lc.DifyWorkflowTool(**common).ainvoke({"text": call.query})
    if name == "langchain-DifyRetriever":
        return lc.DifyRetriever(**common, dataset_id=call.dataset_id).ainvoke(call.query)
    if name == "llama_index-DifyLLM":
        llm = li.DifyLLM(**common, app_mode="chat", model_name="m")
        return llm.achat([ChatMessage(role="user", content=call.query)])
    if name == "llama_index-DifyChatEngine":
        return li.DifyChatEngine(**common).achat(call.query)
    if name == "llama_index-DifyRetriever":
        return li.DifyRetriever(call.dataset_id, **common).aretrieve(call.query)
    raise AssertionError(name)


OWNED = [s for s in LANGCHAIN + LLAMA_INDEX if s.name != "llama_index-DifyWorkflowTool"]


@pytest.mark.parametrize("subject", OWNED, ids=str)
def test_adapter_owned_async_client_is_closed_with_its_loop(apps: Apps, subject: Subject) -> None:
    # the LangChain adapters have no aclose(): their client must close with the loop
    rig = Rig(apps, "async")

    async def go() -> None:
        await _owned_async_call(subject, rig)

    asyncio.run(go())
    assert collect_leaks() == []


class _TaskReports(logging.Handler):
    """Collects asyncio's "Task was destroyed but it is pending!" reports."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "destroyed but it is pending" in record.getMessage():
            self.messages.append(record.getMessage().splitlines()[0])


def test_server_stop_finishes_every_request_task() -> None:
    reports = _TaskReports()
    logging.getLogger("asyncio").addHandler(reports)
    try:
        with DifyTestServer(ping_interval=60.0) as server:
            app = server.create_chat_app("Stalling")
            server.inject_fault("/chat-messages", "stall", after_events=1, duration=30.0)
            quick = Timeout(connect=5.0, read=5.0, stream_idle=0.2, stream_total_idle=5.0)
            with (
                DifyClient(app.api_key, base_url=server.base_url, user="u", timeout=quick) as c,
                pytest.raises(APITimeoutError),
            ):
                c.send_chat_message("hello")
        gc.collect()
    finally:
        logging.getLogger("asyncio").removeHandler(reports)
    assert reports.messages == []
