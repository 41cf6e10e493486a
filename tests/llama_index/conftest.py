"""A local Dify server with the apps and knowledge bases the LlamaIndex tests use.

One server for the session (and a slower one whose tokens trickle, for the event-loop
test). Everything goes over real HTTP on loopback; nothing here is mocked.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from dify_integrations.testing import DifyTestServer
from tests._shared_data import (
    SHIPPING_DOC,
    STORES_TEXT,
    TEXT_FORM,
    WARRANTY_DOC,
    analyse,
    echo_responder,
    explode,
    words_of,
)

HANDBOOK = [
    {
        "name": "returns.md",
        "text": "Items can be returned within 30 days of delivery if unused and in the "
        "original packaging. Refunds reach the original payment method in 5 business days.",
        "metadata": {"category": "billing"},
    },
    SHIPPING_DOC,
    WARRANTY_DOC,
]

ARCHIVE = [
    {
        "name": "old-returns.md",
        "text": "Before 2020 returns were accepted within 14 days and refunded as store credit.",
        "metadata": {"category": "billing"},
    },
    {
        "name": "stores.md",
        "text": STORES_TEXT,
        "metadata": {"category": "history"},
    },
]

TRANSLATE_FORM = [
    {"text-input": {"label": "Text to translate", "variable": "text", "required": True}},
    {
        "select": {
            "label": "Target language",
            "variable": "language",
            "required": False,
            "options": ["French", "German", "Spanish"],
            "default": "French",
        }
    },
]

_GREETINGS = {"French": "bonjour", "German": "guten Morgen", "Spanish": "buenos días"}


def react_responder(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[dict[str, Any]]
) -> Iterator[str]:
    """A scripted model that speaks the ReAct format.

    It reads only the newest message (after ``Current message:`` when the adapter sent
    earlier turns as context): a task gets a tool call, an observation gets the answer.
    """
    current = query.rsplit("Current message:", 1)[-1].strip()
    if current.startswith("Observation:"):
        observation = current[len("Observation:") :].strip()
        yield from words_of(
            "Thought: I can answer without using any more tools. I'll use the user's "
            f"language to answer\nAnswer: In German that is: {observation}"
        )
        return
    match = re.search(r"'([^']+)'", current)
    text = match.group(1) if match else current
    arguments = json.dumps({"text": text, "language": "German"})
    yield from words_of(
        "Thought: The current language of the user is: English. I need to use a tool to "
        f"help me answer the question.\nAction: translate_text\nAction Input: {arguments}"
    )


def long_responder(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[dict[str, Any]]
) -> Iterator[str]:
    """A long answer, one word per token."""
    for i in range(60):
        yield f"word{i} "


def translate(inputs: dict[str, Any]) -> dict[str, Any]:
    """The translation workflow: one text output."""
    language = inputs.get("language") or "French"
    return {"text": f"{_GREETINGS.get(language, 'hello')} ({inputs['text']})"}


@dataclass(frozen=True)
class Apps:
    """Keys and ids of everything created on the session server."""

    server: DifyTestServer
    base_url: str
    echo_key: str
    kb_chat_key: str
    agent_key: str
    chatflow_key: str
    completion_key: str
    react_key: str
    workflow_key: str
    multi_output_workflow_key: str
    failing_workflow_key: str
    dataset_key: str
    handbook_id: str
    archive_id: str


@pytest.fixture(scope="session")
def dify_server() -> Iterator[DifyTestServer]:
    """The session's local Dify server."""
    with DifyTestServer(ping_interval=5.0) as server:
        yield server


@pytest.fixture(scope="session")
def apps(dify_server: DifyTestServer) -> Apps:
    """The apps and knowledge bases, created once."""
    server = dify_server
    handbook = server.create_dataset("Handbook", documents=HANDBOOK)
    archive = server.create_dataset("Archive", documents=ARCHIVE)
    echo = server.create_chat_app("Echo Bot", mode="chat", responder=echo_responder)
    kb_chat = server.create_chat_app("Handbook Bot", mode="chat", dataset_ids=[handbook.id])
    agent = server.create_chat_app("Agent Bot", mode="agent-chat", responder=echo_responder)
    chatflow = server.create_chat_app("Flow Bot", mode="advanced-chat", responder=echo_responder)
    completion = server.create_completion_app("Summariser", template="Summary of {{query}}")
    react = server.create_chat_app("ReAct Model", mode="chat", responder=react_responder)
    workflow = server.create_workflow_app(
        "Translate Text",
        handler=translate,
        description="Translate a short text into another language.",
        user_input_form=TRANSLATE_FORM,
    )
    multi = server.create_workflow_app(
        "Analyse",
        handler=analyse,
        user_input_form=TEXT_FORM,
    )
    failing = server.create_workflow_app(
        "Broken",
        handler=explode,
        user_input_form=TEXT_FORM,
    )
    return Apps(
        server=server,
        base_url=server.base_url,
        echo_key=echo.api_key,
        kb_chat_key=kb_chat.api_key,
        agent_key=agent.api_key,
        chatflow_key=chatflow.api_key,
        completion_key=completion.api_key,
        react_key=react.api_key,
        workflow_key=workflow.api_key,
        multi_output_workflow_key=multi.api_key,
        failing_workflow_key=failing.api_key,
        dataset_key=server.dataset_api_key,
        handbook_id=handbook.id,
        archive_id=archive.id,
    )


@dataclass(frozen=True)
class SlowApps:
    """A server whose tokens trickle, with a long-answer chat app."""

    server: DifyTestServer
    base_url: str
    chat_key: str


@pytest.fixture(scope="session")
def slow_apps() -> Iterator[SlowApps]:
    """A second server with a per-token delay, so a stream spans many loop iterations."""
    with DifyTestServer(ping_interval=5.0, token_delay=0.005) as server:
        chat = server.create_chat_app("Chatty", mode="chat", responder=long_responder)
        yield SlowApps(server, server.base_url, chat.api_key)


T = TypeVar("T")


@pytest.fixture
async def track() -> AsyncIterator[Callable[[T], T]]:
    """Register adapters built in an async test; their clients are closed on its loop after."""
    objects: list[Any] = []

    def register(obj: T) -> T:
        objects.append(obj)
        return obj

    yield register
    for obj in objects:
        await obj.aclose()
