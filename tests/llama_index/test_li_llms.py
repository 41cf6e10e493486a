"""DifyLLM over real HTTP against the local Dify server."""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    TextBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.llms import LLM

from dify_integrations.core.client import DifyClient
from dify_integrations.core.errors import AuthenticationError
from dify_integrations.llama_index import DifyLLM

if TYPE_CHECKING:
    from conftest import Apps, SlowApps

pytestmark = pytest.mark.timeout(60)

METHODS = [
    "chat",
    "stream_chat",
    "complete",
    "stream_complete",
    "achat",
    "astream_chat",
    "acomplete",
    "astream_complete",
]


async def _call(llm: DifyLLM, method: str, text: str) -> tuple[Any, list[str]]:
    """Run one of the eight methods; return the final response and the deltas seen."""
    arg: Any = [ChatMessage(role="user", content=text)] if "chat" in method else text
    fn = getattr(llm, method)
    if method.startswith("astream"):
        deltas, last = [], None
        async for last in await fn(arg):
            deltas.append(last.delta or "")
        return last, deltas
    if method.startswith("stream"):
        deltas, last = [], None
        for last in fn(arg):
            deltas.append(last.delta or "")
        return last, deltas
    if method.startswith("a"):
        return await fn(arg), []
    return fn(arg), []


def _text(response: Any) -> str:
    if isinstance(response, ChatResponse):
        return response.message.content or ""
    assert isinstance(response, CompletionResponse)
    return response.text


def _last_body(apps: Apps, path: str) -> dict[str, Any]:
    entry = [r for r in apps.server.request_log if r.path.endswith(path)][-1]
    body = entry.body
    return body if isinstance(body, dict) else json.loads(body)


@pytest.mark.parametrize("method", METHODS)
async def test_eight_methods_on_a_chat_app(
    apps: Apps, method: str, track: Callable[[Any], Any]
) -> None:
    llm = track(DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, user="u-eight"))
    response, deltas = await _call(llm, method, f"hello via {method}")
    text = _text(response)
    assert f"you said 'hello via {method}'" in text
    if "stream" in method:
        assert len([d for d in deltas if d]) > 1  # really streamed, token by token
        assert "".join(deltas) == text
    extra = response.additional_kwargs
    assert extra["conversation_id"]
    assert extra["message_id"]
    assert extra["task_id"]
    usage = response.raw["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    body = _last_body(apps, "/chat-messages")
    assert body["query"] == f"hello via {method}"
    assert body["response_mode"] == "streaming"
    assert body["user"] == "u-eight"


@pytest.mark.parametrize("method", METHODS)
async def test_eight_methods_on_a_completion_app(
    apps: Apps, method: str, track: Callable[[Any], Any]
) -> None:
    llm = track(DifyLLM(api_key=apps.completion_key, base_url=apps.base_url))
    response, deltas = await _call(llm, method, f"the {method} report")
    text = _text(response)
    assert text
    if "stream" in method:
        assert "".join(deltas) == text
    body = _last_body(apps, "/completion-messages")
    expected = f"the {method} report"
    assert body["inputs"]["query"] == expected
    assert "conversation_id" not in response.additional_kwargs
    assert response.raw["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("mode_key", ["echo_key", "agent_key", "chatflow_key"])
async def test_every_chat_mode_is_detected_and_answers(
    apps: Apps, mode_key: str, track: Callable[[Any], Any]
) -> None:
    llm = track(DifyLLM(api_key=getattr(apps, mode_key), base_url=apps.base_url))
    response = llm.chat([ChatMessage(role="user", content="ping")])
    assert "you said 'ping'" in (response.message.content or "")
    aresponse = await llm.acomplete("pong")
    assert "you said 'pong'" in aresponse.text


def test_app_mode_given_skips_info(apps: Apps) -> None:
    llm = DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, app_mode="chat", user="u-mode")
    before = len(apps.server.requests_to("/info"))
    assert "you said 'x'" in llm.complete("x").text
    assert len(apps.server.requests_to("/info")) == before
    # Reading metadata makes no request: with app_mode given, the name stays "dify".
    assert llm.metadata.model_name == "dify"
    assert len(apps.server.requests_to("/info")) == before
    named = DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, model_name="support-bot")
    assert named.metadata.model_name == "support-bot"
    assert len(apps.server.requests_to("/info")) == before


def test_mode_is_detected_once(apps: Apps) -> None:
    llm = DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, user="u-once")
    before = len(apps.server.requests_to("/info"))
    for i in range(3):
        llm.complete(f"q{i}")
    assert llm.metadata.model_name == "Echo Bot"
    assert len(apps.server.requests_to("/info")) - before == 1


def test_chat_on_a_completion_app_flattens_the_messages(apps: Apps) -> None:
    llm = DifyLLM(api_key=apps.completion_key, base_url=apps.base_url)
    llm.chat(
        [
            ChatMessage(role="system", content="Be short."),
            ChatMessage(role="user", content="Hi"),
            ChatMessage(role="assistant", content="Hello"),
            ChatMessage(role="user", content="Summarise"),
        ]
    )
    prompt = _last_body(apps, "/completion-messages")["inputs"]["query"]
    assert prompt == "Be short.\n\nUser: Hi\nAssistant: Hello\nUser: Summarise"


def test_input_key_and_inputs(apps: Apps) -> None:
    llm = DifyLLM(
        api_key=apps.echo_key, base_url=apps.base_url, inputs={"tier": "gold"}, user="u-inputs"
    )
    response = llm.chat([ChatMessage(role="user", content="hi")], inputs={"lang": "fr"})
    assert "Inputs: lang=fr, tier=gold." in (response.message.content or "")


async def test_multi_turn_history_is_one_dify_conversation(
    apps: Apps, track: Callable[[Any], Any]
) -> None:
    llm = track(DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, user="u-multi"))
    history: list[ChatMessage] = [ChatMessage(role="system", content="You are kind.")]
    conversation_ids = set()
    for turn in range(1, 5):
        history.append(ChatMessage(role="user", content=f"message {turn}"))
        response = (
            await llm.achat(history) if turn % 2 else llm.chat(history)
        )  # sync and async share the tracker
        content = response.message.content or ""
        assert content.startswith(f"Turn {turn}:")
        assert content.endswith(f"message {turn}'.")
        conversation_ids.add(response.additional_kwargs["conversation_id"])
        history.append(response.message)
    assert len(conversation_ids) == 1
    assert apps.server.message_count(conversation_ids.pop()) == 4


def test_history_dify_never_saw_is_sent_once_as_context(apps: Apps) -> None:
    llm = DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, user="u-context")
    response = llm.chat(
        [
            ChatMessage(role="user", content="My name is Ada."),
            ChatMessage(role="assistant", content="Nice to meet you."),
            ChatMessage(role="user", content="What is my name?"),
        ]
    )
    query = _last_body(apps, "/chat-messages")["query"]
    assert "My name is Ada." in query
    assert query.endswith("What is my name?")
    assert (response.message.content or "").startswith("Turn 1:")


def test_token_counting_handler_counts_the_server_usage(apps: Apps) -> None:
    counter = TokenCountingHandler(tokenizer=lambda text: text.split())
    llm = DifyLLM(
        api_key=apps.echo_key,
        base_url=apps.base_url,
        callback_manager=CallbackManager([counter]),
        user="u-tokens",
    )
    response = llm.chat([ChatMessage(role="user", content="count my tokens")])
    usage = response.raw["usage"]
    assert counter.prompt_llm_token_count == usage["prompt_tokens"] > 0
    assert counter.completion_llm_token_count == usage["completion_tokens"] > 0
    chunks = list(llm.stream_complete("and these"))
    streamed = chunks[-1].raw["usage"]
    assert counter.prompt_llm_token_count == usage["prompt_tokens"] + streamed["prompt_tokens"]
    assert len(counter.llm_token_counts) == 2


async def test_token_counting_handler_async_stream(apps: Apps, track: Callable[[Any], Any]) -> None:
    counter = TokenCountingHandler(tokenizer=lambda text: text.split())
    llm = track(
        DifyLLM(
            api_key=apps.echo_key,
            base_url=apps.base_url,
            callback_manager=CallbackManager([counter]),
        )
    )
    chunks = [c async for c in await llm.astream_chat([ChatMessage(role="user", content="count")])]
    last = chunks[-1]
    assert counter.total_llm_token_count == last.raw["usage"]["total_tokens"] > 0


async def test_async_stream_leaves_the_event_loop_free(
    slow_apps: SlowApps, track: Callable[[Any], Any]
) -> None:
    llm = track(DifyLLM(api_key=slow_apps.chat_key, base_url=slow_apps.base_url))
    ticks = 0
    ticks_at_chunk: list[int] = []

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(heartbeat())
    try:
        async for _chunk in await llm.astream_chat([ChatMessage(role="user", content="go")]):
            ticks_at_chunk.append(ticks)
    finally:
        task.cancel()
    assert len(ticks_at_chunk) > 10
    # The heartbeat kept running between chunks: the loop was never blocked for a whole stream.
    assert ticks_at_chunk[-1] - ticks_at_chunk[0] > len(ticks_at_chunk)


def test_metadata(apps: Apps) -> None:
    llm = DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, context_window=8000)
    before = len(apps.server.request_log)
    meta = llm.metadata
    assert len(apps.server.request_log) == before  # reading metadata makes no request
    assert meta.is_chat_model is True
    assert meta.is_function_calling_model is False
    assert meta.context_window == 8000
    assert meta.num_output > 0
    assert meta.model_name == "dify"  # not known before the first call
    llm.complete("hello")
    assert llm.metadata.model_name == "Echo Bot"  # learnt from the /info of the first call
    assert DifyLLM.class_name() == "DifyLLM"
    assert isinstance(llm, LLM)
    named = DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, model_name="mine")
    assert named.metadata.model_name == "mine"


def test_metadata_never_raises(apps: Apps) -> None:
    llm = DifyLLM(api_key="app-not-a-real-key", base_url=apps.base_url)
    assert llm.metadata.model_name == "dify"


def test_api_key_is_never_serialized_nor_shown(apps: Apps) -> None:
    llm = DifyLLM(api_key=apps.echo_key, base_url=apps.base_url)
    assert apps.echo_key not in repr(llm)
    assert apps.echo_key not in str(llm)
    assert apps.echo_key not in json.dumps(llm.to_dict(), default=str)
    assert apps.echo_key not in llm.to_json()
    assert apps.echo_key not in json.dumps(llm.to_payload(), default=str)
    assert "api_key" not in llm.to_dict()
    assert llm.to_dict()["class_name"] == "DifyLLM"
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == apps.echo_key
    assert apps.echo_key not in str(pickle.dumps(llm.to_dict()))


def test_env_settings_and_missing_key(apps: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="No Dify API key"):
        DifyLLM(base_url=apps.base_url)
    monkeypatch.setenv("DIFY_API_KEY", apps.echo_key)
    monkeypatch.setenv("DIFY_BASE_URL", apps.base_url)
    llm = DifyLLM()
    assert "you said 'env'" in llm.complete("env").text


async def test_authentication_error_surfaces(apps: Apps, track: Callable[[Any], Any]) -> None:
    llm = track(DifyLLM(api_key="app-wrong", base_url=apps.base_url, app_mode="chat"))
    with pytest.raises(AuthenticationError):
        llm.chat([ChatMessage(role="user", content="hi")])
    with pytest.raises(AuthenticationError):
        await llm.acomplete("hi")
    with pytest.raises(AuthenticationError):
        list(llm.stream_chat([ChatMessage(role="user", content="hi")]))
    detecting = track(DifyLLM(api_key="app-wrong", base_url=apps.base_url))
    with pytest.raises(AuthenticationError):
        await detecting.achat([ChatMessage(role="user", content="hi")])


def test_bad_input_fails_before_any_request(apps: Apps) -> None:
    llm = DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, app_mode="chat")
    before = len(apps.server.request_log)
    with pytest.raises(ValueError, match="empty"):
        llm.complete("   ")
    with pytest.raises(ValueError, match="user"):
        llm.chat([ChatMessage(role="assistant", content="hi")])
    assert len(apps.server.request_log) == before


async def test_bad_input_fails_before_the_app_mode_lookup(apps: Apps) -> None:
    """Without ``app_mode=`` the mode comes from ``/info``: bad input must not cost that call."""
    before = len(apps.server.request_log)
    for call in (
        lambda llm: llm.complete("   "),
        lambda llm: llm.chat([]),
        lambda llm: llm.chat([ChatMessage(role="user", content=" ")]),
    ):
        with pytest.raises(ValueError, match=r"empty|text"):
            call(DifyLLM(api_key=apps.echo_key, base_url=apps.base_url))
    with pytest.raises(ValueError, match="empty"):
        await DifyLLM(api_key=apps.echo_key, base_url=apps.base_url).acomplete("")
    with pytest.raises(ValueError, match="text"):
        await DifyLLM(api_key=apps.echo_key, base_url=apps.base_url).achat([])
    assert len(apps.server.request_log) == before


def test_workflow_app_is_refused(apps: Apps) -> None:
    llm = DifyLLM(api_key=apps.workflow_key, base_url=apps.base_url)
    with pytest.raises(ValueError, match="DifyWorkflowTool"):
        llm.complete("hi")


def test_shared_client_is_used(apps: Apps) -> None:
    with DifyClient(apps.echo_key, base_url=apps.base_url, user="u-shared") as client:
        llm = DifyLLM(client=client)
        assert llm.user == "u-shared"
        assert llm.base_url == apps.base_url
        assert "you said 'shared'" in llm.complete("shared").text
        assert _last_body(apps, "/chat-messages")["user"] == "u-shared"


def test_early_break_stops_the_generation(slow_apps: SlowApps) -> None:
    llm = DifyLLM(api_key=slow_apps.chat_key, base_url=slow_apps.base_url, app_mode="chat")
    stream = llm.stream_complete("go")
    first = next(stream)
    stream.close()
    task_id = first.additional_kwargs["task_id"]
    assert slow_apps.server.stop_calls(task_id)


def test_copies_keep_working(apps: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    llm = DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, inputs={"tier": "gold"})
    clone = copy.deepcopy(llm)
    assert clone.inputs == llm.inputs
    assert clone.inputs is not llm.inputs
    assert "you said 'copied'" in clone.complete("copied").text
    # a pickle holds the settings, never the key: the loading process supplies it
    data = pickle.dumps(llm)
    assert apps.echo_key.encode() not in data
    monkeypatch.delenv("DIFY_API_KEY", raising=False)
    with pytest.raises(ValueError, match="DIFY_API_KEY"):
        pickle.loads(data)
    monkeypatch.setenv("DIFY_API_KEY", apps.echo_key)
    revived = pickle.loads(data)
    assert revived.inputs == {"tier": "gold"}
    assert revived.base_url == apps.base_url
    assert "you said 'pickled'" in revived.complete("pickled").text


async def test_image_blocks_are_uploaded_and_attached(
    apps: Apps, track: Callable[[Any], Any]
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="what is in these pictures?"),
            ImageBlock(image=png, image_mimetype="image/png"),
            ImageBlock(url="https://example.com/cat.png"),
        ],
    )
    llm = track(DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, user="u-files"))
    for response in (llm.chat([message]), await llm.achat([message])):
        assert "Files: image, image." in (response.message.content or "")
        files = _last_body(apps, "/chat-messages")["files"]
        assert files[0] == {
            "type": "image",
            "transfer_method": "remote_url",
            "url": "https://example.com/cat.png",
        }
        assert files[1]["transfer_method"] == "local_file"
        upload = apps.server.requests_to("/files/upload")[-1]
        assert upload.user == "u-files"
