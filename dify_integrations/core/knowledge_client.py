"""`DifyKnowledgeClient` / `AsyncDifyKnowledgeClient`: knowledge bases, read and write.

Both are thin: `knowledge` builds and validates every request, and the transport is the
one of `DifyClient` / `AsyncDifyClient` (pooling, retries, error mapping, key redaction).
The key is a knowledge (``dataset-…``) key, read from ``DIFY_DATASET_API_KEY`` when not
given. Waiting for indexing is one call, `wait_for_indexing`, which polls with backoff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import requests
from pydantic import SecretStr

from . import knowledge as kb
from . import operations as ops
from .async_client import AsyncDifyClient
from .client import DifyClient
from .config import DEFAULT_MAX_RETRIES, TimeoutLike
from .knowledge import (
    DatasetDocument,
    DocumentCreated,
    DocumentList,
    IndexingError,
    IndexingStatus,
    IndexingStatusList,
    IndexingTimeoutError,
    MetadataField,
    MetadataFieldList,
    SegmentList,
    SegmentResult,
)
from .models import Dataset, DatasetList, RetrieveResponse

__all__ = [
    "AsyncDifyKnowledgeClient",
    "DifyKnowledgeClient",
    "IndexingWatch",
    "check_search_method",
    "knowledge_client_pair",
]

DATASET_KEY_ENV = "DIFY_DATASET_API_KEY"
T = TypeVar("T")


@dataclass
class IndexingWatch:
    """The pure part of `wait_for_indexing`: what a status answer means, and when to ask
    again (exponential backoff from ``interval`` up to ``max_interval``, never past the
    deadline).

    Attributes:
        dataset_id: The knowledge base.
        batch: The indexing batch.
        timeout: Seconds to wait in all (``None``: no limit).
        interval: First pause between polls.
        max_interval: Longest pause between polls.
        names: Known document names by id (for error messages).
    """

    dataset_id: str
    batch: str
    timeout: float | None = 300.0
    interval: float = 0.1
    max_interval: float = 2.0
    names: dict[str, str] = field(default_factory=dict)
    _deadline: float | None = None
    _next: float = 0.0

    def __post_init__(self) -> None:
        if self.timeout is not None:
            if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float):
                raise TypeError("timeout must be a number of seconds or None")
            if not self.timeout > 0:
                raise ValueError(f"timeout must be > 0, got {self.timeout!r}")
            self._deadline = time.monotonic() + float(self.timeout)
        if not self.interval > 0 or self.max_interval < self.interval:
            raise ValueError("need 0 < interval <= max_interval")
        self._next = self.interval

    def failed(self, statuses: IndexingStatusList) -> list[IndexingStatus]:
        """The documents Dify reports as ``error``."""
        return [s for s in statuses.data if s.indexing_status == "error"]

    def done(self, statuses: IndexingStatusList) -> bool:
        """Whether every document of the batch is ``completed``."""
        return bool(statuses.data) and all(s.indexing_status == "completed" for s in statuses.data)

    def error(self, failed: Sequence[IndexingStatus]) -> IndexingError:
        """The error naming the (first) failed document."""
        first = failed[0]
        name = self.names.get(first.id)
        label = f"{name!r} ({first.id})" if name else first.id
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return IndexingError(
            f"indexing of document {label}{more} failed: {first.error or 'no reason given'}",
            document_id=first.id,
            document_name=name,
            error=first.error,
        )

    def next_delay(self, statuses: IndexingStatusList | None = None) -> float:
        """Seconds to sleep before the next poll.

        Raises:
            IndexingTimeoutError: When the deadline has passed.
        """
        delay = self._next
        self._next = min(self._next * 2, self.max_interval)
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                pending = [
                    f"{self.names.get(s.id, s.id)} ({s.indexing_status})"
                    for s in (statuses.data if statuses else [])
                    if s.indexing_status != "completed"
                ]
                raise IndexingTimeoutError(
                    f"indexing of batch {self.batch} did not finish within {self.timeout} s"
                    + (f"; still pending: {', '.join(pending)}" if pending else ""),
                )
            delay = min(delay, left)
        return delay


def _watch(
    target: DocumentCreated | str,
    batch: str | None,
    timeout: float | None,
    interval: float,
    max_interval: float,
) -> IndexingWatch:
    if isinstance(target, DocumentCreated):
        if target.dataset_id is None:
            raise ValueError("this DocumentCreated has no dataset_id; pass (dataset_id, batch)")
        names = {target.document.id: target.document.name} if target.document.name else {}
        return IndexingWatch(
            target.dataset_id, target.batch, timeout, interval, max_interval, names
        )
    if batch is None:
        raise ValueError("wait_for_indexing needs (created) or (dataset_id, batch)")
    return IndexingWatch(target, batch, timeout, interval, max_interval)


def _created(result: DocumentCreated, dataset_id: str) -> DocumentCreated:
    result.dataset_id = dataset_id
    return result


def _metadata_ops(
    fields: MetadataFieldList, document_id: str, values: Mapping[str, Any], partial: bool
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Missing fields to create (name, type) and the operation data once they exist."""
    known = fields.by_name()
    missing: list[tuple[str, str]] = []
    for name, value in values.items():
        kind = kb.metadata_type(value)
        have = known.get(name)
        if have is None:
            missing.append((name, kind))
        elif (
            have.type is not None
            and have.type != kind
            and not (have.type == "time" and kind == "number")
        ):
            raise TypeError(
                f"metadata {name!r} is a {have.type} field in this knowledge base, "
                f"but the value {value!r} is a {kind}"
            )
    return missing, [{"document_id": document_id, "partial_update": partial}]


def _metadata_list(fields: MetadataFieldList, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    known = fields.by_name()
    return [{"id": known[n].id, "name": n, "value": v} for n, v in values.items()]


class DifyKnowledgeClient:
    """Synchronous client for Dify knowledge bases (datasets, documents, segments, metadata).

    Args:
        api_key: Knowledge key (``dataset-…``); else ``DIFY_DATASET_API_KEY``.
        base_url: API root; else ``DIFY_BASE_URL``, else ``https://api.dify.ai/v1``.
        timeout: ``None``, seconds (read timeout) or a `Timeout`.
        max_retries: Retries after the first attempt (only for requests safe to resend).
        session: An existing `requests.Session`.
        verify: TLS verification.

    Example:
        ```python
        with DifyKnowledgeClient(base_url=server.base_url) as kb:
            ds = kb.create_dataset("Handbook")
            created = kb.create_document_by_text(ds.id, "a.md", "Returns: 30 days.")
            kb.wait_for_indexing(created, timeout=60)
        ```
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        session: requests.Session | None = None,
        verify: bool | str = True,
    ) -> None:
        self._client = DifyClient(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            session=session,
            verify=verify,
            env_key=DATASET_KEY_ENV,
        )

    @property
    def client(self) -> DifyClient:
        """The underlying transport (also offers ``retrieve`` and ``list_datasets``)."""
        return self._client

    @property
    def base_url(self) -> str:
        """The Service API root."""
        return self._client.base_url

    def __repr__(self) -> str:
        return f"DifyKnowledgeClient(base_url={self.base_url!r}, api_key=SecretStr('**********'))"

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> DifyKnowledgeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, op: ops.Operation[T]) -> T:
        return self._client._call(op)

    # ------------------------------------------------------------------ datasets

    def create_dataset(self, name: str, **settings: Any) -> Dataset:
        """Create an empty knowledge base (`knowledge.create_dataset` lists the settings).

        Raises:
            APIStatusError: 409 ``dataset_name_duplicate`` when the name is taken.
        """
        return self._run(kb.create_dataset(name, **settings))

    def get_dataset(self, dataset_id: str) -> Dataset:
        """One knowledge base."""
        return self._run(kb.get_dataset(dataset_id))

    def update_dataset(self, dataset_id: str, **fields: Any) -> Dataset:
        """Change a knowledge base's name, description, permission or retrieval settings."""
        return self._run(kb.update_dataset(dataset_id, **fields))

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a knowledge base and its documents."""
        self._run(kb.delete_dataset(dataset_id))

    def list_datasets(
        self,
        *,
        page: int = 1,
        limit: int = 20,
        keyword: str | None = None,
        tag_ids: Sequence[str] | None = None,
        include_all: bool | None = None,
    ) -> DatasetList:
        """One page of knowledge bases."""
        return self._run(
            ops.list_datasets(
                page=page, limit=limit, keyword=keyword, tag_ids=tag_ids, include_all=include_all
            )
        )

    def retrieve(
        self, dataset_id: str, query: str, *, retrieval_model: Mapping[str, Any] | None = None
    ) -> RetrieveResponse:
        """Search a knowledge base."""
        return self._run(ops.retrieve(dataset_id, query, retrieval_model=retrieval_model))

    # ------------------------------------------------------------------ documents

    def create_document_by_text(
        self, dataset_id: str, name: str, text: str, **settings: Any
    ) -> DocumentCreated:
        """Add a document from text; indexing starts (see `wait_for_indexing`)."""
        result = self._run(kb.create_document_by_text(dataset_id, name, text, **settings))
        return _created(result, dataset_id)

    def create_document_by_file(
        self, dataset_id: str, file: ops.FileInput, **settings: Any
    ) -> DocumentCreated:
        """Add a document from a file (path, bytes with ``filename=``, or a binary file)."""
        result = self._run(kb.create_document_by_file(dataset_id, file, **settings))
        return _created(result, dataset_id)

    def update_document_by_text(
        self, dataset_id: str, document_id: str, **changes: Any
    ) -> DocumentCreated:
        """Replace a document's name and/or text; it is indexed again."""
        result = self._run(kb.update_document_by_text(dataset_id, document_id, **changes))
        return _created(result, dataset_id)

    def update_document_by_file(
        self, dataset_id: str, document_id: str, file: ops.FileInput, **settings: Any
    ) -> DocumentCreated:
        """Replace a document's content with a file; it is indexed again."""
        result = self._run(kb.update_document_by_file(dataset_id, document_id, file, **settings))
        return _created(result, dataset_id)

    def list_documents(self, dataset_id: str, **query: Any) -> DocumentList:
        """One page of a knowledge base's documents (``page``, ``limit``, ``keyword``,
        ``status``)."""
        return self._run(kb.list_documents(dataset_id, **query))

    def get_document(
        self, dataset_id: str, document_id: str, *, metadata: str = "all"
    ) -> DatasetDocument:
        """One document, with its metadata."""
        return self._run(kb.get_document(dataset_id, document_id, metadata=metadata))

    def delete_document(self, dataset_id: str, document_id: str) -> None:
        """Delete a document (it leaves retrieval)."""
        self._run(kb.delete_document(dataset_id, document_id))

    def get_indexing_status(self, dataset_id: str, batch: str) -> IndexingStatusList:
        """The indexing progress of a batch's documents."""
        return self._run(kb.get_indexing_status(dataset_id, batch))

    def wait_for_indexing(
        self,
        target: DocumentCreated | str,
        batch: str | None = None,
        *,
        timeout: float | None = 300.0,
        interval: float = 0.1,
        max_interval: float = 2.0,
    ) -> IndexingStatusList:
        """Poll until every document of the batch is ``completed``.

        Args:
            target: A `DocumentCreated` (what the create/update calls return), or a
                dataset id followed by ``batch``.
            batch: The batch, when ``target`` is a dataset id.
            timeout: Seconds to wait in all (``None``: forever).
            interval: First pause between polls; doubles up to ``max_interval``.
            max_interval: Longest pause.

        Returns:
            The final status.

        Raises:
            IndexingError: Dify reported ``error`` for a document (named in the message).
            IndexingTimeoutError: Not finished within ``timeout``.
        """
        watch = _watch(target, batch, timeout, interval, max_interval)
        while True:
            statuses = self.get_indexing_status(watch.dataset_id, watch.batch)
            failed = watch.failed(statuses)
            if failed:
                for s in failed:
                    if s.id not in watch.names:
                        name = self.get_document(watch.dataset_id, s.id, metadata="without").name
                        watch.names[s.id] = name or s.id
                raise watch.error(failed)
            if watch.done(statuses):
                return statuses
            time.sleep(watch.next_delay(statuses))

    # ------------------------------------------------------------------ segments

    def list_segments(self, dataset_id: str, document_id: str, **query: Any) -> SegmentList:
        """One page of a document's segments (``page``, ``limit``, ``status``, ``keyword``)."""
        return self._run(kb.list_segments(dataset_id, document_id, **query))

    def add_segments(
        self, dataset_id: str, document_id: str, segments: Sequence[Mapping[str, Any]]
    ) -> SegmentList:
        """Add segments (``{"content", "answer"?, "keywords"?}``) to an indexed document."""
        return self._run(kb.add_segments(dataset_id, document_id, segments))

    def update_segment(
        self, dataset_id: str, document_id: str, segment_id: str, **changes: Any
    ) -> SegmentResult:
        """Change a segment's ``content``, ``answer``, ``keywords`` or ``enabled``."""
        return self._run(kb.update_segment(dataset_id, document_id, segment_id, **changes))

    def delete_segment(self, dataset_id: str, document_id: str, segment_id: str) -> None:
        """Delete a segment."""
        self._run(kb.delete_segment(dataset_id, document_id, segment_id))

    # ------------------------------------------------------------------ metadata

    def list_metadata_fields(self, dataset_id: str) -> MetadataFieldList:
        """The knowledge base's metadata fields."""
        return self._run(kb.list_metadata_fields(dataset_id))

    def create_metadata_field(
        self, dataset_id: str, name: str, type: str = "string"
    ) -> MetadataField:
        """Add a metadata field (``string``, ``number`` or ``time``)."""
        return self._run(kb.create_metadata_field(dataset_id, name, type))

    def set_document_metadata(
        self,
        dataset_id: str,
        document_id: str,
        values: Mapping[str, Any],
        *,
        partial: bool = False,
    ) -> None:
        """Set a document's metadata by field name, creating missing fields (their type
        follows the value: ``string`` or ``number``).

        Args:
            dataset_id: Knowledge base.
            document_id: Document.
            values: ``{field name: value}``; values are strings or numbers.
            partial: Keep the document's other values (else they are replaced).

        Raises:
            TypeError: A value Dify cannot store, or of another type than its field.
        """
        fields = self.list_metadata_fields(dataset_id)
        missing, data = _metadata_ops(fields, document_id, values, partial)
        for name, kind in missing:
            fields.doc_metadata.append(self.create_metadata_field(dataset_id, name, kind))
        data[0]["metadata_list"] = _metadata_list(fields, values)
        self._run(kb.set_document_metadata(dataset_id, data))

    def set_documents_metadata(
        self, dataset_id: str, operation_data: Sequence[Mapping[str, Any]]
    ) -> None:
        """Dify's batch call as is (``[{"document_id", "metadata_list", "partial_update"}]``)."""
        self._run(kb.set_document_metadata(dataset_id, operation_data))


class AsyncDifyKnowledgeClient:
    """Native-async twin of `DifyKnowledgeClient` (same methods, as coroutines)."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        verify: bool | str = True,
    ) -> None:
        self._client = AsyncDifyClient(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            verify=verify,
            env_key=DATASET_KEY_ENV,
        )

    @property
    def client(self) -> AsyncDifyClient:
        """The underlying transport."""
        return self._client

    @property
    def base_url(self) -> str:
        """The Service API root."""
        return self._client.base_url

    def __repr__(self) -> str:
        return (
            f"AsyncDifyKnowledgeClient(base_url={self.base_url!r}, api_key=SecretStr('**********'))"
        )

    async def aclose(self) -> None:
        """Close this loop's pooled connections."""
        await self._client.aclose()

    async def __aenter__(self) -> AsyncDifyKnowledgeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, op: ops.Operation[T]) -> T:
        return await self._client._call(op)

    async def create_dataset(self, name: str, **settings: Any) -> Dataset:
        """See `DifyKnowledgeClient.create_dataset`."""
        return await self._run(kb.create_dataset(name, **settings))

    async def get_dataset(self, dataset_id: str) -> Dataset:
        """See `DifyKnowledgeClient.get_dataset`."""
        return await self._run(kb.get_dataset(dataset_id))

    async def update_dataset(self, dataset_id: str, **fields: Any) -> Dataset:
        """See `DifyKnowledgeClient.update_dataset`."""
        return await self._run(kb.update_dataset(dataset_id, **fields))

    async def delete_dataset(self, dataset_id: str) -> None:
        """See `DifyKnowledgeClient.delete_dataset`."""
        await self._run(kb.delete_dataset(dataset_id))

    async def list_datasets(
        self,
        *,
        page: int = 1,
        limit: int = 20,
        keyword: str | None = None,
        tag_ids: Sequence[str] | None = None,
        include_all: bool | None = None,
    ) -> DatasetList:
        """See `DifyKnowledgeClient.list_datasets`."""
        return await self._run(
            ops.list_datasets(
                page=page, limit=limit, keyword=keyword, tag_ids=tag_ids, include_all=include_all
            )
        )

    async def retrieve(
        self, dataset_id: str, query: str, *, retrieval_model: Mapping[str, Any] | None = None
    ) -> RetrieveResponse:
        """See `DifyKnowledgeClient.retrieve`."""
        return await self._run(ops.retrieve(dataset_id, query, retrieval_model=retrieval_model))

    async def create_document_by_text(
        self, dataset_id: str, name: str, text: str, **settings: Any
    ) -> DocumentCreated:
        """See `DifyKnowledgeClient.create_document_by_text`."""
        result = await self._run(kb.create_document_by_text(dataset_id, name, text, **settings))
        return _created(result, dataset_id)

    async def create_document_by_file(
        self, dataset_id: str, file: ops.FileInput, **settings: Any
    ) -> DocumentCreated:
        """See `DifyKnowledgeClient.create_document_by_file`."""
        result = await self._run(kb.create_document_by_file(dataset_id, file, **settings))
        return _created(result, dataset_id)

    async def update_document_by_text(
        self, dataset_id: str, document_id: str, **changes: Any
    ) -> DocumentCreated:
        """See `DifyKnowledgeClient.update_document_by_text`."""
        result = await self._run(kb.update_document_by_text(dataset_id, document_id, **changes))
        return _created(result, dataset_id)

    async def update_document_by_file(
        self, dataset_id: str, document_id: str, file: ops.FileInput, **settings: Any
    ) -> DocumentCreated:
        """See `DifyKnowledgeClient.update_document_by_file`."""
        result = await self._run(
            kb.update_document_by_file(dataset_id, document_id, file, **settings)
        )
        return _created(result, dataset_id)

    async def list_documents(self, dataset_id: str, **query: Any) -> DocumentList:
        """See `DifyKnowledgeClient.list_documents`."""
        return await self._run(kb.list_documents(dataset_id, **query))

    async def get_document(
        self, dataset_id: str, document_id: str, *, metadata: str = "all"
    ) -> DatasetDocument:
        """See `DifyKnowledgeClient.get_document`."""
        return await self._run(kb.get_document(dataset_id, document_id, metadata=metadata))

    async def delete_document(self, dataset_id: str, document_id: str) -> None:
        """See `DifyKnowledgeClient.delete_document`."""
        await self._run(kb.delete_document(dataset_id, document_id))

    async def get_indexing_status(self, dataset_id: str, batch: str) -> IndexingStatusList:
        """See `DifyKnowledgeClient.get_indexing_status`."""
        return await self._run(kb.get_indexing_status(dataset_id, batch))

    async def wait_for_indexing(
        self,
        target: DocumentCreated | str,
        batch: str | None = None,
        *,
        timeout: float | None = 300.0,  # noqa: ASYNC109 - a deadline for the polling
        interval: float = 0.1,
        max_interval: float = 2.0,
    ) -> IndexingStatusList:
        """See `DifyKnowledgeClient.wait_for_indexing`."""
        watch = _watch(target, batch, timeout, interval, max_interval)
        while True:
            statuses = await self.get_indexing_status(watch.dataset_id, watch.batch)
            failed = watch.failed(statuses)
            if failed:
                for s in failed:
                    if s.id not in watch.names:
                        doc = await self.get_document(watch.dataset_id, s.id, metadata="without")
                        watch.names[s.id] = doc.name or s.id
                raise watch.error(failed)
            if watch.done(statuses):
                return statuses
            await asyncio.sleep(watch.next_delay(statuses))

    async def list_segments(self, dataset_id: str, document_id: str, **query: Any) -> SegmentList:
        """See `DifyKnowledgeClient.list_segments`."""
        return await self._run(kb.list_segments(dataset_id, document_id, **query))

    async def add_segments(
        self, dataset_id: str, document_id: str, segments: Sequence[Mapping[str, Any]]
    ) -> SegmentList:
        """See `DifyKnowledgeClient.add_segments`."""
        return await self._run(kb.add_segments(dataset_id, document_id, segments))

    async def update_segment(
        self, dataset_id: str, document_id: str, segment_id: str, **changes: Any
    ) -> SegmentResult:
        """See `DifyKnowledgeClient.update_segment`."""
        return await self._run(kb.update_segment(dataset_id, document_id, segment_id, **changes))

    async def delete_segment(self, dataset_id: str, document_id: str, segment_id: str) -> None:
        """See `DifyKnowledgeClient.delete_segment`."""
        await self._run(kb.delete_segment(dataset_id, document_id, segment_id))

    async def list_metadata_fields(self, dataset_id: str) -> MetadataFieldList:
        """See `DifyKnowledgeClient.list_metadata_fields`."""
        return await self._run(kb.list_metadata_fields(dataset_id))

    async def create_metadata_field(
        self, dataset_id: str, name: str, type: str = "string"
    ) -> MetadataField:
        """See `DifyKnowledgeClient.create_metadata_field`."""
        return await self._run(kb.create_metadata_field(dataset_id, name, type))

    async def set_document_metadata(
        self,
        dataset_id: str,
        document_id: str,
        values: Mapping[str, Any],
        *,
        partial: bool = False,
    ) -> None:
        """See `DifyKnowledgeClient.set_document_metadata`."""
        fields = await self.list_metadata_fields(dataset_id)
        missing, data = _metadata_ops(fields, document_id, values, partial)
        for name, kind in missing:
            fields.doc_metadata.append(await self.create_metadata_field(dataset_id, name, kind))
        data[0]["metadata_list"] = _metadata_list(fields, values)
        await self._run(kb.set_document_metadata(dataset_id, data))

    async def set_documents_metadata(
        self, dataset_id: str, operation_data: Sequence[Mapping[str, Any]]
    ) -> None:
        """See `DifyKnowledgeClient.set_documents_metadata`."""
        await self._run(kb.set_document_metadata(dataset_id, operation_data))


def check_search_method(search_method: str | None) -> str | None:
    """``search_method`` as given, or a ``ValueError`` naming Dify's methods (no request)."""
    if search_method is not None and search_method not in ops.SEARCH_METHODS:
        raise ValueError(f"search_method must be one of {ops.SEARCH_METHODS}")
    return search_method


def knowledge_client_pair(
    *,
    api_key: str | SecretStr | None,
    base_url: str | None,
    timeout: TimeoutLike,
    max_retries: int | None,
    client: DifyKnowledgeClient | None = None,
    async_client: AsyncDifyKnowledgeClient | None = None,
) -> tuple[DifyKnowledgeClient, AsyncDifyKnowledgeClient]:
    """The sync and async knowledge clients of a store or index: the given ones, else new
    ones on one key and base URL (the async one takes the sync one's resolved settings)."""
    sync = client or DifyKnowledgeClient(
        api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
    )
    asynchronous = async_client or AsyncDifyKnowledgeClient(
        api_key=sync.client.api_key,
        base_url=sync.base_url,
        timeout=timeout,
        max_retries=max_retries,
    )
    return sync, asynchronous
