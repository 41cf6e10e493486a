"""Typed, lenient models of Dify responses.

Every model keeps unknown fields (``extra="allow"``) and tolerates missing keys and
``null`` values, so a newer or older Dify server does not break parsing.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AppInfo",
    "AppMeta",
    "AppParameters",
    "ChatMessageResponse",
    "CompletionMessageResponse",
    "Conversation",
    "ConversationList",
    "Dataset",
    "DatasetList",
    "DifyModel",
    "HumanInputRequest",
    "Message",
    "MessageList",
    "MessageMetadata",
    "RetrieveRecord",
    "RetrieveResponse",
    "RetrieverResource",
    "Segment",
    "SegmentDocument",
    "UploadedFile",
    "Usage",
    "WorkflowRunData",
    "WorkflowRunDetail",
    "WorkflowRunResponse",
]


class DifyModel(BaseModel):
    """Base of every Dify model: unknown fields are kept, validation is lenient."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


def _none_to_dict(value: Any) -> Any:
    return {} if value is None else value


def _str_or_empty(value: Any) -> Any:
    return "" if value is None else value


def _price(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


class Usage(DifyModel):
    """Token usage and price of one LLM call (prices are decimal strings, as Dify sends them)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_unit_price: str | None = None
    prompt_price_unit: str | None = None
    prompt_price: str | None = None
    completion_unit_price: str | None = None
    completion_price_unit: str | None = None
    completion_price: str | None = None
    total_price: str | None = None
    currency: str | None = None
    latency: float | None = None
    time_to_first_token: float | None = None
    time_to_generate: float | None = None

    _prices = field_validator(
        "prompt_unit_price",
        "prompt_price_unit",
        "prompt_price",
        "completion_unit_price",
        "completion_price_unit",
        "completion_price",
        "total_price",
        mode="before",
    )(_price)

    @field_validator("prompt_tokens", "completion_tokens", "total_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> Any:
        return 0 if value is None else value


class RetrieverResource(DifyModel):
    """A citation: one knowledge-base segment used for an answer."""

    position: int | None = None
    dataset_id: str | None = None
    dataset_name: str | None = None
    document_id: str | None = None
    document_name: str | None = None
    data_source_type: str | None = None
    segment_id: str | None = None
    retriever_from: str | None = None
    score: float | None = None
    hit_count: int | None = None
    word_count: int | None = None
    segment_position: int | None = None
    index_node_hash: str | None = None
    content: str | None = None
    page: int | None = None
    doc_metadata: dict[str, Any] | None = None
    title: str | None = None
    files: list[Any] | None = None
    summary: str | None = None


class MessageMetadata(DifyModel):
    """``metadata`` of a message: usage, citations, annotation reply."""

    usage: Usage | None = None
    retriever_resources: list[RetrieverResource] = Field(default_factory=list)
    annotation_reply: dict[str, Any] | None = None

    _lists = field_validator("retriever_resources", mode="before")(_none_to_list)


class HumanInputRequest(DifyModel):
    """A Human Input node waiting for a person (``human_input_required`` of current Dify).

    Show ``form_content`` with its ``inputs`` and ``actions``, then submit the person's
    answer with ``submit_human_input_form(form_token, inputs=..., action=...)`` and follow
    the resumed run with ``stream_workflow_events(workflow_run_id)``.

    Attributes:
        form_id: The form's id.
        node_id: The Human Input node.
        node_title: Its title.
        form_content: The form body (Markdown, variables substituted).
        inputs: Form input definitions (``type``, ``output_variable_name``, ...).
        actions: Buttons the person may press (``id``, ``title``, ``button_style``).
        display_in_ui: Whether Dify's web app shows the form.
        form_token: The token for ``GET``/``POST /form/human_input/{form_token}``.
        resolved_default_values: Default values to display, by output variable name.
        expiration_time: Unix seconds after which the form can no longer be submitted.
        workflow_run_id: The paused run (from the event envelope).
    """

    form_id: str | None = None
    node_id: str | None = None
    node_title: str | None = None
    form_content: str = ""
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    actions: list[dict[str, Any]] = Field(default_factory=list)
    display_in_ui: bool | None = None
    form_token: str | None = None
    resolved_default_values: dict[str, Any] = Field(default_factory=dict)
    expiration_time: int | None = None
    workflow_run_id: str | None = None

    _lists = field_validator("inputs", "actions", mode="before")(_none_to_list)
    _defaults = field_validator("resolved_default_values", mode="before")(_none_to_dict)
    _content = field_validator("form_content", mode="before")(_str_or_empty)


class ChatMessageResponse(DifyModel):
    """Answer of ``POST /chat-messages`` (blocking shape).

    Beyond Dify's blocking body, a folded stream also fills ``reasoning`` (the model's
    ``reasoning_chunk``s, never part of ``answer``) and, for chatflows, ``workflow_run_id``
    and ``status``. A chatflow that stopped at a Human Input node comes back with
    ``status == "paused"`` (``paused`` is true) and the forms in ``human_input``: a complete
    answer of its own kind, not an error.
    """

    event: str | None = "message"
    task_id: str | None = None
    id: str | None = None
    message_id: str | None = None
    conversation_id: str | None = None
    mode: str | None = None
    answer: str = ""
    metadata: MessageMetadata = Field(default_factory=MessageMetadata)
    created_at: int | None = None
    workflow_run_id: str | None = None
    status: str | None = None
    reasoning: str = ""
    human_input: list[HumanInputRequest] = Field(default_factory=list)

    _meta = field_validator("metadata", mode="before")(_none_to_dict)

    _answer = field_validator("answer", mode="before")(_str_or_empty)
    _reasoning = field_validator("reasoning", mode="before")(_str_or_empty)
    _forms = field_validator("human_input", mode="before")(_none_to_list)

    @property
    def paused(self) -> bool:
        """Whether the run waits for a person (a Human Input node paused it)."""
        return self.status == "paused"


class CompletionMessageResponse(ChatMessageResponse):
    """Answer of ``POST /completion-messages`` (no ``conversation_id``)."""


class WorkflowRunData(DifyModel):
    """``data`` of a workflow run result."""

    id: str | None = None
    workflow_id: str | None = None
    status: str | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    elapsed_time: float | None = None
    total_tokens: int | None = None
    total_steps: int | None = None
    created_at: int | None = None
    finished_at: int | None = None

    @field_validator("outputs", mode="before")
    @classmethod
    def _outputs(cls, value: Any) -> Any:
        return _json_object(value)


class WorkflowRunResponse(DifyModel):
    """Answer of ``POST /workflows/run`` (blocking shape).

    A folded stream also fills ``reasoning`` (``reasoning_chunk`` text) and, when a Human
    Input node paused the run, ``status == "paused"`` with the forms in ``human_input``.
    """

    task_id: str | None = None
    workflow_run_id: str | None = None
    data: WorkflowRunData = Field(default_factory=WorkflowRunData)
    reasoning: str = ""
    human_input: list[HumanInputRequest] = Field(default_factory=list)

    _reasoning = field_validator("reasoning", mode="before")(_str_or_empty)
    _forms = field_validator("human_input", mode="before")(_none_to_list)

    @property
    def paused(self) -> bool:
        """Whether the run waits for a person (a Human Input node paused it)."""
        return self.data.status == "paused"

    @property
    def outputs(self) -> dict[str, Any]:
        """The run's outputs (``{}`` when none)."""
        return self.data.outputs or {}

    @property
    def status(self) -> str | None:
        """The run's status (``succeeded``, ``failed``, ``stopped``, ...)."""
        return self.data.status


def _json_object(value: Any) -> Any:
    """Decode a JSON-encoded string into an object; pass other values through."""
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: a JSON nesting bomb
            return {"value": value}
        return decoded if isinstance(decoded, dict) else {"value": decoded}
    return value


class WorkflowRunDetail(DifyModel):
    """Answer of ``GET /workflows/run/{id}``; ``inputs``/``outputs`` decoded from JSON strings."""

    id: str | None = None
    workflow_id: str | None = None
    status: str | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    total_steps: int | None = None
    total_tokens: int | None = None
    created_at: int | None = None
    finished_at: int | None = None
    elapsed_time: float | None = None

    _decode = field_validator("inputs", "outputs", mode="before")(_json_object)


class Conversation(DifyModel):
    """A conversation (list item and rename answer)."""

    id: str
    name: str | None = None
    inputs: dict[str, Any] | None = None
    status: str | None = None
    introduction: str | None = None
    created_at: int | None = None
    updated_at: int | None = None


class ConversationList(DifyModel):
    """A page of ``GET /conversations``."""

    limit: int | None = None
    has_more: bool = False
    data: list[Conversation] = Field(default_factory=list)

    _lists = field_validator("data", mode="before")(_none_to_list)


class Message(DifyModel):
    """A message of ``GET /messages``."""

    id: str
    conversation_id: str | None = None
    parent_message_id: str | None = None
    inputs: dict[str, Any] | None = None
    query: str | None = None
    answer: str | None = None
    feedback: dict[str, Any] | None = None
    retriever_resources: list[RetrieverResource] = Field(default_factory=list)
    agent_thoughts: list[dict[str, Any]] = Field(default_factory=list)
    message_files: list[dict[str, Any]] = Field(default_factory=list)
    created_at: int | None = None
    status: str | None = None
    error: str | None = None
    message_tokens: int | None = None
    answer_tokens: int | None = None
    total_tokens: int | None = None
    provider_response_latency: float | None = None
    total_price: str | None = None
    currency: str | None = None
    extra_contents: list[dict[str, Any]] = Field(default_factory=list)
    """Human-input forms of the message (``form_definition``, ``form_submission_data``)."""

    _lists = field_validator(
        "retriever_resources", "agent_thoughts", "message_files", "extra_contents", mode="before"
    )(_none_to_list)
    _price = field_validator("total_price", mode="before")(_price)


class MessageList(DifyModel):
    """A page of ``GET /messages`` (oldest to newest)."""

    limit: int | None = None
    has_more: bool = False
    data: list[Message] = Field(default_factory=list)

    _lists = field_validator("data", mode="before")(_none_to_list)


class Dataset(DifyModel):
    """A knowledge base of ``GET /datasets`` (fields beyond ``id``/``name`` are optional)."""

    id: str
    name: str | None = None
    description: str | None = None
    provider: str | None = None
    permission: str | None = None
    data_source_type: str | None = None
    indexing_technique: str | None = None
    app_count: int | None = None
    document_count: int | None = None
    word_count: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    embedding_model: str | None = None
    retrieval_model_dict: dict[str, Any] | None = None
    tags: list[dict[str, Any]] = Field(default_factory=list)
    doc_metadata: list[dict[str, Any]] = Field(default_factory=list)

    _lists = field_validator("tags", "doc_metadata", mode="before")(_none_to_list)


class DatasetList(DifyModel):
    """A page of ``GET /datasets``."""

    data: list[Dataset] = Field(default_factory=list)
    has_more: bool = False
    limit: int | None = None
    total: int | None = None
    page: int | None = None

    _lists = field_validator("data", mode="before")(_none_to_list)


class SegmentDocument(DifyModel):
    """The document a retrieved segment belongs to."""

    id: str | None = None
    data_source_type: str | None = None
    name: str | None = None
    doc_type: str | None = None
    doc_metadata: dict[str, Any] | None = None


class Segment(DifyModel):
    """A retrieved knowledge-base segment."""

    id: str | None = None
    position: int | None = None
    document_id: str | None = None
    content: str = ""
    answer: str | None = None
    word_count: int | None = None
    tokens: int | None = None
    keywords: list[str] = Field(default_factory=list)
    index_node_id: str | None = None
    index_node_hash: str | None = None
    hit_count: int | None = None
    enabled: bool | None = None
    status: str | None = None
    created_at: int | None = None
    document: SegmentDocument | None = None

    _lists = field_validator("keywords", mode="before")(_none_to_list)

    _content = field_validator("content", mode="before")(_str_or_empty)


class RetrieveRecord(DifyModel):
    """One hit of ``POST /datasets/{id}/retrieve``.

    External knowledge bases send ``content``/``title``/``metadata`` instead of ``segment``.
    """

    segment: Segment | None = None
    child_chunks: list[dict[str, Any]] = Field(default_factory=list)
    score: float | None = None
    tsne_position: Any = None
    files: list[Any] = Field(default_factory=list)
    summary: str | None = None
    content: str | None = None
    title: str | None = None
    metadata: dict[str, Any] | None = None

    _lists = field_validator("child_chunks", "files", mode="before")(_none_to_list)

    @property
    def text(self) -> str:
        """The record's text (segment content, or ``content`` for external knowledge)."""
        if self.segment is not None and self.segment.content:
            return self.segment.content
        return self.content or ""


class RetrieveResponse(DifyModel):
    """Answer of ``POST /datasets/{id}/retrieve``."""

    query: dict[str, Any] | None = None
    records: list[RetrieveRecord] = Field(default_factory=list)

    _lists = field_validator("records", mode="before")(_none_to_list)


class UploadedFile(DifyModel):
    """Answer of ``POST /files/upload``; use ``id`` as ``upload_file_id``."""

    id: str
    name: str | None = None
    size: int | None = None
    extension: str | None = None
    mime_type: str | None = None
    created_by: str | None = None
    created_at: int | None = None
    source_url: str | None = None


class AppParameters(DifyModel):
    """Answer of ``GET /parameters``."""

    opening_statement: str | None = None
    suggested_questions: list[str] = Field(default_factory=list)
    suggested_questions_after_answer: dict[str, Any] | None = None
    speech_to_text: dict[str, Any] | None = None
    text_to_speech: dict[str, Any] | None = None
    retriever_resource: dict[str, Any] | None = None
    annotation_reply: dict[str, Any] | None = None
    more_like_this: dict[str, Any] | None = None
    user_input_form: list[dict[str, Any]] = Field(default_factory=list)
    sensitive_word_avoidance: dict[str, Any] | None = None
    file_upload: dict[str, Any] | None = None
    system_parameters: dict[str, Any] | None = None

    _lists = field_validator("suggested_questions", "user_input_form", mode="before")(_none_to_list)


class AppInfo(DifyModel):
    """Answer of ``GET /info``."""

    name: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    mode: str | None = None
    author_name: str | None = None

    _lists = field_validator("tags", mode="before")(_none_to_list)


class AppMeta(DifyModel):
    """Answer of ``GET /meta``."""

    tool_icons: dict[str, Any] = Field(default_factory=dict)

    _icons = field_validator("tool_icons", mode="before")(_none_to_dict)
