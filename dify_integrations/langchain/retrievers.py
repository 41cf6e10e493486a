"""``DifyRetriever``: one or more Dify knowledge bases as a LangChain retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field, model_validator

from dify_integrations.core.operations import retrieval_model
from dify_integrations.core.retrieval import aretrieve_chunks, check_query, retrieve_chunks
from dify_integrations.langchain._base import DifyDatasetConnection
from dify_integrations.langchain._convert import chunk_to_document

__all__ = ["DifyRetriever"]


_SEARCH_KWARGS = frozenset({"k", "score_threshold", "search_method", "metadata_filter"})


class DifyRetriever(DifyDatasetConnection, BaseRetriever):
    """Dify knowledge bases (``POST /datasets/{id}/retrieve``) as a LangChain retriever.

    Several datasets are queried concurrently (threads for ``invoke``, ``asyncio`` tasks for
    ``ainvoke``) and merged by score, then cut to ``k``.

    Setup:
        Set ``DIFY_DATASET_API_KEY`` (a knowledge key, ``dataset-…``; ``DIFY_API_KEY`` is
        used when it is not set) and, for self-hosted Dify, ``DIFY_BASE_URL``.

    Key init args:
        - ``dataset_id``: The knowledge base to search (or ``dataset_ids`` for several).
        - ``k``: How many documents to return (Dify's ``top_k``); per call: ``invoke(q, k=2)``.
        - ``score_threshold``: Drop hits scoring below this (``None``: no threshold).
        - ``search_method``: ``semantic_search`` (default), ``full_text_search``,
            ``hybrid_search`` or ``keyword_search``.
        - ``reranking_enable``, ``reranking_mode``, ``reranking_model``, ``weights``: Dify's reranking
            options, passed through.
        - ``metadata_filter``: Dify's ``metadata_filtering_conditions``
            (``{"logical_operator": "and", "conditions": [...]}``), passed through.
        - ``truncate_query``: Dify rejects queries over 250 characters, so by default a longer
            query raises ``ValueError`` before any request; ``True`` sends its first 250
            characters instead.

    Instantiate:
        ```python
        from dify_integrations.langchain import DifyRetriever

        retriever = DifyRetriever(api_key="dataset-...", dataset_id="...", k=3)
        ```

    Invoke:
        ```python
        docs = retriever.invoke("How do refunds work?")
        docs[0].page_content, docs[0].metadata["score"]
        ```

    Async:
        ``await retriever.ainvoke(...)``.

    Documents:
        ``page_content`` is the segment content, ``id`` the segment id; ``metadata`` holds
        the document's own Dify metadata at the top level (so
        ``format_document(doc, PromptTemplate.from_template("{category}: {page_content}"))``
        works) beside ``score`` (``None`` when Dify gave none), ``dataset_id``,
        ``document_id``, ``document_name``, ``segment_id`` and ``segment_position``, which
        win on a clash. The LlamaIndex ``DifyRetriever`` gives its nodes the same keys.
    """

    dataset_id: str | None = None
    """The knowledge base to search."""

    dataset_ids: list[str] = Field(default_factory=list)
    """Several knowledge bases to search (with or instead of ``dataset_id``)."""

    k: int = 4
    """How many documents to return."""

    score_threshold: float | None = None
    """Minimum score of a hit (``None``: no threshold)."""

    search_method: str = "semantic_search"
    """``semantic_search``, ``full_text_search``, ``hybrid_search`` or ``keyword_search``."""

    reranking_enable: bool = False
    """Whether Dify reranks the hits."""

    reranking_mode: str | None = None
    """``reranking_model`` or ``weighted_score``."""

    reranking_model: dict[str, Any] | None = None
    """``{"reranking_provider_name": ..., "reranking_model_name": ...}``."""

    weights: dict[str, Any] | None = None
    """Hybrid-search weights, as Dify takes them."""

    metadata_filter: dict[str, Any] | None = None
    """Dify ``metadata_filtering_conditions``."""

    truncate_query: bool = False
    """Send the first 250 characters of a longer query (Dify's limit) instead of raising
    ``ValueError`` before any request."""

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "DIFY_DATASET_API_KEY"}

    @classmethod
    def _prepare_arguments(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Unpack ``search_kwargs={"k": ...}``, the way LangChain's vector-store retrievers take it."""
        search_kwargs = data.pop("search_kwargs", None)
        if search_kwargs is None:
            return data
        if not isinstance(search_kwargs, dict):
            raise TypeError("DifyRetriever search_kwargs must be a dict, e.g. {'k': 3}")
        for name, value in search_kwargs.items():
            if name not in _SEARCH_KWARGS:
                hint = "metadata_filter" if name == "filter" else None
                advice = f"; did you mean {hint!r}?" if hint else ""
                raise TypeError(
                    f"DifyRetriever search_kwargs: unexpected key {name!r} (accepted: "
                    f"{', '.join(sorted(_SEARCH_KWARGS))}){advice}"
                )
            if name in data:
                raise TypeError(
                    f"DifyRetriever got {name!r} both directly and in search_kwargs; pass it once"
                )
            data[name] = value
        return data

    @property
    def search_kwargs(self) -> dict[str, Any]:
        """The search settings in LangChain's ``search_kwargs`` shape (read-only)."""
        out: dict[str, Any] = {"k": self.k}
        if self.score_threshold is not None:
            out["score_threshold"] = self.score_threshold
        return out

    @model_validator(mode="after")
    def _check_datasets(self) -> DifyRetriever:
        if not self._datasets():
            raise ValueError("DifyRetriever needs dataset_id= or dataset_ids=")
        if self.k < 1:
            raise ValueError("k must be at least 1")
        return self

    def _datasets(self) -> list[str]:
        ids = ([self.dataset_id] if self.dataset_id else []) + list(self.dataset_ids)
        return list(dict.fromkeys(ids))

    def _retrieval_model(self, kwargs: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        k = int(kwargs.get("k", self.k))
        model = retrieval_model(
            top_k=k,
            score_threshold=kwargs.get("score_threshold", self.score_threshold),
            search_method=kwargs.get("search_method", self.search_method),
            reranking_enable=self.reranking_enable,
            reranking_mode=self.reranking_mode,
            reranking_model=self.reranking_model,
            weights=self.weights,
            metadata_filtering_conditions=kwargs.get("metadata_filter", self.metadata_filter),
            top_k_name="k",
        )
        return k, model

    def _query(self, query: str) -> str:
        return check_query(query, truncate=self.truncate_query)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k, model = self._retrieval_model(kwargs)
        chunks = retrieve_chunks(self._get_client(), self._datasets(), self._query(query), model, k)
        return [chunk_to_document(c) for c in chunks]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k, model = self._retrieval_model(kwargs)
        client = self._get_async_client()
        chunks = await aretrieve_chunks(client, self._datasets(), self._query(query), model, k)
        return [chunk_to_document(c) for c in chunks]
