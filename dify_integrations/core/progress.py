"""Workflow progress: which stream events report a run's progress, as plain dicts (no framework).

Both ``DifyWorkflowTool`` adapters show a run's progress where their framework's users look
(LangChain: custom callback events and LangGraph's ``stream_mode="custom"``; LlamaIndex:
events written to an agent workflow's stream). They all carry :func:`progress_payload`.
"""

from __future__ import annotations

from typing import Any

from .events import NodeFinishedEvent, NodeStartedEvent, StreamEvent, WorkflowStartedEvent

__all__ = ["progress_payload"]


def progress_payload(event: StreamEvent) -> dict[str, Any] | None:
    """The progress of a workflow run that ``event`` reports, or ``None`` for other events.

    ``workflow_started`` gives the run and task ids; ``node_started`` / ``node_finished``
    add the node's id, type, title and index, and when finished its ``status``,
    ``elapsed_time`` and ``error``.
    """
    if isinstance(event, WorkflowStartedEvent):
        return {
            "event": event.event,
            "workflow_run_id": event.workflow_run_id,
            "task_id": event.task_id,
        }
    if isinstance(event, NodeStartedEvent | NodeFinishedEvent):
        data = event.data
        payload: dict[str, Any] = {
            "event": event.event,
            "workflow_run_id": event.workflow_run_id,
            "task_id": event.task_id,
            "node_id": data.node_id,
            "node_type": data.node_type,
            "title": data.title,
            "index": data.index,
        }
        if isinstance(event, NodeFinishedEvent):
            payload.update(status=data.status, elapsed_time=data.elapsed_time, error=data.error)
        return payload
    return None
