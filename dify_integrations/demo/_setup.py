"""Load the demo content (the Stowaway handbook and four apps) into a local server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dify_integrations.demo._handbook import handbook_documents
from dify_integrations.demo._release_notes import release_notes_nodes
from dify_integrations.demo._responders import grounded_answer
from dify_integrations.demo._triage import triage_nodes

if TYPE_CHECKING:
    from dify_integrations.testing import DifyTestServer

__all__ = ["DemoApps", "load_demo"]


@dataclass(frozen=True)
class DemoApps:
    """Where the demo content lives: the base URL, the app keys and the knowledge base.

    Attributes:
        base_url: The Service API root (``http://127.0.0.1:<port>/v1``).
        dataset_id: The "Stowaway Handbook" knowledge base.
        dataset_api_key: The knowledge key (``dataset-…``).
        chat_app_key: "Stowaway Support" chat app over the handbook.
        completion_app_key: "Stowaway Answer Writer" completion app (prompt in ``query``).
        workflow_app_keys: Workflow apps by tool name: ``ticket_triage`` and
            ``release_notes``.
    """

    base_url: str
    dataset_id: str
    dataset_api_key: str
    chat_app_key: str
    completion_app_key: str
    workflow_app_keys: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The ``DIFY_*`` variables that point ``dify-integrations demo`` at this content."""
        return {
            "DIFY_BASE_URL": self.base_url,
            "DIFY_CHAT_APP_KEY": self.chat_app_key,
            "DIFY_COMPLETION_APP_KEY": self.completion_app_key,
            "DIFY_WORKFLOW_APP_KEY": ",".join(self.workflow_app_keys.values()),
            "DIFY_DATASET_API_KEY": self.dataset_api_key,
            "DIFY_DATASET_ID": self.dataset_id,
        }


_PLANS = ["Starter", "Team", "Business"]


def load_demo(server: DifyTestServer) -> DemoApps:
    """Create the demo knowledge base and apps on a running ``DifyTestServer``.

    Args:
        server: A started server.

    Returns:
        The keys and ids of what was created.
    """
    kb = server.create_dataset(
        "Stowaway Handbook",
        handbook_documents(),
        description="Product handbook of Stowaway, a backup and restore service.",
        tags=["support"],
        top_k=3,
    )
    chat = server.create_chat_app(
        "Stowaway Support",
        dataset_ids=[kb.id],
        responder=grounded_answer,
        opening_statement="Hi! Ask me anything about Stowaway backups and restores.",
        description="Answers customer questions from the Stowaway handbook.",
        suggested_questions=[
            "How do I restore a deleted file?",
            "What does error STW-402 mean?",
        ],
    )
    completion = server.create_completion_app(
        "Stowaway Answer Writer",
        template="{{query}}",
        user_input_form=[{"paragraph": {"label": "Prompt", "variable": "query", "required": True}}],
        responder=grounded_answer,
        dataset_ids=[kb.id],
        description="Writes an answer from the context given in the prompt.",
    )
    ticket_triage = server.create_workflow_app(
        "Ticket Triage",
        None,
        description=(
            "Triage a Stowaway support ticket: category, priority and first-response "
            "target, plus the error codes, agent versions, snapshot ids and platforms it "
            "mentions and the handbook articles to read."
        ),
        user_input_form=[
            {"paragraph": {"label": "Ticket text", "variable": "ticket", "required": True}},
            {"select": {"label": "Plan", "variable": "plan", "options": _PLANS}},
        ],
        nodes=triage_nodes(),
    )
    notes = server.create_workflow_app(
        "Release Notes",
        None,
        description=(
            "Turn conventional-commit subjects (feat, fix, perf, security, breaking) into "
            "grouped markdown release notes for a Stowaway version."
        ),
        user_input_form=[
            {
                "text-input": {
                    "label": "Version",
                    "variable": "version",
                    "required": True,
                    "max_length": 16,
                }
            },
            {"paragraph": {"label": "Changes", "variable": "changes", "required": True}},
        ],
        nodes=release_notes_nodes(),
    )
    return DemoApps(
        base_url=server.base_url,
        dataset_id=kb.id,
        dataset_api_key=server.dataset_api_key,
        chat_app_key=chat.api_key,
        completion_app_key=completion.api_key,
        workflow_app_keys={
            "ticket_triage": ticket_triage.api_key,
            "release_notes": notes.api_key,
        },
    )
