"""``DifyIndex``: a Dify knowledge base as a LlamaIndex managed index.

Like LlamaIndex's other hosted indexes, chunking and embedding happen on the service: each
inserted LlamaIndex ``Document`` becomes one Dify document, indexed by Dify.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.data_structs.data_structs import IndexDict
from llama_index.core.indices.managed.base import BaseManagedIndex
from llama_index.core.schema import (
    BaseNode,
    Document,
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.settings import Settings
from llama_index.core.storage.docstore.types import RefDocInfo
from llama_index.core.storage.storage_context import StorageContext
from llama_index.core.vector_stores.types import MetadataFilters
from pydantic import SecretStr

from dify_integrations.core import ingest as ing
from dify_integrations.core import operations as ops
from dify_integrations.core.arguments import LLAMA_INDEX_ALIASES, checked_arguments
from dify_integrations.core.config import DEFAULT_MAX_RETRIES, TimeoutLike
from dify_integrations.core.knowledge_client import (
    AsyncDifyKnowledgeClient,
    DifyKnowledgeClient,
    check_search_method,
    knowledge_client_pair,
)
from dify_integrations.core.models import RetrieveResponse
from dify_integrations.core.retrieval import check_query
from dify_integrations.llama_index._convert import metadata_filters_to_dify

__all__ = ["DifyIndex", "DifyIndexRetriever"]

_CONNECTION = ("api_key", "base_url", "timeout", "max_retries")


def _items(
    nodes: Sequence[BaseNode], key_fn: Callable[[str, Mapping[str, Any]], str] | None
) -> list[ing.IngestItem]:
    """One Dify document per LlamaIndex document (or node), keyed by its content (readers
    give fresh random ``doc_id``s on every run) and remembering its ``doc_id``."""
    items = []
    for node in nodes:
        text, metadata = node.get_content(), dict(node.metadata)
        items.append(
            ing.IngestItem(
                text=text,
                metadata=metadata,
                name=metadata.get("file_name"),
                id=node.node_id,
                key=(key_fn or ing.default_key)(text, metadata),
            )
        )
    return items


def _nodes(response: RetrieveResponse) -> list[NodeWithScore]:
    out = []
    for record in response.records:
        text, metadata, doc_id, score = ing.record_fields(record)
        segment = record.segment
        node = TextNode(
            id_=(segment.id if segment and segment.id else None) or doc_id or "",
            text=text,
            metadata=metadata,
        )
        if doc_id is not None:
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
        out.append(NodeWithScore(node=node, score=score))
    return out


class DifyIndexRetriever(BaseRetriever):
    """Retriever of a `DifyIndex`: segments as nodes, with the inserted documents' metadata
    and their ``ref_doc_id``."""

    def __init__(
        self,
        index: DifyIndex,
        *,
        similarity_top_k: int = 4,
        filters: MetadataFilters | Mapping[str, Any] | None = None,
        search_method: str | None = None,
        score_threshold: float | None = None,
        truncate_query: bool = False,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        self._index = index
        self._truncate = truncate_query
        conditions = metadata_filters_to_dify(filters)
        self._model = ops.retrieval_model(
            top_k=similarity_top_k,
            search_method=search_method or index.search_method,
            score_threshold=score_threshold,
            metadata_filtering_conditions=ing.filter_conditions(conditions),
        )
        super().__init__(callback_manager=callback_manager)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        index = self._index
        return _nodes(
            index.client.retrieve(
                index.dataset_id,
                check_query(query_bundle.query_str, truncate=self._truncate),
                retrieval_model=self._model,
            )
        )

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        index = self._index
        response = await index.async_client.retrieve(
            index.dataset_id,
            check_query(query_bundle.query_str, truncate=self._truncate),
            retrieval_model=self._model,
        )
        return _nodes(response)


class DifyIndex(BaseManagedIndex):
    """A Dify knowledge base (dataset) as a LlamaIndex managed index.

    Dify splits, embeds and indexes on the server: no ``embed_model`` or transformations
    are used. Each inserted ``Document`` becomes one Dify document whose metadata holds the
    document's metadata (strings and numbers) and its ``doc_id``, so ``delete_ref_doc``,
    ``update_ref_doc`` and retrieved nodes' ``ref_doc_id`` all speak your ids. Inserting is
    idempotent: a ``doc_id`` already there with the same text and metadata is skipped.

    Setup:
        Set ``DIFY_DATASET_API_KEY`` (``dataset-…``) and ``DIFY_BASE_URL``.

    Instantiate:
        ```python
        from llama_index.core import SimpleDirectoryReader
        from dify_integrations.llama_index import DifyIndex, DifyLLM

        docs = SimpleDirectoryReader("handbook").load_data()
        index = DifyIndex.from_documents(docs, dataset_name="Handbook")
        engine = index.as_query_engine(llm=DifyLLM(...))
        ```

    Args:
        dataset_id: The knowledge base.
        api_key: Knowledge key (``dataset-…``); else ``DIFY_DATASET_API_KEY``.
        base_url: API root; else ``DIFY_BASE_URL``.
        timeout: Request timeouts.
        max_retries: Retries of safe requests.
        similarity_top_k: Default number of segments the retriever returns.
        search_method: Dify search method (default: the dataset's ``semantic_search``).
        wait: Wait until inserted documents are indexed (default ``True``).
        indexing_timeout: Seconds to wait for indexing.
        key_fn: ``key_fn(text, metadata) -> str``: the stable key of documents not found
            by their ``doc_id`` (default: file path or ``source`` + content hash).
        show_progress: Progress bar while ingesting (``None``: when stderr is a terminal).
    """

    index_struct_cls = IndexDict

    @checked_arguments(LLAMA_INDEX_ALIASES)
    def __init__(
        self,
        dataset_id: str,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        similarity_top_k: int = 4,
        search_method: str | None = None,
        wait: bool = True,
        indexing_timeout: float | None = 600.0,
        key_fn: Callable[[str, Mapping[str, Any]], str] | None = None,
        show_progress: bool | None = None,
        callback_manager: CallbackManager | None = None,
        client: DifyKnowledgeClient | None = None,
        async_client: AsyncDifyKnowledgeClient | None = None,
        **kwargs: Any,
    ) -> None:
        self.dataset_id = ops._uuid(dataset_id, "dataset_id")
        self.search_method = check_search_method(search_method)
        self.similarity_top_k = similarity_top_k
        self.wait = wait
        self.indexing_timeout = indexing_timeout
        self.key_fn = key_fn
        self.progress = show_progress
        self.client, self.async_client = knowledge_client_pair(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            async_client=async_client,
        )
        self.last_report: ing.IngestReport | None = None
        super().__init__(
            index_struct=IndexDict(),
            storage_context=StorageContext.from_defaults(),
            show_progress=bool(show_progress),
            callback_manager=callback_manager,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"DifyIndex(dataset_id={self.dataset_id!r}, base_url={self.client.base_url!r})"

    # ------------------------------------------------------------------ writing

    def _ingest_args(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "timeout": self.indexing_timeout,
            "progress": self.progress,
        }

    def ingest(self, documents: Sequence[BaseNode]) -> ing.IngestReport:
        """Insert documents and return the report (created, updated, skipped, failures by
        name) without raising for failed ones."""
        report = ing.ingest(
            self.client, self.dataset_id, _items(documents, self.key_fn), **self._ingest_args()
        )
        self.last_report = report
        return report

    async def aingest(self, documents: Sequence[BaseNode]) -> ing.IngestReport:
        """Async `ingest`."""
        report = await ing.aingest(
            self.async_client,
            self.dataset_id,
            _items(documents, self.key_fn),
            **self._ingest_args(),
        )
        self.last_report = report
        return report

    def _insert(self, nodes: Sequence[BaseNode], **insert_kwargs: Any) -> None:
        self.ingest(nodes).raise_for_failures()

    def insert(self, document: Document, **insert_kwargs: Any) -> None:
        """Insert one document (one Dify document; no local transformations).

        Raises:
            IngestionError: Dify could not take or index it (named in the message).
        """
        self._insert([document])

    async def ainsert(self, document: Document, **insert_kwargs: Any) -> None:
        """Async `insert`."""
        (await self.aingest([document])).raise_for_failures()

    def insert_nodes(self, nodes: Sequence[BaseNode], **insert_kwargs: Any) -> None:
        """Insert nodes, each as one Dify document."""
        self._insert(nodes)

    async def ainsert_nodes(self, nodes: Sequence[BaseNode], **insert_kwargs: Any) -> None:
        """Async `insert_nodes`."""
        (await self.aingest(nodes)).raise_for_failures()

    def update_ref_doc(self, document: Document, **update_kwargs: Any) -> None:
        """Replace the text and metadata of the document with ``document.doc_id``."""
        self._insert([document])

    async def aupdate_ref_doc(self, document: Document, **update_kwargs: Any) -> None:
        """Async `update_ref_doc`."""
        await self.ainsert(document)

    def delete_ref_doc(
        self, ref_doc_id: str, delete_from_docstore: bool = False, **delete_kwargs: Any
    ) -> None:
        """Delete the document with this ``doc_id`` (or Dify document id); unknown ids are
        ignored."""
        docs = ing.list_all_documents(self.client, self.dataset_id)
        for document_id in ing.resolve_ids([ref_doc_id], docs):
            self.client.delete_document(self.dataset_id, document_id)

    async def adelete_ref_doc(
        self, ref_doc_id: str, delete_from_docstore: bool = False, **delete_kwargs: Any
    ) -> None:
        """Async `delete_ref_doc`."""
        docs = await ing.alist_all_documents(self.async_client, self.dataset_id)
        for document_id in ing.resolve_ids([ref_doc_id], docs):
            await self.async_client.delete_document(self.dataset_id, document_id)

    # ------------------------------------------------------------------ reading

    @property
    def ref_doc_info(self) -> dict[str, RefDocInfo]:
        """Every document of the knowledge base by its ``doc_id``: its segment ids as
        ``node_ids`` and its metadata (one request per document, to list its segments)."""
        out: dict[str, RefDocInfo] = {}
        for doc in ing.list_all_documents(self.client, self.dataset_id):
            segments = ing.all_segments(self.client, self.dataset_id, doc.id)
            _, metadata, shown = ing.document_fields(doc, segments)
            out[shown] = RefDocInfo(node_ids=[str(s.id) for s in segments], metadata=metadata)
        return out

    def as_retriever(self, **kwargs: Any) -> BaseRetriever:
        """A retriever over this knowledge base (``similarity_top_k``, ``filters``,
        ``search_method``, ``score_threshold``, ``truncate_query``: send the first 250
        characters of a longer query instead of refusing it; other arguments are ignored)."""
        return DifyIndexRetriever(
            self,
            similarity_top_k=kwargs.get("similarity_top_k", self.similarity_top_k),
            filters=kwargs.get("filters"),
            search_method=kwargs.get("search_method"),
            score_threshold=kwargs.get("score_threshold"),
            truncate_query=bool(kwargs.get("truncate_query", False)),
            callback_manager=self._callback_manager,
        )

    @staticmethod
    def _check_llm(llm: Any) -> None:
        if llm is None and getattr(Settings, "_llm", None) is None:
            raise ValueError(
                "pass llm= (e.g. dify_integrations.llama_index.DifyLLM): without it LlamaIndex "
                "would fall back to its default OpenAI model"
            )

    def as_query_engine(self, llm: Any = None, **kwargs: Any) -> Any:
        """A query engine answering from this knowledge base with ``llm``."""
        self._check_llm(llm)
        return super().as_query_engine(llm=llm, **kwargs)

    def as_chat_engine(self, chat_mode: Any = None, llm: Any = None, **kwargs: Any) -> Any:
        """A chat engine over this knowledge base with ``llm``."""
        self._check_llm(llm)
        if chat_mode is None:
            return super().as_chat_engine(llm=llm, **kwargs)
        return super().as_chat_engine(chat_mode=chat_mode, llm=llm, **kwargs)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        storage_context: StorageContext | None = None,
        show_progress: bool | None = None,
        callback_manager: CallbackManager | None = None,
        transformations: Any = None,
        *,
        dataset_id: str | None = None,
        dataset_name: str | None = None,
        dataset_settings: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> DifyIndex:
        """Fill a knowledge base (``dataset_id``, or the one named ``dataset_name``, created
        when missing) with documents and return the index.

        Raises:
            ValueError: ``transformations`` given (Dify chunks server-side).
            IngestionError: Some documents failed (named); the others are in Dify.
        """
        if transformations:
            raise ValueError("Dify splits documents itself: transformations are not used")
        client = kwargs.pop("client", None) or DifyKnowledgeClient(
            **{k: kwargs[k] for k in _CONNECTION if k in kwargs}
        )
        target = ing.open_dataset(client, dataset_id, dataset_name, dataset_settings)
        index = cls(
            target,
            client=client,
            show_progress=show_progress,
            callback_manager=callback_manager,
            **kwargs,
        )
        index.ingest(documents).raise_for_failures()
        return index
