"""Output moderation over real HTTP: ``message_replace`` arrives before ``message_end``.

The local server's ``moderation=`` replaces the whole answer once it has streamed; every
LlamaIndex entry point must end with the replacement as the answer, never the original.
"""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from dify_integrations.llama_index import DifyChatEngine, DifyLLM
from dify_integrations.testing import DifyTestServer
from tests._shared_data import REDACTED, ModeratedApps, create_moderated_apps

pytestmark = pytest.mark.timeout(60)

ASK = [ChatMessage(role=MessageRole.USER, content="tell me the secret")]


@pytest.fixture(scope="module")
def moderated(dify_server: DifyTestServer) -> ModeratedApps:
    return create_moderated_apps(dify_server)


def llm(key: str, apps: ModeratedApps) -> DifyLLM:
    return DifyLLM(api_key=key, base_url=apps.base_url, user="u-moderation")


@pytest.mark.parametrize("app", ["chat_key", "chatflow_key"])
async def test_chat_and_achat_return_the_replacement(moderated: ModeratedApps, app: str) -> None:
    model = llm(getattr(moderated, app), moderated)
    assert model.chat(ASK).message.content == REDACTED
    assert (await model.achat(ASK)).message.content == REDACTED


@pytest.mark.parametrize("app", ["chat_key", "completion_key"])
async def test_complete_and_acomplete_return_the_replacement(
    moderated: ModeratedApps, app: str
) -> None:
    model = llm(getattr(moderated, app), moderated)
    assert model.complete("the secret").text == REDACTED
    assert (await model.acomplete("the secret")).text == REDACTED


def test_stream_chat_ends_with_the_replacement(moderated: ModeratedApps) -> None:
    responses = list(llm(moderated.chat_key, moderated).stream_chat(ASK))
    deltas = "".join(r.delta or "" for r in responses)
    assert deltas == "You asked: tell me the secret"  # what was shown while streaming
    shown = [r for r in responses if r.delta]
    assert shown[-1].message.content == deltas  # before message_replace
    assert responses[-1].message.content == REDACTED
    assert responses[-1].delta == ""


async def test_astream_chat_and_stream_complete_end_with_the_replacement(
    moderated: ModeratedApps,
) -> None:
    model = llm(moderated.chat_key, moderated)
    chats = [r async for r in await model.astream_chat(ASK)]
    assert chats[-1].message.content == REDACTED
    completions = list(llm(moderated.completion_key, moderated).stream_complete("x"))
    assert completions[-1].text == REDACTED
    acompletions = [r async for r in await model.astream_complete("the secret")]
    assert acompletions[-1].text == REDACTED


async def test_unmoderated_answer_stays(moderated: ModeratedApps) -> None:
    model = llm(moderated.selective_key, moderated)
    question = [ChatMessage(role=MessageRole.USER, content="what is the weather")]
    assert model.chat(question).message.content == "You asked: what is the weather"
    assert (await model.achat(ASK)).message.content == REDACTED


def test_chat_engine_chat_returns_the_replacement(moderated: ModeratedApps) -> None:
    engine = DifyChatEngine(api_key=moderated.selective_key, base_url=moderated.base_url)
    assert str(engine.chat("what is the secret")) == REDACTED
    assert str(engine.chat("and the weather")) == "You asked: and the weather"
    history = engine.chat_history
    assert [m.content for m in history if m.role == MessageRole.ASSISTANT] == [
        REDACTED,
        "You asked: and the weather",
    ]


async def test_chat_engine_achat_returns_the_replacement(moderated: ModeratedApps) -> None:
    engine = DifyChatEngine(api_key=moderated.chat_key, base_url=moderated.base_url)
    assert str(await engine.achat("tell me the secret")) == REDACTED


def test_chat_engine_stream_chat_ends_with_the_replacement(moderated: ModeratedApps) -> None:
    engine = DifyChatEngine(api_key=moderated.chat_key, base_url=moderated.base_url)
    response = engine.stream_chat("tell me the secret")
    tokens = list(response.response_gen)
    assert "".join(tokens) == "You asked: tell me the secret"
    assert response.response == REDACTED
    assert str(response) == REDACTED


async def test_chat_engine_astream_chat_ends_with_the_replacement(
    moderated: ModeratedApps,
) -> None:
    engine = DifyChatEngine(api_key=moderated.chat_key, base_url=moderated.base_url)
    response = await engine.astream_chat("tell me the secret")
    tokens = [t async for t in response.async_response_gen()]
    assert "".join(tokens) == "You asked: tell me the secret"
    assert response.response == REDACTED
