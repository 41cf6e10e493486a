"""``DifyVectorStore``: a Dify knowledge base as a LangChain vector store.

Dify embeds, chunks and indexes on the server, so no embedding model is needed here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Self

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from pydantic import SecretStr

from dify_integrations.core import ingest as ing
from dify_integrations.core import operations as ops
from dify_integrations.core.arguments import LANGCHAIN_ALIASES, checked_arguments
from dify_integrations.core.config import DEFAULT_MAX_RETRIES, TimeoutLike
from dify_integrations.core.knowledge_client import (
    AsyncDifyKnowledgeClient,
    DifyKnowledgeClient,
    check_search_method,
    knowledge_client_pair,
)
from dify_integrations.core.models import RetrieveResponse
from dify_integrations.core.retrieval import check_query

__all__ = ["DifyVectorStore"]

_STORE_ARGS = frozenset(
    {
        "api_key",
        "base_url",
        "timeout",
        "max_retries",
        "search_method",
        "wait",
        "indexing_timeout",
        "key_fn",
        "progress",
        "process_rule",
    }
)


class DifyVectorStore(VectorStore):
    """A Dify knowledge base (dataset) as a LangChain ``VectorStore``.

    Each text becomes one Dify document, which Dify splits into segments and embeds
    server-side; searches return segments. LangChain metadata becomes Dify document
    metadata (strings and numbers; ``source`` and the other Dify built-in names are stored
    as ``doc_source``...), so filters run in Dify. Ingestion is idempotent: re-adding the
    same text (same ``source`` and content, or the same id) creates no duplicate.

    Setup:
        Set ``DIFY_DATASET_API_KEY`` (a knowledge key, ``dataset-…``) and, for self-hosted
        Dify, ``DIFY_BASE_URL``.

    Key init args:
        - ``dataset_id``: The knowledge base.
        - ``search_method``: ``semantic_search`` (default), ``full_text_search``,
            ``hybrid_search`` or ``keyword_search``.
        - ``wait``: Wait until added documents are indexed (default ``True``).
        - ``indexing_timeout``: Seconds to wait for indexing.
        - ``key_fn``: ``key_fn(text, metadata) -> str``: the stable key of texts without an id
            (default: ``source`` + content hash).
        - ``progress``: Progress bar while ingesting (default: when stderr is a terminal).

    Instantiate:
        ```python
        from dify_integrations.langchain import DifyVectorStore

        store = DifyVectorStore.from_documents(docs, dataset_name="Handbook")
        # or an existing knowledge base
        store = DifyVectorStore(dataset_id="...")
        ```

    Search:
        ```python
        store.similarity_search("refund window", k=3, filter={"team": "billing"})
        store.as_retriever(search_kwargs={"k": 3}).invoke("refund window")
        ```

    Ids:
        ``add_texts`` returns the Dify document ids, or the ids you gave (``ids=`` or
        ``Document.id``), which `delete` and `get_by_ids` then accept too. Search results
        carry the same id; a document of several segments yields one result per segment.

    Failures:
        A text that fails (a metadata value Dify cannot hold, a request error, indexing
        ``error``) does not stop the others; ``add_texts`` then raises `IngestionError`
        naming every failed text, with the report (``.report.ids``) of the others. Use
        `ingest` to get the report without an exception.
    """

    @checked_arguments(LANGCHAIN_ALIASES)
    def __init__(
        self,
        dataset_id: str,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        search_method: str | None = None,
        wait: bool = True,
        indexing_timeout: float | None = 600.0,
        key_fn: Callable[[str, Mapping[str, Any]], str] | None = None,
        progress: bool | None = None,
        process_rule: Mapping[str, Any] | None = None,
        client: DifyKnowledgeClient | None = None,
        async_client: AsyncDifyKnowledgeClient | None = None,
    ) -> None:
        self.dataset_id = ops._uuid(dataset_id, "dataset_id")
        self.search_method = check_search_method(search_method)
        self.wait = wait
        self.indexing_timeout = indexing_timeout
        self.key_fn = key_fn
        self.progress = progress
        self.process_rule = dict(process_rule) if process_rule else None
        self.client, self.async_client = knowledge_client_pair(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            async_client=async_client,
        )
        self.last_report: ing.IngestReport | None = None

    def __repr__(self) -> str:
        return f"DifyVectorStore(dataset_id={self.dataset_id!r}, base_url={self.client.base_url!r})"

    @property
    def embeddings(self) -> Embeddings | None:
        """``None``: Dify embeds server-side."""
        return None

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda score: score  # Dify's scores are already in [0, 1]

    # ------------------------------------------------------------------ writing

    def _items(
        self,
        texts: Iterable[str],
        metadatas: Sequence[Mapping[str, Any]] | None,
        ids: Sequence[str | None] | None,
    ) -> list[ing.IngestItem]:
        texts = list(texts)
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"{len(metadatas)} metadatas for {len(texts)} texts")
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        return [
            ing.IngestItem(
                text=text,
                metadata=dict(metadatas[i]) if metadatas is not None else {},
                id=ids[i] if ids is not None else None,
            )
            for i, text in enumerate(texts)
        ]

    def _ingest_args(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(kwargs) - {"wait", "progress", "key_fn"}
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        settings = {"process_rule": self.process_rule} if self.process_rule else None
        return {
            "wait": kwargs.get("wait", self.wait),
            "timeout": self.indexing_timeout,
            "key_fn": kwargs.get("key_fn", self.key_fn),
            "progress": kwargs.get("progress", self.progress),
            "document_settings": settings,
        }

    def ingest(self, documents: Sequence[Document], **kwargs: Any) -> ing.IngestReport:
        """Add documents and return the report (created, updated, skipped, failures by
        name) instead of raising for failed ones."""
        items = self._items(
            [d.page_content for d in documents],
            [d.metadata for d in documents],
            [d.id for d in documents],
        )
        report = ing.ingest(self.client, self.dataset_id, items, **self._ingest_args(kwargs))
        self.last_report = report
        return report

    async def aingest(self, documents: Sequence[Document], **kwargs: Any) -> ing.IngestReport:
        """Async `ingest`."""
        items = self._items(
            [d.page_content for d in documents],
            [d.metadata for d in documents],
            [d.id for d in documents],
        )
        report = await ing.aingest(
            self.async_client, self.dataset_id, items, **self._ingest_args(kwargs)
        )
        self.last_report = report
        return report

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add texts as Dify documents (one each) and wait for their indexing.

        Args:
            texts: The texts.
            metadatas: One metadata dict per text.
            ids: Your ids (stable keys: re-adding an id updates that document).
            **kwargs: ``wait=False`` to return before indexing completes, ``progress``,
                ``key_fn``.

        Returns:
            The ids, in order.

        Raises:
            IngestionError: Some texts failed (named); the others were added.
        """
        items = self._items(texts, metadatas, ids)
        report = ing.ingest(self.client, self.dataset_id, items, **self._ingest_args(kwargs))
        self.last_report = report
        report.raise_for_failures()
        return [i for i in report.ids if i is not None]

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async `add_texts`."""
        items = self._items(texts, metadatas, ids)
        report = await ing.aingest(
            self.async_client, self.dataset_id, items, **self._ingest_args(kwargs)
        )
        self.last_report = report
        report.raise_for_failures()
        return [i for i in report.ids if i is not None]

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete documents by id (Dify document ids or your ids); unknown ids are ignored.

        Raises:
            ValueError: ``ids`` is ``None`` (deleting a whole knowledge base is
                ``client.delete_dataset``).
        """
        if ids is None:
            raise ValueError("delete needs ids=[...]; use client.delete_dataset to drop all")
        targets = ing.resolve_ids(ids, ing.list_all_documents(self.client, self.dataset_id))
        for document_id in targets:
            self.client.delete_document(self.dataset_id, document_id)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Async `delete`."""
        if ids is None:
            raise ValueError("delete needs ids=[...]; use client.delete_dataset to drop all")
        docs = await ing.alist_all_documents(self.async_client, self.dataset_id)
        for document_id in ing.resolve_ids(ids, docs):
            await self.async_client.delete_document(self.dataset_id, document_id)
        return True

    # ------------------------------------------------------------------ reading

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids (the text is the document's segments, joined by
        blank lines), in the order of ``ids``; unknown ids are left out."""
        docs = ing.list_all_documents(self.client, self.dataset_id)
        by_id = {d.id: d for d in docs}
        out: list[Document] = []
        for document_id in ing.resolve_ids(ids, docs):
            doc = by_id[document_id]
            segments = ing.all_segments(self.client, self.dataset_id, document_id)
            text, metadata, shown = ing.document_fields(doc, segments)
            out.append(Document(page_content=text, metadata=metadata, id=shown))
        return out

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async `get_by_ids`."""
        docs = await ing.alist_all_documents(self.async_client, self.dataset_id)
        by_id = {d.id: d for d in docs}
        out: list[Document] = []
        for document_id in ing.resolve_ids(ids, docs):
            segments = await ing.aall_segments(self.async_client, self.dataset_id, document_id)
            text, metadata, shown = ing.document_fields(by_id[document_id], segments)
            out.append(Document(page_content=text, metadata=metadata, id=shown))
        return out

    def _retrieval_model(
        self, k: int, filter: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        unknown = set(kwargs) - {"score_threshold", "search_method"}
        if unknown:
            raise TypeError(f"unexpected search arguments: {sorted(unknown)}")
        return ops.retrieval_model(
            top_k=k,
            search_method=kwargs.get("search_method", self.search_method),
            score_threshold=kwargs.get("score_threshold"),
            metadata_filtering_conditions=ing.filter_conditions(filter),
        )

    @staticmethod
    def _results(response: RetrieveResponse) -> list[tuple[Document, float]]:
        out: list[tuple[Document, float]] = []
        for record in response.records:
            text, metadata, doc_id, score = ing.record_fields(record)
            out.append((Document(page_content=text, metadata=metadata, id=doc_id), score or 0.0))
        return out

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Search Dify: segments with their score (0-1, higher is closer).

        Args:
            query: The search text (at most 250 characters: Dify refuses longer ones, so
                they raise ``ValueError`` before any request).
            k: How many segments.
            filter: ``{name: value}`` (all equal; a list means "in") or Dify's
                ``{"logical_operator", "conditions": [...]}``.
            **kwargs: ``score_threshold``, ``search_method``.
        """
        model = self._retrieval_model(k, filter, kwargs)
        query = check_query(query)
        return self._results(self.client.retrieve(self.dataset_id, query, retrieval_model=model))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async `similarity_search_with_score`."""
        model = self._retrieval_model(k, filter, kwargs)
        response = await self.async_client.retrieve(self.dataset_id, query, retrieval_model=model)
        return self._results(response)

    def similarity_search(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """Search Dify: the ``k`` closest segments as documents."""
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async `similarity_search`."""
        found = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [d for d, _ in found]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return self.similarity_search_with_score(query, k, **kwargs)

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return await self.asimilarity_search_with_score(query, k, **kwargs)

    # ------------------------------------------------------------------ constructors

    @staticmethod
    def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        dataset: dict[str, Any] = {}
        for name in ("dataset_id", "dataset_name", "dataset_settings"):
            dataset[name] = kwargs.pop(name, None)
        unknown = set(kwargs) - _STORE_ARGS - {"client", "async_client"}
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        return dataset, kwargs

    @staticmethod
    def _no_embedding(embedding: Embeddings | None) -> None:
        if embedding is not None:
            raise ValueError(
                "Dify embeds server-side with the knowledge base's embedding model; "
                "pass embedding=None (choose the model in Dify or with dataset_settings=)"
            )

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """Fill a knowledge base with texts and return the store.

        Args:
            texts: The texts.
            embedding: Must be ``None`` (Dify embeds server-side).
            metadatas: Their metadata.
            ids: Your ids.
            **kwargs: ``dataset_id`` (fill an existing knowledge base) or ``dataset_name``
                (the one of that name, created when missing, with ``dataset_settings`` of
                ``create_dataset``), plus the constructor's arguments.
        """
        cls._no_embedding(embedding)
        dataset, store_args = cls._split(kwargs)
        client = store_args.pop("client", None) or DifyKnowledgeClient(
            **{
                k: store_args[k]
                for k in ("api_key", "base_url", "timeout", "max_retries")
                if k in store_args
            }
        )
        dataset_id = ing.open_dataset(
            client, dataset["dataset_id"], dataset["dataset_name"], dataset["dataset_settings"]
        )
        store = cls(dataset_id, client=client, **store_args)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """Async `from_texts`."""
        cls._no_embedding(embedding)
        dataset, store_args = cls._split(kwargs)
        aclient = store_args.pop("async_client", None) or AsyncDifyKnowledgeClient(
            **{
                k: store_args[k]
                for k in ("api_key", "base_url", "timeout", "max_retries")
                if k in store_args
            }
        )
        dataset_id = await ing.aopen_dataset(
            aclient, dataset["dataset_id"], dataset["dataset_name"], dataset["dataset_settings"]
        )
        store = cls(dataset_id, async_client=aclient, **store_args)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_documents(
        cls, documents: list[Document], embedding: Embeddings | None = None, **kwargs: Any
    ) -> Self:
        """Fill a knowledge base with documents (see `from_texts`)."""
        return super().from_documents(documents, embedding, **kwargs)  # type: ignore[arg-type]

    @classmethod
    async def afrom_documents(
        cls, documents: list[Document], embedding: Embeddings | None = None, **kwargs: Any
    ) -> Self:
        """Async `from_documents`."""
        return await super().afrom_documents(documents, embedding, **kwargs)  # type: ignore[arg-type]
