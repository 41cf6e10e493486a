"""Typed, lenient models of Dify stream events, and `parse_event`.

Unknown events parse as a plain `StreamEvent` (or `WorkflowEvent` when they carry a
``workflow_run_id``), so a newer server never breaks a stream. Unknown fields are kept.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import Field, ValidationError, field_validator

from .models import (
    DifyModel,
    HumanInputRequest,
    MessageMetadata,
    RetrieverResource,
    Usage,
    WorkflowRunData,
    _none_to_dict,
    _none_to_list,
    _str_or_empty,
)

__all__ = [
    "AgentLogData",
    "AgentLogEvent",
    "AgentMessageEvent",
    "AgentThoughtEvent",
    "ErrorEvent",
    "HumanInputFormFilledData",
    "HumanInputFormFilledEvent",
    "HumanInputFormTimeoutData",
    "HumanInputFormTimeoutEvent",
    "HumanInputRequest",
    "HumanInputRequiredEvent",
    "IterationCompletedEvent",
    "IterationNextEvent",
    "IterationStartedEvent",
    "LoopCompletedEvent",
    "LoopData",
    "LoopNextEvent",
    "LoopStartedEvent",
    "MessageEndEvent",
    "MessageEvent",
    "MessageFileEvent",
    "MessageMetadata",
    "MessageReplaceEvent",
    "NodeData",
    "NodeFinishedEvent",
    "NodeRetryData",
    "NodeRetryEvent",
    "NodeStartedEvent",
    "ReasoningChunkData",
    "ReasoningChunkEvent",
    "RetrieverResource",
    "StreamEvent",
    "TTSMessageEndEvent",
    "TTSMessageEvent",
    "TextChunkData",
    "TextChunkEvent",
    "TextReplaceEvent",
    "Usage",
    "WorkflowEvent",
    "WorkflowFinishedData",
    "WorkflowFinishedEvent",
    "WorkflowPausedData",
    "WorkflowPausedEvent",
    "WorkflowStartedData",
    "WorkflowStartedEvent",
    "parse_event",
]


class StreamEvent(DifyModel):
    """Base of every stream event; the envelope fields are optional.

    Attributes:
        event: The event name (``message``, ``workflow_finished``, ...).
        task_id: Generation task id (needed to stop it); absent on ``error``.
        conversation_id: Chat-family envelope.
        message_id: Chat/completion envelope.
        workflow_run_id: Workflow and chatflow events.
        created_at: Unix seconds.
    """

    event: str
    task_id: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    workflow_run_id: str | None = None
    created_at: int | None = None


class MessageEvent(StreamEvent):
    """``message``: an answer delta."""

    id: str | None = None
    answer: str = ""
    from_variable_selector: list[str] | None = None

    _answer = field_validator("answer", mode="before")(_str_or_empty)


class AgentMessageEvent(MessageEvent):
    """``agent_message``: an answer delta of an agent app."""


class AgentThoughtEvent(StreamEvent):
    """``agent_thought``: one agent step, re-sent with the same ``id`` as it fills in."""

    id: str | None = None
    position: int | None = None
    thought: str = ""
    observation: str = ""
    tool: str = ""
    tool_labels: dict[str, Any] | None = None
    tool_input: str = ""
    message_files: list[str] = Field(default_factory=list)

    _texts = field_validator("thought", "observation", "tool", "tool_input", mode="before")(
        _str_or_empty
    )

    _files = field_validator("message_files", mode="before")(_none_to_list)


class MessageFileEvent(StreamEvent):
    """``message_file``: a file produced by a tool (newer servers may send text here)."""

    id: str | None = None
    type: str | None = None
    belongs_to: str | None = None
    url: str | None = None
    answer: str | None = None


class MessageReplaceEvent(StreamEvent):
    """``message_replace``: moderation replaced the whole answer."""

    answer: str = ""
    reason: str | None = None

    _answer = field_validator("answer", mode="before")(_str_or_empty)


class MessageEndEvent(StreamEvent):
    """``message_end``: the last content event of a message, with usage and citations."""

    id: str | None = None
    metadata: MessageMetadata = Field(default_factory=MessageMetadata)
    files: list[dict[str, Any]] | None = None

    _meta = field_validator("metadata", mode="before")(_none_to_dict)


class TTSMessageEvent(StreamEvent):
    """``tts_message``: a base64 MP3 chunk."""

    audio: str = ""

    _audio = field_validator("audio", mode="before")(_str_or_empty)


class TTSMessageEndEvent(TTSMessageEvent):
    """``tts_message_end``: end of the audio."""


class ErrorEvent(StreamEvent):
    """``error``: the generation failed after the stream started (no ``task_id``)."""

    code: str | None = None
    message: str | None = None
    status: int | None = None


class WorkflowEvent(StreamEvent):
    """Any workflow/chatflow event: top-level ``workflow_run_id``, ``task_id`` and ``data``."""

    data: Any = None


class WorkflowStartedData(DifyModel):
    """``data`` of ``workflow_started``."""

    id: str | None = None
    workflow_id: str | None = None
    inputs: dict[str, Any] | None = None
    created_at: int | None = None
    reason: str | None = None
    """``initial``, or ``resumption`` when a paused run resumes (current Dify)."""


class WorkflowStartedEvent(WorkflowEvent):
    """``workflow_started``."""

    data: WorkflowStartedData = Field(default_factory=WorkflowStartedData)


class NodeData(DifyModel):
    """``data`` of node events."""

    id: str | None = None
    node_id: str | None = None
    node_type: str | None = None
    title: str | None = None
    index: int | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    status: str | None = None
    error: str | None = None
    elapsed_time: float | None = None
    execution_metadata: dict[str, Any] | None = None
    iteration_id: str | None = None
    loop_id: str | None = None


class NodeStartedEvent(WorkflowEvent):
    """``node_started``."""

    data: NodeData = Field(default_factory=NodeData)


class NodeFinishedEvent(WorkflowEvent):
    """``node_finished``."""

    data: NodeData = Field(default_factory=NodeData)


class NodeRetryData(NodeData):
    """``data`` of ``node_retry``: a node attempt that failed and will be retried."""

    retry_index: int | None = None


class NodeRetryEvent(WorkflowEvent):
    """``node_retry``: a node failed an attempt (``status`` ``retry``) and runs again."""

    data: NodeRetryData = Field(default_factory=NodeRetryData)


class LoopData(NodeData):
    """``data`` of the iteration and loop events (``iteration_*``, ``loop_*``)."""

    created_at: int | None = None
    finished_at: int | None = None
    extras: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    total_tokens: int | None = None
    steps: int | None = None
    pre_loop_output: Any = None
    pre_iteration_output: Any = None


class IterationStartedEvent(WorkflowEvent):
    """``iteration_started``: an iteration node begins."""

    data: LoopData = Field(default_factory=LoopData)


class IterationNextEvent(WorkflowEvent):
    """``iteration_next``: the next round of an iteration (``data.index``)."""

    data: LoopData = Field(default_factory=LoopData)


class IterationCompletedEvent(WorkflowEvent):
    """``iteration_completed``: an iteration node ended (``outputs``, ``steps``)."""

    data: LoopData = Field(default_factory=LoopData)


class LoopStartedEvent(WorkflowEvent):
    """``loop_started``: a loop node begins."""

    data: LoopData = Field(default_factory=LoopData)


class LoopNextEvent(WorkflowEvent):
    """``loop_next``: the next round of a loop (``pre_loop_output`` is ``{}`` today)."""

    data: LoopData = Field(default_factory=LoopData)


class LoopCompletedEvent(WorkflowEvent):
    """``loop_completed``: a loop node ended."""

    data: LoopData = Field(default_factory=LoopData)


class TextChunkData(DifyModel):
    """``data`` of ``text_chunk`` / ``text_replace``."""

    text: str = ""
    from_variable_selector: list[str] | None = None

    _text = field_validator("text", mode="before")(_str_or_empty)


class TextChunkEvent(WorkflowEvent):
    """``text_chunk``: streamed text of a workflow's End-node output."""

    data: TextChunkData = Field(default_factory=TextChunkData)


class TextReplaceEvent(WorkflowEvent):
    """``text_replace``: replaces the streamed workflow text."""

    data: TextChunkData = Field(default_factory=TextChunkData)


class WorkflowFinishedData(WorkflowRunData):
    """``data`` of ``workflow_finished`` (and of ``workflow_paused``): a run's data, plus files."""

    files: list[Any] | None = None


class WorkflowFinishedEvent(WorkflowEvent):
    """``workflow_finished``: terminal for workflow apps; followed by ``message_end`` in chatflows."""

    data: WorkflowFinishedData = Field(default_factory=WorkflowFinishedData)


class WorkflowPausedData(WorkflowFinishedData):
    """``data`` of ``workflow_paused``: which nodes wait, and why."""

    workflow_run_id: str | None = None
    paused_nodes: list[str] = Field(default_factory=list)
    reasons: list[dict[str, Any]] = Field(default_factory=list)

    _lists = field_validator("paused_nodes", "reasons", mode="before")(_none_to_list)


class WorkflowPausedEvent(WorkflowEvent):
    """``workflow_paused`` (current Dify): terminal for the stream, ``status`` is ``paused``.

    The run waits for a person (a Human Input node); the ``human_input_required`` events
    before it carry the forms. The stream ends here: a complete response of kind "paused".
    """

    data: WorkflowPausedData = Field(default_factory=WorkflowPausedData)


class HumanInputRequiredEvent(WorkflowEvent):
    """``human_input_required``: a Human Input node waits; ``data`` is the form request."""

    data: HumanInputRequest = Field(default_factory=HumanInputRequest)


class HumanInputFormFilledData(DifyModel):
    """``data`` of ``human_input_form_filled``."""

    node_id: str | None = None
    node_title: str | None = None
    rendered_content: str | None = None
    action_id: str | None = None
    action_text: str | None = None


class HumanInputFormFilledEvent(WorkflowEvent):
    """``human_input_form_filled``: a person submitted the form; the run goes on."""

    data: HumanInputFormFilledData = Field(default_factory=HumanInputFormFilledData)


class HumanInputFormTimeoutData(DifyModel):
    """``data`` of ``human_input_form_timeout``."""

    node_id: str | None = None
    node_title: str | None = None
    expiration_time: int | None = None


class HumanInputFormTimeoutEvent(WorkflowEvent):
    """``human_input_form_timeout``: the form expired before anyone submitted it."""

    data: HumanInputFormTimeoutData = Field(default_factory=HumanInputFormTimeoutData)


class ReasoningChunkData(DifyModel):
    """``data`` of ``reasoning_chunk``."""

    message_id: str | None = None
    reasoning: str = ""
    node_id: str | None = None
    is_final: bool = False

    _reasoning = field_validator("reasoning", mode="before")(_str_or_empty)

    @field_validator("is_final", mode="before")
    @classmethod
    def _final(cls, value: Any) -> Any:
        return False if value is None else value


class ReasoningChunkEvent(StreamEvent):
    """``reasoning_chunk``: a delta of the model's reasoning, separate from the answer.

    Sent by LLM nodes with ``reasoning_format: separated`` in chatflow and workflow streams.
    """

    data: ReasoningChunkData = Field(default_factory=ReasoningChunkData)


class AgentLogData(DifyModel):
    """``data`` of ``agent_log``."""

    node_execution_id: str | None = None
    id: str | None = None
    label: str | None = None
    parent_id: str | None = None
    error: str | None = None
    status: str | None = None
    data: Any = None
    metadata: dict[str, Any] | None = None
    node_id: str | None = None


class AgentLogEvent(WorkflowEvent):
    """``agent_log``: a log entry of an Agent node (no top-level ``workflow_run_id``)."""

    data: AgentLogData = Field(default_factory=AgentLogData)


_EVENT_CLASSES: dict[str, type[StreamEvent]] = {
    "message": MessageEvent,
    "agent_message": AgentMessageEvent,
    "agent_thought": AgentThoughtEvent,
    "message_file": MessageFileEvent,
    "message_replace": MessageReplaceEvent,
    "message_end": MessageEndEvent,
    "tts_message": TTSMessageEvent,
    "tts_message_end": TTSMessageEndEvent,
    "error": ErrorEvent,
    "workflow_started": WorkflowStartedEvent,
    "node_started": NodeStartedEvent,
    "node_finished": NodeFinishedEvent,
    "text_chunk": TextChunkEvent,
    "text_replace": TextReplaceEvent,
    "workflow_finished": WorkflowFinishedEvent,
    "workflow_paused": WorkflowPausedEvent,
    "agent_log": AgentLogEvent,
    "node_retry": NodeRetryEvent,
    "iteration_started": IterationStartedEvent,
    "iteration_next": IterationNextEvent,
    "iteration_completed": IterationCompletedEvent,
    "loop_started": LoopStartedEvent,
    "loop_next": LoopNextEvent,
    "loop_completed": LoopCompletedEvent,
    "human_input_required": HumanInputRequiredEvent,
    "human_input_form_filled": HumanInputFormFilledEvent,
    "human_input_form_timeout": HumanInputFormTimeoutEvent,
    "reasoning_chunk": ReasoningChunkEvent,
}


# The fields that carry what the caller reads as the answer. A value there that does not
# validate makes the event unreadable: it is reported, never dropped or guessed at.
_TEXT: tuple[tuple[str, ...], ...] = (("answer",),)
_DATA_TEXT: tuple[tuple[str, ...], ...] = (("data", "text"),)
_RUN: tuple[tuple[str, ...], ...] = (("data", "outputs"), ("data", "status"), ("data", "error"))
_CONTENT: dict[type[StreamEvent], tuple[tuple[str, ...], ...]] = {
    MessageEvent: _TEXT,
    AgentMessageEvent: _TEXT,
    MessageReplaceEvent: _TEXT,
    MessageFileEvent: _TEXT,
    TextChunkEvent: _DATA_TEXT,
    TextReplaceEvent: _DATA_TEXT,
    WorkflowFinishedEvent: _RUN,
    WorkflowPausedEvent: _RUN,
}
_LENIENT_ROUNDS = 8


def _overlaps(loc: tuple[Any, ...], path: tuple[str, ...]) -> bool:
    n = min(len(loc), len(path))
    return loc[:n] == path[:n]


def _drop(obj: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    """Remove the value at ``loc`` (as deep as it exists); whether anything was removed."""
    parent: Any = None
    key: Any = None
    node: Any = obj
    for part in loc:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        if not in_dict and not (isinstance(node, list) and isinstance(part, int)):
            break
        if not in_dict and not 0 <= part < len(node):
            break
        parent, key, node = node, part, node[part]
    if parent is None:
        return False
    del parent[key]
    return True


def _lenient(cls: type[StreamEvent], obj: dict[str, Any], error: ValidationError) -> StreamEvent:
    """Validate ``obj`` without the metadata values that do not fit ``cls``.

    A surprising type in a metadata field (a fractional ``created_at``, a string token
    count) drops that value only (it falls back to its default); the event and its text
    are kept. A value that does not fit in a content field raises ``ValueError``.
    """
    content = _CONTENT.get(cls, ())
    data = copy.deepcopy(obj)
    for _ in range(_LENIENT_ROUNDS):
        locs = sorted((tuple(e["loc"]) for e in error.errors()), key=repr, reverse=True)
        dropped = False
        for loc in locs:
            bad = next((path for path in content if _overlaps(loc, path)), None)
            if bad is not None or loc[:1] == ("event",):
                field = ".".join(str(p) for p in loc)
                raise ValueError(f"'{obj['event']}' event: its {field!r} field cannot be read")
            dropped = _drop(data, loc) or dropped
        if not dropped:
            break
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            error = exc
    raise ValueError(f"'{obj['event']}' event cannot be read")


def parse_event(obj: dict[str, Any]) -> StreamEvent:
    """Parse one decoded stream payload into its typed event.

    Args:
        obj: The JSON object of a ``data:`` frame; must hold a string ``event``.

    Returns:
        The typed event; unknown names give a `WorkflowEvent` (when the object has a
        ``workflow_run_id`` or ``data``) or a plain `StreamEvent`. A metadata field of
        a surprising type (a fractional ``created_at``...) is dropped, not the event: the
        event keeps its class and its text.

    Raises:
        ValueError: If ``obj`` is not a dict with a string ``event``, or a field that
            carries answer text or a run's result does not have a readable type.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("event"), str):
        raise ValueError("a stream event must be a JSON object with a string 'event'")
    cls = _EVENT_CLASSES.get(obj["event"])
    if cls is None:
        cls = WorkflowEvent if ("workflow_run_id" in obj or "data" in obj) else StreamEvent
    try:
        return cls.model_validate(obj)
    except ValidationError as exc:
        if cls is ErrorEvent:
            return ErrorEvent.model_construct(**obj)
        return _lenient(cls, obj, exc)
