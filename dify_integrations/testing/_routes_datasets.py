"""Knowledge-base routes (dataset key): list datasets, retrieve (hit testing)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import _external_knowledge, _retrieval, _tokenize
from ._errors import DifyHTTPError, invalid_param, json_response
from ._http import auth_dataset, json_body, workspace
from ._payloads import DatasetListQuery, HitTestingPayload, validate
from ._routes_conversations import UUID_RE
from ._workspace import Dataset, Segment, Workspace

routes = web.RouteTableDef()


def _metadata_type(values: list[Any]) -> str:
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def dataset_json(ws: Workspace, ds: Dataset) -> dict[str, Any]:
    """The full ``Dataset`` shape of ``GET /datasets``."""
    app_count = sum(1 for a in ws.apps.values() if ds.id in a.dataset_ids)
    words = sum(s.word_count for d in ds.documents for s in d.segments)
    doc_metadata = [
        {
            "id": mid,
            "name": name,
            "type": ds.metadata_types.get(name)
            or _metadata_type([d.metadata[name] for d in ds.documents if name in d.metadata]),
        }
        for name, mid in ds.metadata_ids.items()
    ]
    data = {
        "id": ds.id,
        "name": ds.name,
        "description": ds.description,
        "provider": "vendor",
        "permission": ds.permission,
        "data_source_type": "upload_file" if ds.documents else None,
        "indexing_technique": ds.indexing_technique,
        "app_count": app_count,
        "document_count": len(ds.documents),
        "word_count": words,
        "created_by": ds.created_by,
        "author_name": "Dify Test Server",
        "created_at": ds.created_at,
        "updated_by": ds.created_by,
        "updated_at": ds.updated_at,
        "embedding_model": "text-embedding-3-small",
        "embedding_model_provider": "langgenius/openai/openai",
        "embedding_available": True,
        "retrieval_model_dict": {
            "search_method": ds.search_method,
            "reranking_enable": False,
            "reranking_mode": None,
            "reranking_model": {"reranking_provider_name": "", "reranking_model_name": ""},
            "weights": None,
            "top_k": ds.top_k,
            "score_threshold_enabled": ds.score_threshold_enabled,
            "score_threshold": ds.score_threshold,
        },
        "summary_index_setting": None,
        "tags": ds.tags,
        "doc_form": "text_model",
        "external_knowledge_info": {
            "external_knowledge_id": None,
            "external_knowledge_api_id": None,
            "external_knowledge_api_name": None,
            "external_knowledge_api_endpoint": None,
        },
        "external_retrieval_model": {
            "top_k": 2,
            "score_threshold": 0.0,
            "score_threshold_enabled": None,
        },
        "doc_metadata": doc_metadata,
        "built_in_field_enabled": False,
        "pipeline_id": None,
        "runtime_mode": "general",
        "chunk_structure": None,
        "icon_info": {
            "icon_type": "emoji",
            "icon": "📙",
            "icon_background": "#FFF4ED",
            "icon_url": None,
        },
        "is_published": False,
        "total_documents": len(ds.documents),
        "total_available_documents": len(ds.documents),
        "enable_api": ds.enable_api,
        "is_multimodal": False,
    }
    _external_knowledge.dataset_json_patch(ds, data)
    return data


@routes.get("/v1/datasets")
async def list_datasets(request: web.Request) -> web.Response:
    """``GET /datasets`` — ``page``/``limit`` (capped at 100), ``keyword``, ``tag_ids``."""
    auth_dataset(request)
    raw: dict[str, Any] = {
        k: v for k, v in request.query.items() if k in ("page", "limit", "keyword", "include_all")
    }
    raw["tag_ids"] = request.query.getall("tag_ids", [])
    query = validate(DatasetListQuery, raw)
    page = max(query.page, 1)
    limit = min(max(query.limit, 1), 100)
    ws = workspace(request)
    with ws.lock:
        items = sorted(ws.datasets.values(), key=lambda d: (-d.created_at, d.name))
        if query.keyword:
            items = [d for d in items if query.keyword.lower() in d.name.lower()]
        if query.tag_ids:
            wanted = set(query.tag_ids)
            items = [d for d in items if wanted & {t["id"] for t in d.tags}]
        total = len(items)
        data = [dataset_json(ws, d) for d in items[(page - 1) * limit : page * limit]]
    return json_response(
        {
            "data": data,
            "has_more": page * limit < total,
            "limit": limit,
            "total": total,
            "page": page,
        }
    )


def segment_json(seg: Segment, created_by: str) -> dict[str, Any]:
    """The full segment shape (retrieve records and the segment routes)."""
    doc = seg.document
    return {
        "id": seg.id,
        "position": seg.position,
        "document_id": doc.id,
        "content": seg.content,
        "sign_content": None,
        "answer": None,
        "word_count": seg.word_count,
        "tokens": seg.tokens,
        "keywords": seg.keywords,
        "index_node_id": seg.index_node_id,
        "index_node_hash": seg.index_node_hash,
        "hit_count": seg.hit_count,
        "enabled": seg.enabled,
        "disabled_at": None,
        "disabled_by": None,
        "status": "completed",
        "created_by": created_by,
        "created_at": seg.created_at,
        "indexing_at": seg.created_at,
        "completed_at": seg.created_at,
        "error": None,
        "stopped_at": None,
        "child_chunks": [],
        "attachments": [],
        "summary": None,
        "document": {
            "id": doc.id,
            "data_source_type": doc.data_source_type,
            "name": doc.name,
            "doc_type": doc.doc_type,
            "doc_metadata": dict(doc.metadata) or None,
        },
    }


def record_json(seg: Segment, score: float, created_by: str) -> dict[str, Any]:
    """One retrieve record with the full segment shape."""
    segment = segment_json(seg, created_by)
    for key in ("child_chunks", "attachments", "summary"):
        segment.pop(key)
    return {
        "segment": segment,
        "child_chunks": [],
        "score": score,
        "tsne_position": None,
        "files": [],
        "summary": None,
    }


async def _retrieve(request: web.Request) -> web.Response:
    ds = auth_dataset(request, request.match_info["dataset_id"].lower())
    assert ds is not None
    body = await json_body(request)
    payload = validate(HitTestingPayload, body)
    if not payload.query and not payload.attachment_ids:
        raise invalid_param("Query or attachment_ids is required")
    if _external_knowledge.binding(ds) is not None:
        try:
            answer = await _external_knowledge.hit_testing(workspace(request), ds, payload)
        except Exception as exc:  # Dify: InternalServerError(str(e))
            raise DifyHTTPError(500, "internal_server_error", str(exc)) from None
        return json_response(answer)
    model = payload.retrieval_model
    top_k = model.top_k if model else ds.top_k
    threshold_on = model.score_threshold_enabled if model else ds.score_threshold_enabled
    threshold = (model.score_threshold if model else ds.score_threshold) or 0.0
    filters = model.metadata_filtering_conditions if model else None
    conditions = [c.model_dump() for c in (filters.conditions or [])] if filters else []
    bad = _retrieval.unknown_operator(conditions)
    if bad is not None:
        raise invalid_param(f"Invalid comparison operator: {bad}")
    ws = workspace(request)
    with ws.lock:
        segments = [
            s
            for s in ds.segments()
            if _retrieval.matches(
                s.document.metadata,
                conditions,
                (filters.logical_operator or "and") if filters else "and",
            )
        ]
        hits = _retrieval.bm25(_tokenize.terms(payload.query), segments)
        method = model.search_method if model else ds.search_method
        if ds.rank_unmatched and method in ("semantic_search", "hybrid_search"):
            matched = {id(h.segment) for h in hits}
            hits += [_retrieval.Hit(s, 0.0) for s in segments if id(s) not in matched]
        if threshold_on:
            hits = [h for h in hits if h.score >= threshold]
        hits = hits[: max(top_k, 0)]
        for hit in hits:
            hit.segment.hit_count += 1
        records = [record_json(h.segment, h.score, ds.created_by) for h in hits]
    return json_response({"query": {"content": payload.query}, "records": records})


@routes.post("/v1/datasets/{dataset_id:" + UUID_RE + "}/retrieve")
async def retrieve(request: web.Request) -> web.Response:
    """``POST /datasets/{id}/retrieve``."""
    return await _retrieve(request)


@routes.post("/v1/datasets/{dataset_id:" + UUID_RE + "}/hit-testing")
async def hit_testing(request: web.Request) -> web.Response:
    """``POST /datasets/{id}/hit-testing`` (older name of retrieve)."""
    return await _retrieve(request)
