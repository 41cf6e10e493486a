"""Pure conversions between LangChain types and Dify payloads (no I/O).

Everything the LangChain adapters do that is not a network call lives here, so it is shared
by the sync and async code paths and tested on its own: messages to conversation turns,
content blocks to file specs, usage and metadata, retrieval records to
documents, workflow outputs to tool content.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata

from dify_integrations.core.conversation import Turn
from dify_integrations.core.retrieval import Chunk
from dify_integrations.core.trace_ids import as_trace_id

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_USER",
    "FileSpec",
    "chunk_to_document",
    "dify_file_object",
    "dump_model",
    "extract_files",
    "message_text",
    "messages_to_turns",
    "usage_to_metadata",
]

DEFAULT_MODEL_NAME = "dify"
"""``model_name`` reported when the app's name is unknown."""

DEFAULT_USER = "langchain"
"""The Dify end-user id used when neither ``user=`` nor ``DIFY_USER`` is given."""

_TEXT_BLOCK_TYPES = {"text", "input_text"}
_FILE_BLOCK_TYPES = {"image", "image_url", "file", "audio", "video", "input_image", "input_file"}


# --------------------------------------------------------------------------- messages


def message_text(message: BaseMessage) -> str:
    """The plain text of a message: string content, or its text blocks joined."""
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") in _TEXT_BLOCK_TYPES:
            text = block.get("text")
            if isinstance(text, str):
                parts.append(text)
    return "".join(parts)


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ChatMessage):
        role = message.role.lower()
        if role in ("system", "developer"):
            return "system"
        if role in ("assistant", "ai"):
            return "assistant"
        return "user"
    if message.type == "tool":
        raise ValueError(
            "ChatDify does not support tool messages: Dify apps run their own tools "
            "(use an agent-chat app, or DifyWorkflowTool with a tool-calling model)"
        )
    raise ValueError(f"unsupported message type for ChatDify: {message.type!r}")


def messages_to_turns(messages: Sequence[BaseMessage]) -> list[Turn]:
    """Reduce LangChain messages to the turns of the multi-turn rule.

    Assistant messages carry the ``conversation_id`` that ChatDify put in their
    ``response_metadata`` (if any), which lets a later call continue that conversation.

    Raises:
        ValueError: For message kinds Dify cannot take (tool messages).
    """
    turns: list[Turn] = []
    for message in messages:
        role = _role(message)
        conversation_id = None
        if role == "assistant":
            value = message.response_metadata.get("conversation_id")
            conversation_id = value if isinstance(value, str) and value else None
        turns.append(Turn(role, message_text(message), conversation_id))  # type: ignore[arg-type]
    return turns


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class FileSpec:
    """A file taken from a content block, before it is uploaded or linked.

    Attributes:
        dify_type: Dify's file type: ``image``, ``document``, ``audio`` or ``video``.
        url: A remote URL to send as ``remote_url`` (when the block held a URL).
        data: The raw bytes to upload (when the block held base64 data).
        mime_type: The MIME type, when known.
        filename: A file name for the upload.
        file_id: An id of a file already uploaded to Dify (``local_file``).
    """

    dify_type: str
    url: str | None = None
    data: bytes | None = None
    mime_type: str | None = None
    filename: str | None = None
    file_id: str | None = None


def _dify_type(block_type: str, mime_type: str | None) -> str:
    if mime_type:
        major = mime_type.split("/", 1)[0]
        if major in ("image", "audio", "video"):
            return major
        return "document"
    if block_type in ("image", "image_url", "input_image"):
        return "image"
    if block_type in ("audio", "video"):
        return block_type
    return "document"


def _decode_base64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"content block holds invalid base64 data: {exc}") from None


def _parse_data_url(url: str) -> tuple[bytes, str | None]:
    header, _, payload = url.partition(",")
    mime_type = header[5:].split(";", 1)[0] or None
    if ";base64" in header:
        return _decode_base64(payload), mime_type
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(payload), mime_type


def _default_filename(index: int, dify_type: str, mime_type: str | None) -> str:
    extension = (mimetypes.guess_extension(mime_type) if mime_type else None) or ""
    if not extension:
        extension = {"image": ".png", "audio": ".mp3", "video": ".mp4"}.get(dify_type, ".bin")
    return f"{dify_type}-{index}{extension}"


def _block_to_spec(block: Mapping[str, Any], index: int) -> FileSpec:
    block_type = str(block.get("type"))
    mime_type = block.get("mime_type") or block.get("mimeType")
    filename = block.get("filename") or block.get("name")
    extras = block.get("extras")
    if not filename and isinstance(extras, Mapping):
        filename = extras.get("filename")
    metadata = block.get("metadata")
    if not filename and isinstance(metadata, Mapping):
        filename = metadata.get("filename") or metadata.get("name")

    url: str | None = None
    data: bytes | None = None
    file_id: str | None = None
    if block_type == "image_url":  # OpenAI chat-completions shape
        image_url = block.get("image_url")
        url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
    elif block_type in ("input_image", "input_file"):
        url = block.get("image_url") or block.get("file_url")
        if block.get("file_data"):
            data = _decode_base64(str(block["file_data"]))
        file_id = block.get("file_id")
    elif block.get("source_type") == "base64":  # langchain-core v0 shape
        data = _decode_base64(str(block.get("data", "")))
    elif block.get("source_type") == "url":
        url = block.get("url")
    elif block.get("source_type") == "id":
        file_id = block.get("id")
    elif block.get("base64"):
        data = _decode_base64(str(block["base64"]))
    elif block.get("url"):
        url = block.get("url")
    elif block.get("file_id"):
        file_id = str(block["file_id"])

    if isinstance(url, str) and url.startswith("data:"):
        data, data_mime = _parse_data_url(url)
        mime_type = mime_type or data_mime
        url = None
    if url is None and data is None and not file_id:
        raise ValueError(f"content block of type {block_type!r} has no url, base64 data or id")
    if data is not None and not data:
        raise ValueError(f"content block of type {block_type!r} holds no data")
    if isinstance(url, str) and not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"content block URL must be http(s): {url[:60]!r}")
    if mime_type is None and isinstance(url, str):
        mime_type = mimetypes.guess_type(url.split("?", 1)[0])[0]
    dify_type = _dify_type(block_type, mime_type)
    if data is not None and not filename:
        filename = _default_filename(index, dify_type, mime_type)
    return FileSpec(
        dify_type=dify_type,
        url=url if isinstance(url, str) else None,
        data=data,
        mime_type=mime_type,
        filename=filename,
        file_id=str(file_id) if file_id else None,
    )


def extract_files(message: BaseMessage) -> list[FileSpec]:
    """The image/file/audio/video content blocks of a message, as :class:`FileSpec` s.

    Accepts LangChain's standard blocks (``{"type": "image", "base64"|"url": ...}``), the
    older ``source_type`` shape and OpenAI's ``image_url`` shape (``data:`` URLs included).

    Raises:
        ValueError: If a block holds neither a URL, base64 data nor a file id.
    """
    if isinstance(message.content, str):
        return []
    specs: list[FileSpec] = []
    for block in message.content:
        if isinstance(block, Mapping) and block.get("type") in _FILE_BLOCK_TYPES:
            specs.append(_block_to_spec(block, len(specs) + 1))
    return specs


def dify_file_object(spec: FileSpec, upload_file_id: str | None = None) -> dict[str, Any]:
    """The Dify ``files`` entry for a spec (``upload_file_id`` after uploading its bytes)."""
    file_id = upload_file_id or spec.file_id
    if file_id:
        return {"type": spec.dify_type, "transfer_method": "local_file", "upload_file_id": file_id}
    if spec.url:
        return {"type": spec.dify_type, "transfer_method": "remote_url", "url": spec.url}
    raise ValueError("file has bytes that were not uploaded yet")


# --------------------------------------------------------------------------- usage, metadata


def dump_model(value: Any) -> Any:
    """A JSON-friendly copy of a pydantic model (or a list of them); other values as is."""
    if isinstance(value, list | tuple):
        return [dump_model(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return value


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def usage_to_metadata(usage: Any) -> UsageMetadata | None:
    """Dify ``Usage`` (model or dict) -> LangChain ``UsageMetadata``; ``None`` when absent."""
    if usage is None:
        return None
    data = dump_model(usage) if not isinstance(usage, Mapping) else usage
    input_tokens = _int(data.get("prompt_tokens"))
    output_tokens = _int(data.get("completion_tokens"))
    total = _int(data.get("total_tokens")) or input_tokens + output_tokens
    return UsageMetadata(input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=total)


MODEL_PROVIDER = "dify"
"""``response_metadata["model_provider"]`` and ``llm_output["model_provider"]``."""


def llm_output(usage: Any, model_name: str) -> dict[str, Any]:
    """The ``llm_output`` callbacks read in ``on_llm_end``, shaped like langchain-openai's.

    ``token_usage`` holds Dify's ``prompt_tokens``, ``completion_tokens`` and
    ``total_tokens`` (empty when Dify reported no usage).
    """
    metadata = usage_to_metadata(usage)
    token_usage: dict[str, int] = {}
    if metadata is not None:
        token_usage = {
            "prompt_tokens": metadata["input_tokens"],
            "completion_tokens": metadata["output_tokens"],
            "total_tokens": metadata["total_tokens"],
        }
    return {"token_usage": token_usage, "model_name": model_name, "model_provider": MODEL_PROVIDER}


def combine_llm_outputs(outputs: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """One ``llm_output`` for a batch: token counts summed, the first model name kept."""
    present = [o for o in outputs if o]
    if not present:
        return {}
    totals: dict[str, int] = {}
    for output in present:
        for name, value in (output.get("token_usage") or {}).items():
            totals[name] = totals.get(name, 0) + int(value)
    return {
        "token_usage": totals,
        "model_name": present[0].get("model_name"),
        "model_provider": MODEL_PROVIDER,
    }


# --------------------------------------------------------------------------- retrieval


def chunk_to_document(chunk: Chunk) -> Document:
    """A retrieved :class:`~dify_integrations.core.retrieval.Chunk` as a ``Document``.

    ``id`` is the segment id, ``page_content`` the segment text and ``metadata`` the
    chunk's flat metadata (Dify's document metadata beside ``score``, ``dataset_id``,
    ``document_id``, ``document_name``, ``segment_id``, ``segment_position``).
    """
    return Document(id=chunk.id, page_content=chunk.text, metadata=dict(chunk.metadata))


def call_trace_id(run_manager: Any, kwargs: Mapping[str, Any] | None = None) -> str | None:
    """``X-Trace-Id`` of a call: ``trace_id=`` if the caller gave one, else LangChain's run id.

    Dify then joins its own trace to the LangSmith (or other tracer's) run.
    """
    given = (kwargs or {}).get("trace_id")
    if given is not None:
        return str(given)
    return as_trace_id(getattr(run_manager, "run_id", None))
