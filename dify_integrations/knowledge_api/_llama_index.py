"""LlamaIndex retrievers and indexes served to Dify (imported only when one is served).

* A ``VectorIndexRetriever`` (what ``VectorStoreIndex.as_retriever()`` returns) is copied
  for each request with ``similarity_top_k`` = the request's ``top_k`` and the
  ``metadata_condition`` translated into ``MetadataFilters`` where LlamaIndex has the same
  operator: ``contains`` (``TEXT_MATCH``), ``empty`` (``IS_EMPTY``), ``=``/``≠``/``>``/``<``/
  ``≥``/``≤`` and ``before``/``after`` with numeric values (``EQ``, ``NE``, ``GT``, ``LT``,
  ``GTE``, ``LTE``). With ``or`` every condition must translate, else nothing is sent down.
  The service always checks the results against the full condition; if the vector store
  refuses a translated filter (a type mismatch), the search is repeated without it and the
  service filters alone.
* Any other ``BaseRetriever`` is called with the query; the service cuts and filters.

Native async retrievers (an overridden ``_aretrieve``) are awaited; sync ones run in the
service's thread pool. The text of a record is the node's content without metadata.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.indices.base import BaseIndex
from llama_index.core.indices.vector_store.retrievers.retriever import VectorIndexRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from ._conditions import Condition, MetadataCondition
from ._records import Record, as_score, title_of
from ._sources import Query, RunSync

logger = logging.getLogger("dify_integrations.knowledge_api")

_OPERATORS = {
    "contains": FilterOperator.TEXT_MATCH,
    "empty": FilterOperator.IS_EMPTY,
    "=": FilterOperator.EQ,
    "≠": FilterOperator.NE,
    ">": FilterOperator.GT,
    "<": FilterOperator.LT,
    "≥": FilterOperator.GTE,
    "≤": FilterOperator.LTE,
    "before": FilterOperator.LT,
    "after": FilterOperator.GT,
}


def node_record(item: NodeWithScore) -> Record:
    """A ``NodeWithScore`` as a record."""
    metadata = dict(item.node.metadata or {})
    metadata.setdefault("node_id", item.node.node_id)
    return Record(
        content=item.node.get_content(metadata_mode=MetadataMode.NONE),
        score=as_score(item.score),
        title=title_of(metadata),
        metadata=metadata,
    )


def _translate(condition: Condition) -> MetadataFilter | None:
    operator = _OPERATORS.get(condition.comparison_operator)
    if operator is None:
        return None
    if operator is FilterOperator.IS_EMPTY:
        return MetadataFilter(key=condition.name, value=None, operator=operator)
    if operator is FilterOperator.TEXT_MATCH:
        return MetadataFilter(key=condition.name, value=str(condition.value), operator=operator)
    value = condition.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # only numbers compare the same way in LlamaIndex and in Dify
    return MetadataFilter(key=condition.name, value=value, operator=operator)


def to_filters(condition: MetadataCondition | None) -> MetadataFilters | None:
    """The part of ``condition`` LlamaIndex can apply, or ``None``."""
    if condition is None or not condition.conditions:
        return None
    translated = [_translate(c) for c in condition.conditions]
    if condition.logical_operator == "or":
        if any(f is None for f in translated):
            return None
        return MetadataFilters(
            filters=[f for f in translated if f is not None], condition=FilterCondition.OR
        )
    kept = [f for f in translated if f is not None]
    return MetadataFilters(filters=kept, condition=FilterCondition.AND) if kept else None


def _merge(own: MetadataFilters | None, extra: MetadataFilters) -> MetadataFilters | None:
    """The retriever's own filters AND ours, flat (nested filters are not widely supported)."""
    if own is None or not own.filters:
        return extra
    if own.condition in (None, FilterCondition.AND) and extra.condition == FilterCondition.AND:
        return MetadataFilters(
            filters=[*own.filters, *extra.filters], condition=FilterCondition.AND
        )
    return None  # cannot combine flat: keep the retriever's filters only


class LlamaIndexSource:
    """A LlamaIndex retriever or index (see the module docstring)."""

    filters_itself = False

    def __init__(self, obj: BaseRetriever | BaseIndex[Any]) -> None:
        self.retriever: BaseRetriever = obj.as_retriever() if isinstance(obj, BaseIndex) else obj

    async def search(self, query: Query, fetch_k: int, run_sync: RunSync[Any]) -> list[Record]:
        retriever = self.retriever
        if isinstance(retriever, VectorIndexRetriever):
            per_request = copy.copy(retriever)
            per_request.similarity_top_k = fetch_k
            extra = to_filters(query.condition)
            merged = _merge(retriever._filters, extra) if extra is not None else None
            if merged is not None:
                per_request._filters = merged
                try:
                    return await self._call(per_request, query.query, run_sync)
                except (TypeError, ValueError) as exc:
                    logger.debug("metadata filter refused by the vector store: %s", exc)
                    per_request._filters = retriever._filters
            return await self._call(per_request, query.query, run_sync)
        return await self._call(retriever, query.query, run_sync)

    @staticmethod
    async def _call(retriever: BaseRetriever, text: str, run_sync: RunSync[Any]) -> list[Record]:
        if type(retriever)._aretrieve is not BaseRetriever._aretrieve:
            nodes = await retriever.aretrieve(text)
        else:
            nodes = await run_sync(lambda: retriever.retrieve(text))
        return [node_record(n) for n in nodes]
