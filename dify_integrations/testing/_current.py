"""Rules of current Dify shared by several routes: New Agent apps, pinned workflow
versions, and runs that may pause on a Human Input node."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from ._errors import DifyHTTPError, invalid_param, not_found
from ._human_input import RunChannel
from ._workspace import App, Workspace

AGENT_STREAMING_ONLY = "Agent App only supports streaming response mode."
AGENT_NOT_PUBLISHED = "The bound Agent has no published version."
CITATION_KEYS = (
    "id",
    "message_id",
    "position",
    "dataset_id",
    "dataset_name",
    "document_id",
    "document_name",
    "data_source_type",
    "segment_id",
    "score",
    "hit_count",
    "word_count",
    "segment_position",
    "index_node_hash",
    "content",
    "summary",
    "created_at",
)
"""Keys of a ``GET /messages`` citation (``api/fields/message_fields.py``): no
``retriever_from``, ``page``, ``doc_metadata``, ``title`` or ``files``."""


def check_agent_app(app: App, streaming: bool) -> None:
    """New Agent (``agent``) apps: streaming only, and a published agent."""
    if app.mode != "agent":
        return
    if not streaming:
        raise DifyHTTPError(400, "bad_request", AGENT_STREAMING_ONLY)
    if not app.agent_published:
        raise DifyHTTPError(400, "agent_not_published", AGENT_NOT_PUBLISHED)


def check_workflow_id(app: App, workflow_id: Any) -> None:
    """A pinned workflow version: malformed → 400, not this app's → 404."""
    if not isinstance(workflow_id, str):
        raise invalid_param("workflow_id must be a string")
    try:
        uuid.UUID(workflow_id)
    except ValueError:
        raise DifyHTTPError(400, "bad_request", "Invalid workflow ID format") from None
    if workflow_id != app.workflow_id:
        raise not_found(f"Workflow not found with id: {workflow_id}")


def run_events(
    ws: Workspace, gen: Any, events: AsyncIterator[dict[str, Any]], *, pauses: bool
) -> AsyncIterator[dict[str, Any]]:
    """The events of a response: all of them, or (for a run that may pause) the first leg.

    A run with a Human Input node is pumped by a `RunChannel` kept in the workspace, so
    that ``GET /workflow/{run_id}/events`` can stream its next leg after a form is
    submitted.
    """
    if not pauses or gen.run is None:
        return events
    channel = RunChannel(gen, events)
    with ws.lock:
        ws.paused_runs[gen.run.id] = channel
    return channel.leg()


def citation(item: dict[str, Any]) -> dict[str, Any]:
    """A ``GET /messages`` citation with exactly the keys Dify sends."""
    return {key: item.get(key) for key in CITATION_KEYS}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))


def record_feedback(
    ws: Workspace, app: App, message: Any, rating: str | None, content: str | None
) -> None:
    """Keep the feedback of a message for ``GET /app/feedbacks`` (``None`` revokes it)."""
    with ws.lock:
        if rating is None:
            ws.feedbacks.pop(message.id, None)
            return
        ts = time.time()
        old = ws.feedbacks.get(message.id)
        ws.feedbacks[message.id] = {
            "id": old["id"] if old else f"{message.id[:24]}{int(ts) % 10**12:012d}",
            "app_id": app.id,
            "conversation_id": message.conversation_id,
            "message_id": message.id,
            "rating": rating,
            "content": content,
            "from_source": "user",
            "from_end_user_id": ws.end_user_id(app.id, message.user),
            "from_account_id": None,
            "created_at": old["created_at"] if old else _iso(ts),
            "updated_at": _iso(ts),
        }
