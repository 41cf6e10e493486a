"""Test data the LangChain and LlamaIndex suites share: documents, responders, workflows.

Only what is the same thing in both suites lives here; each suite's ``conftest.py`` still
builds its own server and apps, so its fixtures read on their own. Import it as
``from tests._shared_data import ...`` (pytest's ``pythonpath = ["."]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dify_integrations.testing import DifyTestServer

# ----------------------------------------------------------------------------- documents

SHIPPING_DOC = {
    "name": "shipping.md",
    "text": "Standard shipping takes 3 to 7 days. Express shipping arrives in 1 to 2 "
    "days. Shipping is free for orders over 50 dollars.",
    "metadata": {"category": "shipping"},
}

WARRANTY_DOC = {
    "name": "warranty.md",
    "text": "Every device has a two year warranty covering manufacturing defects. "
    "Accidental damage is not covered by the warranty.",
    "metadata": {"category": "billing"},
}

STORES_TEXT = "The company once ran twelve physical stores, all closed in 2019."

# A workflow form with one required text input.
TEXT_FORM = [{"text-input": {"label": "Text", "variable": "text", "required": True}}]


# ----------------------------------------------------------------------------- responders


def words_of(text: str) -> Iterator[str]:
    """``text`` as tokens: one word (with its trailing space) at a time."""
    yield from re.findall(r"\S+\s*", text)


def echo_responder(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[dict[str, Any]]
) -> Iterator[str]:
    """Answers that show what reached the app: turn number, query, inputs and files."""
    text = f"Turn {len(history) + 1}: you said {query!r}."
    if inputs:
        text += " Inputs: " + ", ".join(f"{k}={v}" for k, v in sorted(inputs.items())) + "."
    if files:
        text += " Files: " + ", ".join(str(f.get("type")) for f in files) + "."
    yield from words_of(text)


# ----------------------------------------------------------------------------- workflows


def analyse(inputs: dict[str, Any]) -> dict[str, Any]:
    """A workflow with several outputs."""
    text = str(inputs.get("text", ""))
    return {"length": len(text), "upper": text.upper()}


def explode(inputs: dict[str, Any]) -> dict[str, Any]:
    """A workflow whose run fails inside the graph."""
    raise RuntimeError("translation model unavailable")


# ----------------------------------------------------------------------------- moderation

REDACTED = "[redacted]"


def you_asked(query: str, *_: Any) -> Iterator[str]:
    """Answer with the query itself, word by word (several ``message`` deltas)."""
    yield from words_of(f"You asked: {query}")


def redact_secrets(answer: str) -> str | None:
    """Replace answers that mention a secret; leave the others alone."""
    return REDACTED if "secret" in answer else None


@dataclass(frozen=True)
class ModeratedApps:
    """Apps whose output moderation replaces the answer (``selective``: only secrets)."""

    base_url: str
    chat_key: str
    chatflow_key: str
    selective_key: str
    completion_key: str


def create_moderated_apps(server: DifyTestServer) -> ModeratedApps:
    """Create the moderated chat, chatflow, selective chat and completion apps on ``server``."""
    chat = server.create_chat_app("Moderated", responder=you_asked, moderation=lambda a: REDACTED)
    chatflow = server.create_chat_app(
        "Moderated Flow", mode="advanced-chat", responder=you_asked, moderation=lambda a: REDACTED
    )
    selective = server.create_chat_app("Selective", responder=you_asked, moderation=redact_secrets)
    completion = server.create_completion_app(
        "Moderated Writer", template="Draft about {{query}}", moderation=lambda a: REDACTED
    )
    return ModeratedApps(
        server.base_url, chat.api_key, chatflow.api_key, selective.api_key, completion.api_key
    )


# ----------------------------------------------------------------------------- human input

APPROVAL_FORM: dict[str, Any] = {
    "title": "Approve",
    "form_content": "Approve the refund?",
    "inputs": [{"type": "paragraph", "output_variable_name": "comment"}],
    "actions": [{"id": "approve", "title": "Approve"}, {"id": "reject", "title": "Reject"}],
}
"""A Human Input node: a comment and two actions (``DifyTestServer`` ``human_input=``)."""


def decision_responder(query: str, inputs: dict[str, Any], history: Any, files: Any) -> str:
    """A chatflow answer made of the submitted form: ``<action>: <comment>``."""
    return f"{inputs.get('__action_id')}: {inputs.get('comment')}"
