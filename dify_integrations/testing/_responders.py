"""What the apps answer: the default extractive responder, retrieval for apps, usage.

A responder is ``responder(query, inputs, history, files) -> str | Iterable[str]`` where
``history`` is the list of ``(query, answer)`` pairs of the previous turns of the
conversation and ``files`` the file objects sent with the message (local files resolved
to ``{type, transfer_method, upload_file_id, filename, mime_type, size}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from . import _retrieval, _tokenize
from ._workspace import App, Dataset, Segment, Workspace

PROMPT_UNIT_PRICE = Decimal("0.15")
COMPLETION_UNIT_PRICE = Decimal("0.60")
PRICE_UNIT = Decimal("0.000001")
_QUANTUM = Decimal("0.0000001")
SYSTEM_PROMPT_TOKENS = 24


def _price(tokens: int, unit_price: Decimal) -> Decimal:
    return (Decimal(tokens) * unit_price * PRICE_UNIT).quantize(_QUANTUM)


def usage(
    prompt_tokens: int,
    completion_tokens: int,
    latency: float,
    time_to_first_token: float | None = None,
    time_to_generate: float | None = None,
) -> dict[str, Any]:
    """A Dify ``LLMUsage`` dict with decimal-string prices in USD."""
    prompt_price = _price(prompt_tokens, PROMPT_UNIT_PRICE)
    completion_price = _price(completion_tokens, COMPLETION_UNIT_PRICE)
    return {
        "prompt_tokens": prompt_tokens,
        "prompt_unit_price": format(PROMPT_UNIT_PRICE, "f"),
        "prompt_price_unit": format(PRICE_UNIT, "f"),
        "prompt_price": format(prompt_price, "f"),
        "completion_tokens": completion_tokens,
        "completion_unit_price": format(COMPLETION_UNIT_PRICE, "f"),
        "completion_price_unit": format(PRICE_UNIT, "f"),
        "completion_price": format(completion_price, "f"),
        "total_tokens": prompt_tokens + completion_tokens,
        "total_price": format(prompt_price + completion_price, "f"),
        "currency": "USD",
        "latency": round(latency, 3),
        "time_to_first_token": None
        if time_to_first_token is None
        else round(time_to_first_token, 3),
        "time_to_generate": None if time_to_generate is None else round(time_to_generate, 3),
    }


def retrieve_for_app(
    workspace: Workspace, app: App, query: str, top_k: int = 3
) -> list[tuple[Dataset, _retrieval.Hit]]:
    """Top segments across the app's knowledge bases (hit counts are incremented)."""
    q = _tokenize.terms(query)
    with workspace.lock:
        scored: list[tuple[Dataset, _retrieval.Hit]] = []
        for ds_id in app.dataset_ids:
            ds = workspace.datasets.get(ds_id)
            if ds is None:
                continue
            scored.extend((ds, h) for h in _retrieval.bm25(q, ds.segments()))
        scored.sort(key=lambda pair: -pair[1].score)
        top = scored[:top_k]
        for _, hit in top:
            hit.segment.hit_count += 1
        return top


def retriever_resource(position: int, ds: Dataset, hit: _retrieval.Hit) -> dict[str, Any]:
    """A ``RetrieverResource`` for ``message_end`` / blocking metadata."""
    seg: Segment = hit.segment
    return {
        "position": position,
        "dataset_id": ds.id,
        "dataset_name": ds.name,
        "document_id": seg.document.id,
        "document_name": seg.document.name,
        "data_source_type": seg.document.data_source_type,
        "segment_id": seg.id,
        "retriever_from": "api",
        "score": hit.score,
        "hit_count": seg.hit_count,
        "word_count": seg.word_count,
        "segment_position": seg.position,
        "index_node_hash": seg.index_node_hash,
        "content": seg.content,
        "page": None,
        "doc_metadata": dict(seg.document.metadata) or None,
        "title": None,
        "files": None,
    }


def extractive_answer(query: str, hits: Sequence[_retrieval.Hit], has_knowledge: bool) -> str:
    """The default responder's answer: the best matching sentences of the top segments.

    Without a knowledge base it echoes the query (``You said: …``); with one but no match
    it says so.
    """
    if not has_knowledge:
        return f"You said: {query}"
    if not hits:
        return "I could not find anything about that in the knowledge base."
    q = set(_tokenize.terms(query))
    candidates: list[tuple[int, int, str]] = []
    order = 0
    for hit in hits[:3]:
        for sentence in _tokenize.sentences(hit.segment.content):
            overlap = len(q & set(_tokenize.terms(sentence)))
            candidates.append((overlap, order, sentence))
            order += 1
    best = sorted(candidates, key=lambda c: (-c[0], c[1]))[:2]
    best = [c for c in best if c[0] > 0] or best[:1]
    return " ".join(c[2] for c in sorted(best, key=lambda c: c[1]))


def as_pieces(result: Any) -> Iterator[str]:
    """Normalise a responder result (``str`` or iterable of ``str``) into stream pieces."""
    if result is None:
        return iter(())
    if isinstance(result, str):
        return iter(_tokenize.stream_pieces(result))
    if isinstance(result, Iterable):
        return (str(piece) for piece in result if piece is not None and str(piece) != "")
    return iter(_tokenize.stream_pieces(str(result)))


def render_template(template: str, inputs: dict[str, Any], query: str) -> str:
    """Render ``{{var}}`` placeholders over ``inputs`` (and ``{{query}}``)."""
    values = {"query": query, **{k: "" if v is None else v for k, v in inputs.items()}}
    out = template
    for key, value in values.items():
        out = out.replace("{{" + key + "}}", str(value)).replace("{{ " + key + " }}", str(value))
    return out
