"""The in-memory workspace: apps, knowledge bases, conversations, messages, runs and files.

Every mutation goes through :class:`Workspace` methods holding one re-entrant lock, so the
Python API (any thread) and the route handlers (the server's event loop) can share it.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import _tokenize

#: Indexing states of a document, in order.
INDEXING_STATES = ("waiting", "parsing", "cleaning", "splitting", "indexing", "completed")

ChatMode = Literal["chat", "agent-chat", "agent", "advanced-chat"]
AppMode = Literal["chat", "agent-chat", "agent", "advanced-chat", "completion", "workflow"]
Responder = Callable[[str, dict[str, Any], list[tuple[str, str]], list[dict[str, Any]]], Any]
WorkflowHandler = Callable[[dict[str, Any]], Any]
#: ``moderation(answer) -> replacement | None``: output moderation of a whole answer.
Moderation = Callable[[str], str | None]

_seq = itertools.count(1)


def new_id() -> str:
    """A fresh UUID4 string."""
    return str(uuid.uuid4())


def now() -> float:
    """Current time, seconds since the epoch."""
    return time.time()


# --------------------------------------------------------------------------- knowledge


@dataclass(eq=False)
class Segment:
    """One chunk of a document, the unit of retrieval."""

    id: str
    position: int
    document: Document
    content: str
    terms: list[str]
    tokens: int
    keywords: list[str]
    index_node_id: str
    index_node_hash: str
    created_at: int
    hit_count: int = 0
    enabled: bool = True

    @property
    def word_count(self) -> int:
        """Dify counts characters as ``word_count``."""
        return len(self.content)


@dataclass(eq=False)
class Document:
    """A document of a knowledge base, segmented into chunks."""

    id: str
    dataset_id: str
    name: str
    text: str
    metadata: dict[str, Any]
    created_at: int
    segments: list[Segment] = field(default_factory=list)
    data_source_type: str = "upload_file"
    doc_type: str | None = None
    batch: str = ""
    position: int = 1
    enabled: bool = True
    #: Seconds each indexing state lasts (0: completed at once).
    indexing_delay: float = 0.0
    #: Indexing state at which the document fails (``None``: it does not fail).
    fail_at: str | None = None
    fail_error: str = "Simulated indexing failure."
    indexing_started: float = field(default_factory=time.monotonic)
    updated_at: int = 0
    created_from: str = "web"

    @property
    def indexing_status(self) -> str:
        """``waiting`` → ``parsing`` → ``cleaning`` → ``splitting`` → ``indexing`` →
        ``completed`` as time passes (``error`` at ``fail_at``)."""
        if self.indexing_delay <= 0:
            step = len(INDEXING_STATES) - 1
        else:
            elapsed = time.monotonic() - self.indexing_started
            step = min(int(elapsed / self.indexing_delay), len(INDEXING_STATES) - 1)
        if self.fail_at is not None and step >= INDEXING_STATES.index(self.fail_at):
            return "error"
        return INDEXING_STATES[step]

    @property
    def searchable(self) -> bool:
        """Indexed and enabled: its segments take part in retrieval."""
        return self.enabled and self.indexing_status == "completed"


@dataclass(eq=False)
class Dataset:
    """A knowledge base. ``id`` is what ``/datasets/{id}/retrieve`` takes."""

    id: str
    name: str
    description: str | None
    created_at: int
    updated_at: int
    created_by: str
    documents: list[Document] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    permission: str = "only_me"
    indexing_technique: str = "high_quality"
    search_method: str = "semantic_search"
    top_k: int = 4
    score_threshold_enabled: bool = False
    score_threshold: float | None = None
    enable_api: bool = True
    chunk_size: int = 500
    metadata_ids: dict[str, str] = field(default_factory=dict)
    #: Declared metadata field types by name (fields created over the API).
    metadata_types: dict[str, str] = field(default_factory=dict)
    #: Semantic stand-in: retrieval also returns unmatched segments (score 0) after the
    #: matched ones, as a vector search returns nearest neighbours (datasets made over the API).
    rank_unmatched: bool = False
    provider: str = "vendor"

    def segments(self) -> list[Segment]:
        """All enabled segments of indexed documents, in document then position order."""
        return [s for d in self.documents if d.searchable for s in d.segments if s.enabled]


# --------------------------------------------------------------------------- apps


@dataclass(eq=False)
class App:
    """An app of the workspace. ``api_key`` (``app-…``) authenticates the app routes.

    Attributes may be changed while the server runs (e.g. ``enable_api = False`` makes the
    app routes answer 403 ``The app's API service has been disabled.``).
    """

    id: str
    name: str
    mode: AppMode
    api_key: str
    description: str = ""
    user_input_form: list[dict[str, Any]] = field(default_factory=list)
    opening_statement: str = ""
    suggested_questions: list[str] = field(default_factory=list)
    dataset_ids: list[str] = field(default_factory=list)
    responder: Responder | None = None
    moderation: Moderation | None = None
    template: str = ""
    handler: WorkflowHandler | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)
    token_delay: float | None = None
    enable_api: bool = True
    show_retrieve_source: bool = True
    suggested_questions_after_answer: bool = False
    workflow_id: str = field(default_factory=new_id)
    tags: list[str] = field(default_factory=list)
    author_name: str = "Dify Test Server"
    tool_icons: dict[str, Any] = field(default_factory=dict)
    created_at: int = field(default_factory=lambda: int(now()))
    reasoning: str | None = None
    """Chatflows: the LLM node's reasoning, streamed as ``reasoning_chunk`` events."""
    human_input: dict[str, Any] | None = None
    """Chatflows: a Human Input node before the LLM node (see ``create_chat_app``)."""
    agent_published: bool = True
    """New Agent apps (``agent``): ``False`` answers 400 ``agent_not_published``."""
    conversation_variables: list[dict[str, Any]] = field(default_factory=list)
    """Chatflows: the conversation variables every new conversation starts with."""


# --------------------------------------------------------------------------- runtime records


@dataclass(eq=False)
class Message:
    """A chat/completion message (one query and its answer)."""

    id: str
    app_id: str
    user: str
    conversation_id: str | None
    query: str
    inputs: dict[str, Any]
    created_at: int
    task_id: str
    answer: str = ""
    parent_message_id: str | None = None
    retriever_resources: list[dict[str, Any]] = field(default_factory=list)
    agent_thoughts: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    status: str = "normal"
    error: str | None = None
    feedback: str | None = None
    usage: dict[str, Any] | None = None


@dataclass(eq=False)
class Conversation:
    """A conversation of one end user with one chat-family app."""

    id: str
    app_id: str
    user: str
    name: str
    inputs: dict[str, Any]
    introduction: str
    created_at: float
    updated_at: float
    seq: int = field(default_factory=lambda: next(_seq))
    messages: list[Message] = field(default_factory=list)
    deleted: bool = False
    status: str = "normal"


@dataclass(eq=False)
class WorkflowRun:
    """One workflow (or chatflow) run."""

    id: str
    app_id: str
    workflow_id: str
    user: str
    task_id: str
    inputs: dict[str, Any]
    created_at: int
    status: str = "running"
    outputs: dict[str, Any] | None = None
    error: str | None = None
    total_steps: int = 0
    total_tokens: int = 0
    finished_at: int | None = None
    elapsed_time: float = 0.0
    log_id: str = field(default_factory=new_id)
    seq: int = field(default_factory=lambda: next(_seq))


@dataclass(eq=False)
class UploadedFile:
    """A file stored by ``POST /files/upload``."""

    id: str
    app_id: str
    user: str
    end_user_id: str
    name: str
    size: int
    extension: str | None
    mime_type: str | None
    created_at: int
    content: bytes = b""


# --------------------------------------------------------------------------- input forms

_FORM_TYPES = ("text-input", "paragraph", "select", "number", "checkbox", "file", "file-list")


def normalize_form(form: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Normalise a ``user_input_form`` into Dify's shape ``[{<type>: {label, variable, …}}]``.

    Accepts Dify's own shape or a flat ``{"type": ..., "variable": ...}`` per field.
    """
    out: list[dict[str, Any]] = []
    for item in form or []:
        if "variable" in item:
            kind = str(item.get("type", "text-input"))
            spec = {k: v for k, v in item.items() if k != "type"}
        else:
            ((kind, raw),) = item.items()
            spec = dict(raw)
        if kind not in _FORM_TYPES:
            raise ValueError(f"unknown user_input_form type {kind!r}")
        variable = str(spec["variable"])
        full: dict[str, Any] = {
            "label": spec.get("label", variable),
            "variable": variable,
            "required": bool(spec.get("required", False)),
        }
        if kind in ("text-input", "paragraph"):
            full["max_length"] = spec.get("max_length", 48 if kind == "text-input" else None)
        if kind == "select":
            full["options"] = list(spec.get("options", []))
        if kind in ("file", "file-list"):
            full["allowed_file_types"] = spec.get("allowed_file_types", ["image", "document"])
            full["allowed_file_extensions"] = spec.get("allowed_file_extensions", [])
            full["allowed_file_upload_methods"] = spec.get(
                "allowed_file_upload_methods", ["local_file", "remote_url"]
            )
        full["default"] = spec.get("default", False if kind == "checkbox" else "")
        for k, v in spec.items():
            full.setdefault(k, v)
        out.append({kind: full})
    return out


# --------------------------------------------------------------------------- workspace


def _segment_text(text: str, chunk_size: int) -> list[str]:
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    pieces: list[str] = []
    for para in paragraphs:
        if len(para) <= chunk_size:
            pieces.append(para)
            continue
        current = ""
        for sentence in _tokenize.sentences(para):
            if current and len(current) + 1 + len(sentence) > chunk_size:
                pieces.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            pieces.append(current)
    chunks: list[str] = []
    for piece in pieces:  # merge short neighbours
        if chunks and len(chunks[-1]) + 2 + len(piece) <= chunk_size // 2:
            chunks[-1] = f"{chunks[-1]}\n\n{piece}"
        else:
            chunks.append(piece)
    return chunks


class Workspace:
    """All state of one server, guarded by ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenant_id = new_id()
        self.account_id = new_id()
        self.dataset_api_keys: list[str] = ["dataset-" + secrets.token_urlsafe(18)]
        self.apps: dict[str, App] = {}
        self.apps_by_key: dict[str, App] = {}
        self.datasets: dict[str, Dataset] = {}
        self.conversations: dict[str, Conversation] = {}
        self.messages: dict[str, Message] = {}
        self.runs: dict[str, WorkflowRun] = {}
        self.files: dict[str, UploadedFile] = {}
        self.end_users: dict[tuple[str, str], str] = {}
        self.stop_calls: dict[str, int] = {}
        # current Dify: feedback records, conversation variables, human-input forms
        self.feedbacks: dict[str, dict[str, Any]] = {}
        self.conversation_variables: dict[str, list[dict[str, Any]]] = {}
        self.forms: dict[str, Any] = {}
        self.paused_runs: dict[str, Any] = {}

    # ----------------------------------------------------------------- knowledge

    def create_dataset(
        self,
        name: str,
        documents: Sequence[Mapping[str, Any]] = (),
        *,
        description: str | None = None,
        tags: Sequence[str] = (),
        chunk_size: int = 500,
        search_method: str = "semantic_search",
        top_k: int = 4,
        enable_api: bool = True,
    ) -> Dataset:
        """Create a knowledge base and index ``documents`` (``{name, text, metadata}``)."""
        ts = int(now())
        ds = Dataset(
            id=new_id(),
            name=name,
            description=description,
            created_at=ts,
            updated_at=ts,
            created_by=self.account_id,
            tags=[{"id": new_id(), "name": t, "type": "knowledge"} for t in tags],
            chunk_size=chunk_size,
            search_method=search_method,
            top_k=top_k,
            enable_api=enable_api,
        )
        with self.lock:
            self.datasets[ds.id] = ds
            for doc in documents:
                self.add_document(
                    ds.id, str(doc["name"]), str(doc["text"]), dict(doc.get("metadata") or {})
                )
        return ds

    def add_document(
        self,
        dataset_id: str,
        name: str,
        text: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        indexing_delay: float = 0.0,
        fail_at: str | None = None,
        created_from: str = "web",
    ) -> Document:
        """Add a document to a knowledge base; it is segmented at once and searchable once
        its indexing completes (at once with the default ``indexing_delay`` of 0)."""
        with self.lock:
            ds = self.datasets[dataset_id]
            ts = int(now())
            doc = Document(
                id=new_id(),
                dataset_id=ds.id,
                name=name,
                text=text,
                metadata=dict(metadata or {}),
                created_at=ts,
                updated_at=ts,
                batch=time.strftime("%Y%m%d%H%M%S") + f"{next(_seq):06d}",
                position=max((d.position for d in ds.documents), default=0) + 1,
                indexing_delay=indexing_delay,
                fail_at=fail_at,
                created_from=created_from,
            )
            self.segment_document(doc, text)
            for key in doc.metadata:
                ds.metadata_ids.setdefault(key, new_id())
            ds.documents.append(doc)
            ds.updated_at = ts
            return doc

    def segment_document(self, doc: Document, text: str) -> None:
        """(Re)split ``doc`` into segments of its dataset's chunk size."""
        with self.lock:
            ds = self.datasets[doc.dataset_id]
            doc.text = text
            doc.segments = []
            for chunk in _segment_text(text, ds.chunk_size):
                self.new_segment(doc, chunk)

    def new_segment(
        self, doc: Document, content: str, keywords: Sequence[str] | None = None
    ) -> Segment:
        """Append a segment with ``content`` to ``doc``."""
        with self.lock:
            seg = Segment(
                id=new_id(),
                position=len(doc.segments) + 1,
                document=doc,
                content=content,
                terms=_tokenize.terms(content) + _tokenize.terms(doc.name.rsplit(".", 1)[0]),
                tokens=_tokenize.count_tokens(content),
                keywords=list(keywords) if keywords is not None else _tokenize.keywords(content),
                index_node_id=new_id(),
                index_node_hash=hashlib.sha256(content.encode()).hexdigest(),
                created_at=int(now()),
            )
            doc.segments.append(seg)
            return seg

    # ----------------------------------------------------------------- apps

    def add_app(self, app: App) -> App:
        """Register an app and its key."""
        with self.lock:
            for ds_id in app.dataset_ids:
                if ds_id not in self.datasets:
                    raise KeyError(f"unknown dataset id {ds_id!r}")
            self.apps[app.id] = app
            self.apps_by_key[app.api_key] = app
        return app

    @staticmethod
    def new_app_key() -> str:
        """A fresh ``app-…`` key."""
        return "app-" + secrets.token_urlsafe(18)

    def end_user_id(self, app_id: str, user: str) -> str:
        """The stable end-user id of ``user`` within an app."""
        with self.lock:
            return self.end_users.setdefault((app_id, user), new_id())

    # ----------------------------------------------------------------- conversations

    def find_conversation(
        self, app_id: str, user: str, conversation_id: str
    ) -> Conversation | None:
        """The live conversation with this id owned by (app, user), else ``None``."""
        with self.lock:
            conv = self.conversations.get(conversation_id)
            if conv is None or conv.deleted or conv.app_id != app_id or conv.user != user:
                return None
            return conv

    def user_conversations(self, app_id: str, user: str) -> list[Conversation]:
        """Live conversations of (app, user)."""
        with self.lock:
            return [
                c
                for c in self.conversations.values()
                if c.app_id == app_id and c.user == user and not c.deleted
            ]

    def message_count(self, conversation_id: str) -> int:
        """Number of messages stored in a conversation (0 when unknown)."""
        with self.lock:
            conv = self.conversations.get(conversation_id)
            return len(conv.messages) if conv else 0

    def record_stop(self, task_id: str) -> None:
        """Count a stop call for ``task_id``."""
        with self.lock:
            self.stop_calls[task_id] = self.stop_calls.get(task_id, 0) + 1
