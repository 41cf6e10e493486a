"""Pure conversions between LlamaIndex types and Dify payloads (no I/O).

Every adapter of :mod:`dify_integrations.llama_index` goes through these functions, and the
sync and async code paths of each adapter share them: the only thing that differs between
``chat`` and ``achat`` is the loop that moves bytes.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
)
from llama_index.core.instrumentation.span import active_span_id
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.core.tools import ToolOutput
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from pydantic import BaseModel

from dify_integrations.core.conversation import Turn, render_transcript
from dify_integrations.core.input_schema import InputField, to_dify_inputs
from dify_integrations.core.retrieval import Chunk
from dify_integrations.core.trace_ids import as_trace_id
from dify_integrations.core.workflow_tool import WorkflowOutcome

__all__ = [
    "ImageUpload",
    "as_dict",
    "chunk_to_node",
    "citations_output",
    "dify_messages_to_chat_history",
    "image_files",
    "messages_to_prompt",
    "messages_to_turns",
    "metadata_filters_to_dify",
    "result_metadata",
    "result_raw",
    "to_chat_response",
    "to_completion_response",
    "tool_arguments",
    "workflow_tool_output",
]

_SYSTEM_ROLES = {MessageRole.SYSTEM, MessageRole.DEVELOPER}
_ASSISTANT_ROLES = {MessageRole.ASSISTANT, MessageRole.CHATBOT, MessageRole.MODEL}

# Keys of node metadata that are bookkeeping, not content: kept on the node, hidden from the
# LLM and the embedder so they do not pollute prompts.
_BOOKKEEPING_KEYS = [
    "score",
    "dataset_id",
    "document_id",
    "segment_id",
    "segment_position",
    "position",
    "index_node_hash",
    "hit_count",
    "word_count",
    "data_source_type",
    "retriever_from",
    "keywords",
    "child_chunks",
]


def as_dict(obj: Any) -> dict[str, Any]:
    """A plain ``dict`` from a pydantic model (extra fields kept), a mapping or ``None``."""
    if obj is None:
        return {}
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"expected a mapping or a pydantic model, got {type(obj).__name__}")


# --------------------------------------------------------------------------- messages


def _text_of(message: ChatMessage) -> str:
    return "".join(b.text for b in message.blocks if isinstance(b, TextBlock))


def _conversation_of(message: ChatMessage) -> str | None:
    """The Dify conversation an assistant message names (``additional_kwargs`` or ``raw``)."""
    extra = message.additional_kwargs
    for source in (extra, extra.get("raw")):
        if isinstance(source, Mapping):
            value = source.get("conversation_id")
            if isinstance(value, str) and value:
                return value
    return None


def messages_to_turns(messages: Sequence[ChatMessage]) -> list[Turn]:
    """Reduce LlamaIndex chat messages to the :class:`Turn` list of the multi-turn rule.

    System and developer messages become system turns; assistant-like roles become
    assistant turns and carry the ``conversation_id`` a :class:`DifyLLM` response put in
    ``additional_kwargs``; user, tool and function messages become user turns (a ReAct
    ``Observation`` is something the user side tells the model).
    """
    turns: list[Turn] = []
    for message in messages:
        text = _text_of(message)
        if message.role in _SYSTEM_ROLES:
            turns.append(Turn("system", text))
        elif message.role in _ASSISTANT_ROLES:
            turns.append(Turn("assistant", text, _conversation_of(message)))
        else:
            turns.append(Turn("user", text))
    return turns


def messages_to_prompt(messages: Sequence[ChatMessage]) -> str:
    """Flatten chat messages into one prompt, for completion apps.

    A lone user message is sent as is; otherwise the system text comes first, then a
    ``User: …`` / ``Assistant: …`` transcript.
    """
    turns = messages_to_turns(messages)
    system = [t.content for t in turns if t.role == "system" and t.content.strip()]
    dialogue = [t for t in turns if t.role != "system"]
    if not system and len(dialogue) == 1 and dialogue[0].role == "user":
        return dialogue[0].content
    parts = [*system]
    if dialogue:
        parts.append(render_transcript(dialogue))
    return "\n\n".join(parts)


@dataclass(frozen=True)
class ImageUpload:
    """An image of a message that must be uploaded to Dify before the message is sent."""

    data: bytes
    filename: str
    mime_type: str | None


def image_files(message: ChatMessage) -> tuple[list[dict[str, Any]], list[ImageUpload]]:
    """The image blocks of ``message`` as Dify file objects.

    Returns:
        ``(files, uploads)``: remote images as ready ``remote_url`` file objects, and local
        images (a path or bytes) still to upload; the caller uploads each with the same
        ``user`` and appends ``{"type": "image", "transfer_method": "local_file",
        "upload_file_id": …}``.
    """
    files: list[dict[str, Any]] = []
    uploads: list[ImageUpload] = []
    for index, block in enumerate(message.blocks):
        if not isinstance(block, ImageBlock):
            continue
        if block.image is None and block.path is None and block.url is not None:
            url = str(block.url)
            if url.startswith(("http://", "https://")):
                files.append({"type": "image", "transfer_method": "remote_url", "url": url})
                continue
        data = block.resolve_image(as_base64=False).read()
        mime = block.image_mimetype
        if block.path is not None:
            filename = block.path.name
        else:
            extension = (mimetypes.guess_extension(mime) if mime else None) or ".png"
            filename = f"image-{index}{extension}"
        uploads.append(ImageUpload(data, filename, mime or mimetypes.guess_type(filename)[0]))
    return files, uploads


# --------------------------------------------------------------------------- LLM responses


def result_metadata(result: Any) -> dict[str, Any]:
    """``additional_kwargs`` of a response: Dify's ids, citations, price and latency."""
    usage = as_dict(getattr(result, "usage", None))
    metadata: dict[str, Any] = {
        "conversation_id": getattr(result, "conversation_id", None),
        "message_id": getattr(result, "message_id", None),
        "task_id": getattr(result, "task_id", None),
        "retriever_resources": [as_dict(r) for r in getattr(result, "retriever_resources", [])],
    }
    for key in ("total_price", "currency", "latency"):
        if usage.get(key) is not None:
            metadata[key] = usage[key]
    metadata.update(_run_state(result))
    return {k: v for k, v in metadata.items() if v is not None}


def _run_state(result: Any) -> dict[str, Any]:
    """Chatflow run state: status (``paused`` with its forms), run id, reasoning."""
    state: dict[str, Any] = {}
    status = getattr(result, "status", None)
    if status is not None:
        state["status"] = status
    if getattr(result, "workflow_run_id", None) is not None:
        state["workflow_run_id"] = result.workflow_run_id
    forms = list(getattr(result, "human_input", None) or [])
    if forms:
        # A Human Input node waits: the forms a person must fill before the run goes on.
        state["human_input"] = [as_dict(f) for f in forms]
    reasoning = getattr(result, "reasoning", "")
    if reasoning:
        state["reasoning"] = reasoning
    return state


def result_raw(result: Any) -> dict[str, Any]:
    """``raw`` of a response: what Dify sent, folded; ``raw["usage"]`` feeds token counters."""
    usage = getattr(result, "usage", None)
    return {
        "answer": getattr(result, "answer", ""),
        "conversation_id": getattr(result, "conversation_id", None),
        "message_id": getattr(result, "message_id", None),
        "task_id": getattr(result, "task_id", None),
        "usage": as_dict(usage) if usage is not None else None,
        "retriever_resources": [as_dict(r) for r in getattr(result, "retriever_resources", [])],
        **_run_state(result),
    }


def _thinking_delta(result: Any, extra: dict[str, Any], delta: str | None) -> dict[str, Any]:
    """Streaming: the reasoning the last event added, as LlamaIndex agents read it."""
    thinking = getattr(result, "last_reasoning", "") if delta is not None else ""
    return {**extra, "thinking_delta": thinking} if thinking else extra


def to_chat_response(result: Any, *, text: str, delta: str | None = None) -> ChatResponse:
    """A :class:`ChatResponse` from the running fold of a Dify stream.

    Args:
        result: The core ``StreamResult`` (so far).
        text: The answer so far (the message content).
        delta: The new text of this chunk, for streaming; ``None`` for a whole answer.
    """
    extra = result_metadata(result)
    reasoning = getattr(result, "reasoning", "")
    ids = {k: extra[k] for k in ("conversation_id", "message_id") if k in extra}
    if reasoning:
        # The model's reasoning is a thinking block beside the answer, never in its text.
        message = ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[ThinkingBlock(content=reasoning), TextBlock(text=text)],
            additional_kwargs=ids,
        )
    else:
        message = ChatMessage(role=MessageRole.ASSISTANT, content=text, additional_kwargs=ids)
    return ChatResponse(
        message=message,
        delta=delta,
        raw=result_raw(result),
        additional_kwargs=_thinking_delta(result, extra, delta),
    )


def to_completion_response(
    result: Any, *, text: str, delta: str | None = None
) -> CompletionResponse:
    """A :class:`CompletionResponse` from the running fold of a Dify stream."""
    return CompletionResponse(
        text=text,
        delta=delta,
        raw=result_raw(result),
        additional_kwargs=_thinking_delta(result, result_metadata(result), delta),
    )


# --------------------------------------------------------------------------- chat engine


def dify_messages_to_chat_history(items: Iterable[Any]) -> list[ChatMessage]:
    """``GET /messages`` items (oldest first) as alternating user/assistant messages."""
    history: list[ChatMessage] = []
    for item in items:
        data = as_dict(item)
        ids = {k: data[k] for k in ("conversation_id",) if data.get(k) is not None} | {
            "message_id": data.get("id")
        }
        if data.get("query"):
            history.append(ChatMessage(role=MessageRole.USER, content=data["query"]))
        history.append(
            ChatMessage(
                role=MessageRole.ASSISTANT,
                content=data.get("answer") or "",
                additional_kwargs={k: v for k, v in ids.items() if v is not None},
            )
        )
    return history


def citations_output(resources: Sequence[Any]) -> list[ToolOutput]:
    """Citations as the ``sources`` of a chat engine response (empty when there are none)."""
    if not resources:
        return []
    records = [as_dict(r) for r in resources]
    text = "\n\n".join(str(r.get("content") or "") for r in records)
    return [
        ToolOutput(
            tool_name="dify_retriever_resources",
            content=text,
            raw_input={},
            raw_output=records,
        )
    ]


# --------------------------------------------------------------------------- retriever


def chunk_to_node(chunk: Chunk) -> NodeWithScore:
    """A retrieved chunk (or citation) as a :class:`NodeWithScore`.

    The node id is the segment id, the text the segment content, the metadata the chunk's
    flat metadata (the same keys as the LangChain retriever's documents); bookkeeping keys
    are hidden from the LLM and the embedder. The score is Dify's, or ``None`` when Dify
    gave none (never an invented 0).
    """
    excluded = [k for k in _BOOKKEEPING_KEYS if k in chunk.metadata]
    node = TextNode(
        id_=chunk.id,
        text=chunk.text,
        metadata=dict(chunk.metadata),
        excluded_llm_metadata_keys=excluded,
        excluded_embed_metadata_keys=excluded,
    )
    return NodeWithScore(node=node, score=chunk.score)


_OPERATORS: dict[FilterOperator, str] = {
    FilterOperator.NE: "≠",
    FilterOperator.GT: ">",
    FilterOperator.LT: "<",
    FilterOperator.GTE: "≥",
    FilterOperator.LTE: "≤",
    FilterOperator.IN: "in",
    FilterOperator.NIN: "not in",
    FilterOperator.TEXT_MATCH: "contains",
    FilterOperator.CONTAINS: "contains",
    FilterOperator.IS_EMPTY: "empty",
}


def _condition(f: MetadataFilter) -> dict[str, Any]:
    value: Any = f.value
    if f.operator == FilterOperator.EQ:
        op = "=" if isinstance(value, int | float) and not isinstance(value, bool) else "is"
    elif f.operator == FilterOperator.NE and not (
        isinstance(value, int | float) and not isinstance(value, bool)
    ):
        op = "is not"
    elif f.operator in _OPERATORS:
        op = _OPERATORS[f.operator]
    else:
        raise ValueError(f"Dify metadata filtering has no operator for {f.operator.value!r}")
    if op == "empty":
        value = None
    return {"name": f.key, "comparison_operator": op, "value": value}


def metadata_filters_to_dify(
    filters: MetadataFilters | Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """LlamaIndex :class:`MetadataFilters` as Dify ``metadata_filtering_conditions``.

    A mapping is passed through unchanged (already in Dify's shape). Nested filter groups
    and the ``not`` condition have no Dify equivalent and raise ``ValueError``.
    """
    if filters is None:
        return None
    if isinstance(filters, Mapping):
        return dict(filters)
    if filters.condition not in (FilterCondition.AND, FilterCondition.OR, None):
        raise ValueError(f"Dify metadata filtering has no {filters.condition!r} condition")
    conditions = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            raise ValueError("Dify metadata filtering does not support nested filter groups")
        conditions.append(_condition(f))
    operator = "or" if filters.condition == FilterCondition.OR else "and"
    return {"logical_operator": operator, "conditions": conditions}


# --------------------------------------------------------------------------- workflow tool


def tool_arguments(
    fields: Sequence[InputField],
    schema: type[BaseModel],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """Validated Dify ``inputs`` from the ways LlamaIndex calls a tool.

    Agents call ``acall(**arguments)``; people also call ``tool("text")`` or
    ``tool({"a": 1})``, and older agents ``tool(input="text")``. A lone string goes to the
    app's only variable (or its only required one).

    Raises:
        ValueError: If the arguments do not fit the app's input form.
    """
    arguments: dict[str, Any] = dict(kwargs)
    if len(args) > 1:
        raise ValueError("pass the workflow inputs as keyword arguments")
    names = {f.variable for f in fields}
    single: Any = None
    if args:
        if isinstance(args[0], Mapping):
            arguments = {**args[0], **arguments}
        else:
            single = args[0]
    if "input" in arguments and "input" not in names:
        single = arguments.pop("input")
    if single is not None:
        target = _single_target(fields)
        if target is None:
            raise ValueError(
                "a single positional input needs an app with exactly one variable; "
                f"this app has {sorted(names) or 'none'}"
            )
        arguments.setdefault(target, single)
    validated = schema.model_validate(arguments)
    return to_dify_inputs(fields, validated.model_dump())


def _single_target(fields: Sequence[InputField]) -> str | None:
    if len(fields) == 1:
        return fields[0].variable
    required = [f.variable for f in fields if f.required]
    return required[0] if len(required) == 1 else None


def workflow_tool_output(
    outcome: WorkflowOutcome,
    tool_name: str,
    raw_input: dict[str, Any],
    exception: Exception | None = None,
) -> ToolOutput:
    """A :class:`ToolOutput` from the core outcome of a run.

    The content is the outcome's text, ``raw_output`` the outputs dict (``None`` when the
    stream broke off) and ``is_error`` the outcome's: failed, stopped and broken-off runs
    are errors an agent can read; a paused run is not.
    """
    raw_output: Any = None if exception is not None else outcome.outputs
    if outcome.paused:
        # No outputs yet: the run's record, with the forms a person must fill.
        raw_output = outcome.artifact()
    return ToolOutput(
        tool_name=tool_name,
        content=outcome.content,
        raw_input=raw_input,
        raw_output=raw_output,
        is_error=outcome.is_error,
        exception=exception,
    )


def span_trace_id() -> str | None:
    """``X-Trace-Id`` of a call: the active LlamaIndex span id (``None`` outside a span).

    Dify then joins its own trace to the LlamaIndex span that made the call.
    """
    return as_trace_id(active_span_id.get())
