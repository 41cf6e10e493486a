"""Records as Dify wants them, and how scores are brought into 0–1.

Dify ranks external records by ``score`` and drops those under the knowledge base's score
threshold, so the service must send a similarity in ``[0, 1]``. :func:`normalize_score` is
monotonic (it never swaps two records) and leaves scores that are already similarities alone:

* a score in ``[0, 1]`` is kept as it is (LangChain relevance scores, cosine similarities);
* a negative score (a cosine similarity of unrelated texts) becomes 0;
* a score above 1 becomes 1 (floating-point noise such as ``1.0000000000000002``; scores of
  an unbounded scale all pass the threshold, in the retriever's order: for BM25, dot
  products or reranker logits pass ``normalize=saturating(scale)`` instead);
* a missing score (a retriever that returns documents only) becomes the reciprocal rank
  ``1 / (1 + rank)`` (1, 0.5, 0.33, ...), so Dify still ranks the records in the
  retriever's order; the server logs a warning the first time it happens for a knowledge id,
  because a score threshold then filters by rank.

Records with equal scores keep the retriever's order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = ["Record", "normalize_score", "saturating"]

#: Metadata keys a title is taken from, first present wins.
TITLE_KEYS = ("title", "document_name", "file_name", "filename", "source", "file_path")


@dataclass
class Record:
    """One record of the ``/retrieval`` answer.

    Attributes:
        content: The retrieved text (Dify passes it to the LLM as context).
        score: Similarity in ``[0, 1]`` (``None`` before normalisation when unknown).
        title: The source document's title.
        metadata: Any JSON-serialisable key-value pairs (never ``None``).
    """

    content: str
    score: float | None = None
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record in Dify's shape (``metadata`` always an object)."""
        return {
            "content": self.content,
            "score": self.score,
            "title": self.title,
            "metadata": jsonable(self.metadata),
        }


def normalize_score(score: float | None, rank: int) -> float:
    """A score in ``[0, 1]`` (see the module docstring for the rule)."""
    if score is None or math.isnan(score):
        return round(1.0 / (1 + rank), 6)
    return min(max(float(score), 0.0), 1.0)


def saturating(scale: float) -> Callable[[float | None, int], float]:
    """A normaliser for unbounded non-negative scores: ``s / (s + scale)``.

    ``scale`` is the score that maps to 0.5 (e.g. a typical BM25 score of a good match).
    Negative scores become 0 and missing ones are ranked as by :func:`normalize_score`.

    Raises:
        ValueError: ``scale`` not positive.
    """
    if not scale > 0:
        raise ValueError("scale must be positive")

    def normalize(score: float | None, rank: int) -> float:
        if score is None or math.isnan(score):
            return normalize_score(score, rank)
        if math.isinf(score):
            return 1.0 if score > 0 else 0.0
        return max(score, 0.0) / (max(score, 0.0) + scale)

    return normalize


def title_of(metadata: Mapping[str, Any]) -> str:
    """A title from the usual metadata keys (``""`` when none is set)."""
    for key in TITLE_KEYS:
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def as_score(value: Any) -> float | None:
    """A float score, or ``None`` for anything that is not a finite number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` with everything JSON cannot hold made plain.

    Dates become ISO strings, NaN/infinite floats ``None``, tuples and sets lists, other
    objects their ``str``; mappings keep string keys. Nesting deeper than 32 levels is cut.
    """
    if depth > 32:
        return None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    return str(value)


def coerce_record(item: Any) -> Record:
    """A :class:`Record` from a plain result: ``Record``, a mapping, a string, or a pair.

    Mappings use Dify's keys (``content``, ``score``, ``title``, ``metadata``; ``text`` or
    ``page_content`` are accepted for ``content``); a ``(item, score)`` pair sets the score.

    Raises:
        TypeError: Anything else (framework objects are converted by their own modules).
    """
    if isinstance(item, Record):
        return item
    if isinstance(item, str):
        return Record(content=item)
    if isinstance(item, tuple) and len(item) == 2 and not isinstance(item[1], str):
        record = coerce_record(item[0])
        record.score = as_score(item[1])
        return record
    if isinstance(item, Mapping):
        content = item.get("content", item.get("text", item.get("page_content")))
        if not isinstance(content, str):
            raise TypeError("a record mapping needs a string 'content'")
        metadata = item.get("metadata")
        meta = dict(metadata) if isinstance(metadata, Mapping) else {}
        title = item.get("title")
        return Record(
            content=content,
            score=as_score(item.get("score")),
            title=title if isinstance(title, str) else title_of(meta),
            metadata=meta,
        )
    raise TypeError(f"cannot turn a {type(item).__name__} into a record")
