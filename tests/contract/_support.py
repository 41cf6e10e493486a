"""Helpers of the contract run: the server's content and the key each operation needs."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import requests

from dify_integrations.testing import DifyTestServer

DOCUMENTS = [
    {
        "name": "returns.md",
        "text": "Items can be returned within 30 days.\n\nRefunds take 5 business days.",
        "metadata": {"department": "support", "year": 2024},
    },
    {
        "name": "shipping.md",
        "text": "Standard shipping takes 3 to 5 business days.\n\nWe ship across Europe.",
        "metadata": {"department": "logistics", "year": 2025},
    },
    {
        "name": "warranty.md",
        "text": "Every device has a two year warranty covering manufacturing defects.",
        "metadata": {"department": "support", "year": 2023},
    },
]

# Optional variables, so generated ``inputs`` reach both the success and the validation paths.
FORM = [
    {"text-input": {"label": "Topic", "variable": "topic", "required": False, "max_length": 20}},
    {
        "select": {
            "label": "Tone",
            "variable": "tone",
            "required": False,
            "options": ["dry", "warm"],
        }
    },
]


@dataclass(frozen=True)
class ContractEnv:
    """What the contract test needs from the running server.

    Attributes:
        server: The running server.
        chat_key: Key of the chat app (chat, conversation and upload routes).
        completion_key: Key of the completion app.
        workflow_key: Key of the workflow app.
        dataset_key: The workspace's knowledge key.
        dataset_id: Id of the knowledge base with the documents.
        workflow_run_id: Id of a finished run of the workflow app.
    """

    server: DifyTestServer
    chat_key: str
    completion_key: str
    workflow_key: str
    dataset_key: str
    dataset_id: str
    workflow_run_id: str

    def key_for(self, path: str) -> str:
        """The right key for an operation of the spec, by its path template."""
        if path.startswith("/datasets"):
            return self.dataset_key
        if path.startswith("/completion-messages"):
            return self.completion_key
        if path.startswith("/workflows"):
            return self.workflow_key
        return self.chat_key

    def wrong_auth(self, path: str, salt: int) -> dict[str, str]:
        """Headers without a usable key, one of four kinds chosen by ``salt``."""
        wrong_kind = self.chat_key if path.startswith("/datasets") else self.dataset_key
        variants: list[dict[str, str]] = [
            {},
            {"Authorization": f"Bearer {wrong_kind}"},
            {"Authorization": "Bearer app-not-a-key"},
            {"Authorization": f"Basic {self.key_for(path)}"},
        ]
        return variants[salt % len(variants)]

    def new_conversation(self, user: str) -> str:
        """Start a conversation of ``user`` with the chat app; its id."""
        response = requests.post(
            f"{self.server.base_url}/chat-messages",
            json={"inputs": {}, "query": "hello", "user": user, "response_mode": "blocking"},
            headers={"Authorization": f"Bearer {self.chat_key}"},
            timeout=10,
        )
        response.raise_for_status()
        conversation_id: str = response.json()["conversation_id"]
        return conversation_id


def stable_salt(*parts: Any) -> int:
    """A number derived only from the case's content (stable across runs and replays)."""
    return zlib.crc32(repr(parts).encode("utf-8", "backslashreplace"))
