"""Sync and async clients over real HTTP against the local Dify server."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import warnings
from typing import Any

import pytest

import dify_integrations as di
from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.core.events import (
    MessageEndEvent,
    MessageEvent,
    NodeFinishedEvent,
    NodeStartedEvent,
    TextChunkEvent,
    WorkflowFinishedEvent,
    WorkflowStartedEvent,
)
from dify_integrations.core.models import AppParameters
from dify_integrations.testing import DifyTestServer

pytestmark = pytest.mark.timeout(60)


def routes(server: DifyTestServer, route: str, since: int) -> list[Any]:
    return [r for r in server.request_log[since:] if r.route == route]


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


# ----------------------------------------------------------------------- chat


def test_blocking_chat_folds_the_stream(apps: Any, make_runner: Any) -> None:
    run = make_runner(apps.chat_key, user="alice")
    reply = run("send_chat_message", "How many days do I have to return an item?")
    assert isinstance(reply, di.core.models.ChatMessageResponse)
    assert "30 days" in reply.answer
    assert reply.conversation_id
    assert reply.message_id
    assert reply.task_id
    assert reply.metadata.usage is not None
    assert reply.metadata.usage.total_tokens > 0
    assert reply.metadata.retriever_resources
    assert apps.server.message_count(reply.conversation_id) == 1
    follow = run("send_chat_message", "And shipping?", conversation_id=reply.conversation_id)
    assert follow.conversation_id == reply.conversation_id
    assert apps.server.message_count(reply.conversation_id) == 2


def test_blocking_mode_on_request(apps: Any, make_runner: Any) -> None:
    run = make_runner(apps.chat_key, user="alice")
    since = len(apps.server.request_log)
    reply = run("send_chat_message", "return window?", response_mode="blocking")
    assert reply.answer
    assert reply.mode == "chat"
    (logged,) = routes(apps.server, "/chat-messages", since)
    assert logged.body["response_mode"] == "blocking"
    with pytest.raises(di.BadRequestError) as info:
        make_runner(apps.agent_key, user="a")("send_chat_message", "hi", response_mode="blocking")
    assert info.value.code == "invalid_param"


def test_agent_app_works_through_the_default_send(apps: Any, make_runner: Any) -> None:
    reply = make_runner(apps.agent_key, user="alice")("send_chat_message", "return window?")
    assert reply.answer
    assert reply.conversation_id


def test_chatflow_stream_current_order(apps: Any, make_runner: Any) -> None:
    events, stream = make_runner(apps.chatflow_key, user="alice").stream(
        "stream_chat_message", "return window?"
    )
    names = [e.event for e in events]
    assert names[0] == "workflow_started"
    assert names[-2:] == ["message_end", "workflow_finished"]  # current Dify
    assert stream.finished
    assert stream.result.status == "succeeded"
    assert stream.result.answer == "".join(e.answer for e in events if e.event == "message")


def test_streaming_chat_event_order_and_result(apps: Any, make_runner: Any) -> None:
    events, stream = make_runner(apps.chat_key, user="bob").stream(
        "stream_chat_message", "How long does shipping take?"
    )
    assert all(e.event != "ping" for e in events)
    messages = [e for e in events if isinstance(e, MessageEvent)]
    assert len(messages) > 1
    assert isinstance(events[-1], MessageEndEvent)
    assert events.index(messages[-1]) < len(events) - 1
    assert stream.finished
    assert stream.task_id == messages[0].task_id
    assert stream.result.answer == "".join(m.answer for m in messages)
    assert stream.result.usage is not None


def test_stop_on_early_exit_with_same_user(apps: Any, make_runner: Any) -> None:
    events, stream = make_runner(apps.slow_chat_key, user="carol").stream(
        "stream_chat_message", "tell me everything", take=3
    )
    assert len(events) == 3
    assert not stream.finished
    task_id = stream.task_id
    assert task_id
    assert wait_for(lambda: apps.server.stop_calls(task_id) == 1)
    (stop,) = [
        r for r in apps.server.requests_to("/chat-messages/{task_id}/stop") if task_id in r.path
    ]
    assert stop.user == "carol"


def test_explicit_stop_ends_stream_the_dify_way(apps: Any, make_runner: Any) -> None:
    run = make_runner(apps.slow_chat_key, user="dave")
    if run.sync is not None:
        with run.sync.stream_chat_message("go") as stream:
            first = next(stream)
            assert first.task_id
            stream.stop()
            rest = list(stream)
    else:

        async def go() -> Any:
            try:
                async with run.aclient.stream_chat_message("go") as stream:
                    await stream.__anext__()
                    await stream.stop()
                    return stream, [e async for e in stream]
            finally:
                await run.aclient.aclose()

        stream, rest = asyncio.run(go())
    assert isinstance(rest[-1], MessageEndEvent)
    assert stream.finished
    assert len(stream.result.answer.split()) < 400
    assert apps.server.stop_calls(stream.task_id) == 1


def test_stop_endpoints_answer_success(apps: Any, make_runner: Any) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"  # a task id Dify does not know
    assert make_runner(apps.chat_key, user="u")("stop_chat_message", unknown) == {
        "result": "success"
    }
    assert make_runner(apps.completion_key, user="u")("stop_completion", unknown) == {
        "result": "success"
    }
    since = len(apps.server.request_log)
    assert make_runner(apps.workflow_key, user="u")("stop_workflow", unknown) == {
        "result": "success"
    }
    assert routes(apps.server, "/workflows/tasks/{task_id}/stop", since)


# ----------------------------------------------------------------------- conversations


def test_conversations_list_rename_delete_and_messages(apps: Any, make_runner: Any) -> None:
    user = f"conv-{time.monotonic_ns()}"
    run = make_runner(apps.chat_key, user=user)
    first = run("send_chat_message", "return window?")
    run("send_chat_message", "shipping?", conversation_id=first.conversation_id)
    second = run("send_chat_message", "express shipping?")
    listing = run("list_conversations")
    assert {c.id for c in listing.data} == {first.conversation_id, second.conversation_id}
    assert run("list_conversations", limit=1).has_more is True
    renamed = run("rename_conversation", first.conversation_id, "Returns")
    assert (renamed.id, renamed.name) == (first.conversation_id, "Returns")
    messages = run("list_messages", first.conversation_id)
    assert [m.query for m in messages.data] == ["return window?", "shipping?"]
    assert messages.data[0].answer
    since = len(apps.server.request_log)
    assert run("delete_conversation", first.conversation_id) is None
    (delete,) = routes(apps.server, "/conversations/{conversation_id}", since)
    assert (delete.method, delete.status, delete.body) == ("DELETE", 204, {"user": user})
    assert {c.id for c in run("list_conversations").data} == {second.conversation_id}
    with pytest.raises(di.NotFoundError) as info:
        run("list_messages", first.conversation_id)
    assert info.value.code == "not_found"
    # Other users do not see them.
    assert make_runner(apps.chat_key, user=user + "-x")("list_conversations").data == []


# ----------------------------------------------------------------------- completion / workflow


def test_completion_send_and_stream(apps: Any, make_runner: Any) -> None:
    run = make_runner(apps.completion_key, user="erin")
    reply = run("send_completion", {}, query="solar panels")
    assert "solar panels" in reply.answer
    assert reply.message_id
    assert reply.metadata.usage is not None
    events, stream = run.stream("stream_completion", {}, query="wind")
    assert stream.finished
    assert isinstance(events[-1], MessageEndEvent)
    assert "wind" in stream.result.answer


def test_workflow_run_stream_and_detail(apps: Any, make_runner: Any) -> None:
    run = make_runner(apps.workflow_key, user="frank")
    result = run("run_workflow", {"text": "hello"})
    assert result.data.status == "succeeded"
    assert result.data.outputs == {"text": "HELLO"}
    assert result.workflow_run_id
    detail = run("get_workflow_run", result.workflow_run_id)
    assert detail.id == result.workflow_run_id
    assert detail.status == "succeeded"
    assert isinstance(detail.inputs, dict)
    assert detail.inputs["text"] == "hello"
    assert detail.outputs == {"text": "HELLO"}
    events, stream = run.stream("stream_workflow", {"text": "abc"})
    assert isinstance(events[0], WorkflowStartedEvent)
    assert any(isinstance(e, NodeStartedEvent) for e in events)
    assert any(isinstance(e, NodeFinishedEvent) for e in events)
    assert isinstance(events[-1], WorkflowFinishedEvent)
    assert stream.result.outputs == {"text": "ABC"}
    blocking = run("run_workflow", {"text": "x"}, response_mode="blocking")
    assert blocking.data.outputs == {"text": "X"}


def test_workflow_stop_on_early_exit(apps: Any, make_runner: Any) -> None:
    events, stream = make_runner(apps.slow_workflow_key, user="gina").stream(
        "stream_workflow", {}, take=5
    )
    assert any(isinstance(e, TextChunkEvent) for e in events) or len(events) == 5
    task_id = stream.task_id
    assert task_id
    assert wait_for(lambda: apps.server.stop_calls(task_id) == 1)
    stops = apps.server.requests_to("/workflows/tasks/{task_id}/stop")
    assert [s.user for s in stops if task_id in s.path] == ["gina"]


# ----------------------------------------------------------------------- files, datasets, app


def test_upload_file_and_use_it(apps: Any, make_runner: Any) -> None:
    run = make_runner(apps.chat_key, user="hana")
    since = len(apps.server.request_log)
    uploaded = run("upload_file", b"hello world", filename="note.txt")
    (logged,) = routes(apps.server, "/files/upload", since)
    assert logged.status == 201
    assert logged.user == "hana"
    assert uploaded.id
    assert (uploaded.name, uploaded.size) == ("note.txt", 11)
    reply = run(
        "send_chat_message",
        "what is in the note?",
        files=[
            {"type": "document", "transfer_method": "local_file", "upload_file_id": uploaded.id}
        ],
    )
    assert reply.answer


def test_upload_too_large_is_413(apps: Any, make_runner: Any) -> None:
    run = make_runner(apps.chat_key, user="hana")
    since = len(apps.server.request_log)
    with pytest.raises(di.RequestTooLargeError) as info:
        run("upload_file", b"x" * (65 * 1024), filename="big.txt")
    assert info.value.status_code == 413
    assert info.value.code == "file_too_large"
    assert len(routes(apps.server, "/files/upload", since)) == 1


def test_datasets_list_and_retrieve(apps: Any, make_runner: Any) -> None:
    run = make_runner(apps.dataset_key)
    datasets = run("list_datasets")
    assert apps.dataset_id in [d.id for d in datasets.data]
    found = run("retrieve", apps.dataset_id, "shipping days", retrieval_model={"top_k": 1})
    assert len(found.records) == 1
    record = found.records[0]
    assert "shipping" in record.text.lower()
    assert record.score is not None
    assert 0 <= record.score <= 1
    assert record.segment is not None
    assert record.segment.document is not None


def test_wrong_key_kind_fails_before_any_request(apps: Any, make_runner: Any) -> None:
    since = len(apps.server.request_log)
    with pytest.raises(ValueError, match="knowledge"):
        make_runner(apps.chat_key)("list_datasets")
    with pytest.raises(ValueError, match="user"):
        make_runner(apps.chat_key)("send_chat_message", "hi")
    with pytest.raises(ValueError, match="query"):
        make_runner(apps.chat_key, user="u")("send_chat_message", "")
    assert apps.server.request_log[since:] == []


def test_parameters_info_meta(apps: Any, make_runner: Any) -> None:
    run = make_runner(apps.chat_key)
    params = run("get_parameters")
    assert isinstance(params.user_input_form, list)
    assert params.system_parameters
    info = run("get_info")
    assert (info.name, info.mode) == ("Support", "chat")
    assert isinstance(run("get_meta").tool_icons, dict)


def test_bad_key_is_authentication_error_without_key(apps: Any, make_runner: Any) -> None:
    key = "app-not-a-real-key-42"
    with pytest.raises(di.AuthenticationError) as info:
        make_runner(key)("get_info")
    assert info.value.code == "unauthorized"
    assert key not in str(info.value)
    assert key not in repr(info.value)


# ----------------------------------------------------------------------- retries and faults


def test_429_with_retry_after_is_retried_then_succeeds(apps: Any, make_runner: Any) -> None:
    server = apps.server
    fault = server.inject_fault("/chat-messages", "status", status=429, retry_after=0.05, count=1)
    since = len(server.request_log)
    reply = make_runner(apps.chat_key, user="ivy")("send_chat_message", "return window?")
    assert reply.answer
    assert fault.fired == 1
    logged = routes(server, "/chat-messages", since)
    assert len(logged) == 2
    assert logged[0].status == 429


def test_429_gives_up_after_max_retries(apps: Any, make_runner: Any) -> None:
    server = apps.server
    server.inject_fault("/info", "status", status=429, retry_after=0, count=5)
    since = len(server.request_log)
    with pytest.raises(di.RateLimitError) as info:
        make_runner(apps.chat_key, max_retries=1)("get_info")
    assert info.value.code
    assert len(routes(server, "/info", since)) == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_chat_post_is_never_resent_after_sending(apps: Any, make_runner: Any, status: int) -> None:
    server = apps.server
    server.inject_fault("/chat-messages", "status", status=status, retry_after=0, count=3)
    since = len(server.request_log)
    with pytest.raises(di.InternalServerError) as info:
        make_runner(apps.chat_key, user="jo")("send_chat_message", "hi")
    assert info.value.status_code == status
    assert len(routes(server, "/chat-messages", since)) == 1


def test_chat_post_not_resent_after_dropped_connection(apps: Any, make_runner: Any) -> None:
    server = apps.server
    server.inject_fault("/chat-messages", "drop", count=3)
    since = len(server.request_log)
    with pytest.raises(di.APIConnectionError):
        make_runner(apps.chat_key, user="jo")("send_chat_message", "hi")
    assert len(routes(server, "/chat-messages", since)) == 1


def test_idempotent_get_retries_gateway_errors(apps: Any, make_runner: Any) -> None:
    server = apps.server
    server.inject_fault("/parameters", "status", status=503, retry_after=0, count=2)
    since = len(server.request_log)
    params = make_runner(apps.chat_key)("get_parameters")
    assert isinstance(params, AppParameters)
    assert params.system_parameters  # the real body of the third attempt, parsed
    assert [r.status for r in routes(server, "/parameters", since)] == [503, 503, 200]


def test_connection_refused_is_connection_error(make_runner: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = make_runner("app-x", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    with pytest.raises(di.APIConnectionError) as info:
        run("get_info")
    assert info.value.request_sent is False
    assert not isinstance(info.value, di.APIStatusError)


def test_error_event_mid_stream_raises_stream_error(apps: Any, make_runner: Any) -> None:
    apps.server.inject_fault(
        "/chat-messages",
        "error_event",
        after_events=2,
        code="completion_request_error",
        message="upstream down",
        status=400,
    )
    with pytest.raises(di.StreamError) as info:
        make_runner(apps.chat_key, user="kim").stream("stream_chat_message", "return window?")
    err = info.value
    assert (err.code, err.status, err.message) == ("completion_request_error", 400, "upstream down")
    events = err.events  # type: ignore[attr-defined]
    assert len(events) == 2
    # the error event ended the server task: closing the stream sends no stop for it
    time.sleep(0.2)
    assert apps.server.stop_calls(events[0].task_id) == 0


def test_blocking_send_raises_stream_error_not_partial_answer(apps: Any, make_runner: Any) -> None:
    apps.server.inject_fault("/chat-messages", "error_event", after_events=1)
    with pytest.raises(di.StreamError):
        make_runner(apps.chat_key, user="kim")("send_chat_message", "return window?")


@pytest.mark.parametrize("clean", [False, True])
def test_dropped_mid_stream_raises_connection_error(
    apps: Any, make_runner: Any, clean: bool
) -> None:
    apps.server.inject_fault("/chat-messages", "drop_after", after_events=2, clean=clean)
    with pytest.raises(di.APIConnectionError) as info:
        make_runner(apps.chat_key, user="lee").stream("stream_chat_message", "return window?")
    assert len(info.value.events) == 2  # type: ignore[attr-defined]


def test_malformed_frame_raises_dify_error_naming_it(apps: Any, make_runner: Any) -> None:
    apps.server.inject_fault("/chat-messages", "malformed", after_events=1)
    with pytest.raises(di.StreamDecodeError) as info:
        make_runner(apps.chat_key, user="max").stream("stream_chat_message", "return window?")
    assert isinstance(info.value, di.DifyError)
    assert "malformed" in str(info.value)
    assert "unterminated" in str(info.value)


def test_pings_do_not_defeat_total_idle_bound(apps: Any, make_runner: Any) -> None:
    apps.server.inject_fault(
        "/chat-messages", "stall", after_events=1, duration=3.0, ping_interval=0.05
    )
    timeout = di.Timeout(connect=2, read=10, stream_idle=1.0, stream_total_idle=0.5)
    since = len(apps.server.request_log)
    with pytest.raises(di.APITimeoutError):
        make_runner(apps.chat_key, user="ned", timeout=timeout).stream(
            "stream_chat_message", "return window?"
        )
    stops = [r for r in apps.server.request_log[since:] if r.path.endswith("/stop")]
    assert wait_for(
        lambda: (
            bool(stops) or any(r.path.endswith("/stop") for r in apps.server.request_log[since:])
        )
    )


def test_pings_keep_a_slow_stream_alive(apps: Any, make_runner: Any) -> None:
    apps.server.inject_fault(
        "/chat-messages", "stall", after_events=1, duration=0.6, ping_interval=0.05
    )
    timeout = di.Timeout(connect=2, read=10, stream_idle=0.4, stream_total_idle=30)
    events, stream = make_runner(apps.chat_key, user="ola", timeout=timeout).stream(
        "stream_chat_message", "return window?"
    )
    assert stream.finished
    assert isinstance(events[-1], MessageEndEvent)


# ----------------------------------------------------------------------- async specifics


async def test_async_cancellation_closes_and_stops(apps: Any, dify_server: DifyTestServer) -> None:
    client = AsyncDifyClient(apps.slow_chat_key, base_url=dify_server.base_url, user="pia")
    seen: list[Any] = []
    holder: dict[str, Any] = {}
    three = asyncio.Event()

    async def consume() -> None:
        stream = client.stream_chat_message("go")
        holder["stream"] = stream
        async for event in stream:
            seen.append(event)
            if len(seen) == 3:
                three.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(three.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stream = holder["stream"]
    assert not stream.finished
    for _ in range(200):
        if dify_server.stop_calls(stream.task_id):
            break
        await asyncio.sleep(0.02)
    assert dify_server.stop_calls(stream.task_id) == 1
    await client.aclose()


async def test_async_client_is_usable_concurrently_and_across_loops(
    apps: Any, dify_server: DifyTestServer
) -> None:
    client = AsyncDifyClient(apps.chat_key, base_url=dify_server.base_url, user="quinn")
    replies = await asyncio.gather(*(client.send_chat_message("return window?") for _ in range(8)))
    assert len({r.conversation_id for r in replies}) == 8

    def other_loop() -> str | None:
        async def go() -> str | None:
            try:
                return (await client.get_info()).name
            finally:
                await client.aclose()

        return asyncio.run(go())

    assert await asyncio.to_thread(other_loop) == "Support"
    assert (await client.get_info()).name == "Support"
    await client.aclose()


def test_async_session_is_closed_when_its_loop_shuts_down(
    apps: Any, dify_server: DifyTestServer
) -> None:
    """`asyncio.run` ends the loop; the client's session for it closes cleanly, no warning."""
    client = AsyncDifyClient(apps.chat_key, base_url=dify_server.base_url, user="sam")
    sessions: list[Any] = []

    async def call() -> str:
        reply = await client.send_chat_message("return window?")
        sessions.append(client._session())
        return reply.answer

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        answers = [asyncio.run(call()) for _ in range(2)]
        gc.collect()
    assert all(answers)
    assert len(sessions) == 2
    assert sessions[0] is not sessions[1]
    assert all(s.closed for s in sessions)


def test_sync_client_reuses_connections(apps: Any, dify_server: DifyTestServer) -> None:
    with DifyClient(apps.chat_key, base_url=dify_server.base_url, user="rae") as client:
        for _ in range(5):
            client.get_info()
            client.send_chat_message("return window?")
        pool = client.session.get_adapter(dify_server.base_url).poolmanager
        assert len(pool.pools) == 1
        assert client.session.trust_env is False


def test_redirect_is_not_followed(apps: Any, dify_server: DifyTestServer, kind: str) -> None:
    apps.server.inject_fault(
        "/info", "status", status=307, headers={"Location": "http://127.0.0.2:1/v1/info"}, body={}
    )
    since = len(dify_server.request_log)
    client: Any = (
        DifyClient(apps.chat_key, base_url=dify_server.base_url)
        if kind == "sync"
        else AsyncDifyClient(apps.chat_key, base_url=dify_server.base_url)
    )

    async def ago() -> Any:
        try:
            return await client.get_info()
        finally:
            await client.aclose()

    with pytest.raises(di.APIStatusError) as info:
        client.get_info() if kind == "sync" else asyncio.run(ago())
    assert info.value.status_code == 307
    assert "redirect" in info.value.message
    assert len(routes(dify_server, "/info", since)) == 1


def test_sync_break_then_garbage_collection_stops_the_task(
    apps: Any, dify_server: DifyTestServer
) -> None:
    import gc

    with DifyClient(apps.slow_chat_key, base_url=dify_server.base_url, user="sam") as client:
        task_ids: list[str] = []
        for event in client.stream_chat_message("go"):
            task_ids.append(event.task_id)
            break
        gc.collect()
        assert task_ids[0]
        assert wait_for(lambda: dify_server.stop_calls(task_ids[0]) == 1)


async def test_async_for_without_context_manager(apps: Any, dify_server: DifyTestServer) -> None:
    client = AsyncDifyClient(apps.chat_key, base_url=dify_server.base_url, user="tia")
    events = [e async for e in client.stream_chat_message("return window?")]
    assert isinstance(events[-1], MessageEndEvent)
    await client.aclose()


def test_retry_decisions_are_logged_without_the_key(
    apps: Any, make_runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    apps.server.inject_fault("/meta", "status", status=503, retry_after=0, count=1)
    with caplog.at_level(logging.DEBUG, logger="dify_integrations"):
        make_runner(apps.chat_key)("get_meta")
    assert "GET /meta -> 503" in caplog.text
    assert "retryable" in caplog.text
    assert "GET /meta -> 200" in caplog.text
    assert apps.chat_key not in caplog.text


def test_clients_refuse_pickling_and_copies_share_them() -> None:
    import copy
    import pickle

    key = "app-NEVERPICKLED42"
    with DifyClient(key, base_url="http://127.0.0.1:9/v1") as client:
        with pytest.raises(TypeError, match="DifyClient cannot be pickled"):
            pickle.dumps(client)
        assert copy.deepcopy(client) is client
        assert copy.copy(client) is client
    aclient = AsyncDifyClient(key, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(TypeError, match="AsyncDifyClient cannot be pickled"):
        pickle.dumps(aclient)
    assert copy.deepcopy({"c": aclient})["c"] is aclient


def test_own_and_given_sessions_send_the_right_headers(
    apps: Any, dify_server: DifyTestServer
) -> None:
    """The fast path of an owned session and ``Session.request`` of a given one agree."""
    import requests

    own = DifyClient(apps.chat_key, base_url=dify_server.base_url, user="hal")
    given_session = requests.Session()
    given_session.headers["X-Trace-Id"] = "trace-from-session"
    given = DifyClient(
        apps.chat_key, base_url=dify_server.base_url, user="hal", session=given_session
    )
    for client in (own, given):
        since = len(dify_server.request_log)
        assert client.send_chat_message("return window?").answer
        assert client.get_info().name == "Support"
        logged = dify_server.request_log[since:]
        assert [r.route for r in logged] == ["/chat-messages", "/info"]
        headers = {k.lower(): v for k, v in logged[0].headers.items()}
        assert headers["user-agent"].startswith("dify-integrations/")
        assert headers["content-type"] == "application/json"
        assert "authorization" not in headers  # the server's log never keeps it
        assert logged[0].body["query"] == "return window?"
    assert {k.lower(): v for k, v in logged[1].headers.items()}["x-trace-id"] == (
        "trace-from-session"
    )
    own.close()
    given.close()
    given_session.close()


def test_owned_session_sends_back_cookies_a_gateway_set() -> None:
    """A load balancer's stickiness cookie must come back on the next call.

    (The local Dify server's request log drops Cookie headers, so a tiny stand-in gateway
    on loopback records them instead.)
    """
    import http.server
    import threading

    seen: list[str | None] = []

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Cookie"))
            body = b'{"name": "Support", "mode": "chat"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Set-Cookie", "AWSALB=sticky-1; Path=/")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        with DifyClient("app-gateway-test", base_url=base_url) as client:
            assert client.get_info().name == "Support"
            assert client.get_info().name == "Support"
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [None, "AWSALB=sticky-1"]
