"""Knowledge-base write routes (dataset key): datasets, documents, indexing status, segments,
metadata fields and document metadata, with the shapes and errors of Dify's spec.

Documents created over the API go through ``waiting`` → ``parsing`` → ``cleaning`` →
``splitting`` → ``indexing`` → ``completed`` (``Settings.indexing_delay`` seconds each) and
take part in retrieval only once ``completed``; ``DifyTestServer.fail_indexing`` makes
matching documents end in ``error``.
"""

from __future__ import annotations

import json
import mimetypes
import time
import uuid
from typing import Any, Literal

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field

from . import _tokenize
from ._errors import DifyHTTPError, invalid_param, json_response, not_found
from ._http import auth_dataset, json_body, workspace
from ._payloads import RetrievalModel, validate
from ._routes_conversations import UUID_RE
from ._routes_datasets import dataset_json as _dataset_json
from ._routes_datasets import segment_json as _segment_json
from ._routes_files import _read_multipart
from ._settings import settings
from ._workspace import Dataset, Document, Segment, Workspace, new_id, now

routes = web.RouteTableDef()

_DS = "/v1/datasets/{dataset_id:" + UUID_RE + "}"
_DOC = _DS + "/documents/{document_id:" + UUID_RE + "}"
_SEG = _DOC + "/segments/{segment_id:" + UUID_RE + "}"
BUILT_IN_FIELDS = ("document_name", "uploader", "upload_date", "last_update_date", "source")


class DatasetCreatePayload(BaseModel):
    """Body of ``POST /datasets``."""

    name: str = Field(min_length=1, max_length=40)
    description: str | None = Field(default=None, max_length=400)
    indexing_technique: Literal["high_quality", "economy"] | None = None
    permission: Literal["only_me", "all_team_members", "partial_members"] | None = "only_me"
    provider: Literal["vendor", "external"] = "vendor"
    embedding_model: str | None = None
    embedding_model_provider: str | None = None
    retrieval_model: RetrievalModel | None = None


class DatasetUpdatePayload(BaseModel):
    """Body of ``PATCH /datasets/{id}``."""

    name: str | None = Field(default=None, min_length=1, max_length=40)
    description: str | None = Field(default=None, max_length=400)
    indexing_technique: Literal["high_quality", "economy"] | None = None
    permission: Literal["only_me", "all_team_members", "partial_members"] | None = None
    retrieval_model: RetrievalModel | None = None


class ProcessRule(BaseModel):
    """``process_rule`` of a document."""

    mode: Literal["automatic", "custom", "hierarchical"]
    rules: dict[str, Any] | None = None


class DocumentTextPayload(BaseModel):
    """Body of ``create-by-text`` / ``update-by-text``."""

    name: str | None = None
    text: str | None = None
    indexing_technique: Literal["high_quality", "economy"] | None = None
    doc_form: Literal["text_model", "hierarchical_model", "qa_model"] = "text_model"
    doc_language: str = "English"
    process_rule: ProcessRule | None = None
    retrieval_model: RetrievalModel | None = None
    embedding_model: str | None = None
    embedding_model_provider: str | None = None
    original_document_id: str | None = None


class SegmentPayload(BaseModel):
    """One segment of ``POST …/segments``."""

    content: str = Field(min_length=1)
    answer: str | None = None
    keywords: list[str] | None = None
    attachment_ids: list[str] | None = None


class SegmentCreatePayload(BaseModel):
    """Body of ``POST …/segments``."""

    segments: list[SegmentPayload]


class SegmentUpdateArgs(BaseModel):
    """``segment`` of ``POST …/segments/{id}``."""

    content: str | None = None
    answer: str | None = None
    keywords: list[str] | None = None
    enabled: bool | None = None
    regenerate_child_chunks: bool = False


class SegmentUpdatePayload(BaseModel):
    """Body of ``POST …/segments/{id}``."""

    segment: SegmentUpdateArgs


class MetadataArgs(BaseModel):
    """Body of ``POST /datasets/{id}/metadata``."""

    type: Literal["string", "number", "time"]
    name: str = Field(min_length=1)


class MetadataValue(BaseModel):
    """One entry of ``metadata_list``."""

    id: str
    name: str
    value: str | int | float | None = None


class DocumentMetadataOperation(BaseModel):
    """One entry of ``operation_data``."""

    document_id: str
    metadata_list: list[MetadataValue]
    partial_update: bool = False


class MetadataOperationData(BaseModel):
    """Body of ``POST /datasets/{id}/documents/metadata``."""

    operation_data: list[DocumentMetadataOperation]


# --------------------------------------------------------------------------- shapes


def _metadata_type(ds: Dataset, name: str) -> str:
    declared = ds.metadata_types.get(name)
    if declared:
        return declared
    values = [d.metadata[name] for d in ds.documents if name in d.metadata]
    numeric = values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return "number" if numeric else "string"


def _doc_metadata(ds: Dataset, doc: Document) -> list[dict[str, Any]]:
    return [
        {
            "id": ds.metadata_ids.setdefault(name, new_id()),
            "name": name,
            "type": _metadata_type(ds, name),
            "value": value,
        }
        for name, value in doc.metadata.items()
    ]


def _display_status(doc: Document) -> str:
    status = doc.indexing_status
    if status == "error":
        return "error"
    if status != "completed":
        return "queuing" if status == "waiting" else "indexing"
    return "available" if doc.enabled else "disabled"


def document_json(
    ws: Workspace, ds: Dataset, doc: Document, *, full: bool = False
) -> dict[str, Any]:
    """The spec's ``Document`` shape (``full``: the detail of ``GET …/documents/{id}``)."""
    status = doc.indexing_status
    words = sum(s.word_count for s in doc.segments)
    extension = doc.name.rsplit(".", 1)[-1].lower() if "." in doc.name else "txt"
    upload = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, doc.id)),
        "name": doc.name,
        "size": len(doc.text.encode()),
        "extension": extension,
        "mime_type": mimetypes.guess_type(doc.name)[0] or "text/plain",
        "created_by": ws.account_id,
        "created_at": doc.created_at,
    }
    body: dict[str, Any] = {
        "id": doc.id,
        "position": doc.position,
        "data_source_type": doc.data_source_type,
        "data_source_info": {"upload_file_id": upload["id"]},
        "data_source_detail_dict": {"upload_file": upload},
        "dataset_process_rule_id": None,
        "name": doc.name,
        "created_from": doc.created_from,
        "created_by": ws.account_id,
        "created_at": doc.created_at,
        "tokens": sum(s.tokens for s in doc.segments) if status == "completed" else 0,
        "indexing_status": status,
        "error": doc.fail_error if status == "error" else None,
        "enabled": doc.enabled,
        "disabled_at": None,
        "disabled_by": None,
        "archived": False,
        "display_status": _display_status(doc),
        "word_count": words,
        "hit_count": sum(s.hit_count for s in doc.segments),
        "doc_form": "text_model",
        "doc_metadata": _doc_metadata(ds, doc),
        "summary_index_status": None,
        "need_summary": False,
    }
    if full:
        body["data_source_info"] = {"upload_file": upload}
        body.update(
            {
                "dataset_process_rule": {"mode": "automatic", "rules": {}},
                "document_process_rule": {"mode": "automatic", "rules": {}},
                "doc_language": "English",
                "doc_type": doc.doc_type,
                "completed_at": doc.updated_at if status == "completed" else None,
                "updated_at": doc.updated_at,
                "indexing_latency": doc.indexing_delay * 5,
                "segment_count": len(doc.segments),
                "average_segment_length": (words // len(doc.segments)) if doc.segments else 0,
            }
        )
    return body


def _created(ws: Workspace, ds: Dataset, doc: Document) -> web.Response:
    return json_response({"document": document_json(ws, ds, doc), "batch": doc.batch})


# --------------------------------------------------------------------------- helpers


def _dataset(request: web.Request) -> Dataset:
    ds = auth_dataset(request, request.match_info["dataset_id"].lower())
    assert ds is not None
    return ds


def _document(ds: Dataset, request: web.Request, message: str = "Document not found.") -> Document:
    wanted = request.match_info["document_id"].lower()
    for doc in ds.documents:
        if doc.id == wanted:
            return doc
    raise not_found(message)


def _segment(doc: Document, request: web.Request) -> Segment:
    wanted = request.match_info["segment_id"].lower()
    for seg in doc.segments:
        if seg.id == wanted:
            return seg
    raise not_found("Segment not found.")


def _int_arg(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_param(f"{name} must be an integer") from None


def _page(request: web.Request) -> tuple[int, int]:
    page = max(_int_arg(request, "page", 1), 1)
    limit = min(max(_int_arg(request, "limit", 20), 1), 100)
    return page, limit


def _start_indexing(request: web.Request, ds: Dataset, doc: Document) -> None:
    """Restart ``doc``'s indexing clock, with a failure if one is configured for its name."""
    cfg = settings(request)
    doc.indexing_delay = cfg.indexing_delay
    doc.fail_at = None
    for match, state, error in cfg.indexing_failures:
        if match(doc.name):
            doc.fail_at, doc.fail_error = state, error
    doc.batch = _new_batch()
    doc.updated_at = int(now())
    doc.indexing_started = time.monotonic()
    ds.updated_at = doc.updated_at


def _new_batch() -> str:
    return time.strftime("%Y%m%d%H%M%S") + new_id().replace("-", "")[:6]


def _check_indexing_technique(ds: Dataset, technique: str | None) -> None:
    if technique is None and not ds.indexing_technique:
        raise invalid_param("indexing_technique is required.")
    if technique is not None:
        ds.indexing_technique = ds.indexing_technique or technique


async def _multipart(
    request: web.Request,
) -> tuple[dict[str, str], list[tuple[str, str | None, str | None, bytes]]]:
    fields: dict[str, str] = {}
    files: list[tuple[str, str | None, str | None, bytes]] = []
    if request.content_type.startswith("multipart/"):
        try:
            await _read_multipart(request, fields, files)
        except (ValueError, HttpProcessingError):
            fields.clear()
            files.clear()
    return fields, files


def _file_text(
    files: list[tuple[str, str | None, str | None, bytes]], required: bool
) -> tuple[str, str] | None:
    parts = [f for f in files if f[0] == "file"]
    if not parts:
        if required:
            raise DifyHTTPError(400, "no_file_uploaded", "Please upload your file.")
        return None
    if len(files) > 1:
        raise DifyHTTPError(400, "too_many_files", "Only one file is allowed.")
    _, filename, _, data = parts[0]
    if not filename:
        raise DifyHTTPError(
            400, "filename_not_exists_error", "The specified filename does not exist."
        )
    return filename, data.decode("utf-8", "replace")


def _data_field(fields: dict[str, str]) -> DocumentTextPayload:
    raw = fields.get("data")
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        raise invalid_param("data must be a JSON object") from None
    if not isinstance(data, dict):
        raise invalid_param("data must be a JSON object")
    return validate(DocumentTextPayload, data)


# --------------------------------------------------------------------------- datasets


@routes.post("/v1/datasets")
async def create_dataset(request: web.Request) -> web.Response:
    """``POST /datasets`` — 409 ``dataset_name_duplicate`` for a taken name."""
    auth_dataset(request)
    payload = validate(DatasetCreatePayload, await json_body(request))
    ws = workspace(request)
    with ws.lock:
        if any(d.name == payload.name for d in ws.datasets.values()):
            raise DifyHTTPError(
                409,
                "dataset_name_duplicate",
                "The dataset name already exists. Please modify your dataset name.",
            )
        ds = ws.create_dataset(payload.name, description=payload.description)
        ds.indexing_technique = payload.indexing_technique or ""
        ds.permission = payload.permission or "only_me"
        model = payload.retrieval_model
        if model is not None:
            ds.search_method, ds.top_k = model.search_method, model.top_k
            ds.score_threshold_enabled = model.score_threshold_enabled
            ds.score_threshold = model.score_threshold
        ds.rank_unmatched = True
        return json_response(dataset_json(ws, ds))


@routes.get(_DS)
async def get_dataset(request: web.Request) -> web.Response:
    """``GET /datasets/{id}``."""
    ds = _dataset(request)
    ws = workspace(request)
    with ws.lock:
        return json_response(dataset_json(ws, ds))


@routes.patch(_DS)
async def update_dataset(request: web.Request) -> web.Response:
    """``PATCH /datasets/{id}``."""
    ds = _dataset(request)
    payload = validate(DatasetUpdatePayload, await json_body(request))
    ws = workspace(request)
    with ws.lock:
        if payload.name is not None and payload.name != ds.name:
            if any(d.name == payload.name for d in ws.datasets.values()):
                raise DifyHTTPError(
                    409,
                    "dataset_name_duplicate",
                    "The dataset name already exists. Please modify your dataset name.",
                )
            ds.name = payload.name
        if payload.description is not None:
            ds.description = payload.description
        if payload.indexing_technique is not None:
            ds.indexing_technique = payload.indexing_technique
        if payload.permission is not None:
            ds.permission = payload.permission
        if payload.retrieval_model is not None:
            model = payload.retrieval_model
            ds.search_method, ds.top_k = model.search_method, model.top_k
            ds.score_threshold_enabled = model.score_threshold_enabled
            ds.score_threshold = model.score_threshold
        ds.updated_at = int(now())
        return json_response(dataset_json(ws, ds))


@routes.delete(_DS)
async def delete_dataset(request: web.Request) -> web.Response:
    """``DELETE /datasets/{id}`` (204)."""
    ds = _dataset(request)
    ws = workspace(request)
    with ws.lock:
        ws.datasets.pop(ds.id, None)
    return web.Response(status=204)


# --------------------------------------------------------------------------- documents


@routes.post(_DS + "/document/create-by-text")
@routes.post(_DS + "/document/create_by_text")
async def create_by_text(request: web.Request) -> web.Response:
    """``POST /datasets/{id}/document/create-by-text``."""
    ds = _dataset(request)
    payload = validate(DocumentTextPayload, await json_body(request))
    if not payload.name or payload.text is None:
        raise invalid_param("name and text are required.")
    ws = workspace(request)
    with ws.lock:
        _check_indexing_technique(ds, payload.indexing_technique)
        doc = ws.add_document(ds.id, payload.name, payload.text, created_from="api")
        doc.data_source_type = "upload_file"
        _start_indexing(request, ds, doc)
        return _created(ws, ds, doc)


@routes.post(_DS + "/document/create-by-file")
@routes.post(_DS + "/document/create_by_file")
async def create_by_file(request: web.Request) -> web.Response:
    """``POST /datasets/{id}/document/create-by-file`` (multipart ``file`` + JSON ``data``)."""
    ds = _dataset(request)
    fields, files = await _multipart(request)
    upload = _file_text(files, required=True)
    assert upload is not None
    payload = _data_field(fields)
    ws = workspace(request)
    with ws.lock:
        _check_indexing_technique(ds, payload.indexing_technique)
        doc = ws.add_document(ds.id, upload[0], upload[1], created_from="api")
        _start_indexing(request, ds, doc)
        return _created(ws, ds, doc)


@routes.post(_DOC + "/update-by-text")
@routes.post(_DOC + "/update_by_text")
async def update_by_text(request: web.Request) -> web.Response:
    """``POST …/documents/{id}/update-by-text``: new name and/or text, indexed again."""
    ds = _dataset(request)
    payload = validate(DocumentTextPayload, await json_body(request))
    ws = workspace(request)
    with ws.lock:
        doc = _document(ds, request)
        if payload.name:
            doc.name = payload.name
        if payload.text is not None:
            ws.segment_document(doc, payload.text)
        _start_indexing(request, ds, doc)
        return _created(ws, ds, doc)


@routes.post(_DOC + "/update-by-file")
@routes.post(_DOC + "/update_by_file")
async def update_by_file(request: web.Request) -> web.Response:
    """``POST …/documents/{id}/update-by-file``."""
    ds = _dataset(request)
    fields, files = await _multipart(request)
    upload = _file_text(files, required=False)
    _data_field(fields)
    ws = workspace(request)
    with ws.lock:
        doc = _document(ds, request)
        if upload is not None:
            doc.name = upload[0]
            ws.segment_document(doc, upload[1])
        _start_indexing(request, ds, doc)
        return _created(ws, ds, doc)


@routes.get(_DS + "/documents")
async def list_documents(request: web.Request) -> web.Response:
    """``GET /datasets/{id}/documents`` — ``page``, ``limit``, ``keyword``, ``status``."""
    ds = _dataset(request)
    page, limit = _page(request)
    keyword = request.query.get("keyword")
    status = request.query.get("status")
    ws = workspace(request)
    with ws.lock:
        docs = sorted(ds.documents, key=lambda d: -d.position)
        if keyword:
            docs = [d for d in docs if keyword.lower() in d.name.lower()]
        if status:
            docs = [d for d in docs if _display_status(d) == status]
        total = len(docs)
        data = [document_json(ws, ds, d) for d in docs[(page - 1) * limit : page * limit]]
    return json_response(
        {
            "data": data,
            "has_more": page * limit < total,
            "limit": limit,
            "total": total,
            "page": page,
        }
    )


@routes.get(_DOC)
async def get_document(request: web.Request) -> web.Response:
    """``GET /datasets/{id}/documents/{document_id}`` (``metadata``: all, only, without)."""
    ds = _dataset(request)
    which = request.query.get("metadata", "all")
    if which not in ("all", "only", "without"):
        raise DifyHTTPError(400, "invalid_metadata", f"Invalid metadata value: {which}")
    ws = workspace(request)
    with ws.lock:
        doc = _document(ds, request)
        body = document_json(ws, ds, doc, full=True)
    if which == "only":
        body = {
            "id": body["id"],
            "doc_type": body["doc_type"],
            "doc_metadata": body["doc_metadata"],
        }
    elif which == "without":
        body.pop("doc_metadata")
    return json_response(body)


@routes.delete(_DOC)
async def delete_document(request: web.Request) -> web.Response:
    """``DELETE /datasets/{id}/documents/{document_id}`` (204; 404 ``Document Not Exists.``)."""
    ds = _dataset(request)
    ws = workspace(request)
    with ws.lock:
        doc = _document(ds, request, "Document Not Exists.")
        ds.documents.remove(doc)
        ds.updated_at = int(now())
    return web.Response(status=204)


@routes.get(_DS + "/documents/{batch}/indexing-status")
async def indexing_status(request: web.Request) -> web.Response:
    """``GET /datasets/{id}/documents/{batch}/indexing-status``."""
    ds = _dataset(request)
    batch = request.match_info["batch"]
    ws = workspace(request)
    with ws.lock:
        docs = [d for d in ds.documents if d.batch == batch]
        if not docs:
            raise not_found("Documents not found.")
        data = []
        for doc in docs:
            status = doc.indexing_status
            done = status == "completed"
            data.append(
                {
                    "id": doc.id,
                    "indexing_status": status,
                    "processing_started_at": doc.updated_at,
                    "parsing_completed_at": doc.updated_at if done else None,
                    "cleaning_completed_at": doc.updated_at if done else None,
                    "splitting_completed_at": doc.updated_at if done else None,
                    "completed_at": doc.updated_at if done else None,
                    "paused_at": None,
                    "error": doc.fail_error if status == "error" else None,
                    "stopped_at": None,
                    "completed_segments": len(doc.segments) if done else 0,
                    "total_segments": len(doc.segments),
                }
            )
    return json_response({"data": data})


# --------------------------------------------------------------------------- segments


def dataset_json(ws: Workspace, ds: Dataset) -> dict[str, Any]:
    """The detail shape of create/get/update (the list's, plus ``maintainer`` and
    ``partial_member_list``)."""
    return {**_dataset_json(ws, ds), "maintainer": ds.created_by, "partial_member_list": []}


def segment_json(seg: Segment, created_by: str) -> dict[str, Any]:
    """The spec's segment shape of the segment routes (no ``document``)."""
    body = _segment_json(seg, created_by)
    body.pop("document")
    body["updated_at"] = seg.created_at
    body["updated_by"] = created_by
    return body


def _segments_page(
    ws: Workspace, ds: Dataset, segs: list[Segment], page: int, limit: int
) -> dict[str, Any]:
    total = len(segs)
    return {
        "data": [segment_json(s, ds.created_by) for s in segs[(page - 1) * limit : page * limit]],
        "doc_form": "text_model",
        "total": total,
        "has_more": page * limit < total,
        "limit": limit,
        "page": page,
    }


@routes.get(_DOC + "/segments")
async def list_segments(request: web.Request) -> web.Response:
    """``GET …/documents/{id}/segments`` — ``page``, ``limit``, ``status``, ``keyword``."""
    ds = _dataset(request)
    page, limit = _page(request)
    keyword = request.query.get("keyword")
    ws = workspace(request)
    with ws.lock:
        doc = _document(ds, request)
        segs = list(doc.segments)
        if keyword:
            segs = [s for s in segs if keyword.lower() in s.content.lower()]
        return json_response(_segments_page(ws, ds, segs, page, limit))


@routes.post(_DOC + "/segments")
async def add_segments(request: web.Request) -> web.Response:
    """``POST …/documents/{id}/segments`` (the document must be indexed and enabled)."""
    ds = _dataset(request)
    payload = validate(SegmentCreatePayload, await json_body(request))
    if len(payload.segments) > 1000:
        raise invalid_param("Exceeded maximum segments limit of 1000.")
    ws = workspace(request)
    with ws.lock:
        doc = _document(ds, request)
        if doc.indexing_status != "completed":
            raise not_found("Document is not completed.")
        if not doc.enabled:
            raise not_found("Document is disabled.")
        added = [ws.new_segment(doc, s.content, s.keywords) for s in payload.segments]
        return json_response(
            {"data": [segment_json(s, ds.created_by) for s in added], "doc_form": "text_model"}
        )


@routes.get(_SEG)
async def get_segment(request: web.Request) -> web.Response:
    """``GET …/segments/{segment_id}``."""
    ds = _dataset(request)
    ws = workspace(request)
    with ws.lock:
        seg = _segment(_document(ds, request), request)
        return json_response({"data": segment_json(seg, ds.created_by), "doc_form": "text_model"})


@routes.post(_SEG)
async def update_segment(request: web.Request) -> web.Response:
    """``POST …/segments/{segment_id}``: content, answer, keywords, enabled."""
    ds = _dataset(request)
    payload = validate(SegmentUpdatePayload, await json_body(request)).segment
    ws = workspace(request)
    with ws.lock:
        seg = _segment(_document(ds, request), request)
        if payload.content is not None:
            if not payload.content.strip():
                raise invalid_param("Content is empty")
            seg.content = payload.content
            seg.terms = _tokenize.terms(seg.content)
            seg.tokens = _tokenize.count_tokens(seg.content)
        if payload.keywords is not None:
            seg.keywords = list(payload.keywords)
        if payload.enabled is not None:
            seg.enabled = payload.enabled
        return json_response({"data": segment_json(seg, ds.created_by), "doc_form": "text_model"})


@routes.delete(_SEG)
async def delete_segment(request: web.Request) -> web.Response:
    """``DELETE …/segments/{segment_id}`` (204)."""
    ds = _dataset(request)
    ws = workspace(request)
    with ws.lock:
        doc = _document(ds, request)
        doc.segments.remove(_segment(doc, request))
    return web.Response(status=204)


# --------------------------------------------------------------------------- metadata


@routes.get(_DS + "/metadata")
async def list_metadata(request: web.Request) -> web.Response:
    """``GET /datasets/{id}/metadata``."""
    ds = _dataset(request)
    ws = workspace(request)
    with ws.lock:
        fields = [
            {
                "id": mid,
                "name": name,
                "type": _metadata_type(ds, name),
                "count": sum(1 for d in ds.documents if name in d.metadata),
            }
            for name, mid in ds.metadata_ids.items()
        ]
    return json_response({"doc_metadata": fields, "built_in_field_enabled": False})


@routes.post(_DS + "/metadata")
async def create_metadata(request: web.Request) -> web.Response:
    """``POST /datasets/{id}/metadata`` (201)."""
    ds = _dataset(request)
    payload = validate(MetadataArgs, await json_body(request))
    if len(payload.name) > 255:
        raise invalid_param("Metadata name cannot exceed 255 characters.")
    if payload.name in BUILT_IN_FIELDS:
        raise invalid_param("Metadata name already exists in Built-in fields.")
    ws = workspace(request)
    with ws.lock:
        if payload.name in ds.metadata_ids:
            raise invalid_param("Metadata name already exists.")
        mid = new_id()
        ds.metadata_ids[payload.name] = mid
        ds.metadata_types[payload.name] = payload.type
    return json_response({"id": mid, "name": payload.name, "type": payload.type}, status=201)


@routes.post(_DS + "/documents/metadata")
async def set_document_metadata(request: web.Request) -> web.Response:
    """``POST /datasets/{id}/documents/metadata``."""
    ds = _dataset(request)
    payload = validate(MetadataOperationData, await json_body(request))
    ws = workspace(request)
    with ws.lock:
        by_id = {d.id: d for d in ds.documents}
        names = {mid: name for name, mid in ds.metadata_ids.items()}
        for op in payload.operation_data:
            doc = by_id.get(op.document_id.lower())
            if doc is None:
                raise invalid_param("Document not found.")
            for item in op.metadata_list:
                if names.get(item.id) != item.name:
                    raise invalid_param(f"Metadata {item.name} not found.")
        for op in payload.operation_data:
            doc = by_id[op.document_id.lower()]
            values = {i.name: i.value for i in op.metadata_list if i.value is not None}
            doc.metadata = {**doc.metadata, **values} if op.partial_update else values
    return json_response({"result": "success"})
