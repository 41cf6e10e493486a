"""External knowledge bases: datasets whose retrieval calls an External Knowledge API.

Dify stores an *External Knowledge API* (endpoint + key) and binds a dataset to it with an
*External Knowledge ID*. Its retrieval then sends ``POST {endpoint}/retrieval`` with
``Content-Type: application/json``, ``Authorization: Bearer {key}`` and the JSON body
``{"retrieval_setting": {"top_k", "score_threshold"}, "query", "knowledge_id"}`` plus
``"metadata_condition"`` only when there is one (``score_threshold`` is ``0.0`` unless the
threshold is enabled), following redirects; a 200 answer's ``records`` are used, **any other
status gives no records** (Dify's ``ExternalDatasetService.fetch_external_knowledge_retrieval``).
A connection failure or a 200 answer that is not JSON is an error.

The records are mapped the way Dify maps them:

* ``POST /datasets/{id}/retrieve`` (hit testing) answers ``{"query": {"content"}, "records":
  [{"content", "title", "score", "metadata"}]}``; the query is sent with ``"`` escaped as
  ``\\"`` (Dify's ``escape_query_for_search``); ``external_retrieval_model`` of the body, else
  ``top_k`` / ``score_threshold_enabled`` / ``score_threshold`` of ``retrieval_model``, else
  the dataset's saved settings, give the retrieval setting, and
  ``retrieval_model.metadata_filtering_conditions`` becomes ``metadata_condition``;
* chat apps (and the chatflow knowledge node) turn each record into a document whose
  metadata is the record's ``metadata`` plus ``score``, ``title``, ``dataset_id`` and
  ``dataset_name`` (a ``null`` metadata fails the message, as it fails Dify's pipeline), rank
  them with the internal hits by score, and cite them as ``retriever_resources`` with
  ``data_source_type`` ``external``, ``document_name`` = title and ``document_id`` =
  ``metadata.document_id`` or the title;
* a workflow ``knowledge-retrieval`` node outputs ``result``: ``[{"metadata": {"_source":
  "knowledge", "dataset_id", "dataset_name", "document_id", "document_name",
  "data_source_type", "retriever_from": "workflow", "score", "doc_metadata", "position"},
  "title", "content"}]``.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from . import _responders, _retrieval, _tokenize
from ._workspace import App, Dataset, Workspace, new_id

__all__ = ["ExternalCall", "ExternalKnowledge"]


@dataclass
class ExternalKnowledge:
    """The binding of a dataset to an External Knowledge API."""

    endpoint: str
    api_key: str = field(repr=False)
    knowledge_id: str
    top_k: int = 4
    score_threshold: float = 0.5
    score_threshold_enabled: bool = False
    api_id: str = field(default_factory=new_id)
    api_name: str = "External Knowledge API"
    timeout: float = 60.0


@dataclass(frozen=True)
class ExternalCall:
    """One call the server made to an External Knowledge API (for tests to inspect)."""

    url: str
    headers: dict[str, str] = field(repr=False)
    body: dict[str, Any]
    status: int | None
    records: int


_BINDINGS: weakref.WeakKeyDictionary[Dataset, ExternalKnowledge] = weakref.WeakKeyDictionary()
_CALLS: weakref.WeakKeyDictionary[Workspace, list[ExternalCall]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def binding(ds: Dataset) -> ExternalKnowledge | None:
    """The dataset's external binding, or ``None`` for a Dify (vendor) dataset."""
    return _BINDINGS.get(ds)


def calls(ws: Workspace) -> list[ExternalCall]:
    """The calls made so far to External Knowledge APIs, oldest first."""
    with _LOCK:
        return list(_CALLS.get(ws, []))


def create(ws: Workspace, name: str, ext: ExternalKnowledge, description: str | None) -> Dataset:
    """Register an external dataset (no documents: they live in the external service)."""
    if not ext.endpoint.startswith(("http://", "https://")):
        raise ValueError("endpoint must be an http(s) URL")
    if not ext.knowledge_id:
        raise ValueError("external_knowledge_id must not be empty")
    if ext.top_k < 1 or not 0.0 <= ext.score_threshold <= 1.0:
        raise ValueError("top_k must be >= 1 and score_threshold in [0, 1]")
    ds = ws.create_dataset(name, (), description=description, top_k=ext.top_k)
    ds.provider = "external"
    ds.indexing_technique = None  # type: ignore[assignment]  # Dify: null for external
    with _LOCK:
        _BINDINGS[ds] = ext
    return ds


def dataset_json_patch(ds: Dataset, data: dict[str, Any]) -> None:
    """Make ``GET /datasets``'s item of an external dataset look like Dify's."""
    ext = binding(ds)
    if ext is None:
        return
    data.update(
        provider="external",
        data_source_type=None,
        indexing_technique=None,
        embedding_model=None,
        embedding_model_provider=None,
        external_knowledge_info={
            "external_knowledge_id": ext.knowledge_id,
            "external_knowledge_api_id": ext.api_id,
            "external_knowledge_api_name": ext.api_name,
            "external_knowledge_api_endpoint": ext.endpoint,
        },
        external_retrieval_model={
            "top_k": ext.top_k,
            "score_threshold": ext.score_threshold,
            "score_threshold_enabled": ext.score_threshold_enabled,
        },
    )


async def fetch(
    ws: Workspace,
    ext: ExternalKnowledge,
    query: str,
    parameters: Mapping[str, Any],
    metadata_condition: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``POST {endpoint}/retrieval`` exactly as Dify sends it; the ``records`` of a 200."""
    enabled = bool(parameters.get("score_threshold_enabled") or False)
    body: dict[str, Any] = {
        "retrieval_setting": {
            "top_k": parameters.get("top_k"),
            "score_threshold": parameters.get("score_threshold", 0.0) if enabled else 0.0,
        },
        "query": query,
        "knowledge_id": ext.knowledge_id,
    }
    if metadata_condition:
        body["metadata_condition"] = dict(metadata_condition)
    headers = {"Content-Type": "application/json"}
    if ext.api_key:
        headers["Authorization"] = f"Bearer {ext.api_key}"
    url = f"{ext.endpoint}/retrieval"
    timeout = aiohttp.ClientTimeout(total=ext.timeout)
    status: int | None = None
    records: list[dict[str, Any]] = []
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=json.dumps(body), headers=headers) as resp,
        ):
            status = resp.status
            if status == 200:
                answer = json.loads(await resp.read())
                records = list(answer.get("records", []) or [])
    finally:
        with _LOCK:
            _CALLS.setdefault(ws, []).append(ExternalCall(url, headers, body, status, len(records)))
    return records


def parameters_for_hit_testing(
    ds: Dataset, ext: ExternalKnowledge, payload: Any
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(retrieval parameters, metadata condition) of a ``/retrieve`` body (module docstring)."""
    model = payload.retrieval_model
    if payload.external_retrieval_model is not None:
        params = dict(payload.external_retrieval_model)
    elif model is not None:
        params = {
            "top_k": model.top_k,
            "score_threshold_enabled": model.score_threshold_enabled,
            "score_threshold": model.score_threshold,
        }
    else:
        params = {
            "top_k": ext.top_k,
            "score_threshold_enabled": ext.score_threshold_enabled,
            "score_threshold": ext.score_threshold,
        }
    condition = None
    filters = model.metadata_filtering_conditions if model is not None else None
    if filters is not None and filters.conditions:
        condition = {
            "logical_operator": filters.logical_operator or "and",
            "conditions": [c.model_dump() for c in filters.conditions],
        }
    return params, condition


async def hit_testing(ws: Workspace, ds: Dataset, payload: Any) -> dict[str, Any]:
    """The ``/retrieve`` answer of an external dataset."""
    ext = binding(ds)
    assert ext is not None
    params, condition = parameters_for_hit_testing(ds, ext, payload)
    escaped = payload.query.replace('"', '\\"')
    records = await fetch(ws, ext, escaped, params, condition)
    return {
        "query": {"content": payload.query},
        "records": [
            {
                "content": r.get("content"),
                "title": r.get("title"),
                "score": r.get("score"),
                "metadata": r.get("metadata"),
            }
            for r in records
        ],
    }


# --------------------------------------------------------------------------- apps


@dataclass(eq=False)
class ExternalDocument:
    """An external record as Dify's ``Document(provider="external")``.

    ``content`` and ``terms`` let the default extractive responder read it like a segment.
    """

    content: str
    metadata: dict[str, Any]

    @property
    def terms(self) -> list[str]:
        return _tokenize.terms(self.content)


async def _external_hits(
    ws: Workspace, ds: Dataset, ext: ExternalKnowledge, query: str
) -> list[_retrieval.Hit]:
    params = {
        "top_k": ext.top_k,
        "score_threshold_enabled": ext.score_threshold_enabled,
        "score_threshold": ext.score_threshold,
    }
    hits = []
    for record in await fetch(ws, ext, query, params):
        metadata = record.get("metadata")
        if not isinstance(metadata, dict):
            raise TypeError(
                f"external knowledge record metadata must be an object, not {metadata!r}"
            )
        metadata = dict(metadata)
        metadata.update(
            score=record.get("score"),
            title=record.get("title"),
            dataset_id=ds.id,
            dataset_name=ds.name,
        )
        doc = ExternalDocument(str(record.get("content") or ""), metadata)
        score = metadata["score"] if isinstance(metadata["score"], int | float) else 0.0
        hits.append(_retrieval.Hit(doc, float(score)))
    return hits


async def retrieve_for_app(
    ws: Workspace, app: App, query: str, top_k: int = 3
) -> list[tuple[Dataset, _retrieval.Hit]]:
    """The app's hits over its Dify datasets and its external ones, best first."""
    internal = _responders.retrieve_for_app(ws, app, query, top_k)
    with ws.lock:
        bound = [
            (ds, ext)
            for ds in (ws.datasets.get(i) for i in app.dataset_ids)
            if ds is not None and (ext := binding(ds)) is not None
        ]
    if not bound:
        return internal
    scored = list(internal)
    for ds, ext in bound:
        scored.extend((ds, hit) for hit in await _external_hits(ws, ds, ext, query))
    scored.sort(key=lambda pair: -pair[1].score)
    return scored[:top_k]


def resource(position: int, ds: Dataset, hit: _retrieval.Hit) -> dict[str, Any]:
    """A ``retriever_resources`` item; Dify's external shape for external records."""
    doc = hit.segment
    if not isinstance(doc, ExternalDocument):
        return _responders.retriever_resource(position, ds, hit)
    meta = doc.metadata
    return {
        "position": position,
        "dataset_id": meta.get("dataset_id"),
        "dataset_name": meta.get("dataset_name"),
        "document_id": meta.get("document_id") or meta.get("title"),
        "document_name": meta.get("title"),
        "data_source_type": "external",
        "segment_id": None,
        "retriever_from": "api",
        "score": meta.get("score"),
        "hit_count": None,
        "word_count": None,
        "segment_position": None,
        "index_node_hash": None,
        "content": doc.content,
        "page": None,
        "doc_metadata": None,
        "title": None,
        "files": None,
    }


# --------------------------------------------------------------------------- workflows


def _source(position: int, ds: Dataset, hit: _retrieval.Hit) -> dict[str, Any]:
    doc = hit.segment
    if isinstance(doc, ExternalDocument):
        meta = doc.metadata
        title = meta.get("title") or ""
        return {
            "metadata": {
                "_source": "knowledge",
                "dataset_id": meta.get("dataset_id") or "",
                "dataset_name": meta.get("dataset_name") or "",
                "document_id": str(meta.get("document_id") or title),
                "document_name": title,
                "data_source_type": "external",
                "retriever_from": "workflow",
                "score": float(meta.get("score") or 0.0),
                "doc_metadata": meta,
                "position": position,
            },
            "title": title,
            "content": doc.content,
        }
    seg = doc
    return {
        "metadata": {
            "_source": "knowledge",
            "dataset_id": ds.id,
            "dataset_name": ds.name,
            "document_id": seg.document.id,
            "document_name": seg.document.name,
            "data_source_type": seg.document.data_source_type,
            "segment_id": seg.id,
            "retriever_from": "workflow",
            "score": hit.score,
            "segment_hit_count": seg.hit_count,
            "segment_word_count": seg.word_count,
            "segment_position": seg.position,
            "segment_index_node_hash": seg.index_node_hash,
            "doc_metadata": dict(seg.document.metadata) or None,
            "position": position,
        },
        "title": seg.document.name,
        "content": seg.content,
    }


def knowledge_nodes(
    ws: Workspace, nodes: Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]] | None:
    """Give workflow ``knowledge-retrieval`` node specs their ``run``.

    A spec ``{"node_type": "knowledge-retrieval", "dataset_ids": [...], "query_variable":
    "query", "top_k": 4}`` retrieves from those datasets (Dify or external) with the value of
    ``query_variable`` and outputs ``{"result": [...]}`` in Dify's shape (module docstring).
    """
    if nodes is None:
        return None
    out = []
    for raw in nodes:
        spec = dict(raw)
        if spec.get("node_type") == "knowledge-retrieval" and "dataset_ids" in spec:
            dataset_ids = [str(i) for i in spec.pop("dataset_ids")]
            variable = str(spec.pop("query_variable", "query"))
            top_k = int(spec.pop("top_k", 4))
            unknown = [i for i in dataset_ids if i not in ws.datasets]
            if unknown:
                raise ValueError(f"knowledge-retrieval node: unknown dataset ids {unknown}")
            spec.setdefault("title", "Knowledge Retrieval")
            spec["run"] = _knowledge_run(ws, dataset_ids, variable, top_k)
        out.append(spec)
    return out


def _knowledge_run(ws: Workspace, dataset_ids: Iterable[str], variable: str, top_k: int) -> Any:
    ids = list(dataset_ids)

    async def run(values: dict[str, Any]) -> dict[str, Any]:
        query = str(values.get(variable) or "")
        probe = App(id="", name="", mode="workflow", api_key="", dataset_ids=ids)
        hits = await retrieve_for_app(ws, probe, query, top_k)
        return {"result": [_source(i, ds, hit) for i, (ds, hit) in enumerate(hits, 1)]}

    return run
