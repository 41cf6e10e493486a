"""Keyword retrieval: Okapi BM25 scores normalised into [0, 1], and metadata filters.

The normalised score of a segment is its BM25 score divided by the best score any segment
could reach for the query (every query term present with an unbounded term frequency), so
``1.0`` means "every query term, many times" and scores are comparable across queries.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

K1 = 1.5
B = 0.75


class Scorable(Protocol):
    """What the scorer needs from a segment."""

    @property
    def terms(self) -> Sequence[str]: ...  # pragma: no cover


@dataclass(frozen=True)
class Hit:
    """A scored segment."""

    segment: Any
    score: float


def bm25(query_terms: Sequence[str], segments: Sequence[Scorable]) -> list[Hit]:
    """Score ``segments`` against ``query_terms``; returns hits with score > 0, best first.

    Args:
        query_terms: Tokenized query (see ``_tokenize.terms``).
        segments: The corpus (one knowledge base's enabled segments).

    Returns:
        Hits sorted by descending normalised score (ties keep corpus order).
    """
    unique = list(dict.fromkeys(query_terms))
    if not unique or not segments:
        return []
    n = len(segments)
    counters = [Counter(s.terms) for s in segments]
    lengths = [max(len(s.terms), 1) for s in segments]
    avgdl = sum(lengths) / n
    df = {t: sum(1 for c in counters if t in c) for t in unique}
    idf = {t: math.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in unique}
    upper = sum(idf[t] * (K1 + 1.0) for t in unique)
    hits: list[Hit] = []
    for seg, counter, dl in zip(segments, counters, lengths, strict=True):
        raw = 0.0
        for t in unique:
            tf = counter.get(t, 0)
            if tf:
                raw += idf[t] * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * dl / avgdl))
        if raw > 0.0:
            hits.append(Hit(seg, round(min(raw / upper, 1.0), 6)))
    hits.sort(key=lambda h: -h.score)
    return hits


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if value is None:
        return []
    return [v.strip() for v in str(value).split(",")]


def _compare(actual: Any, expected: Any, op: Callable[[Any, Any], bool]) -> bool:
    a, e = _as_number(actual), _as_number(expected)
    if a is not None and e is not None:
        return op(a, e)
    if actual is None or expected is None:
        return False
    return op(str(actual), str(expected))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "contains": lambda a, e: a is not None and str(e) in str(a),
    "not contains": lambda a, e: a is None or str(e) not in str(a),
    "start with": lambda a, e: a is not None and str(a).startswith(str(e)),
    "end with": lambda a, e: a is not None and str(a).endswith(str(e)),
    "is": lambda a, e: a is not None and (str(a) == str(e) or _compare(a, e, lambda x, y: x == y)),
    "is not": lambda a, e: (
        a is None or not (str(a) == str(e) or _compare(a, e, lambda x, y: x == y))
    ),
    "empty": lambda a, e: _empty(a),
    "not empty": lambda a, e: not _empty(a),
    "in": lambda a, e: a is not None and str(a) in _as_list(e),
    "not in": lambda a, e: a is None or str(a) not in _as_list(e),
    "=": lambda a, e: _compare(a, e, lambda x, y: x == y),
    "≠": lambda a, e: not _compare(a, e, lambda x, y: x == y),
    ">": lambda a, e: _compare(a, e, lambda x, y: x > y),
    "<": lambda a, e: _compare(a, e, lambda x, y: x < y),
    "≥": lambda a, e: _compare(a, e, lambda x, y: x >= y),
    "≤": lambda a, e: _compare(a, e, lambda x, y: x <= y),
    "before": lambda a, e: _compare(a, e, lambda x, y: x < y),
    "after": lambda a, e: _compare(a, e, lambda x, y: x > y),
}
_ALIASES = {"!=": "≠", ">=": "≥", "<=": "≤", "==": "="}

#: Every comparison operator accepted in ``metadata_filtering_conditions``.
OPERATORS = tuple(_OPERATORS)


def unknown_operator(conditions: Iterable[Mapping[str, Any]]) -> str | None:
    """The first comparison operator in ``conditions`` that is not supported, if any."""
    for cond in conditions:
        op = str(cond.get("comparison_operator", ""))
        if _ALIASES.get(op, op) not in _OPERATORS:
            return op
    return None


def matches(
    metadata: Mapping[str, Any] | None,
    conditions: Sequence[Mapping[str, Any]],
    logical_operator: str = "and",
) -> bool:
    """Whether a document's metadata satisfies the filter conditions.

    Args:
        metadata: The document's ``doc_metadata``.
        conditions: ``[{name, comparison_operator, value}]``.
        logical_operator: ``"and"`` (default) or ``"or"``.
    """
    if not conditions:
        return True
    meta = metadata or {}
    results = []
    for cond in conditions:
        op = str(cond.get("comparison_operator", ""))
        fn = _OPERATORS[_ALIASES.get(op, op)]
        results.append(bool(fn(meta.get(str(cond.get("name"))), cond.get("value"))))
    return any(results) if logical_operator == "or" else all(results)
