"""``DifyRetriever``: Dify knowledge bases as a LlamaIndex retriever."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilters
from pydantic import SecretStr

from dify_integrations.core.arguments import LLAMA_INDEX_ALIASES, checked_arguments
from dify_integrations.core.async_client import AsyncDifyClient
from dify_integrations.core.client import DifyClient
from dify_integrations.core.config import ENV_DATASET_API_KEY, TimeoutLike
from dify_integrations.core.operations import retrieval_model
from dify_integrations.core.pickling import PicklesWithoutKey
from dify_integrations.core.retrieval import aretrieve_chunks, check_query, retrieve_chunks
from dify_integrations.llama_index._clients import ClientPair
from dify_integrations.llama_index._convert import chunk_to_node, metadata_filters_to_dify

__all__ = ["DifyRetriever"]

SearchMethod = Literal["semantic_search", "full_text_search", "hybrid_search", "keyword_search"]


class DifyRetriever(PicklesWithoutKey, BaseRetriever):
    """One or more Dify knowledge bases as a LlamaIndex retriever.

    Calls ``POST /datasets/{id}/retrieve`` (Dify's hit testing) with a retrieval model built
    from the arguments. With several datasets the calls run concurrently and the results are
    merged by score (highest first, unscored last) and cut to ``similarity_top_k``. Each hit
    becomes ``NodeWithScore(TextNode(id_=segment id, text, metadata), score)``; the score is
    ``None`` when Dify gave none. The metadata holds the document's own Dify metadata at the
    top level beside ``score``, ``dataset_id``, ``document_id``, ``document_name``,
    ``segment_id`` and ``segment_position`` (the same keys as the LangChain retriever).

    Setup:
        Set ``DIFY_DATASET_API_KEY`` (a knowledge key, ``dataset-…``; ``DIFY_API_KEY`` is read
        next) and ``DIFY_BASE_URL``.

    Key init args:
        dataset_id / dataset_ids: The knowledge base(s) to search.
        - ``similarity_top_k``: Hits to return (per dataset, and after merging).
        - ``score_threshold``: Minimum score; ``None`` turns the threshold off.
        - ``search_method``: ``semantic_search``, ``full_text_search``, ``hybrid_search`` or
            ``keyword_search``.
        - ``reranking_enable``, ``reranking_mode``, ``reranking_model``, ``weights``: Dify's reranking settings.
        - ``filters``: ``MetadataFilters`` (or Dify ``metadata_filtering_conditions`` as a dict).
        - ``truncate_query``: Dify rejects queries over 250 characters, so by default a longer
            query raises ``ValueError`` before any request; ``True`` sends its first 250
            characters instead (useful under ``CondensePlusContextChatEngine``, whose
            condensed question can grow long).
        - ``client``, ``async_client``: Existing core clients to share connection pools.

    Instantiate:
        ```python
        from dify_integrations.llama_index import DifyRetriever

        retriever = DifyRetriever(
            dataset_id="...", api_key="dataset-...", base_url="http://127.0.0.1:5001/v1"
        )
        ```

    Invoke:
        ```python
        for hit in retriever.retrieve("return window"):
            print(hit.score, hit.node.get_content())
        ```

    Async:
        ```python
        hits = await retriever.aretrieve("return window")
        ```
    """

    @checked_arguments(LLAMA_INDEX_ALIASES)
    def __init__(
        self,
        dataset_id: str | None = None,
        *,
        dataset_ids: Sequence[str] | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        similarity_top_k: int = 4,
        score_threshold: float | None = None,
        search_method: SearchMethod = "semantic_search",
        reranking_enable: bool = False,
        reranking_mode: str | None = None,
        reranking_model: Mapping[str, Any] | None = None,
        weights: Mapping[str, Any] | None = None,
        filters: MetadataFilters | Mapping[str, Any] | None = None,
        truncate_query: bool = False,
        client: DifyClient | None = None,
        async_client: AsyncDifyClient | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        ids = [*([dataset_id] if dataset_id else []), *(dataset_ids or [])]
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise ValueError("pass dataset_id= or dataset_ids=")
        self.dataset_ids: list[str] = ids
        self.similarity_top_k = similarity_top_k
        self.score_threshold = score_threshold
        self.search_method: str = search_method
        self.reranking_enable = reranking_enable
        self.reranking_mode = reranking_mode
        self.reranking_model = reranking_model
        self.weights = weights
        self.filters = filters
        self.truncate_query = truncate_query
        self.retrieval_model()  # validate now, before any request
        self._clients = ClientPair(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            async_client=async_client,
            env_key=ENV_DATASET_API_KEY,
        )
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    _key_envs = ("DIFY_DATASET_API_KEY", "DIFY_API_KEY")

    def _rebuild_clients(self, **settings: Any) -> None:
        self._clients = ClientPair(env_key=ENV_DATASET_API_KEY, **settings)

    def __repr__(self) -> str:
        return (
            f"DifyRetriever(dataset_ids={self.dataset_ids!r}, "
            f"similarity_top_k={self.similarity_top_k!r}, "
            f"base_url={self._clients.config.base_url!r})"
        )

    @classmethod
    def class_name(cls) -> str:
        """Stable name of the retriever class."""
        return "DifyRetriever"

    def retrieval_model(self) -> dict[str, Any]:
        """The ``retrieval_model`` sent to Dify."""
        return retrieval_model(
            top_k=self.similarity_top_k,
            search_method=self.search_method,
            score_threshold=self.score_threshold,
            reranking_enable=self.reranking_enable,
            reranking_mode=self.reranking_mode,
            reranking_model=self.reranking_model,
            weights=self.weights,
            metadata_filtering_conditions=metadata_filters_to_dify(self.filters),
            top_k_name="similarity_top_k",
        )

    def _query(self, query_bundle: QueryBundle) -> str:
        return check_query(query_bundle.query_str, truncate=self.truncate_query)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = self._query(query_bundle)
        chunks = retrieve_chunks(
            self._clients.sync,
            self.dataset_ids,
            query,
            self.retrieval_model(),
            self.similarity_top_k,
        )
        return [chunk_to_node(c) for c in chunks]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = self._query(query_bundle)
        chunks = await aretrieve_chunks(
            self._clients.async_,
            self.dataset_ids,
            query,
            self.retrieval_model(),
            self.similarity_top_k,
        )
        return [chunk_to_node(c) for c in chunks]

    def close(self) -> None:
        """Close the sync client if this retriever created it."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close every client this retriever created."""
        await self._clients.aclose()
