"""A local Dify server with the apps and knowledge bases the LangChain tests use.

One server for the whole session (plus a slower one whose tokens trickle, for the tests
that stop a generation mid-stream). Everything goes over real HTTP on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
)

HANDBOOK = [
    {
        "name": "refunds.md",
        "text": "Refunds are issued within 5 business days to the original payment method. "
        "Refund requests must be made within 30 days of purchase.",
        "metadata": {"category": "billing"},
    },
    {
        "name": "passwords.md",
        "text": "To reset your password, open Settings, choose Security and click Reset "
        "password. A reset link is emailed to you and expires after one hour.",
        "metadata": {"category": "account"},
    },
    SHIPPING_DOC,
    {
        "name": "support.md",
        "text": "Support is available by chat and email every day. Premium customers get "
        "phone support and a dedicated account manager.",
        "metadata": {"category": "account"},
    },
    WARRANTY_DOC,
]

ARCHIVE = [
    {
        "name": "old-refunds.md",
        "text": "Before 2020 refunds were issued as store credit only, never as cash refunds.",
        "metadata": {"category": "billing"},
    },
    {
        "name": "old-stores.md",
        "text": STORES_TEXT,
        "metadata": {"category": "history"},
    },
]

WORKFLOW_FORM = [
    {
        "text-input": {
            "label": "Text to translate",
            "variable": "text",
            "required": True,
            "max_length": 200,
        }
    },
    {
        "select": {
            "label": "Target language",
            "variable": "language",
            "required": False,
            "options": ["French", "German", "Spanish"],
            "default": "French",
        }
    },
    {"checkbox": {"label": "Formal", "variable": "formal", "required": False}},
    {"number": {"label": "Creativity", "variable": "creativity", "required": False}},
]

_GREETINGS = {"French": "bonjour", "German": "hallo", "Spanish": "hola"}


def long_responder(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[dict[str, Any]]
) -> Iterator[str]:
    """A long answer, one word per token, to be cut or abandoned mid-stream."""
    for i in range(400):
        yield f"word{i} "
        if i == 5:
            yield "STOP "


def translate(inputs: dict[str, Any]) -> dict[str, Any]:
    """The translation workflow: a single text output."""
    language = inputs.get("language") or "French"
    word = _GREETINGS.get(language, "hello")
    if inputs.get("formal"):
        word = word.capitalize()
    return {"text": f"{word}: {inputs['text']}"}


@dataclass(frozen=True)
class Apps:
    """Keys and ids of everything created on the session server."""

    server: DifyTestServer
    base_url: str
    chat_key: str
    kb_chat_key: str
    agent_key: str
    chatflow_key: str
    completion_key: str
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
    chat = server.create_chat_app("Support Bot", mode="chat", responder=echo_responder)
    kb_chat = server.create_chat_app("Handbook Bot", mode="chat", dataset_ids=[handbook.id])
    agent = server.create_chat_app("Agent Bot", mode="agent-chat", dataset_ids=[handbook.id])
    chatflow = server.create_chat_app("Flow Bot", mode="advanced-chat", responder=echo_responder)
    completion = server.create_completion_app(
        "Tagline Writer",
        template="Tagline for {{query}} in a {{tone}} tone",
        user_input_form=[
            {"paragraph": {"label": "Query", "variable": "query", "required": True}},
            {"text-input": {"label": "Tone", "variable": "tone", "required": False}},
        ],
    )
    workflow = server.create_workflow_app(
        "Translate Text!",
        handler=translate,
        description="Translate a short text into another language.",
        user_input_form=WORKFLOW_FORM,
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
        chat_key=chat.api_key,
        kb_chat_key=kb_chat.api_key,
        agent_key=agent.api_key,
        chatflow_key=chatflow.api_key,
        completion_key=completion.api_key,
        workflow_key=workflow.api_key,
        multi_output_workflow_key=multi.api_key,
        failing_workflow_key=failing.api_key,
        dataset_key=server.dataset_api_key,
        handbook_id=handbook.id,
        archive_id=archive.id,
    )


def slow_writer(inputs: dict[str, Any]) -> Iterator[str]:
    """A workflow that streams a long text, piece by piece."""
    for i in range(400):
        yield f"piece{i} "


@dataclass(frozen=True)
class SlowApps:
    """A server whose tokens trickle, and its long-answer apps."""

    server: DifyTestServer
    base_url: str
    chat_key: str
    completion_key: str
    workflow_key: str


@pytest.fixture(scope="session")
def slow_apps() -> Iterator[SlowApps]:
    """A second server with a per-token delay, so a stop lands mid-generation."""
    with DifyTestServer(ping_interval=5.0, token_delay=0.01) as server:
        chat = server.create_chat_app("Chatty", mode="chat", responder=long_responder)
        completion = server.create_completion_app(
            "Long Writer",
            template=" ".join(f"word{i}" for i in range(6))
            + " STOP {{query}} "
            + " ".join(f"more{i}" for i in range(300)),
        )
        workflow = server.create_workflow_app(
            "Slow Writer",
            handler=slow_writer,
            user_input_form=[{"text-input": {"label": "Text", "variable": "text"}}],
        )
        yield SlowApps(server, server.base_url, chat.api_key, completion.api_key, workflow.api_key)
