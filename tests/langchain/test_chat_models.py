"""ChatDify over real HTTP against the local Dify server, sync and async."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables.history import RunnableWithMessageHistory

from dify_integrations import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    DifyError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    StreamError,
    UnsupportedMediaTypeError,
)
from dify_integrations.core.events import parse_event
from dify_integrations.core.sse import SSEDecoder
from dify_integrations.langchain import ChatDify
from dify_integrations.langchain._fold import AnswerFolder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dify"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def call(model: Any, value: Any, mode: str, **kwargs: Any) -> Any:
    if mode == "sync":
        return model.invoke(value, **kwargs)
    return await model.ainvoke(value, **kwargs)


async def stream(model: Any, value: Any, mode: str, **kwargs: Any) -> list[Any]:
    if mode == "sync":
        return list(model.stream(value, **kwargs))
    return [chunk async for chunk in model.astream(value, **kwargs)]


def echo(query: str, turn: int = 1) -> str:
    """What the test app's echo responder answers (see conftest.echo_responder)."""
    return f"Turn {turn}: you said {query!r}."


def chat_requests(apps: Any, since: int) -> list[Any]:
    return [
        r
        for r in apps.server.request_log[since:]
        if r.method == "POST" and r.path.endswith("/chat-messages")
    ]


class TokenRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.chunks: list[Any] = []

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        self.tokens.append(token)
        self.chunks.append(chunk)


async def test_invoke_returns_answer_and_metadata(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.kb_chat_key, base_url=apps.base_url, user="meta-user")
    msg = await call(model, "How do I reset my password?", mode)
    assert isinstance(msg, AIMessage)
    assert "password" in msg.content.lower()
    meta = msg.response_metadata
    assert meta["model_name"] == "Handbook Bot"
    assert all(isinstance(meta[k], str) for k in ("conversation_id", "message_id", "task_id"))
    assert meta["usage"]["currency"] == "USD"
    assert {"total_price", "latency", "prompt_tokens"} <= set(meta["usage"])
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["input_tokens"] == meta["usage"]["prompt_tokens"]
    assert msg.usage_metadata["output_tokens"] == meta["usage"]["completion_tokens"]
    names = [r["document_name"] for r in meta["retriever_resources"]]
    assert "passwords.md" in names
    assert apps.server.message_count(meta["conversation_id"]) == 1
    assert model._get_ls_params()["ls_model_name"] == "Handbook Bot"


async def test_tokens_reach_callbacks_as_they_arrive(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url)
    recorder = TokenRecorder()
    msg = await call(model, "tell me more", mode, config={"callbacks": [recorder]})
    assert msg.content == echo("tell me more")
    text_tokens = [t for t in recorder.tokens if t]
    assert len(text_tokens) > 3  # one callback per streamed token, not one for the answer
    assert "".join(recorder.tokens) == msg.content
    last = recorder.chunks[-1]
    assert isinstance(last, ChatGenerationChunk)
    assert last.message.chunk_position == "last"


async def test_stream_chunks_usage_on_exactly_one(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url)
    chunks = await stream(model, "count the chunks", mode)
    assert len(chunks) > 3
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1
    assert chunks[-1].chunk_position == "last"
    assert with_usage[0] is chunks[-1]
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert full.content == echo("count the chunks")
    assert full.response_metadata["model_name"] == "Support Bot"
    assert full.usage_metadata is not None
    assert full.usage_metadata["total_tokens"] == full.response_metadata["usage"]["total_tokens"]


async def test_five_turns_with_message_history_make_one_conversation(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url, user=f"history-{mode}")
    store: dict[str, InMemoryChatMessageHistory] = {}

    def history(session_id: str) -> InMemoryChatMessageHistory:
        return store.setdefault(session_id, InMemoryChatMessageHistory())

    chain = RunnableWithMessageHistory(model, history)
    config = {"configurable": {"session_id": "s1"}}
    start = len(apps.server.request_log)
    replies = []
    for i in range(1, 6):
        replies.append(await call(chain, [HumanMessage(f"message {i}")], mode, config=config))
    conversation_ids = {r.response_metadata["conversation_id"] for r in replies}
    assert len(conversation_ids) == 1
    (conversation_id,) = conversation_ids
    assert apps.server.message_count(conversation_id) == 5
    assert [r.content for r in replies] == [echo(f"message {i}", i) for i in range(1, 6)]
    sent = chat_requests(apps, start)
    assert len(sent) == 5
    assert [r.body["query"] for r in sent] == [f"message {i}" for i in range(1, 6)]
    assert sent[0].body.get("conversation_id") in (None, "")
    assert all(r.body["conversation_id"] == conversation_id for r in sent[1:])


async def test_full_history_continues_conversation_on_a_fresh_instance(
    apps: Any, mode: str
) -> None:
    first = ChatDify(api_key=apps.chat_key, base_url=apps.base_url, user="fresh")
    messages: list[Any] = [HumanMessage("one")]
    messages.append(await call(first, messages, mode))
    messages.append(HumanMessage("two"))
    messages.append(await call(first, messages, mode))
    # A new instance has no memory of these histories: the conversation_id in the
    # AIMessage metadata is what lets it continue.
    second = ChatDify(api_key=apps.chat_key, base_url=apps.base_url, user="fresh")
    messages.append(HumanMessage("three"))
    reply = await call(second, messages, mode)
    conversation_id = messages[1].response_metadata["conversation_id"]
    assert reply.response_metadata["conversation_id"] == conversation_id
    assert reply.content == echo("three", 3)
    assert apps.server.message_count(conversation_id) == 3


async def test_unseen_history_is_sent_once_as_context(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url)
    start = len(apps.server.request_log)
    history = [HumanMessage("My name is Ada"), AIMessage("Hello Ada"), HumanMessage("Who am I?")]
    reply = await call(model, history, mode)
    (sent,) = chat_requests(apps, start)
    assert "My name is Ada" in sent.body["query"]
    assert "Hello Ada" in sent.body["query"]
    assert "Who am I?" in sent.body["query"]
    conversation_id = reply.response_metadata["conversation_id"]
    assert apps.server.message_count(conversation_id) == 1
    # The next turn continues that conversation and sends only the new message.
    start = len(apps.server.request_log)
    await call(model, [*history, reply, HumanMessage("And now?")], mode)
    (sent,) = chat_requests(apps, start)
    assert sent.body["query"] == "And now?"
    assert sent.body["conversation_id"] == conversation_id
    assert apps.server.message_count(conversation_id) == 2


async def test_system_message_as_context_then_not_resent(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url)
    system = SystemMessage("Always answer in French.")
    start = len(apps.server.request_log)
    reply = await call(model, [system, HumanMessage("hi")], mode)
    (sent,) = chat_requests(apps, start)
    assert "Always answer in French." in sent.body["query"]
    assert sent.body["query"].rstrip().endswith("hi")
    start = len(apps.server.request_log)
    await call(model, [system, HumanMessage("hi"), reply, HumanMessage("again")], mode)
    (sent,) = chat_requests(apps, start)
    assert sent.body["query"] == "again"


async def test_system_message_into_input_variable(apps: Any, mode: str) -> None:
    model = ChatDify(
        api_key=apps.chat_key,
        base_url=apps.base_url,
        system_input_key="instructions",
        inputs={"tone": "warm"},
    )
    start = len(apps.server.request_log)
    reply = await call(
        model,
        [SystemMessage("Be brief."), HumanMessage("hello")],
        mode,
        inputs={"lang": "fr"},
    )
    (sent,) = chat_requests(apps, start)
    assert sent.body["query"] == "hello"
    assert sent.body["inputs"] == {"tone": "warm", "lang": "fr", "instructions": "Be brief."}
    assert "instructions=Be brief." in reply.content


async def test_conversation_id_per_call(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url, user="explicit")
    first = await call(model, "start", mode)
    conversation_id = first.response_metadata["conversation_id"]
    other = ChatDify(api_key=apps.chat_key, base_url=apps.base_url, user="explicit")
    reply = await call(other, "continue", mode, conversation_id=conversation_id)
    assert reply.response_metadata["conversation_id"] == conversation_id
    assert reply.content == echo("continue", 2)


async def test_stop_sequence_cuts_output_and_stops_server_task(slow_apps: Any, mode: str) -> None:
    model = ChatDify(api_key=slow_apps.chat_key, base_url=slow_apps.base_url)
    expected = "".join(f"word{i} " for i in range(6))
    msg = await call(model, "go", mode, stop=["STOP"])
    assert msg.content == expected
    assert msg.response_metadata["finish_reason"] == "stop_sequence"
    task_id = msg.response_metadata["task_id"]
    assert slow_apps.server.stop_calls(task_id) >= 1
    chunks = await stream(ChatDify(**_slow(slow_apps), stop=["STOP"]), "go", mode)
    assert "".join(str(c.content) for c in chunks) == expected
    assert chunks[-1].chunk_position == "last"


def _slow(slow_apps: Any) -> dict[str, Any]:
    return {"api_key": slow_apps.chat_key, "base_url": slow_apps.base_url}


def test_early_exit_from_stream_stops_server_task(slow_apps: Any) -> None:
    model = ChatDify(**_slow(slow_apps), user="quitter")
    start = len(slow_apps.server.request_log)
    chunks = model.stream("go")
    for _ in range(3):
        next(chunks)
    chunks.close()
    stops = [r for r in slow_apps.server.request_log[start:] if r.path.endswith("/stop")]
    assert len(stops) == 1
    assert stops[0].user == "quitter"


async def test_early_exit_from_astream_stops_server_task(slow_apps: Any) -> None:
    model = ChatDify(**_slow(slow_apps), user="async-quitter")
    start = len(slow_apps.server.request_log)
    chunks = model.astream("go")
    for _ in range(3):
        await chunks.__anext__()
    await chunks.aclose()
    # LangChain's astream does not aclose the model's inner generator itself: the event
    # loop finalizes it (closing the connection and calling stop) on a later iteration.
    stops: list[Any] = []
    for _ in range(500):
        stops = [r for r in slow_apps.server.request_log[start:] if r.path.endswith("/stop")]
        if stops:
            break
        await asyncio.sleep(0.01)
    assert len(stops) == 1
    assert stops[0].user == "async-quitter"


async def test_image_block_is_uploaded_and_attached(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url, user="uploader")
    start = len(apps.server.request_log)
    message = HumanMessage(
        content=[
            {"type": "text", "text": "what is in this picture?"},
            {"type": "image", "base64": base64.b64encode(PNG).decode(), "mime_type": "image/png"},
            {"type": "image", "url": "https://example.com/cat.png"},
        ]
    )
    reply = await call(model, [message], mode)
    log = apps.server.request_log[start:]
    uploads = [r for r in log if r.path.endswith("/files/upload")]
    assert len(uploads) == 1
    assert uploads[0].user == "uploader"
    (sent,) = chat_requests(apps, start)
    files = sent.body["files"]
    assert files[0]["transfer_method"] == "local_file"
    assert files[0]["type"] == "image"
    assert files[0]["upload_file_id"]
    assert files[1] == {
        "type": "image",
        "transfer_method": "remote_url",
        "url": "https://example.com/cat.png",
    }
    assert sent.body["query"] == "what is in this picture?"
    assert "Files: image, image." in reply.content


async def test_bad_input_with_a_file_sends_no_request(apps: Any, mode: str) -> None:
    """A message with files is vetted before the upload: bad input sends nothing at all."""
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url, user="uploader")
    start = len(apps.server.request_log)
    message = HumanMessage(
        content=[
            {"type": "text", "text": "what is in this picture?"},
            {"type": "image", "base64": base64.b64encode(PNG).decode(), "mime_type": "image/png"},
        ]
    )
    with pytest.raises(ValueError, match="conversation_id"):
        await call(model, [message], mode, conversation_id="not-a-uuid")
    assert apps.server.request_log[start:] == []


async def test_wrong_key_raises_authentication_error(apps: Any, mode: str) -> None:
    model = ChatDify(api_key="app-not-a-real-key", base_url=apps.base_url)
    with pytest.raises(AuthenticationError) as info:
        await call(model, "hi", mode)
    assert info.value.status_code == 401
    assert "app-not-a-real-key" not in str(info.value)


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "invalid_param", BadRequestError),
        (403, "forbidden", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (413, "file_too_large", RequestTooLargeError),
        (415, "unsupported_media_type", UnsupportedMediaTypeError),
        (429, "rate_limit_error", RateLimitError),
        (500, "internal_server_error", InternalServerError),
    ],
)
async def test_http_errors_surface_through_invoke(
    apps: Any, mode: str, status: int, code: str, error: type[Exception]
) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url, max_retries=0)
    apps.server.inject_fault(
        route="/chat-messages", kind="status", status=status, code=code, message="injected"
    )
    with pytest.raises(error) as info:
        await call(model, "hi", mode)
    assert getattr(info.value, "code", None) == code


@pytest.mark.parametrize(
    ("kind", "error"),
    [("error_event", StreamError), ("drop_after", APIConnectionError), ("malformed", DifyError)],
)
async def test_stream_failures_never_return_partial_answer(
    apps: Any, mode: str, kind: str, error: type[Exception]
) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url, max_retries=0)
    apps.server.inject_fault(route="/chat-messages", kind=kind, after_events=2)
    with pytest.raises(error):
        await call(model, "hi", mode)
    apps.server.inject_fault(route="/chat-messages", kind=kind, after_events=2)
    with pytest.raises(error):
        await stream(model, "hi", mode)


async def test_agent_app_thoughts_in_additional_kwargs(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.agent_key, base_url=apps.base_url)
    msg = await call(model, "How long does shipping take?", mode)
    assert msg.content
    thoughts = msg.additional_kwargs["agent_thoughts"]
    assert isinstance(thoughts, list)
    assert thoughts
    assert all("id" in t and "position" in t for t in thoughts)


async def test_chatflow_app(apps: Any, mode: str) -> None:
    model = ChatDify(api_key=apps.chatflow_key, base_url=apps.base_url)
    msg = await call(model, "flow", mode)
    assert msg.content == echo("flow")
    assert msg.response_metadata["model_name"] == "Flow Bot"
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["output_tokens"] > 0
    assert msg.usage_metadata["total_tokens"] == (
        msg.usage_metadata["input_tokens"] + msg.usage_metadata["output_tokens"]
    )


def test_message_replace_folds_to_replacement() -> None:
    raw = (FIXTURES / "chat_streaming_message_replace.sse").read_bytes()
    import json

    folder = AnswerFolder()
    emitted = ""
    decoder = SSEDecoder()
    for frame in decoder.feed(raw):
        if frame.is_ping or not frame.data:
            continue
        emitted += folder.add(parse_event(json.loads(frame.data)))
    assert emitted == "Here is how to bypass the"
    assert folder.answer == "Sorry, I can't help with that request."
    meta = folder.response_metadata("dify")
    assert meta["answer_replaced"] is True
    assert meta["replaced_answer"] == folder.answer
    model = ChatDify(api_key="app-x", base_url="http://127.0.0.1:9/v1")
    assert model._result(folder).generations[0].message.content == folder.answer


def test_api_key_never_leaks() -> None:
    secret = "app-very-secret-key"
    model = ChatDify(api_key=secret, base_url="http://127.0.0.1:9/v1", user="u")
    assert secret not in repr(model)
    assert secret not in str(model)
    assert secret not in dumps(model)
    assert secret not in str(model._get_ls_params())
    assert secret not in model.model_dump_json()
    serialized = dumpd(model)
    assert serialized["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["DIFY_API_KEY"]}
    assert model.api_key is not None
    assert model.api_key.get_secret_value() == secret


def test_serialization_round_trip() -> None:
    model = ChatDify(
        api_key="app-round-trip",
        base_url="http://127.0.0.1:9/v1",
        system_input_key="instructions",
        inputs={"tone": "warm"},
        stop=["END"],
    )
    revived = load(
        dumpd(model),
        allowed_objects=[ChatDify],
        valid_namespaces=["dify_integrations"],
        secrets_map={"DIFY_API_KEY": "app-round-trip"},
    )
    assert isinstance(revived, ChatDify)
    assert revived.api_key is not None
    assert revived.api_key.get_secret_value() == "app-round-trip"
    assert (revived.base_url, revived.system_input_key, revived.inputs, revived.stop) == (
        model.base_url,
        "instructions",
        {"tone": "warm"},
        ["END"],
    )


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFY_API_KEY", "app-env")
    monkeypatch.setenv("DIFY_BASE_URL", "http://127.0.0.1:9/v1")
    model = ChatDify()
    assert model.api_key is not None
    assert model.api_key.get_secret_value() == "app-env"
    assert model.base_url == "http://127.0.0.1:9/v1"
    monkeypatch.delenv("DIFY_API_KEY")
    keyless = ChatDify()
    with pytest.raises(ValueError, match="DIFY_API_KEY"):
        keyless.invoke("hi")  # reported on first use, before any request


def test_bind_tools_not_supported() -> None:
    model = ChatDify(api_key="app-x", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(NotImplementedError):
        model.bind_tools([])


def test_bad_input_fails_before_any_request(apps: Any) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url)
    start = len(apps.server.request_log)
    with pytest.raises(ValueError, match="must not be empty"):
        model.invoke("   ")
    with pytest.raises(ValueError, match="last non-system message"):
        model.invoke([HumanMessage("q"), AIMessage("a")])
    assert len(apps.server.request_log) == start


def test_shared_client_and_connection_reuse(apps: Any) -> None:
    psutil = pytest.importorskip("psutil")
    from dify_integrations import DifyClient

    port = int(apps.base_url.split(":")[2].split("/")[0])
    client = DifyClient(api_key=apps.chat_key, base_url=apps.base_url, user="pool")
    model = ChatDify(client=client)
    me = psutil.Process()

    def open_ports() -> set[int]:
        return {
            c.laddr.port
            for c in me.net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port and c.status == "ESTABLISHED"
        }

    before = open_ports()  # connections other tests' clients keep alive
    new_ports: set[int] = set()
    for i in range(100):
        model.invoke(f"call {i}")
        new_ports |= open_ports() - before
    assert 1 <= len(new_ports) <= 2
    client.close()


async def test_astream_events_show_tokens_of_ainvoke(apps: Any) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url)
    streamed = [
        e["data"]["chunk"].content
        async for e in model.astream_events("events please", version="v2")
        if e["event"] == "on_chat_model_stream"
    ]
    assert len([t for t in streamed if t]) > 3
    assert "".join(streamed) == echo("events please")


def test_batch_runs_independent_conversations(apps: Any) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url)
    replies = model.batch(["alpha", "beta", "gamma"])
    assert [r.content for r in replies] == [echo(q) for q in ("alpha", "beta", "gamma")]
    assert len({r.response_metadata["conversation_id"] for r in replies}) == 3


def test_public_names() -> None:
    import dify_integrations.langchain as lc

    assert lc.__all__ == [
        "ChatDify",
        "DifyLLM",
        "DifyLoader",
        "DifyRetriever",
        "DifyVectorStore",
        "DifyWorkflowTool",
    ]
    assert all(getattr(lc, name).__module__.startswith(lc.__name__) for name in lc.__all__)
