"""Knowledge-base write path: models and pure request builders (no I/O).

Datasets, documents (by text or by file), batch indexing status, segments, dataset metadata
fields and document metadata, with the shapes of Dify's Service API spec
(``openapi_service.json`` of 2026-07). Every builder validates its input and raises
`ValueError`/`TypeError` before any request; the clients in `knowledge_client` move the
bytes. Every route needs a knowledge (``dataset-…``) key.
"""

from __future__ import annotations

import json
import math
import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeVar

from pydantic import Field, field_validator

from . import operations as ops
from .errors import DifyError
from .models import Dataset, DifyModel, Segment
from .operations import FileInput, Multipart, Operation

__all__ = [
    "INDEXING_STATES",
    "DatasetDocument",
    "DocumentCreated",
    "DocumentList",
    "IndexingError",
    "IndexingStatus",
    "IndexingStatusList",
    "IndexingTimeoutError",
    "MetadataField",
    "MetadataFieldList",
    "SegmentList",
    "SegmentResult",
    "add_segments",
    "create_dataset",
    "create_document_by_file",
    "create_document_by_text",
    "create_metadata_field",
    "delete_dataset",
    "delete_document",
    "delete_segment",
    "get_dataset",
    "get_document",
    "get_indexing_status",
    "list_documents",
    "list_metadata_fields",
    "list_segments",
    "metadata_type",
    "set_document_metadata",
    "update_dataset",
    "update_document_by_file",
    "update_document_by_text",
    "update_segment",
]

#: The states of a document's indexing, in order; ``error`` may replace any of them.
INDEXING_STATES: Final = ("waiting", "parsing", "cleaning", "splitting", "indexing", "completed")
INDEXING_TECHNIQUES: Final = ("high_quality", "economy")
PERMISSIONS: Final = ("only_me", "all_team_members", "partial_members")
DOC_FORMS: Final = ("text_model", "hierarchical_model", "qa_model")
DOCUMENT_STATUSES: Final = (
    "queuing",
    "indexing",
    "paused",
    "error",
    "available",
    "disabled",
    "archived",
)
METADATA_TYPES: Final = ("string", "number", "time")
MetadataType = Literal["string", "number", "time"]
T = TypeVar("T")


# --------------------------------------------------------------------------- models


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


class DatasetDocument(DifyModel):
    """A document of a knowledge base (``Document`` of the spec).

    ``doc_metadata`` is Dify's list of ``{id, name, type, value}``; `metadata` gives the
    ``{name: value}`` view.
    """

    id: str
    position: int | None = None
    data_source_type: str | None = None
    data_source_info: dict[str, Any] | None = None
    name: str | None = None
    created_from: str | None = None
    created_at: int | float | None = None
    tokens: int | None = None
    indexing_status: str | None = None
    error: str | None = None
    enabled: bool | None = None
    archived: bool | None = None
    display_status: str | None = None
    word_count: int | None = None
    hit_count: int | None = None
    doc_form: str | None = None
    doc_metadata: list[dict[str, Any]] = Field(default_factory=list)
    segment_count: int | None = None
    completed_at: int | float | None = None

    _lists = field_validator("doc_metadata", mode="before")(_none_to_list)

    @property
    def metadata(self) -> dict[str, Any]:
        """The document's metadata values by field name."""
        return {
            str(m["name"]): m.get("value")
            for m in self.doc_metadata
            if isinstance(m, Mapping) and "name" in m
        }


class DocumentCreated(DifyModel):
    """Answer of create/update by text or file: the document and its indexing ``batch``.

    ``dataset_id`` is filled in by the client (Dify does not echo it) so that
    ``wait_for_indexing(created)`` knows where to look.
    """

    document: DatasetDocument
    batch: str
    dataset_id: str | None = None


class DocumentList(DifyModel):
    """A page of ``GET /datasets/{id}/documents``."""

    data: list[DatasetDocument] = Field(default_factory=list)
    has_more: bool = False
    limit: int | None = None
    total: int | None = None
    page: int | None = None

    _lists = field_validator("data", mode="before")(_none_to_list)


class IndexingStatus(DifyModel):
    """The indexing progress of one document of a batch."""

    id: str
    indexing_status: str | None = None
    processing_started_at: int | float | None = None
    parsing_completed_at: int | float | None = None
    cleaning_completed_at: int | float | None = None
    splitting_completed_at: int | float | None = None
    completed_at: int | float | None = None
    paused_at: int | float | None = None
    error: str | None = None
    stopped_at: int | float | None = None
    completed_segments: int | None = None
    total_segments: int | None = None


class IndexingStatusList(DifyModel):
    """Answer of ``GET /datasets/{id}/documents/{batch}/indexing-status``."""

    data: list[IndexingStatus] = Field(default_factory=list)

    _lists = field_validator("data", mode="before")(_none_to_list)


class SegmentList(DifyModel):
    """Segments of a document (list, or the answer of adding segments)."""

    data: list[Segment] = Field(default_factory=list)
    doc_form: str | None = None
    total: int | None = None
    has_more: bool = False
    limit: int | None = None
    page: int | None = None

    _lists = field_validator("data", mode="before")(_none_to_list)


class SegmentResult(DifyModel):
    """Answer of updating (or getting) one segment."""

    data: Segment
    doc_form: str | None = None


class MetadataField(DifyModel):
    """A metadata field of a knowledge base."""

    id: str
    name: str
    type: str | None = None
    count: int | None = None


class MetadataFieldList(DifyModel):
    """Answer of ``GET /datasets/{id}/metadata``."""

    doc_metadata: list[MetadataField] = Field(default_factory=list)
    built_in_field_enabled: bool | None = None

    _lists = field_validator("doc_metadata", mode="before")(_none_to_list)

    def by_name(self) -> dict[str, MetadataField]:
        """The fields by name."""
        return {f.name: f for f in self.doc_metadata}


# --------------------------------------------------------------------------- errors


class IndexingError(DifyError):
    """Dify reported ``error`` for a document while indexing it.

    Attributes:
        document_id: The failed document.
        document_name: Its name, when known.
        error: Dify's error text.
    """

    def __init__(
        self,
        message: str,
        *,
        document_id: str | None = None,
        document_name: str | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.document_id = document_id
        self.document_name = document_name
        self.error = error

    def _state(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "document_name": self.document_name,
            "error": self.error,
        }


class IndexingTimeoutError(IndexingError):
    """Indexing did not finish within the ``timeout`` given to ``wait_for_indexing``."""


# --------------------------------------------------------------------------- validation


def _text(value: Any, name: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def _uuid(value: Any, name: str) -> str:
    return ops._uuid(value, name)


def _choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return str(value)


def _page(page: int) -> int:
    if isinstance(page, bool) or not isinstance(page, int):
        raise TypeError("page must be an integer")
    if page < 1:
        raise ValueError("page must be >= 1")
    return page


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, not {type(value).__name__}")
    return dict(value)


def _document_settings(
    *,
    indexing_technique: str | None,
    doc_form: str | None,
    doc_language: str | None,
    process_rule: Mapping[str, Any] | None,
    retrieval_model: Mapping[str, Any] | None,
    embedding_model: str | None,
    embedding_model_provider: str | None,
    default_process_rule: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if indexing_technique is not None:
        body["indexing_technique"] = _choice(
            indexing_technique, "indexing_technique", INDEXING_TECHNIQUES
        )
    if doc_form is not None:
        body["doc_form"] = _choice(doc_form, "doc_form", DOC_FORMS)
    if doc_language is not None:
        body["doc_language"] = _text(doc_language, "doc_language")
    if process_rule is not None:
        rule = _mapping(process_rule, "process_rule")
        _choice(rule.get("mode"), "process_rule['mode']", ("automatic", "custom", "hierarchical"))
        body["process_rule"] = rule
    elif default_process_rule:
        body["process_rule"] = {"mode": "automatic"}
    if retrieval_model is not None:
        body["retrieval_model"] = _mapping(retrieval_model, "retrieval_model")
    if embedding_model is not None:
        body["embedding_model"] = _text(embedding_model, "embedding_model")
    if embedding_model_provider is not None:
        body["embedding_model_provider"] = _text(
            embedding_model_provider, "embedding_model_provider"
        )
    return body


def _dataset_path(dataset_id: str) -> str:
    return f"/datasets/{_uuid(dataset_id, 'dataset_id')}"


def _document_path(dataset_id: str, document_id: str) -> str:
    return f"{_dataset_path(dataset_id)}/documents/{_uuid(document_id, 'document_id')}"


def _op(
    name: str, method: str, path: str, model: type[T] | None = None, **kwargs: Any
) -> Operation[T]:
    return Operation(name=name, method=method, path=path, key_kind="dataset", model=model, **kwargs)


# --------------------------------------------------------------------------- datasets


def create_dataset(
    name: str,
    *,
    description: str | None = None,
    indexing_technique: str | None = "high_quality",
    permission: str | None = None,
    retrieval_model: Mapping[str, Any] | None = None,
    embedding_model: str | None = None,
    embedding_model_provider: str | None = None,
) -> Operation[Dataset]:
    """``POST /datasets``: create an empty knowledge base (409 when the name is taken).

    Args:
        name: Dataset name (unique in the workspace).
        description: Description.
        indexing_technique: ``high_quality`` (embeddings; default) or ``economy``.
        permission: ``only_me`` (Dify's default), ``all_team_members`` or ``partial_members``.
        retrieval_model: Saved retrieval settings (see `operations.retrieval_model`).
        embedding_model: Embedding model name.
        embedding_model_provider: Its provider.

    Returns:
        The operation (answers a `Dataset`).
    """
    body: dict[str, Any] = {"name": _text(name, "name").strip()}
    if description is not None:
        body["description"] = _text(description, "description", allow_empty=True)
    if permission is not None:
        body["permission"] = _choice(permission, "permission", PERMISSIONS)
    body.update(
        _document_settings(
            indexing_technique=indexing_technique,
            doc_form=None,
            doc_language=None,
            process_rule=None,
            retrieval_model=retrieval_model,
            embedding_model=embedding_model,
            embedding_model_provider=embedding_model_provider,
            default_process_rule=False,
        )
    )
    return _op("create_dataset", "POST", "/datasets", json=body, model=Dataset)


def get_dataset(dataset_id: str) -> Operation[Dataset]:
    """``GET /datasets/{id}``."""
    return _op("get_dataset", "GET", _dataset_path(dataset_id), idempotent=True, model=Dataset)


def update_dataset(dataset_id: str, **fields: Any) -> Operation[Dataset]:
    """``PATCH /datasets/{id}`` with the given fields (``name``, ``description``,
    ``indexing_technique``, ``permission``, ``retrieval_model``, ``embedding_model``, ...).

    Raises:
        ValueError: When no field is given, or a field has an invalid value.
    """
    if not fields:
        raise ValueError("update_dataset needs at least one field to change")
    body = dict(fields)
    if "name" in body:
        body["name"] = _text(body["name"], "name").strip()
    if "indexing_technique" in body:
        _choice(body["indexing_technique"], "indexing_technique", INDEXING_TECHNIQUES)
    if "permission" in body:
        _choice(body["permission"], "permission", PERMISSIONS)
    return _op(
        "update_dataset",
        "PATCH",
        _dataset_path(dataset_id),
        json=body,
        idempotent=True,
        model=Dataset,
    )


def delete_dataset(dataset_id: str) -> Operation[None]:
    """``DELETE /datasets/{id}`` (204)."""
    return _op("delete_dataset", "DELETE", _dataset_path(dataset_id), empty=True)


# --------------------------------------------------------------------------- documents


def create_document_by_text(
    dataset_id: str,
    name: str,
    text: str,
    *,
    indexing_technique: str | None = None,
    doc_form: str | None = None,
    doc_language: str | None = None,
    process_rule: Mapping[str, Any] | None = None,
    retrieval_model: Mapping[str, Any] | None = None,
    embedding_model: str | None = None,
    embedding_model_provider: str | None = None,
) -> Operation[DocumentCreated]:
    """``POST /datasets/{id}/document/create-by-text``.

    Args:
        dataset_id: Knowledge-base UUID.
        name: Document name.
        text: Document text (non-empty).
        indexing_technique: ``high_quality``/``economy``; required by Dify for the first
            document of a dataset created without one.
        doc_form: ``text_model`` (default), ``hierarchical_model`` or ``qa_model``.
        doc_language: Language of the document (``English``).
        process_rule: Chunking rules; default ``{"mode": "automatic"}``.
        retrieval_model: Retrieval settings to save on the dataset.
        embedding_model: Embedding model name.
        embedding_model_provider: Its provider.

    Returns:
        The operation (answers a `DocumentCreated`).
    """
    body: dict[str, Any] = {"name": _text(name, "name"), "text": _text(text, "text")}
    body.update(
        _document_settings(
            indexing_technique=indexing_technique,
            doc_form=doc_form,
            doc_language=doc_language,
            process_rule=process_rule,
            retrieval_model=retrieval_model,
            embedding_model=embedding_model,
            embedding_model_provider=embedding_model_provider,
            default_process_rule=True,
        )
    )
    return _op(
        "create_document_by_text",
        "POST",
        f"{_dataset_path(dataset_id)}/document/create-by-text",
        json=body,
        model=DocumentCreated,
    )


def update_document_by_text(
    dataset_id: str,
    document_id: str,
    *,
    name: str | None = None,
    text: str | None = None,
    doc_form: str | None = None,
    doc_language: str | None = None,
    process_rule: Mapping[str, Any] | None = None,
    retrieval_model: Mapping[str, Any] | None = None,
) -> Operation[DocumentCreated]:
    """``POST /datasets/{id}/documents/{document_id}/update-by-text``.

    Raises:
        ValueError: When neither ``name`` nor ``text`` is given (or one is empty).
    """
    if name is None and text is None:
        raise ValueError("update_document_by_text needs name= or text=")
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = _text(name, "name")
    if text is not None:
        body["text"] = _text(text, "text")
        body.update(
            _document_settings(
                indexing_technique=None,
                doc_form=doc_form,
                doc_language=doc_language,
                process_rule=process_rule,
                retrieval_model=retrieval_model,
                embedding_model=None,
                embedding_model_provider=None,
                default_process_rule=True,
            )
        )
    return _op(
        "update_document_by_text",
        "POST",
        f"{_document_path(dataset_id, document_id)}/update-by-text",
        json=body,
        model=DocumentCreated,
    )


def _file_body(
    file: FileInput, filename: str | None, mime_type: str | None, data: dict[str, Any]
) -> Multipart:
    content, name = ops._read_file(file, filename)
    if not name:
        raise ValueError("filename= is required when sending bytes or a nameless file object")
    name = _text(name, "filename")
    if "/" in name or "\\" in name:
        raise ValueError(f"filename must not contain path separators: {name!r}")
    if not content:
        raise ValueError(f"file {name!r} is empty")
    mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    fields = {"data": json.dumps(data, ensure_ascii=False)} if data else {}
    return Multipart(filename=name, content=content, mime_type=mime, fields=fields)


def create_document_by_file(
    dataset_id: str,
    file: FileInput,
    *,
    filename: str | None = None,
    mime_type: str | None = None,
    indexing_technique: str | None = None,
    doc_form: str | None = None,
    doc_language: str | None = None,
    process_rule: Mapping[str, Any] | None = None,
    retrieval_model: Mapping[str, Any] | None = None,
    embedding_model: str | None = None,
    embedding_model_provider: str | None = None,
) -> Operation[DocumentCreated]:
    """``POST /datasets/{id}/document/create-by-file`` (multipart: ``file`` and a JSON
    ``data`` field with the settings of `create_document_by_text` except name and text).

    Returns:
        The operation (answers a `DocumentCreated`).
    """
    data = _document_settings(
        indexing_technique=indexing_technique,
        doc_form=doc_form,
        doc_language=doc_language,
        process_rule=process_rule,
        retrieval_model=retrieval_model,
        embedding_model=embedding_model,
        embedding_model_provider=embedding_model_provider,
        default_process_rule=True,
    )
    return _op(
        "create_document_by_file",
        "POST",
        f"{_dataset_path(dataset_id)}/document/create-by-file",
        multipart=_file_body(file, filename, mime_type, data),
        model=DocumentCreated,
    )


def update_document_by_file(
    dataset_id: str,
    document_id: str,
    file: FileInput,
    *,
    filename: str | None = None,
    mime_type: str | None = None,
    doc_form: str | None = None,
    doc_language: str | None = None,
    process_rule: Mapping[str, Any] | None = None,
) -> Operation[DocumentCreated]:
    """``POST /datasets/{id}/documents/{document_id}/update-by-file``."""
    data = _document_settings(
        indexing_technique=None,
        doc_form=doc_form,
        doc_language=doc_language,
        process_rule=process_rule,
        retrieval_model=None,
        embedding_model=None,
        embedding_model_provider=None,
        default_process_rule=True,
    )
    return _op(
        "update_document_by_file",
        "POST",
        f"{_document_path(dataset_id, document_id)}/update-by-file",
        multipart=_file_body(file, filename, mime_type, data),
        model=DocumentCreated,
    )


def list_documents(
    dataset_id: str,
    *,
    page: int = 1,
    limit: int = 20,
    keyword: str | None = None,
    status: str | None = None,
) -> Operation[DocumentList]:
    """``GET /datasets/{id}/documents``: one page (``limit`` 1-100)."""
    params: dict[str, Any] = {"page": _page(page), "limit": ops._limit(limit)}
    if keyword:
        params["keyword"] = _text(keyword, "keyword")
    if status is not None:
        params["status"] = _choice(status, "status", DOCUMENT_STATUSES)
    return _op(
        "list_documents",
        "GET",
        f"{_dataset_path(dataset_id)}/documents",
        params=params,
        idempotent=True,
        model=DocumentList,
    )


def get_document(
    dataset_id: str, document_id: str, *, metadata: str = "all"
) -> Operation[DatasetDocument]:
    """``GET /datasets/{id}/documents/{document_id}`` (``metadata``: all, only, without)."""
    return _op(
        "get_document",
        "GET",
        _document_path(dataset_id, document_id),
        params={"metadata": _choice(metadata, "metadata", ("all", "only", "without"))},
        idempotent=True,
        model=DatasetDocument,
    )


def delete_document(dataset_id: str, document_id: str) -> Operation[None]:
    """``DELETE /datasets/{id}/documents/{document_id}`` (204)."""
    return _op("delete_document", "DELETE", _document_path(dataset_id, document_id), empty=True)


def get_indexing_status(dataset_id: str, batch: str) -> Operation[IndexingStatusList]:
    """``GET /datasets/{id}/documents/{batch}/indexing-status``."""
    return _op(
        "get_indexing_status",
        "GET",
        f"{_dataset_path(dataset_id)}/documents/{ops._id(batch, 'batch')}/indexing-status",
        idempotent=True,
        model=IndexingStatusList,
    )


# --------------------------------------------------------------------------- segments


def _segment_payload(item: Any, where: str) -> dict[str, Any]:
    seg = _mapping(item, where)
    unknown = set(seg) - {"content", "answer", "keywords", "attachment_ids"}
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}")
    _text(seg.get("content"), f"{where}['content']")
    if "keywords" in seg and (
        isinstance(seg["keywords"], str)
        or not isinstance(seg["keywords"], Sequence)
        or not all(isinstance(k, str) for k in seg["keywords"])
    ):
        raise TypeError(f"{where}['keywords'] must be a list of strings")
    return seg


def list_segments(
    dataset_id: str,
    document_id: str,
    *,
    page: int = 1,
    limit: int = 20,
    status: str | None = None,
    keyword: str | None = None,
) -> Operation[SegmentList]:
    """``GET /datasets/{id}/documents/{document_id}/segments``: one page."""
    params: dict[str, Any] = {"page": _page(page), "limit": ops._limit(limit)}
    if status is not None:
        params["status"] = _text(status, "status")
    if keyword:
        params["keyword"] = _text(keyword, "keyword")
    return _op(
        "list_segments",
        "GET",
        f"{_document_path(dataset_id, document_id)}/segments",
        params=params,
        idempotent=True,
        model=SegmentList,
    )


def add_segments(
    dataset_id: str, document_id: str, segments: Sequence[Mapping[str, Any]]
) -> Operation[SegmentList]:
    """``POST /datasets/{id}/documents/{document_id}/segments``.

    Args:
        dataset_id: Knowledge-base UUID.
        document_id: Document UUID (its indexing must be completed).
        segments: ``[{"content": str, "answer"?: str, "keywords"?: [str]}]`` (1-1000).
    """
    if isinstance(segments, str | bytes) or not isinstance(segments, Sequence):
        raise TypeError("segments must be a list of {'content': ...} dicts")
    if not 1 <= len(segments) <= 1000:
        raise ValueError(f"segments must hold 1 to 1000 items, got {len(segments)}")
    body = {"segments": [_segment_payload(s, f"segments[{i}]") for i, s in enumerate(segments)]}
    return _op(
        "add_segments",
        "POST",
        f"{_document_path(dataset_id, document_id)}/segments",
        json=body,
        model=SegmentList,
    )


def update_segment(
    dataset_id: str,
    document_id: str,
    segment_id: str,
    *,
    content: str | None = None,
    answer: str | None = None,
    keywords: Sequence[str] | None = None,
    enabled: bool | None = None,
) -> Operation[SegmentResult]:
    """``POST /datasets/{id}/documents/{document_id}/segments/{segment_id}``.

    Raises:
        ValueError: When nothing is to change.
    """
    seg: dict[str, Any] = {}
    if content is not None:
        seg["content"] = _text(content, "content")
    if answer is not None:
        seg["answer"] = _text(answer, "answer", allow_empty=True)
    if keywords is not None:
        seg["keywords"] = _segment_payload({"content": "x", "keywords": keywords}, "segment")[
            "keywords"
        ]
    if enabled is not None:
        if not isinstance(enabled, bool):
            raise TypeError("enabled must be a bool")
        seg["enabled"] = enabled
    if not seg:
        raise ValueError("update_segment needs content=, answer=, keywords= or enabled=")
    path = f"{_document_path(dataset_id, document_id)}/segments/{_uuid(segment_id, 'segment_id')}"
    return _op("update_segment", "POST", path, json={"segment": seg}, model=SegmentResult)


def delete_segment(dataset_id: str, document_id: str, segment_id: str) -> Operation[None]:
    """``DELETE /datasets/{id}/documents/{document_id}/segments/{segment_id}`` (204)."""
    path = f"{_document_path(dataset_id, document_id)}/segments/{_uuid(segment_id, 'segment_id')}"
    return _op("delete_segment", "DELETE", path, empty=True)


# --------------------------------------------------------------------------- metadata


def metadata_type(value: Any) -> MetadataType:
    """The Dify metadata field type that holds ``value`` (``string`` or ``number``).

    Raises:
        TypeError: For values Dify cannot store (bool, None, lists, dicts, NaN...): they
            would come back as something else, so they are refused rather than guessed.
    """
    if isinstance(value, bool) or value is None:
        raise TypeError(f"Dify metadata holds strings and numbers, not {value!r}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise TypeError(f"Dify metadata cannot hold {value!r}")
        return "number"
    if isinstance(value, str):
        return "string"
    raise TypeError(f"Dify metadata holds strings and numbers, not {type(value).__name__}")


def list_metadata_fields(dataset_id: str) -> Operation[MetadataFieldList]:
    """``GET /datasets/{id}/metadata``."""
    return _op(
        "list_metadata_fields",
        "GET",
        f"{_dataset_path(dataset_id)}/metadata",
        idempotent=True,
        model=MetadataFieldList,
    )


def create_metadata_field(
    dataset_id: str, name: str, type: str = "string"
) -> Operation[MetadataField]:
    """``POST /datasets/{id}/metadata`` (201): a field ``name`` of ``type`` string, number or
    time."""
    body = {"type": _choice(type, "type", METADATA_TYPES), "name": _text(name, "name")}
    if len(name) > 255:
        raise ValueError("metadata field names are at most 255 characters")
    return _op(
        "create_metadata_field",
        "POST",
        f"{_dataset_path(dataset_id)}/metadata",
        json=body,
        model=MetadataField,
    )


def set_document_metadata(
    dataset_id: str, operation_data: Sequence[Mapping[str, Any]]
) -> Operation[dict[str, Any]]:
    """``POST /datasets/{id}/documents/metadata``: set the metadata of documents.

    Args:
        dataset_id: Knowledge-base UUID.
        operation_data: ``[{"document_id", "metadata_list": [{"id", "name", "value"}],
            "partial_update"?: bool}]``.
    """
    if isinstance(operation_data, str | bytes) or not isinstance(operation_data, Sequence):
        raise TypeError("operation_data must be a list of dicts")
    if not operation_data:
        raise ValueError("operation_data must not be empty")
    items: list[dict[str, Any]] = []
    for i, raw in enumerate(operation_data):
        item = _mapping(raw, f"operation_data[{i}]")
        _uuid(item.get("document_id"), f"operation_data[{i}]['document_id']")
        values = item.get("metadata_list")
        if not isinstance(values, Sequence) or isinstance(values, str):
            raise TypeError(f"operation_data[{i}]['metadata_list'] must be a list")
        for j, m in enumerate(values):
            entry = _mapping(m, f"operation_data[{i}]['metadata_list'][{j}]")
            _text(entry.get("id"), f"operation_data[{i}]['metadata_list'][{j}]['id']")
            _text(entry.get("name"), f"operation_data[{i}]['metadata_list'][{j}]['name']")
            if entry.get("value") is not None:
                metadata_type(entry["value"])
        item["metadata_list"] = [dict(m) for m in values]
        items.append(item)
    return _op(
        "set_document_metadata",
        "POST",
        f"{_dataset_path(dataset_id)}/documents/metadata",
        json={"operation_data": items},
        idempotent=True,
    )
