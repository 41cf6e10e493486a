"""A small default workspace: one knowledge base and one app of each mode."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ._server import DifyTestServer

HANDBOOK = [
    {
        "name": "returns-policy.md",
        "text": (
            "Items can be returned within 30 days of delivery if unused and in original "
            "packaging.\n\nRefunds are issued to the original payment method within 5 "
            "business days after the returned item arrives."
        ),
        "metadata": {"department": "support", "language": "en"},
    },
    {
        "name": "shipping.md",
        "text": (
            "Standard shipping takes 3 to 5 business days. Express shipping delivers the next "
            "business day for orders placed before 2 pm.\n\nWe ship to every country in the "
            "European Union and to Norway, Switzerland and the United Kingdom."
        ),
        "metadata": {"department": "logistics", "language": "en"},
    },
    {
        "name": "warranty.md",
        "text": (
            "Every device has a two year warranty covering manufacturing defects. The warranty "
            "does not cover accidental damage or water damage."
        ),
        "metadata": {"department": "support", "language": "en"},
    },
]


def summarise(inputs: dict[str, Any]) -> Generator[str, None, dict[str, str]]:
    """Demo workflow handler: streams a one-line summary of ``topic``."""
    topic = str(inputs.get("topic", "")).strip() or "nothing"
    text = f"A short note about {topic}."
    for word in text.split(" "):
        yield word if word == text.split(" ")[0] else " " + word
    return {"summary": text}


def populate(server: DifyTestServer) -> dict[str, Any]:
    """Create the default workspace on ``server``; returns ids and keys (JSON-able)."""
    kb = server.create_dataset(
        "Product Handbook", HANDBOOK, description="Policies and FAQs", tags=["support"]
    )
    chat = server.create_chat_app(
        "Support Assistant",
        dataset_ids=[kb.id],
        opening_statement="Hi! I can answer questions about orders and returns.",
        description="Answers order questions",
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
