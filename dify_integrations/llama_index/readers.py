"""``DifyReader``: the documents (or segments) of a Dify knowledge base as LlamaIndex documents."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document
from pydantic import SecretStr

from dify_integrations.core import ingest as ing
from dify_integrations.core import operations as ops
from dify_integrations.core.arguments import LLAMA_INDEX_ALIASES, checked_arguments
from dify_integrations.core.config import DEFAULT_MAX_RETRIES, TimeoutLike
from dify_integrations.core.knowledge import DatasetDocument
from dify_integrations.core.knowledge_client import AsyncDifyKnowledgeClient, DifyKnowledgeClient
from dify_integrations.core.models import Segment

__all__ = ["DifyReader"]


class DifyReader(BaseReader):
    """Read a Dify knowledge base's documents (or their segments), page by page.

    For migrating a knowledge base or evaluating retrieval against it. Each document's
    ``doc_id`` is the id it was inserted with by `DifyIndex` (else the Dify document id);
    ``metadata`` holds its own metadata plus ``dataset_id``, ``document_id`` and
    ``document_name`` (segments add ``segment_id`` and ``position``).

    Args:
        api_key: Knowledge key; else ``DIFY_DATASET_API_KEY``.
        base_url: API root; else ``DIFY_BASE_URL``.
        timeout: Request timeouts.
        max_retries: Retries of safe requests.

    Example:
        ```python
        docs = DifyReader().load_data(dataset_id="...")
        ```
    """

    @checked_arguments(LLAMA_INDEX_ALIASES)
    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
    ) -> None:
        self._conn: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        DifyKnowledgeClient(**self._conn).close()  # a missing key fails here

    @staticmethod
    def _check(dataset_id: str, mode: str) -> str:
        if mode not in ("documents", "segments"):
            raise ValueError(f"mode must be 'documents' or 'segments', got {mode!r}")
        return ops._uuid(dataset_id, "dataset_id")

    @staticmethod
    def _convert(
        dataset_id: str, doc: DatasetDocument, segments: list[Segment], mode: str
    ) -> list[Document]:
        extra = {"dataset_id": dataset_id, "document_id": doc.id, "document_name": doc.name or ""}
        if mode == "documents":
            text, metadata, shown = ing.document_fields(doc, segments)
            return [Document(id_=shown, text=text, metadata={**metadata, **extra})]
        base, _ = ing.from_stored_metadata(doc.metadata)
        return [
            Document(
                id_=seg.id,
                text=seg.content,
                metadata={**base, **extra, "segment_id": seg.id, "position": seg.position},
            )
            for seg in sorted(segments, key=lambda s: s.position or 0)
        ]

    def lazy_load_data(
        self, dataset_id: str, mode: Literal["documents", "segments"] = "documents"
    ) -> Iterable[Document]:
        """Yield the documents (one request per page and per document's segments)."""
        dataset_id = self._check(dataset_id, mode)
        with DifyKnowledgeClient(**self._conn) as client:
            page = 1
            while True:
                batch = client.list_documents(dataset_id, page=page, limit=100)
                for doc in batch.data:
                    segments = ing.all_segments(client, dataset_id, doc.id)
                    yield from self._convert(dataset_id, doc, segments, mode)
                if not batch.has_more or not batch.data:
                    return
                page += 1

    def load_data(
        self, dataset_id: str, mode: Literal["documents", "segments"] = "documents"
    ) -> list[Document]:
        """All documents (or segments) of the knowledge base."""
        return list(self.lazy_load_data(dataset_id, mode))

    async def aload_data(
        self, dataset_id: str, mode: Literal["documents", "segments"] = "documents"
    ) -> list[Document]:
        """Async `load_data` (native aiohttp)."""
        dataset_id = self._check(dataset_id, mode)
        client = AsyncDifyKnowledgeClient(**self._conn)
        out: list[Document] = []
        try:
            page = 1
            while True:
                batch = await client.list_documents(dataset_id, page=page, limit=100)
                for doc in batch.data:
                    segments = await ing.aall_segments(client, dataset_id, doc.id)
                    out.extend(self._convert(dataset_id, doc, segments, mode))
                if not batch.has_more or not batch.data:
                    return out
                page += 1
        finally:
            await client.aclose()
