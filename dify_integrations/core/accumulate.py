"""The pure reducer that folds stream events into a final answer.

One `StreamResult` serves the sync and async streams and the blocking calls (which stream
internally and fold): no I/O here.
"""

from __future__ import annotations

from typing import Any

from .events import (
    AgentMessageEvent,
    AgentThoughtEvent,
    ErrorEvent,
    HumanInputFormFilledEvent,
    HumanInputFormTimeoutEvent,
    HumanInputRequiredEvent,
    MessageEndEvent,
    MessageEvent,
    MessageFileEvent,
    MessageReplaceEvent,
    ReasoningChunkEvent,
    StreamEvent,
    TextChunkEvent,
    TextReplaceEvent,
    WorkflowFinishedEvent,
    WorkflowPausedEvent,
    WorkflowStartedEvent,
)
from .models import (
    ChatMessageResponse,
    CompletionMessageResponse,
    HumanInputRequest,
    MessageMetadata,
    RetrieverResource,
    Usage,
    WorkflowRunData,
    WorkflowRunResponse,
)

__all__ = ["StreamResult"]


def _changes_text(event: StreamEvent) -> bool:
    """Whether folding ``event`` would change the answer text."""
    if isinstance(event, MessageFileEvent):
        return event.url is None and event.answer is not None
    return isinstance(event, MessageEvent | TextChunkEvent | MessageReplaceEvent | TextReplaceEvent)


class StreamResult:
    """Running fold of the events of one stream.

    The answer is kept as a list of pieces and joined on first read (then cached), so
    folding a long answer stays linear; consumers that follow a stream event by event read
    `last_delta` rather than the whole `answer`.

    Attributes:
        answer: The text so far (message/agent_message deltas, or workflow ``text_chunk``s).
        last_delta: The text the last folded event added to ``answer`` (``""`` if none).
        replacements: How many ``message_replace``/``text_replace`` events were folded.
        conversation_id: From the envelope of chat-family events.
        message_id: From the envelope (or ``id`` of ``message_end``).
        task_id: From the first event that carries one.
        workflow_run_id: From workflow/chatflow events.
        usage: Token usage from ``message_end`` (or ``workflow_finished`` totals).
        retriever_resources: Citations from ``message_end``.
        agent_thoughts: Agent steps, upserted by ``id``, ordered by ``position``.
        files: Files from ``message_file`` events and ``message_end.files``.
        outputs: Workflow outputs from ``workflow_finished``.
        status: Workflow status from ``workflow_finished`` (``succeeded``, ``stopped``...),
            or ``paused`` after ``workflow_paused``.
        error: Workflow error text, or the message of an ``error`` event.
        finished: A terminal event arrived: ``message_end`` (chatflows send it before
            ``workflow_finished`` on current Dify, after it on older builds: both orders
            end complete); ``workflow_finished`` for workflow apps; ``workflow_paused``
            for both (the run waits for a person: a complete response of kind "paused").
        replaced: A ``message_replace``/``text_replace`` replaced the answer, or a New
            Agent app's closing ``message`` differed from its streamed deltas.
        reasoning: The model's reasoning (``reasoning_chunk`` deltas), never in ``answer``.
        last_reasoning: The reasoning text the last folded event added (``""`` if none).
        human_input: Forms of Human Input nodes waiting for a person
            (``human_input_required``); a form filled or timed out later in the same
            stream is removed.
        human_input_events: ``human_input_form_filled``/``_timeout`` events, in order.
        annotation_reply: From ``message_end`` metadata.
        workflow_data: The whole ``data`` of ``workflow_finished``.
        created_at: Envelope timestamp of the first event.
    """

    __slots__ = (
        "_agent_deltas",
        "_joined",
        "_parts",
        "_reasoning_parts",
        "_thought_index",
        "_thoughts",
        "_thoughts_sorted",
        "annotation_reply",
        "conversation_id",
        "created_at",
        "error",
        "event_count",
        "files",
        "finished",
        "human_input",
        "human_input_events",
        "last_delta",
        "last_reasoning",
        "message_id",
        "outputs",
        "replaced",
        "replacements",
        "retriever_resources",
        "status",
        "task_id",
        "usage",
        "workflow_data",
        "workflow_run_id",
    )

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._joined: str | None = ""
        self.last_delta = ""
        self.replacements = 0
        self.conversation_id: str | None = None
        self.message_id: str | None = None
        self.task_id: str | None = None
        self.workflow_run_id: str | None = None
        self.usage: Usage | None = None
        self.retriever_resources: list[RetrieverResource] = []
        self._thoughts: list[AgentThoughtEvent] = []  # in order of first arrival
        self._thoughts_sorted: list[AgentThoughtEvent] | None = self._thoughts
        self.files: list[dict[str, Any]] = []
        self.outputs: dict[str, Any] | None = None
        self.status: str | None = None
        self.error: str | None = None
        self.finished = False
        self.replaced = False
        self.annotation_reply: dict[str, Any] | None = None
        self.workflow_data: dict[str, Any] | None = None
        self.created_at: int | None = None
        self.event_count = 0
        self._thought_index: dict[str, int] = {}
        self._agent_deltas = False
        self._reasoning_parts: list[str] = []
        self.last_reasoning = ""
        self.human_input: list[HumanInputRequest] = []
        self.human_input_events: list[HumanInputFormFilledEvent | HumanInputFormTimeoutEvent] = []

    def __repr__(self) -> str:
        return (
            f"StreamResult(answer={self.answer!r}, finished={self.finished}, "
            f"status={self.status!r}, task_id={self.task_id!r})"
        )

    @property
    def answer(self) -> str:
        """The text so far (joined from its pieces on first read, then cached)."""
        if self._joined is None:
            self._joined = "".join(self._parts)
            self._parts = [self._joined] if self._joined else []
        return self._joined

    @answer.setter
    def answer(self, text: str) -> None:
        self._parts = [text] if text else []
        self._joined = text

    def _append(self, text: str) -> str:
        if text:
            self._parts.append(text)
            self._joined = None
        return text

    def _replace(self, text: str) -> str:
        self.answer = text
        self.replaced = True
        self.replacements += 1
        return ""

    @property
    def agent_thoughts(self) -> list[AgentThoughtEvent]:
        """Agent steps, upserted by ``id``, ordered by ``position`` (sorted on read)."""
        if self._thoughts_sorted is None:
            self._thoughts_sorted = sorted(self._thoughts, key=lambda t: t.position or 0)
        return self._thoughts_sorted

    @property
    def reasoning(self) -> str:
        """The model's reasoning so far (``reasoning_chunk`` deltas joined)."""
        if len(self._reasoning_parts) > 1:
            self._reasoning_parts = ["".join(self._reasoning_parts)]
        return self._reasoning_parts[0] if self._reasoning_parts else ""

    @property
    def paused(self) -> bool:
        """Whether the run stopped at a Human Input node and waits for a person."""
        return self.status == "paused"

    @property
    def is_chatflow(self) -> bool:
        """Whether workflow events arrived inside a chat (advanced-chat) stream."""
        return self.workflow_run_id is not None and (
            self.conversation_id is not None or self.message_id is not None
        )

    def add(self, event: StreamEvent) -> str:
        """Fold one event in.

        Args:
            event: A parsed event (pings are never passed here).

        Returns:
            The text delta this event adds to ``answer`` (``""`` for non-text events and for
            replacements, which set ``replaced`` instead); also kept as ``last_delta``.
            A reasoning delta is never returned: it is in ``last_reasoning``.
        """
        self.last_reasoning = ""
        self.last_delta = self._fold(event)
        return self.last_delta

    def _fold(self, event: StreamEvent) -> str:
        self.event_count += 1
        if self.finished and _changes_text(event):
            return ""  # the answer is complete: nothing after its terminal event changes it
        if self.task_id is None and event.task_id:
            self.task_id = event.task_id
        if self.conversation_id is None and event.conversation_id:
            self.conversation_id = event.conversation_id
        if self.message_id is None and event.message_id:
            self.message_id = event.message_id
        if self.workflow_run_id is None and event.workflow_run_id:
            self.workflow_run_id = event.workflow_run_id
        if self.created_at is None and event.created_at is not None:
            self.created_at = event.created_at

        if isinstance(event, AgentMessageEvent):
            self._agent_deltas = True
            return self._append(event.answer)
        if isinstance(event, MessageEvent):
            if self._agent_deltas:
                return self._closing_message(event.answer)
            return self._append(event.answer)
        if isinstance(event, ReasoningChunkEvent):
            text = event.data.reasoning
            if text:
                self._reasoning_parts.append(text)
                self.last_reasoning = text
            return ""
        if isinstance(event, HumanInputRequiredEvent):
            form = event.data
            if form.workflow_run_id is None and self.workflow_run_id is not None:
                form = form.model_copy(update={"workflow_run_id": self.workflow_run_id})
            self.human_input.append(form)
            return ""
        if isinstance(event, HumanInputFormFilledEvent | HumanInputFormTimeoutEvent):
            self.human_input_events.append(event)
            node = event.data.node_id
            self.human_input = [f for f in self.human_input if f.node_id != node]
            return ""
        if isinstance(event, TextChunkEvent):
            return self._append(event.data.text)
        if isinstance(event, MessageReplaceEvent):
            return self._replace(event.answer)
        if isinstance(event, TextReplaceEvent):
            return self._replace(event.data.text)
        if isinstance(event, AgentThoughtEvent):
            self._upsert_thought(event)
            return ""
        if isinstance(event, MessageFileEvent):
            if event.url is None and event.answer is not None:
                # Newer servers send text deltas under the message_file name.
                return self._append(event.answer)
            self.files.append(event.model_dump(exclude_none=True))
            return ""
        if isinstance(event, MessageEndEvent):
            self._message_end(event)
            return ""
        if isinstance(event, WorkflowFinishedEvent | WorkflowPausedEvent):
            self._workflow_end(event)
            return ""
        if isinstance(event, WorkflowStartedEvent):
            if self.workflow_run_id is None and event.data.id:
                self.workflow_run_id = event.data.id
            return ""
        if isinstance(event, ErrorEvent):
            self.error = event.message or event.code or "error"
            return ""
        return ""

    def _closing_message(self, text: str) -> str:
        """A New Agent app's closing ``message``: the complete answer, never appended.

        Equal to the streamed ``agent_message`` deltas it changes nothing; different, it
        replaces them (like ``message_replace``), so a consumer that showed the deltas
        learns that the final answer differs.
        """
        self._agent_deltas = False
        if text == self.answer:
            return ""
        return self._replace(text)

    def _upsert_thought(self, event: AgentThoughtEvent) -> None:
        # Linear: arrivals out of ``position`` order only mark the list for one sort on
        # read, instead of re-sorting on every event.
        key = event.id or f"position:{event.position}"
        thoughts = self._thoughts
        index = self._thought_index.get(key)
        if index is None:
            self._thought_index[key] = len(thoughts)
            previous = thoughts[-1].position if thoughts else None
            thoughts.append(event)
            if self._thoughts_sorted is not thoughts or (
                previous is not None and event.position is not None and event.position < previous
            ):
                self._thoughts_sorted = None
        else:
            old = thoughts[index].position
            thoughts[index] = event
            if self._thoughts_sorted is not thoughts or old != event.position:
                self._thoughts_sorted = None

    def _message_end(self, event: MessageEndEvent) -> None:
        if event.id and self.message_id is None:
            self.message_id = event.id
        meta = event.metadata
        if meta.usage is not None:
            self.usage = meta.usage
        self.retriever_resources = list(meta.retriever_resources)
        self.annotation_reply = meta.annotation_reply
        if event.files:
            self.files.extend(event.files)
        self.finished = True

    def _workflow_end(self, event: WorkflowFinishedEvent | WorkflowPausedEvent) -> None:
        data = event.data
        self.status = data.status or ("paused" if isinstance(event, WorkflowPausedEvent) else None)
        self.outputs = data.outputs if data.outputs is not None else {}
        if data.error:
            self.error = data.error
        self.workflow_data = data.model_dump()
        if self.workflow_run_id is None and data.id:
            self.workflow_run_id = data.id
        if self.usage is None and data.total_tokens is not None:
            self.usage = Usage(total_tokens=data.total_tokens)
        if isinstance(event, WorkflowPausedEvent) or not self.is_chatflow:
            # Workflow apps end here, and a paused run of either kind ends its stream;
            # a chatflow's answer is complete with its message_end (before or after).
            self.finished = True

    def metadata(self) -> MessageMetadata:
        """The message metadata folded so far (usage, citations, annotation reply)."""
        return MessageMetadata(
            usage=self.usage,
            retriever_resources=list(self.retriever_resources),
            annotation_reply=self.annotation_reply,
        )

    def _message_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "event": "message",
            "task_id": self.task_id,
            "id": self.message_id,
            "message_id": self.message_id,
            "answer": self.answer,
            "metadata": self.metadata(),
            "created_at": self.created_at,
        }
        if self.agent_thoughts:
            fields["agent_thoughts"] = [t.model_dump() for t in self.agent_thoughts]
        if self.files:
            fields["files"] = list(self.files)
        if self.workflow_run_id is not None:
            fields["workflow_run_id"] = self.workflow_run_id
        if self._reasoning_parts:
            fields["reasoning"] = self.reasoning
        if self.human_input:
            fields["human_input"] = list(self.human_input)
        return fields

    def to_chat_response(self) -> ChatMessageResponse:
        """The folded stream in the shape of a blocking chat answer."""
        return ChatMessageResponse(
            conversation_id=self.conversation_id,
            mode="advanced-chat" if self.is_chatflow else None,
            status=self.status,
            **self._message_fields(),
        )

    def to_completion_response(self) -> CompletionMessageResponse:
        """The folded stream in the shape of a blocking completion answer."""
        return CompletionMessageResponse(mode="completion", **self._message_fields())

    def to_workflow_response(self) -> WorkflowRunResponse:
        """The folded stream in the shape of a blocking workflow answer."""
        data = dict(self.workflow_data or {})
        data.setdefault("id", self.workflow_run_id)
        data["status"] = self.status
        data["outputs"] = self.outputs
        data["error"] = self.error
        return WorkflowRunResponse(
            task_id=self.task_id,
            workflow_run_id=self.workflow_run_id,
            data=WorkflowRunData.model_validate(data),
            reasoning=self.reasoning,
            human_input=list(self.human_input),
        )
