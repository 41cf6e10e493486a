"""Pure request builders for every Dify operation.

Each builder validates its input (raising `ValueError`/`TypeError` before any request) and
returns an `Operation`: method, path, body, which key kind it needs, whether it may be
retried after the server could have received it, whether it streams, and how to parse the
answer. The sync and async clients only move the bytes an `Operation` describes.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Generic, Literal, TypeVar, cast
from urllib.parse import quote

from .accumulate import StreamResult
from .models import (
    AppInfo,
    AppMeta,
    AppParameters,
    ChatMessageResponse,
    CompletionMessageResponse,
    Conversation,
    ConversationList,
    DatasetList,
    DifyModel,
    MessageList,
    RetrieveResponse,
    UploadedFile,
    WorkflowRunDetail,
    WorkflowRunResponse,
)
from .retrieval import check_query
from .validate import (
    check_filename,
    check_json_numbers,
    check_mime_type,
    check_regular_file,
    check_upload_size,
    path_segment,
    upload_size_limit,
    uuid_id,
)

__all__ = [
    "RESPONSE_MODES",
    "FileInput",
    "KeyKind",
    "Multipart",
    "Operation",
    "StopKind",
    "chat_message",
    "check_key_kind",
    "check_upload",
    "completion_message",
    "delete_conversation",
    "encode_json",
    "get_info",
    "get_meta",
    "get_parameters",
    "get_workflow_run",
    "list_conversations",
    "list_datasets",
    "list_messages",
    "rename_conversation",
    "retrieval_model",
    "retrieve",
    "run_workflow",
    "stop_task",
    "trace_headers",
    "upload_file",
]

KeyKind = Literal["app", "dataset"]
StopKind = Literal["chat", "completion", "workflow"]
ResponseMode = Literal["blocking", "streaming"]
RESPONSE_MODES: Final = ("blocking", "streaming")
SORT_BY: Final = ("created_at", "-created_at", "updated_at", "-updated_at")
SEARCH_METHODS: Final = ("semantic_search", "full_text_search", "hybrid_search", "keyword_search")
FILE_TYPES: Final = ("document", "image", "audio", "video", "custom")
TRANSFER_METHODS: Final = ("remote_url", "local_file")

FileInput = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]

T = TypeVar("T")
"""The result type of an `Operation`: what the client method returns."""


@dataclass(frozen=True, slots=True)
class Multipart:
    """A ``multipart/form-data`` body with one file part named ``file``.

    Attributes:
        filename: Name sent for the file part.
        content: File bytes.
        mime_type: Content type of the file part.
        fields: Extra text fields (``user``).
    """

    filename: str
    content: bytes = field(repr=False)
    mime_type: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """A fully validated request, ready for a transport; ``T`` is the type of its answer.

    Attributes:
        name: Operation name (the client method), for logs.
        method: HTTP method.
        path: Path below the base URL, starting with ``/``.
        key_kind: ``app`` or ``dataset``: the kind of key the route accepts.
        json: JSON body, or ``None``.
        params: Query parameters, or ``None``.
        multipart: Multipart body, or ``None``.
        idempotent: Safe to resend after the server may have received it (GET, retrieve,
            stop, rename). Creating a message or a run is never idempotent.
        stream: The answer is an SSE stream.
        stop_kind: For streams, which stop route ends the task.
        user: The end user the request is made for (stop calls reuse it).
        model: Pydantic model of the JSON answer; ``None`` returns the decoded JSON.
        empty: The success answer has no body (204).
        fold: For streams, how the folded stream becomes the answer a blocking call
            gives (``StreamResult.to_chat_response``...).
        headers: Extra request headers (``X-Trace-Id``), or ``None``.
        binary: The success answer is raw bytes (audio), returned as ``bytes``.
    """

    name: str
    method: str
    path: str
    key_kind: KeyKind = "app"
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    multipart: Multipart | None = None
    idempotent: bool = False
    stream: bool = False
    stop_kind: StopKind | None = None
    user: str | None = None
    model: type[T] | None = None
    empty: bool = False
    fold: Callable[[StreamResult], T] | None = None
    headers: dict[str, str] | None = None
    binary: bool = False

    def parse(self, payload: Any) -> T:
        """Turn the decoded JSON answer into the operation's model.

        Args:
            payload: Decoded JSON (or ``None`` for an empty body).

        Returns:
            A model instance, the payload itself when there is no model, or ``None``.
        """
        if self.empty or self.model is None or self.binary:
            return cast(T, payload)
        model = cast(type[DifyModel], self.model)
        return cast(T, model.model_validate(payload if payload is not None else {}))

    def from_stream(self, result: StreamResult) -> T:
        """The answer a blocking call would give, from the fold of this operation's stream.

        Raises:
            ValueError: If the operation does not stream an answer.
        """
        if self.fold is None:
            raise ValueError(f"{self.name} does not stream an answer")
        return self.fold(result)


def encode_json(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as Dify itself sends it.

    Args:
        body: The JSON object.

    Returns:
        Encoded bytes.
    """
    try:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN/infinity outside ``inputs`` (which is checked with a path)
        check_json_numbers(body, "the request body")
        raise
    return text.encode("utf-8")


def check_key_kind(op: Operation[Any], api_key: str) -> None:
    """Refuse an app key on a knowledge route and vice versa, before any request.

    Keys without the console prefixes (``app-``/``dataset-``) are not checked.

    Args:
        op: The operation.
        api_key: The key that would be sent.

    Raises:
        ValueError: If the key is of the wrong kind for ``op``.
    """
    if op.key_kind == "dataset" and api_key.startswith("app-"):
        raise ValueError(
            f"{op.name} needs a knowledge (dataset-…) API key, but an app key was given; "
            "pass the dataset key (or set DIFY_DATASET_API_KEY)."
        )
    if op.key_kind == "app" and api_key.startswith("dataset-"):
        raise ValueError(
            f"{op.name} needs an app (app-…) API key, but a knowledge (dataset-…) key was given."
        )


# --------------------------------------------------------------------------- validation


def _user(user: str | None) -> str:
    if user is None:
        raise ValueError(
            "user is required: pass user=... or give the client a default user (or set DIFY_USER)."
        )
    if not isinstance(user, str):
        raise TypeError(f"user must be a string, not {type(user).__name__}")
    if not user.strip():
        raise ValueError("user must be a non-empty string")
    return user


def _text(value: Any, name: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def _uuid(value: Any, name: str) -> str:
    return uuid_id(value, name)


def _id(value: Any, name: str) -> str:
    return quote(path_segment(value, name), safe="")


def _inputs(inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a mapping, not {type(inputs).__name__}")
    for key in inputs:
        if not isinstance(key, str):
            raise TypeError("inputs keys must be strings")
    check_json_numbers(inputs, "inputs")
    return dict(inputs)


def _mode(response_mode: str) -> str:
    if response_mode not in RESPONSE_MODES:
        raise ValueError(f"response_mode must be 'blocking' or 'streaming', got {response_mode!r}")
    return response_mode


def _files(files: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    if files is None:
        return None
    if isinstance(files, str | bytes) or not isinstance(files, Sequence):
        raise TypeError("files must be a list of file objects (dicts)")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(files):
        if not isinstance(item, Mapping):
            raise TypeError(f"files[{i}] must be a dict, not {type(item).__name__}")
        ftype = item.get("type")
        method = item.get("transfer_method")
        if ftype not in FILE_TYPES:
            raise ValueError(f"files[{i}].type must be one of {FILE_TYPES}, got {ftype!r}")
        if method not in TRANSFER_METHODS:
            raise ValueError(
                f"files[{i}].transfer_method must be one of {TRANSFER_METHODS}, got {method!r}"
            )
        if method == "remote_url" and not (
            isinstance(item.get("url"), str) and item["url"].startswith(("http://", "https://"))
        ):
            raise ValueError(f"files[{i}] (remote_url) needs an http(s) 'url'")
        if method == "local_file":
            _uuid(item.get("upload_file_id"), f"files[{i}].upload_file_id")
        out.append(dict(item))
    return out


def _limit(limit: int, name: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"{name} must be an integer")
    if not 1 <= limit <= 100:
        raise ValueError(f"{name} must be between 1 and 100, got {limit}")
    return limit


_TRACE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def trace_headers(trace_id: str | None) -> dict[str, str] | None:
    """The ``X-Trace-Id`` header for ``trace_id`` (``None`` when not given).

    Dify takes a trace id of 1-128 letters, digits, ``-`` and ``_``
    (``core/helper/trace_id_helper.py``) and joins its own trace to it.

    Raises:
        ValueError: If ``trace_id`` is not such a string (checked before any request).
        TypeError: If it is not a string.
    """
    if trace_id is None:
        return None
    if not isinstance(trace_id, str):
        raise TypeError(f"trace_id must be a string, not {type(trace_id).__name__}")
    if not _TRACE_ID.fullmatch(trace_id):
        raise ValueError(
            "trace_id must be 1-128 characters of letters, digits, '-' and '_', "
            f"got {trace_id[:40]!r}"
        )
    return {"X-Trace-Id": trace_id}


# --------------------------------------------------------------------------- chat / completion


def chat_message(
    query: str,
    *,
    user: str | None,
    inputs: Mapping[str, Any] | None = None,
    conversation_id: str | None = None,
    files: Sequence[Mapping[str, Any]] | None = None,
    auto_generate_name: bool | None = None,
    response_mode: str = "streaming",
    workflow_id: str | None = None,
    trace_id: str | None = None,
) -> Operation[ChatMessageResponse]:
    """``POST /chat-messages``.

    Args:
        query: The user's message (non-empty).
        user: End-user id (required).
        inputs: App variables.
        conversation_id: Continue this conversation (a UUID); ``None``/``""`` starts one.
        files: File objects (``type``, ``transfer_method``, ``url``/``upload_file_id``).
        auto_generate_name: Let Dify title the conversation (server default ``True``).
        response_mode: ``streaming`` or ``blocking``.
        workflow_id: Chatflows: run this published workflow version (a UUID).
        trace_id: Sent as ``X-Trace-Id`` to join Dify's trace with the caller's.

    Returns:
        The operation.

    Raises:
        ValueError: Empty query, missing user, bad conversation id, files or mode.
        TypeError: Wrong argument types.
    """
    body: dict[str, Any] = {
        "query": _text(query, "query"),
        "inputs": _inputs(inputs),
        "response_mode": _mode(response_mode),
        "user": _user(user),
    }
    if conversation_id:
        body["conversation_id"] = _uuid(conversation_id, "conversation_id")
    elif conversation_id is not None and not isinstance(conversation_id, str):
        raise TypeError("conversation_id must be a string")
    checked = _files(files)
    if checked is not None:
        body["files"] = checked
    if auto_generate_name is not None:
        if not isinstance(auto_generate_name, bool):
            raise TypeError("auto_generate_name must be a bool")
        body["auto_generate_name"] = auto_generate_name
    if workflow_id is not None:
        # Chatflows: run this published version instead of the latest one.
        body["workflow_id"] = _uuid(workflow_id, "workflow_id")
    streaming = response_mode == "streaming"
    return Operation(
        name="chat_message",
        method="POST",
        path="/chat-messages",
        json=body,
        stream=streaming,
        stop_kind="chat",
        user=body["user"],
        model=ChatMessageResponse,
        fold=StreamResult.to_chat_response,
        headers=trace_headers(trace_id),
    )


def completion_message(
    inputs: Mapping[str, Any] | None = None,
    *,
    query: str | None = None,
    user: str | None,
    files: Sequence[Mapping[str, Any]] | None = None,
    response_mode: str = "streaming",
    trace_id: str | None = None,
) -> Operation[CompletionMessageResponse]:
    """``POST /completion-messages``.

    Args:
        inputs: App variables.
        query: Optional query text (the app's ``{{query}}``).
        user: End-user id (required).
        files: File objects.
        response_mode: ``streaming`` or ``blocking``.
        trace_id: Sent as ``X-Trace-Id`` to join Dify's trace with the caller's.

    Returns:
        The operation.

    Raises:
        ValueError: Missing user, bad files or mode, or neither inputs nor query.
        TypeError: Wrong argument types.
    """
    body: dict[str, Any] = {
        "inputs": _inputs(inputs),
        "response_mode": _mode(response_mode),
        "user": _user(user),
    }
    if query is not None:
        body["query"] = _text(query, "query", allow_empty=True)
    checked = _files(files)
    if checked is not None:
        body["files"] = checked
    streaming = response_mode == "streaming"
    return Operation(
        name="completion_message",
        method="POST",
        path="/completion-messages",
        json=body,
        stream=streaming,
        stop_kind="completion",
        user=body["user"],
        model=CompletionMessageResponse,
        fold=StreamResult.to_completion_response,
        headers=trace_headers(trace_id),
    )


def run_workflow(
    inputs: Mapping[str, Any] | None = None,
    *,
    user: str | None,
    files: Sequence[Mapping[str, Any]] | None = None,
    response_mode: str = "streaming",
    workflow_id: str | None = None,
    trace_id: str | None = None,
) -> Operation[WorkflowRunResponse]:
    """``POST /workflows/run`` (or ``/workflows/{workflow_id}/run`` for a pinned version).

    Args:
        inputs: Workflow inputs.
        user: End-user id (required).
        files: File objects (become ``sys.files``).
        response_mode: ``streaming`` or ``blocking``.
        workflow_id: Run this published version (a UUID) instead of the latest one.
        trace_id: Sent as ``X-Trace-Id`` to join Dify's trace with the caller's.

    Returns:
        The operation.

    Raises:
        ValueError: Missing user, bad files or mode.
        TypeError: Wrong argument types.
    """
    body: dict[str, Any] = {
        "inputs": _inputs(inputs),
        "response_mode": _mode(response_mode),
        "user": _user(user),
    }
    checked = _files(files)
    if checked is not None:
        body["files"] = checked
    streaming = response_mode == "streaming"
    path = "/workflows/run"
    if workflow_id is not None:
        path = f"/workflows/{_uuid(workflow_id, 'workflow_id')}/run"
    return Operation(
        name="run_workflow",
        method="POST",
        path=path,
        json=body,
        stream=streaming,
        stop_kind="workflow",
        user=body["user"],
        model=WorkflowRunResponse,
        fold=StreamResult.to_workflow_response,
        headers=trace_headers(trace_id),
    )


_STOP_PATHS: Final[dict[str, str]] = {
    "chat": "/chat-messages/{}/stop",
    "completion": "/completion-messages/{}/stop",
    "workflow": "/workflows/tasks/{}/stop",
}


def stop_task(kind: StopKind, task_id: str, *, user: str | None) -> Operation[dict[str, Any]]:
    """Stop a running generation: chat, completion or workflow.

    The workflow route is ``/workflows/tasks/{task_id}/stop`` (the seed's
    ``/workflows/{task_id}/stop`` does not exist on Dify).

    Args:
        kind: ``chat``, ``completion`` or ``workflow``.
        task_id: The ``task_id`` of a stream event.
        user: The end user that started the task (required).

    Returns:
        The operation (idempotent).

    Raises:
        ValueError: Unknown kind, empty task id or missing user.
    """
    template = _STOP_PATHS.get(kind)
    if template is None:
        raise ValueError(f"unknown stop kind {kind!r}")
    who = _user(user)
    return Operation(
        name=f"stop_{kind}",
        method="POST",
        path=template.format(_uuid(task_id, "task_id")),
        json={"user": who},
        idempotent=True,
        user=who,
    )


# --------------------------------------------------------------------------- workflows


def get_workflow_run(workflow_run_id: str) -> Operation[WorkflowRunDetail]:
    """``GET /workflows/run/{id}``: run detail (``inputs`` decoded from its JSON string).

    Args:
        workflow_run_id: The run id.

    Returns:
        The operation.
    """
    return Operation(
        name="get_workflow_run",
        method="GET",
        path=f"/workflows/run/{_uuid(workflow_run_id, 'workflow_run_id')}",
        idempotent=True,
        model=WorkflowRunDetail,
    )


# --------------------------------------------------------------------------- conversations


def list_conversations(
    *,
    user: str | None,
    last_id: str | None = None,
    limit: int = 20,
    sort_by: str | None = None,
) -> Operation[ConversationList]:
    """``GET /conversations``.

    Args:
        user: End-user id (required: without it Dify lists a shared default user's).
        last_id: Cursor: id of the last conversation of the previous page.
        limit: Page size, 1-100.
        sort_by: ``created_at``, ``-created_at``, ``updated_at`` or ``-updated_at``.

    Returns:
        The operation.
    """
    params: dict[str, str | int] = {"user": _user(user), "limit": _limit(limit)}
    if last_id:
        params["last_id"] = _uuid(last_id, "last_id")
    if sort_by is not None:
        if sort_by not in SORT_BY:
            raise ValueError(f"sort_by must be one of {SORT_BY}, got {sort_by!r}")
        params["sort_by"] = sort_by
    return Operation(
        name="list_conversations",
        method="GET",
        path="/conversations",
        params=params,
        idempotent=True,
        user=str(params["user"]),
        model=ConversationList,
    )


def delete_conversation(conversation_id: str, *, user: str | None) -> Operation[None]:
    """``DELETE /conversations/{id}`` with JSON body ``{"user": ...}``; answers 204.

    Args:
        conversation_id: A conversation UUID.
        user: The owner (required).

    Returns:
        The operation.
    """
    cid = _uuid(conversation_id, "conversation_id")
    who = _user(user)
    return Operation(
        name="delete_conversation",
        method="DELETE",
        path=f"/conversations/{cid}",
        json={"user": who},
        user=who,
        empty=True,
    )


def rename_conversation(
    conversation_id: str,
    name: str | None = None,
    *,
    auto_generate: bool = False,
    user: str | None,
) -> Operation[Conversation]:
    """``POST /conversations/{id}/name``.

    Args:
        conversation_id: A conversation UUID.
        name: The new name (required unless ``auto_generate``).
        auto_generate: Let Dify generate the name.
        user: The owner (required).

    Returns:
        The operation.
    """
    cid = _uuid(conversation_id, "conversation_id")
    who = _user(user)
    if not isinstance(auto_generate, bool):
        raise TypeError("auto_generate must be a bool")
    body: dict[str, Any] = {"auto_generate": auto_generate, "user": who}
    if auto_generate:
        if name is not None:
            body["name"] = _text(name, "name", allow_empty=True)
    else:
        body["name"] = _text(name, "name") if name is not None else _text("", "name")
    return Operation(
        name="rename_conversation",
        method="POST",
        path=f"/conversations/{cid}/name",
        json=body,
        idempotent=True,
        user=who,
        model=Conversation,
    )


def list_messages(
    conversation_id: str,
    *,
    user: str | None,
    first_id: str | None = None,
    limit: int = 20,
) -> Operation[MessageList]:
    """``GET /messages`` of a conversation (each page oldest to newest).

    Args:
        conversation_id: A conversation UUID.
        user: The owner (required).
        first_id: Cursor: id of the oldest message of the current page.
        limit: Page size, 1-100.

    Returns:
        The operation.
    """
    params: dict[str, str | int] = {
        "conversation_id": _uuid(conversation_id, "conversation_id"),
        "user": _user(user),
        "limit": _limit(limit),
    }
    if first_id:
        params["first_id"] = _uuid(first_id, "first_id")
    return Operation(
        name="list_messages",
        method="GET",
        path="/messages",
        params=params,
        idempotent=True,
        user=str(params["user"]),
        model=MessageList,
    )


# --------------------------------------------------------------------------- knowledge


def list_datasets(
    *,
    page: int = 1,
    limit: int = 20,
    keyword: str | None = None,
    tag_ids: Sequence[str] | None = None,
    include_all: bool | None = None,
) -> Operation[DatasetList]:
    """``GET /datasets`` (knowledge key).

    Args:
        page: 1-based page.
        limit: Page size, 1-100.
        keyword: Name filter.
        tag_ids: Only datasets with one of these tags (sent as repeated ``tag_ids``).
        include_all: Workspace owners: ignore permission filtering.

    Returns:
        The operation.
    """
    if isinstance(page, bool) or not isinstance(page, int):
        raise TypeError("page must be an integer")
    if page < 1:
        raise ValueError("page must be >= 1")
    params: dict[str, Any] = {"page": page, "limit": _limit(limit)}
    if keyword:
        params["keyword"] = _text(keyword, "keyword")
    if tag_ids is not None:
        if isinstance(tag_ids, str) or not isinstance(tag_ids, Sequence):
            raise TypeError("tag_ids must be a list of tag ids")
        if tag_ids:
            params["tag_ids"] = [_uuid(t, "tag_ids[]") for t in tag_ids]
    if include_all is not None:
        if not isinstance(include_all, bool):
            raise TypeError("include_all must be a bool")
        params["include_all"] = "true" if include_all else "false"
    return Operation(
        name="list_datasets",
        method="GET",
        path="/datasets",
        key_kind="dataset",
        params=params,
        idempotent=True,
        model=DatasetList,
    )


def retrieval_model(
    *,
    top_k: int,
    search_method: str | None = None,
    score_threshold: float | None = None,
    reranking_enable: bool = False,
    reranking_mode: str | None = None,
    reranking_model: Mapping[str, Any] | None = None,
    weights: Mapping[str, Any] | None = None,
    metadata_filtering_conditions: Mapping[str, Any] | None = None,
    top_k_name: str = "top_k",
) -> dict[str, Any]:
    """The ``retrieval_model`` of ``POST /datasets/{id}/retrieve``, shared by the retrievers.

    Every key current Dify requires is set, in the order of Dify's own requests; options
    left unset go as ``null`` (``search_method`` defaults to ``semantic_search``).

    ``top_k_name`` is the name the caller knows ``top_k`` by (``k``, ``similarity_top_k``),
    used in the error message.

    Raises:
        ValueError: If ``top_k`` is not a positive integer or ``search_method`` is unknown.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"{top_k_name} must be a positive integer, got {top_k!r}")
    method = search_method or "semantic_search"
    if method not in SEARCH_METHODS:
        raise ValueError(f"search_method must be one of {SEARCH_METHODS}, got {method!r}")
    model: dict[str, Any] = {
        "search_method": method,
        "reranking_enable": reranking_enable,
        "reranking_mode": reranking_mode,
        "reranking_model": dict(reranking_model) if reranking_model else None,
        "weights": dict(weights) if weights else None,
        "top_k": top_k,
        "score_threshold_enabled": score_threshold is not None,
        "score_threshold": score_threshold,
    }
    if metadata_filtering_conditions is not None:
        model["metadata_filtering_conditions"] = dict(metadata_filtering_conditions)
    return model


def retrieve(
    dataset_id: str,
    query: str,
    *,
    retrieval_model: Mapping[str, Any] | None = None,
) -> Operation[RetrieveResponse]:
    """``POST /datasets/{id}/retrieve`` (knowledge key; read-only, so retry-safe).

    When ``retrieval_model`` is given, the keys current Dify requires are filled with
    defaults when missing (``search_method`` ``semantic_search``, ``reranking_enable``
    false, ``top_k`` 4, ``score_threshold_enabled`` true iff a ``score_threshold`` is set).

    Args:
        dataset_id: Knowledge-base UUID.
        query: Search text (non-empty, at most 250 characters: Dify's limit).
        retrieval_model: Search settings (``search_method``, ``top_k``, ...).

    Returns:
        The operation.
    """
    did = _uuid(dataset_id, "dataset_id")
    body: dict[str, Any] = {"query": check_query(_text(query, "query"))}
    if retrieval_model is not None:
        if not isinstance(retrieval_model, Mapping):
            raise TypeError("retrieval_model must be a mapping")
        model = dict(retrieval_model)
        method = model.setdefault("search_method", "semantic_search")
        if method not in SEARCH_METHODS:
            raise ValueError(f"search_method must be one of {SEARCH_METHODS}, got {method!r}")
        model.setdefault("reranking_enable", False)
        model.setdefault("top_k", 4)
        top_k = model["top_k"]
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError("top_k must be a positive integer")
        model.setdefault("score_threshold_enabled", model.get("score_threshold") is not None)
        body["retrieval_model"] = model
    return Operation(
        name="retrieve",
        method="POST",
        path=f"/datasets/{did}/retrieve",
        key_kind="dataset",
        json=body,
        idempotent=True,
        model=RetrieveResponse,
    )


# --------------------------------------------------------------------------- files


def _no_limit(name: str | None) -> int | None:
    return None


def _descriptor(file: Any) -> int | None:
    """The OS file descriptor behind a file object, if any (``io.BytesIO`` has none)."""
    fileno = getattr(file, "fileno", None)
    if not callable(fileno):
        return None
    try:
        descriptor = fileno()
    except (OSError, ValueError):
        return None
    return descriptor if isinstance(descriptor, int) else None


def check_upload(
    file: FileInput, *, filename: str | None = None, mime_type: str | None = None
) -> None:
    """Everything `upload_file` refuses that can be known without reading the file.

    The clients run it before asking ``/parameters`` for the size limits, so bad input
    still fails before any request.

    Raises:
        ValueError: A bad ``mime_type`` or file name, a missing or non-regular file.
        TypeError: Unsupported ``file`` or ``mime_type`` type.
    """
    if mime_type is not None:
        check_mime_type(mime_type)
    if filename is not None:
        check_filename(_text(filename, "filename"))
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        try:
            check_regular_file(path.stat(), f"file {str(path)!r}")
        except OSError as exc:
            raise ValueError(f"cannot read file {str(path)!r}: {exc.strerror or exc}") from None
        if filename is None:
            check_filename(path.name)
    elif not isinstance(file, bytes | bytearray | memoryview):
        if not callable(getattr(file, "read", None)):
            raise TypeError("file must be a path, bytes or a binary file object")
        descriptor = _descriptor(file)
        if descriptor is not None:
            check_regular_file(os.fstat(descriptor), "the file object")


def _read_file(
    file: FileInput,
    filename: str | None,
    limit_for: Callable[[str | None], int | None] = _no_limit,
) -> tuple[bytes, str | None]:
    """The bytes and name of ``file``; never reads more than ``limit_for(name) + 1`` bytes.

    Only regular files are read (a device, FIFO or socket is refused).
    """
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        name = filename or path.name
        limit = limit_for(name)
        try:
            # A device or a FIFO never ends (``/dev/zero`` would read until MemoryError) and
            # opening a FIFO blocks: check the path first, then the opened file (the path
            # may have been swapped in between).
            status = path.stat()
            check_regular_file(status, f"file {str(path)!r}")
            check_upload_size(name, status.st_size, limit)
            with path.open("rb") as handle:
                check_regular_file(os.fstat(handle.fileno()), f"file {str(path)!r}")
                content = handle.read() if limit is None else handle.read(limit + 1)
        except OSError as exc:
            raise ValueError(f"cannot read file {str(path)!r}: {exc.strerror or exc}") from None
        return content, name
    if isinstance(file, bytes | bytearray | memoryview):
        return bytes(file), filename
    read = getattr(file, "read", None)
    if not callable(read):
        raise TypeError("file must be a path, bytes or a binary file object")
    descriptor = _descriptor(file)
    if descriptor is not None:
        check_regular_file(os.fstat(descriptor), "the file object")
    attribute = getattr(file, "name", None)
    guessed = filename or (os.path.basename(attribute) if isinstance(attribute, str) else None)
    limit = limit_for(guessed)
    try:
        content = read() if limit is None else read(limit + 1)
    except OSError as exc:
        raise ValueError(f"cannot read file object: {exc}") from None
    if not isinstance(content, bytes | bytearray):
        raise TypeError("file object must be opened in binary mode ('rb')")
    return bytes(content), guessed


def upload_file(
    file: FileInput,
    *,
    filename: str | None = None,
    mime_type: str | None = None,
    user: str | None = None,
    system_parameters: Mapping[str, Any] | None = None,
) -> Operation[UploadedFile]:
    """``POST /files/upload`` (multipart, field ``file`` plus ``user``); answers 201.

    Args:
        file: A path, bytes, or a binary file object.
        filename: Name to send (required for bytes; else taken from the path/object).
        mime_type: Content type; guessed from the name when omitted.
        user: End user the file belongs to (sent when known).
        system_parameters: The app's ``system_parameters`` from ``GET /parameters``; when
            given, a file over Dify's size limit for its kind (image, video, audio, other:
            by extension, as Dify decides) is refused before it is read whole.

    Returns:
        The operation.

    Raises:
        ValueError: Unreadable, empty or non-regular file (a device, FIFO or socket),
            missing filename or one with a path separator or control character, or a
            ``mime_type`` that is not a plain media type, or a file over the app's size limit.
        TypeError: Unsupported ``file`` type.
    """
    content, name = _read_file(
        file, filename, lambda name: upload_size_limit(name, system_parameters)
    )
    if not name:
        raise ValueError("filename= is required when uploading bytes or a nameless file object")
    name = check_filename(_text(name, "filename"))
    if not content:
        raise ValueError(f"file {name!r} is empty")
    check_upload_size(name, len(content), upload_size_limit(name, system_parameters))
    if mime_type is not None:
        mime = check_mime_type(mime_type)
    else:
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    fields: dict[str, str] = {}
    if user is not None:
        fields["user"] = _user(user)
    return Operation(
        name="upload_file",
        method="POST",
        path="/files/upload",
        multipart=Multipart(filename=name, content=content, mime_type=mime, fields=fields),
        user=user,
        model=UploadedFile,
    )


# --------------------------------------------------------------------------- app


def get_parameters() -> Operation[AppParameters]:
    """``GET /parameters``: input form, opening statement, file-upload settings."""
    return Operation(
        name="get_parameters",
        method="GET",
        path="/parameters",
        idempotent=True,
        model=AppParameters,
    )


def get_info() -> Operation[AppInfo]:
    """``GET /info``: app name, description, mode."""
    return Operation(name="get_info", method="GET", path="/info", idempotent=True, model=AppInfo)


def get_meta() -> Operation[AppMeta]:
    """``GET /meta``: tool icons."""
    return Operation(name="get_meta", method="GET", path="/meta", idempotent=True, model=AppMeta)
