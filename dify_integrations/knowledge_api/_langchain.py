"""LangChain retrievers and vector stores served to Dify (imported only when one is served).

* A ``VectorStoreRetriever`` with ``search_type`` ``similarity`` or
  ``similarity_score_threshold`` (or a bare ``VectorStore``) is searched through
  ``similarity_search_with_relevance_scores`` with ``k`` = the request's ``top_k``, so the
  records carry the store's relevance scores (``[0, 1]``); a store without a relevance
  function (``InMemoryVectorStore``) is searched with ``similarity_search_with_score`` and
  its raw similarity (cosine: ``[-1, 1]``) is normalised by the service.
  An ``InMemoryVectorStore`` gets the ``metadata_condition`` as its ``filter`` (exactly the
  service's own evaluation); other stores' filter languages differ, so the service filters
  their results itself.
* Any other ``BaseRetriever`` is invoked with the query; a score is read from the document's
  metadata (``score`` or ``relevance_score``) when there is one.

Native async implementations (an overridden ``_aget_relevant_documents`` or
``asimilarity_search_with_score``) are awaited; sync ones run in the service's thread pool.
"""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import InMemoryVectorStore, VectorStore, VectorStoreRetriever

from ._records import Record, as_score, title_of
from ._sources import Query, RunSync

_SCORED_SEARCH_TYPES = ("similarity", "similarity_score_threshold")


def document_record(doc: Document, score: Any) -> Record:
    """A LangChain ``Document`` (and its score, if any) as a record."""
    metadata = dict(doc.metadata or {})
    if score is None:
        score = metadata.get("score", metadata.get("relevance_score"))
    if doc.id and "id" not in metadata:
        metadata["id"] = doc.id
    return Record(
        content=doc.page_content,
        score=as_score(score),
        title=title_of(metadata),
        metadata=metadata,
    )


class LangChainSource:
    """A LangChain retriever or vector store (see the module docstring)."""

    def __init__(self, obj: BaseRetriever | VectorStore) -> None:
        self.store: VectorStore | None = None
        self.search_kwargs: dict[str, Any] = {}
        self.retriever: BaseRetriever | None = None
        if isinstance(obj, VectorStore):
            self.store = obj
        elif isinstance(obj, VectorStoreRetriever) and obj.search_type in _SCORED_SEARCH_TYPES:
            self.store = obj.vectorstore
            self.search_kwargs = dict(obj.search_kwargs)
            self.search_kwargs.pop("k", None)
        else:
            self.retriever = obj
        # The store applies the condition itself only when it takes our predicate.
        self.filters_itself = isinstance(self.store, InMemoryVectorStore)

    async def search(self, query: Query, fetch_k: int, run_sync: RunSync[Any]) -> list[Record]:
        if self.store is not None:
            return await self._search_store(self.store, query, fetch_k, run_sync)
        retriever = self.retriever
        assert retriever is not None
        if _overrides(retriever, BaseRetriever, "_aget_relevant_documents"):
            docs = await retriever.ainvoke(query.query)
        else:
            docs = await run_sync(lambda: retriever.invoke(query.query))
        return [document_record(doc, None) for doc in docs]

    async def _search_store(
        self, store: VectorStore, query: Query, fetch_k: int, run_sync: RunSync[Any]
    ) -> list[Record]:
        kwargs = dict(self.search_kwargs)
        condition = query.condition
        if condition is not None and condition.conditions and self.filters_itself:
            user_filter = kwargs.get("filter")

            def predicate(doc: Document) -> bool:
                if callable(user_filter) and not user_filter(doc):
                    return False
                return condition.matches(doc.metadata)

            kwargs["filter"] = predicate
        text = query.query
        if _relevance_scores(store):
            if _overrides(store, VectorStore, "asimilarity_search_with_score"):
                pairs = await store.asimilarity_search_with_relevance_scores(
                    text, k=fetch_k, **kwargs
                )
            else:
                pairs = await run_sync(
                    lambda: store.similarity_search_with_relevance_scores(text, k=fetch_k, **kwargs)
                )
        elif _overrides(store, VectorStore, "asimilarity_search_with_score"):
            pairs = await store.asimilarity_search_with_score(text, k=fetch_k, **kwargs)
        else:
            pairs = await run_sync(
                lambda: store.similarity_search_with_score(text, k=fetch_k, **kwargs)
            )
        return [document_record(doc, score) for doc, score in pairs]


def _relevance_scores(store: VectorStore) -> bool:
    """Whether the store maps its scores to LangChain relevance scores (0 to 1)."""
    if getattr(store, "override_relevance_score_fn", None) is not None:
        return True
    try:
        store._select_relevance_score_fn()
    except NotImplementedError:
        return False
    return True


def _overrides(obj: Any, base: type, method: str) -> bool:
    return getattr(type(obj), method, None) is not getattr(base, method, None)
