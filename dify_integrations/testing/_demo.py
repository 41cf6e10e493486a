"""A small default workspace: the demo handbook as a knowledge base, one app of each mode.

The knowledge base is the package's one demo corpus, the Stowaway handbook (the same
articles ``dify-integrations serve`` and ``dify-integrations demo`` use).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ._server import DifyTestServer


def summarise(inputs: dict[str, Any]) -> Generator[str, None, dict[str, str]]:
    """Demo workflow handler: streams a one-line summary of ``topic``."""
    topic = str(inputs.get("topic", "")).strip() or "nothing"
    text = f"A short note about {topic}."
    for word in text.split(" "):
        yield word if word == text.split(" ")[0] else " " + word
    return {"summary": text}


def populate(server: DifyTestServer) -> dict[str, Any]:
    """Create the default workspace on ``server``; returns ids and keys (JSON-able)."""
    from dify_integrations.demo._handbook import handbook_documents

    kb = server.create_dataset(
        "Stowaway Handbook",
        handbook_documents(),
        description="Product handbook of Stowaway, a backup and restore service.",
        tags=["support"],
    )
    chat = server.create_chat_app(
        "Support Assistant",
        dataset_ids=[kb.id],
        opening_statement="Hi! Ask me anything about Stowaway backups and restores.",
        description="Answers questions from the Stowaway handbook",
    )
    agent = server.create_chat_app("Support Agent", mode="agent-chat", dataset_ids=[kb.id])
    chatflow = server.create_chat_app("Support Chatflow", mode="advanced-chat", dataset_ids=[kb.id])
    completion = server.create_completion_app(
        "Writer",
        template="Here is a short text about {{topic}}.",
        user_input_form=[{"text-input": {"label": "Topic", "variable": "topic", "required": True}}],
    )
    workflow = server.create_workflow_app(
        "Summarise",
        summarise,
        description="Summarises a topic in one sentence.",
        user_input_form=[{"text-input": {"label": "Topic", "variable": "topic", "required": True}}],
        nodes=[{"node_type": "llm", "title": "Summarise"}],
    )
    return {
        "base_url": server.base_url,
        "dataset_api_key": server.dataset_api_key,
        "dataset_id": kb.id,
        "apps": {
            "chat": chat.api_key,
            "agent-chat": agent.api_key,
            "advanced-chat": chatflow.api_key,
            "completion": completion.api_key,
            "workflow": workflow.api_key,
        },
    }
