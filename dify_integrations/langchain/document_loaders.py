"""``DifyLoader``: the documents (or segments) of a Dify knowledge base as LangChain documents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from pydantic import SecretStr

from dify_integrations.core import ingest as ing
from dify_integrations.core import operations as ops
from dify_integrations.core.arguments import LANGCHAIN_ALIASES, checked_arguments
from dify_integrations.core.config import DEFAULT_MAX_RETRIES, TimeoutLike
from dify_integrations.core.knowledge import DatasetDocument
from dify_integrations.core.knowledge_client import AsyncDifyKnowledgeClient, DifyKnowledgeClient
from dify_integrations.core.models import Segment

__all__ = ["DifyLoader"]


def _document(doc: DatasetDocument, segments: list[Segment], dataset_id: str) -> Document:
    text, metadata, shown = ing.document_fields(doc, segments)
    metadata.update(
        {"dataset_id": dataset_id, "document_id": doc.id, "document_name": doc.name or ""}
    )
    return Document(page_content=text, metadata=metadata, id=shown)


def _segments(doc: DatasetDocument, segments: list[Segment], dataset_id: str) -> list[Document]:
    base, shown = ing.from_stored_metadata(doc.metadata)
    out = []
    for seg in sorted(segments, key=lambda s: s.position or 0):
        metadata = {
            **base,
            "dataset_id": dataset_id,
            "document_id": doc.id,
            "document_name": doc.name or "",
            "segment_id": seg.id,
            "position": seg.position,
            "keywords": list(seg.keywords),
        }
        if shown is not None:
            metadata["ingest_id"] = shown
        out.append(Document(page_content=seg.content, metadata=metadata, id=seg.id))
    return out


class DifyLoader(BaseLoader):
    """Load a Dify knowledge base's documents (or their segments), lazily, page by page.

    For migrating a knowledge base or evaluating retrieval against it.

    Args:
        dataset_id: The knowledge base.
        mode: ``"documents"`` (one LangChain document per Dify document, its text being
            its segments joined by blank lines) or ``"segments"`` (one per segment).
        api_key: Knowledge key; else ``DIFY_DATASET_API_KEY``.
        base_url: API root; else ``DIFY_BASE_URL``.
        timeout: Request timeouts.
        max_retries: Retries of safe requests.
        keyword: Only documents whose name contains this.
        status: Only documents in this state (``available``, ``indexing``, ``error``...).

    Metadata:
        The document's own metadata (as written by `DifyVectorStore`: ``source``...), plus
        ``dataset_id``, ``document_id`` and ``document_name``; segments add
        ``segment_id``, ``position`` and ``keywords``.

    Example:
        ```python
        for doc in DifyLoader(dataset_id="...").lazy_load():
            print(doc.metadata["document_name"], len(doc.page_content))
        ```

    """

    @checked_arguments(LANGCHAIN_ALIASES)
    def __init__(
        self,
        dataset_id: str,
        *,
        mode: Literal["documents", "segments"] = "documents",
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        keyword: str | None = None,
        status: str | None = None,
    ) -> None:
        if mode not in ("documents", "segments"):
            raise ValueError(f"mode must be 'documents' or 'segments', got {mode!r}")
        self.dataset_id = ops._uuid(dataset_id, "dataset_id")
        self.mode = mode
        self.query: dict[str, Any] = {"limit": 100}
        if keyword:
            self.query["keyword"] = keyword
        if status:
            self.query["status"] = status
        self._conn: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        DifyKnowledgeClient(**self._conn).close()  # a missing key fails here, not mid-load

    def _convert(self, doc: DatasetDocument, segments: list[Segment]) -> list[Document]:
        if self.mode == "documents":
            return [_document(doc, segments, self.dataset_id)]
        return _segments(doc, segments, self.dataset_id)

    def lazy_load(self) -> Iterator[Document]:
        """Yield documents page by page (one request per page of documents and per
        document's segments)."""
        with DifyKnowledgeClient(**self._conn) as client:
            page = 1
            while True:
                batch = client.list_documents(self.dataset_id, page=page, **self.query)
                for doc in batch.data:
                    segments = ing.all_segments(client, self.dataset_id, doc.id)
                    yield from self._convert(doc, segments)
                if not batch.has_more or not batch.data:
                    return
                page += 1

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Async `lazy_load` (native aiohttp)."""
        client = AsyncDifyKnowledgeClient(**self._conn)
        try:
            page = 1
            while True:
                batch = await client.list_documents(self.dataset_id, page=page, **self.query)
                for doc in batch.data:
                    segments = await ing.aall_segments(client, self.dataset_id, doc.id)
                    for item in self._convert(doc, segments):
                        yield item
                if not batch.has_more or not batch.data:
                    return
                page += 1
        finally:
            await client.aclose()
