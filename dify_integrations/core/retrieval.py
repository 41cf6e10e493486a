"""Knowledge-base retrieval rules shared by the LangChain and LlamaIndex retrievers (no framework).

* the query limit: Dify rejects retrieval queries over :data:`MAX_QUERY_LENGTH` characters
  (400 ``invalid_param``), so :func:`check_query` refuses them before any request, or
  truncates them when the caller opted in;
* one retrieval record → :class:`Chunk`: the text, the score and one flat metadata dict
  with the same keys in both frameworks (Dify's document metadata at the top level beside
  the fixed keys of :data:`FIXED_KEYS`, which win on a clash), so a prompt template such as
  ``"{category}: {page_content}"`` works on either side;
* fan-out over several datasets (threads for the sync client, tasks for the async one)
  and the merge by score.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .async_client import AsyncDifyClient
    from .client import DifyClient

__all__ = [
    "FIXED_KEYS",
    "MAX_QUERY_LENGTH",
    "Chunk",
    "aretrieve_chunks",
    "check_query",
    "merge_by_score",
    "record_to_chunk",
    "resource_to_chunk",
    "retrieve_chunks",
]

MAX_QUERY_LENGTH: Final = 250
"""The longest retrieval query Dify accepts, in characters (``HitTestingPayload``)."""

FIXED_KEYS: Final = (
    "score",
    "dataset_id",
    "document_id",
    "document_name",
    "segment_id",
    "segment_position",
)
"""Metadata keys every retrieved document carries, in both frameworks (``None`` if unknown)."""

_FAN_OUT_THREADS: Final = 8


def check_query(query: str, *, truncate: bool = False) -> str:
    """The retrieval query to send: at most :data:`MAX_QUERY_LENGTH` characters.

    Args:
        query: The search text.
        truncate: Send the first 250 characters of a longer query instead of refusing it.

    Returns:
        ``query``, or its first 250 characters when ``truncate`` is on.

    Raises:
        ValueError: If the query is longer than 250 characters and ``truncate`` is off.
        TypeError: If the query is not a string.
    """
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, not {type(query).__name__}")
    if len(query) <= MAX_QUERY_LENGTH:
        return query
    if truncate:
        return query[:MAX_QUERY_LENGTH]
    raise ValueError(
        f"Dify limits retrieval queries to {MAX_QUERY_LENGTH} characters; this one has "
        f"{len(query)}. Shorten it, or set truncate_query=True on the retriever to send its "
        f"first {MAX_QUERY_LENGTH} characters."
    )


@dataclass(frozen=True)
class Chunk:
    """One retrieved piece of a knowledge base, before it becomes a framework document.

    Attributes:
        id: The segment id (or the external record's id); else a hash of the text and
            metadata (the score left out, so the same passage keeps its id).
        text: The segment content (with the answer of a Q&A segment appended).
        score: Dify's score, or ``None`` when Dify gave none (never an invented 0).
        metadata: Dify's document metadata flattened, then the :data:`FIXED_KEYS`, then
            ``keywords`` and ``child_chunks`` when Dify sent them.
    """

    id: str
    text: str
    score: float | None
    metadata: dict[str, Any] = field(default_factory=dict)


def _score(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        dumped = dump(mode="json")
        return dict(dumped) if isinstance(dumped, Mapping) else {}
    return dict(value) if isinstance(value, Mapping) else {}


def _content_id(text: str, metadata: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass"))
    digest.update(json.dumps(metadata, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def _chunk(
    text: str, score: float | None, own: Mapping[str, Any], fixed: dict[str, Any], node_id: Any
) -> Chunk:
    metadata = {k: v for k, v in own.items() if isinstance(k, str)}
    metadata.update(fixed)
    return Chunk(
        id=str(node_id) if node_id else _content_id(text, {**metadata, "score": None}),
        text=text,
        score=score,
        metadata=metadata,
    )


def record_to_chunk(record: Any, dataset_id: str | None) -> Chunk:
    """One ``records`` item of ``POST /datasets/{id}/retrieve`` (model or dict) as a chunk.

    External knowledge-base records (``{content, title, score, metadata}``) work too:
    their ``title`` is the ``document_name``.
    """
    data = _dict(record)
    score = _score(data.get("score"))
    segment = data.get("segment")
    if not isinstance(segment, Mapping):  # external knowledge base record
        own = _dict(data.get("metadata"))
        text = str(data.get("content") or "")
        fixed = {
            "score": score,
            "dataset_id": dataset_id,
            "document_id": own.get("document_id"),
            "document_name": data.get("title") or own.get("document_name"),
            "segment_id": own.get("segment_id"),
            "segment_position": own.get("segment_position"),
        }
        return _chunk(text, score, own, fixed, own.get("segment_id") or own.get("id"))
    document = _dict(segment.get("document"))
    text = str(segment.get("content") or "")
    if segment.get("answer"):
        text = f"{text}\n{segment['answer']}"
    fixed = {
        "score": score,
        "dataset_id": dataset_id,
        "document_id": segment.get("document_id") or document.get("id"),
        "document_name": document.get("name"),
        "segment_id": segment.get("id"),
        "segment_position": segment.get("position"),
    }
    if segment.get("keywords"):
        fixed["keywords"] = list(segment["keywords"])
    if data.get("child_chunks"):
        fixed["child_chunks"] = list(data["child_chunks"])
    return _chunk(text, score, _dict(document.get("doc_metadata")), fixed, segment.get("id"))


def resource_to_chunk(resource: Any) -> Chunk:
    """A citation (a ``retriever_resources`` item of an answer) as a chunk, same keys."""
    data = _dict(resource)
    score = _score(data.get("score"))
    fixed = {key: data.get(key) for key in FIXED_KEYS}
    fixed["score"] = score
    for key in ("dataset_name", "position", "title", "page"):
        if data.get(key) is not None:
            fixed[key] = data[key]
    text = str(data.get("content") or "")
    return _chunk(text, score, _dict(data.get("doc_metadata")), fixed, data.get("segment_id"))


def merge_by_score(groups: Iterable[Sequence[Chunk]], top_k: int | None) -> list[Chunk]:
    """Merge per-dataset results: highest score first, unscored last, at most ``top_k``.

    The sort is stable: each dataset keeps its own order among equal scores, and the first
    dataset wins ties.
    """
    merged = [chunk for group in groups for chunk in group]
    merged.sort(key=lambda c: (c.score is None, -(c.score or 0.0)))
    return merged if top_k is None else merged[:top_k]


def _chunks(response: Any, dataset_id: str) -> list[Chunk]:
    return [record_to_chunk(r, dataset_id) for r in getattr(response, "records", None) or []]


def retrieve_chunks(
    client: DifyClient,
    dataset_ids: Sequence[str],
    query: str,
    retrieval_model: Mapping[str, Any],
    top_k: int | None,
) -> list[Chunk]:
    """Search every dataset (concurrently, in threads, when there are several) and merge.

    Raises:
        ValueError: Before any request, if the query is over the limit (see `check_query`).
    """
    check_query(query)

    def one(dataset_id: str) -> list[Chunk]:
        response = client.retrieve(dataset_id, query, retrieval_model=retrieval_model)
        return _chunks(response, dataset_id)

    if len(dataset_ids) == 1:
        return merge_by_score([one(dataset_ids[0])], top_k)
    with ThreadPoolExecutor(max_workers=min(len(dataset_ids), _FAN_OUT_THREADS)) as pool:
        return merge_by_score(list(pool.map(one, dataset_ids)), top_k)


async def aretrieve_chunks(
    client: AsyncDifyClient,
    dataset_ids: Sequence[str],
    query: str,
    retrieval_model: Mapping[str, Any],
    top_k: int | None,
) -> list[Chunk]:
    """Async :func:`retrieve_chunks`: one task per dataset on the async client."""
    check_query(query)

    async def one(dataset_id: str) -> list[Chunk]:
        response = await client.retrieve(dataset_id, query, retrieval_model=retrieval_model)
        return _chunks(response, dataset_id)

    return merge_by_score(await asyncio.gather(*(one(d) for d in dataset_ids)), top_k)
