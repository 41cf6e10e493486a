"""Idempotent ingestion of texts into a Dify knowledge base, shared by the framework stores.

One text becomes one Dify document. Its metadata becomes Dify document metadata (fields are
created as needed, typed ``string`` or ``number`` after the values). Three reserved fields
make re-runs safe:

- ``ingest_key``: the stable key of the text (the caller's id, else ``key_fn(text,
  metadata)``, by default the ``source`` plus a hash of the content). A re-run finds the
  document by this key and creates no duplicate.
- ``ingest_hash``: a hash of text and metadata; a document whose key exists with the same
  hash is skipped, with another hash it is updated (and indexed again).
- ``ingest_id``: the caller's id (a LangChain ``Document.id``, a LlamaIndex ``doc_id``), when
  one was given; it is the id the frameworks show for the document.

Dify's built-in metadata names (``source``, ``document_name``, ...) cannot be created as
fields, so they are stored with a ``doc_`` prefix and read back under their own name.

`ingest` / `aingest` drive the clients; the rules (`IngestPlan`) are pure. A document that
fails (a request error, a metadata value Dify cannot hold, indexing ``error``) is reported by
name in the `IngestReport`; the others still complete.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from .errors import DifyError
from .knowledge import (
    DatasetDocument,
    DocumentCreated,
    MetadataFieldList,
    metadata_type,
)
from .knowledge_client import AsyncDifyKnowledgeClient, DifyKnowledgeClient
from .models import RetrieveRecord

__all__ = [
    "BUILT_IN_FIELDS",
    "HASH_FIELD",
    "ID_FIELD",
    "KEY_FIELD",
    "IngestFailure",
    "IngestItem",
    "IngestPlan",
    "IngestReport",
    "IngestionError",
    "Progress",
    "aall_segments",
    "aingest",
    "alist_all_documents",
    "all_segments",
    "aopen_dataset",
    "default_key",
    "document_fields",
    "filter_conditions",
    "from_stored_metadata",
    "ingest",
    "list_all_documents",
    "open_dataset",
    "record_fields",
    "resolve_ids",
    "to_stored_metadata",
]

KEY_FIELD = "ingest_key"
HASH_FIELD = "ingest_hash"
ID_FIELD = "ingest_id"
RESERVED = (KEY_FIELD, HASH_FIELD, ID_FIELD)
#: Dify's built-in metadata names: stored as ``doc_<name>``.
BUILT_IN_FIELDS = ("document_name", "uploader", "upload_date", "last_update_date", "source")
_PREFIX = "doc_"

KeyFn = Callable[[str, Mapping[str, Any]], str]


# --------------------------------------------------------------------------- metadata


def to_stored_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The Dify metadata of a framework's metadata: ``None`` values dropped, built-in
    names prefixed; every value checked (strings and numbers only).

    Raises:
        TypeError: A value Dify cannot store (named in the message).
        ValueError: A key that is one of the reserved ``ingest_*`` fields.
    """
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"metadata keys must be non-empty strings, got {key!r}")
        if key in RESERVED:
            raise ValueError(f"metadata key {key!r} is reserved for idempotent ingestion")
        if value is None:
            continue
        try:
            metadata_type(value)
        except TypeError:
            raise TypeError(
                f"metadata {key!r}: Dify document metadata holds strings and numbers, not "
                f"{type(value).__name__} ({value!r}); convert it (e.g. json.dumps) first"
            ) from None
        out[_PREFIX + key if key in BUILT_IN_FIELDS else key] = value
    return out


def from_stored_metadata(stored: Mapping[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """The framework metadata and the caller's id (``ingest_id``) of Dify metadata."""
    out: dict[str, Any] = {}
    given_id: str | None = None
    for key, value in (stored or {}).items():
        if key == ID_FIELD:
            given_id = None if value is None else str(value)
        elif key in RESERVED:
            continue
        elif key.startswith(_PREFIX) and key[len(_PREFIX) :] in BUILT_IN_FIELDS:
            out[key[len(_PREFIX) :]] = value
        else:
            out[key] = value
    return out, given_id


def _hash(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def default_key(text: str, metadata: Mapping[str, Any]) -> str:
    """``<source>#<content hash>`` (just the hash when there is no ``source``/``file_path``)."""
    source = metadata.get("source") or metadata.get("file_path")
    digest = _hash(text)[:32]
    return f"{source}#{digest}" if source else digest


def record_fields(record: RetrieveRecord) -> tuple[str, dict[str, Any], str | None, float | None]:
    """``(text, framework metadata, id, score)`` of a retrieve record of a store's dataset;
    the id is the caller's id when one was given at ingestion, else the document id."""
    segment = record.segment
    stored = (segment.document.doc_metadata if segment and segment.document else None) or {}
    metadata, given_id = from_stored_metadata(stored)
    doc_id = given_id or (segment.document_id if segment else None)
    return record.text, metadata, doc_id, record.score


# --------------------------------------------------------------------------- plan


@dataclass
class IngestItem:
    """One text to ingest.

    Attributes:
        text: The content.
        metadata: Framework metadata (strings and numbers; ``None`` values dropped).
        name: The Dify document name (default: the ``source`` file name, else the key).
        id: The caller's id (shown back as the document's id; found again on a re-run).
        key: The stable key (default: ``id`` when given, else ``key_fn(text, metadata)``).
    """

    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    id: str | None = None
    key: str | None = None


@dataclass
class IngestFailure:
    """A document that did not make it, and why."""

    index: int
    name: str
    key: str
    error: BaseException
    document_id: str | None = None

    def __str__(self) -> str:
        return f"{self.name}: {self.error}"


class IngestionError(DifyError):
    """Some documents failed; ``report`` has the others' ids and every failure by name."""

    def __init__(self, message: str, report: IngestReport | None = None) -> None:
        super().__init__(message)
        self.report = report

    def _state(self) -> dict[str, Any]:
        return {"report": self.report}


@dataclass
class IngestReport:
    """What an ingestion did.

    Attributes:
        ids: Per input, in order: the id shown for the document (the caller's id, else the
            Dify document id), ``None`` for a failed one.
        document_ids: Per input: the Dify document id (``None`` when it was never created).
        created, updated, skipped: Counts.
        failures: Failed documents, by name, with the error.
    """

    ids: list[str | None]
    document_ids: list[str | None]
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failures: list[IngestFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No document failed."""
        return not self.failures

    def raise_for_failures(self) -> None:
        """Raise `IngestionError` naming every failed document (the others are in Dify)."""
        if self.failures:
            names = "; ".join(str(f) for f in sorted(self.failures, key=lambda f: f.index))
            raise IngestionError(
                f"{len(self.failures)} of {len(self.ids)} documents failed: {names}", self
            )


@dataclass
class _Action:
    index: int
    kind: Literal["create", "update", "skip", "fail"]
    item: IngestItem
    name: str
    key: str
    stored: dict[str, Any]
    document_id: str | None = None
    created: DocumentCreated | None = None
    error: BaseException | None = None
    shown_id: str | None = None


class IngestPlan:
    """The pure rules of an ingestion: what to create, update or skip, and which metadata
    fields are missing."""

    def __init__(
        self,
        items: Sequence[IngestItem],
        existing: Iterable[DatasetDocument],
        fields: MetadataFieldList,
        *,
        key_fn: KeyFn | None = None,
    ) -> None:
        self.fields = fields
        known = {f.name: f.type for f in fields.doc_metadata}
        by_key: dict[str, DatasetDocument] = {}
        self._by_id: dict[str, DatasetDocument] = {}
        for doc in existing:
            key = doc.metadata.get(KEY_FIELD)
            if key is not None:
                by_key.setdefault(str(key), doc)
            given = doc.metadata.get(ID_FIELD)
            if given is not None:
                self._by_id.setdefault(str(given), doc)
        self.actions: list[_Action] = []
        self.missing_fields: dict[str, str] = {}
        seen: set[str] = set()
        for index, item in enumerate(items):
            self.actions.append(self._plan(index, item, by_key, known, seen, key_fn))

    def _plan(
        self,
        index: int,
        item: IngestItem,
        by_key: Mapping[str, DatasetDocument],
        known: Mapping[str, str | None],
        seen: set[str],
        key_fn: KeyFn | None,
    ) -> _Action:
        text, metadata = item.text, dict(item.metadata)
        key = item.key if item.key is not None else item.id
        if key is None:
            key = (key_fn or default_key)(text, metadata)
        source = metadata.get("source") or metadata.get("file_path") or metadata.get("file_name")
        name = item.name or (str(source).replace("\\", "/").rsplit("/", 1)[-1] if source else key)
        action = _Action(index, "create", item, name[:255] or key, str(key), {})
        try:
            if not isinstance(text, str) or not text.strip():
                raise ValueError("the text is empty: Dify cannot index an empty document")
            stored = to_stored_metadata(metadata)
            content_hash = _hash(text, json.dumps(stored, sort_keys=True, default=str))
            stored[KEY_FIELD] = action.key
            stored[HASH_FIELD] = content_hash
            if item.id is not None:
                stored[ID_FIELD] = str(item.id)
            for fname, value in stored.items():
                kind = metadata_type(value)
                have = known.get(fname) or self.missing_fields.get(fname)
                if have is not None and have != kind and not (have == "time" and kind == "number"):
                    raise TypeError(
                        f"metadata {fname!r} is a {have} field in this knowledge base, "
                        f"but the value {value!r} is a {kind}"
                    )
            for fname, value in stored.items():
                if fname not in known:
                    self.missing_fields.setdefault(fname, metadata_type(value))
            action.stored = stored
        except (TypeError, ValueError) as exc:
            action.kind, action.error = "fail", exc
            return action
        if action.key in seen:
            action.kind = "skip"  # the same key twice in one call: the first one wins
            return action
        seen.add(action.key)
        doc = self._by_id.get(str(item.id)) if item.id is not None else None
        if doc is None:
            doc = by_key.get(action.key)
        if doc is not None:
            action.document_id = doc.id
            stored_id = doc.metadata.get(ID_FIELD)
            action.shown_id = str(stored_id) if stored_id is not None else doc.id
            same = doc.metadata.get(HASH_FIELD) == stored[HASH_FIELD]
            action.kind = "skip" if same and doc.indexing_status != "error" else "update"
        return action

    def metadata_list(self, action: _Action) -> list[dict[str, Any]]:
        """Dify's ``metadata_list`` of an action (fields must exist by now)."""
        ids = {f.name: f.id for f in self.fields.doc_metadata}
        return [{"id": ids[n], "name": n, "value": v} for n, v in action.stored.items()]


# --------------------------------------------------------------------------- progress


class Progress:
    """A one-line progress bar on a terminal (off when ``stream`` is not a TTY, or when
    ``enabled=False``)."""

    def __init__(
        self,
        total: int,
        label: str = "Indexing",
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) if enabled is None else enabled
        self.total, self.label = total, label
        self.done = self.failed = 0

    def update(self, name: str, ok: bool = True) -> None:
        """One more document finished."""
        self.done += 1
        self.failed += 0 if ok else 1
        if self.enabled:
            width = 24
            filled = int(width * self.done / self.total) if self.total else width
            bar = "#" * filled + "-" * (width - filled)
            errors = f", {self.failed} failed" if self.failed else ""
            self.stream.write(
                f"\r{self.label} [{bar}] {self.done}/{self.total}{errors} {name[:40]:<40}"
            )
            self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.enabled and self.total:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------- drivers


def _report(plan: IngestPlan) -> IngestReport:
    n = len(plan.actions)
    return IngestReport(ids=[None] * n, document_ids=[None] * n)


def _finish(report: IngestReport, action: _Action, error: BaseException | None) -> None:
    if error is not None:
        report.failures.append(
            IngestFailure(action.index, action.name, action.key, error, action.document_id)
        )
        report.document_ids[action.index] = action.document_id
        return
    report.document_ids[action.index] = action.document_id
    given = action.item.id
    if action.kind == "skip" and action.shown_id is not None:
        report.ids[action.index] = action.shown_id  # the document already there
    else:
        report.ids[action.index] = str(given) if given is not None else action.document_id
    if action.kind == "create":
        report.created += 1
    elif action.kind == "update":
        report.updated += 1
    else:
        report.skipped += 1


def _skip_target(plan: IngestPlan, action: _Action) -> str | None:
    """For a duplicate key within one call: the document id of its first occurrence."""
    for other in plan.actions:
        if other.key == action.key and other is not action and other.kind != "skip":
            return other.document_id
    return action.document_id


def list_all_documents(client: DifyKnowledgeClient, dataset_id: str) -> list[DatasetDocument]:
    """Every document of a knowledge base (all pages)."""
    docs: list[DatasetDocument] = []
    page = 1
    while True:
        batch = client.list_documents(dataset_id, page=page, limit=100)
        docs.extend(batch.data)
        if not batch.has_more or not batch.data:
            return docs
        page += 1


async def alist_all_documents(
    client: AsyncDifyKnowledgeClient, dataset_id: str
) -> list[DatasetDocument]:
    """Every document of a knowledge base (all pages), async."""
    docs: list[DatasetDocument] = []
    page = 1
    while True:
        batch = await client.list_documents(dataset_id, page=page, limit=100)
        docs.extend(batch.data)
        if not batch.has_more or not batch.data:
            return docs
        page += 1


def ingest(
    client: DifyKnowledgeClient,
    dataset_id: str,
    items: Sequence[IngestItem],
    *,
    wait: bool = True,
    timeout: float | None = 600.0,
    key_fn: KeyFn | None = None,
    progress: bool | None = None,
    document_settings: Mapping[str, Any] | None = None,
) -> IngestReport:
    """Create, update or skip one Dify document per item; see the module docstring.

    Args:
        client: A knowledge client.
        dataset_id: The knowledge base.
        items: The texts.
        wait: Wait until every document is indexed (failures of indexing are reported).
        timeout: Seconds to wait for indexing in all.
        key_fn: ``key_fn(text, metadata) -> str``: the stable key of items without an id.
        progress: Progress bar (``None``: when stderr is a terminal).
        document_settings: Extra fields of ``create-by-text`` (``process_rule``...).

    Returns:
        The report; failed documents are in ``failures`` (never raised here).
    """
    plan = IngestPlan(
        items,
        list_all_documents(client, dataset_id),
        client.list_metadata_fields(dataset_id),
        key_fn=key_fn,
    )
    for fname, kind in plan.missing_fields.items():
        plan.fields.doc_metadata.append(client.create_metadata_field(dataset_id, fname, kind))
    report = _report(plan)
    bar = Progress(len(plan.actions), enabled=progress)
    pending: list[_Action] = []
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        for action in plan.actions:
            if action.kind == "fail":
                _finish(report, action, action.error)
                bar.update(action.name, ok=False)
                continue
            if action.kind == "skip":
                action.document_id = _skip_target(plan, action)
                _finish(report, action, None)
                bar.update(action.name)
                continue
            try:
                settings = dict(document_settings or {})
                if action.kind == "create":
                    action.created = client.create_document_by_text(
                        dataset_id, action.name, action.item.text, **settings
                    )
                    action.document_id = action.created.document.id
                else:
                    assert action.document_id is not None
                    action.created = client.update_document_by_text(
                        dataset_id, action.document_id, name=action.name, text=action.item.text
                    )
                client.set_documents_metadata(
                    dataset_id,
                    [
                        {
                            "document_id": action.document_id,
                            "metadata_list": plan.metadata_list(action),
                        }
                    ],
                )
            except (DifyError, ValueError, TypeError) as exc:
                _finish(report, action, exc)
                bar.update(action.name, ok=False)
                continue
            if wait:
                pending.append(action)
            else:
                _finish(report, action, None)
                bar.update(action.name)
        for action in pending:
            assert action.created is not None
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            try:
                client.wait_for_indexing(action.created, timeout=left)
            except (DifyError, ValueError) as exc:
                _finish(report, action, exc)
                bar.update(action.name, ok=False)
                continue
            _finish(report, action, None)
            bar.update(action.name)
    finally:
        bar.close()
    return report


async def aingest(
    client: AsyncDifyKnowledgeClient,
    dataset_id: str,
    items: Sequence[IngestItem],
    *,
    wait: bool = True,
    timeout: float | None = 600.0,  # noqa: ASYNC109 - a deadline for indexing, as in ingest
    key_fn: KeyFn | None = None,
    progress: bool | None = None,
    document_settings: Mapping[str, Any] | None = None,
) -> IngestReport:
    """Async `ingest` (documents are created one by one, indexing is awaited together)."""
    plan = IngestPlan(
        items,
        await alist_all_documents(client, dataset_id),
        await client.list_metadata_fields(dataset_id),
        key_fn=key_fn,
    )
    for fname, kind in plan.missing_fields.items():
        plan.fields.doc_metadata.append(await client.create_metadata_field(dataset_id, fname, kind))
    report = _report(plan)
    bar = Progress(len(plan.actions), enabled=progress)
    pending: list[_Action] = []
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        for action in plan.actions:
            if action.kind == "fail":
                _finish(report, action, action.error)
                bar.update(action.name, ok=False)
                continue
            if action.kind == "skip":
                action.document_id = _skip_target(plan, action)
                _finish(report, action, None)
                bar.update(action.name)
                continue
            try:
                settings = dict(document_settings or {})
                if action.kind == "create":
                    action.created = await client.create_document_by_text(
                        dataset_id, action.name, action.item.text, **settings
                    )
                    action.document_id = action.created.document.id
                else:
                    assert action.document_id is not None
                    action.created = await client.update_document_by_text(
                        dataset_id, action.document_id, name=action.name, text=action.item.text
                    )
                await client.set_documents_metadata(
                    dataset_id,
                    [
                        {
                            "document_id": action.document_id,
                            "metadata_list": plan.metadata_list(action),
                        }
                    ],
                )
            except (DifyError, ValueError, TypeError) as exc:
                _finish(report, action, exc)
                bar.update(action.name, ok=False)
                continue
            if wait:
                pending.append(action)
            else:
                _finish(report, action, None)
                bar.update(action.name)

        async def wait_one(action: _Action) -> None:
            assert action.created is not None
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            try:
                await client.wait_for_indexing(action.created, timeout=left)
            except (DifyError, ValueError) as exc:
                _finish(report, action, exc)
                bar.update(action.name, ok=False)
                return
            _finish(report, action, None)
            bar.update(action.name)

        await asyncio.gather(*(wait_one(a) for a in pending))
    finally:
        bar.close()
    return report


def resolve_ids(ids: Iterable[str], documents: Sequence[DatasetDocument]) -> list[str]:
    """Dify document ids of ``ids`` (each a Dify document id or a caller's ``ingest_id``),
    without duplicates; unknown ids are left out."""
    lookup: dict[str, str] = {d.id: d.id for d in documents}
    for doc in documents:
        given = doc.metadata.get(ID_FIELD)
        if given is not None:
            lookup[str(given)] = doc.id
    out: list[str] = []
    for wanted in ids:
        target = lookup.get(str(wanted))
        if target is not None and target not in out:
            out.append(target)
    return out


# --------------------------------------------------------------------------- reading back


def filter_conditions(filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Dify's ``metadata_filtering_conditions`` of a framework filter.

    ``{"logical_operator": ..., "conditions": [...]}`` (Dify's own shape) is passed through
    with condition names mapped like stored metadata; a plain ``{name: value}`` means every
    name equals its value (``is`` for strings, ``=`` for numbers, ``in`` for a list).

    Raises:
        TypeError: A value that cannot be compared in Dify.
    """
    if filter is None:
        return None
    if not isinstance(filter, Mapping):
        raise TypeError(f"filter must be a dict, not {type(filter).__name__}")
    if "conditions" in filter:
        raw = filter.get("conditions") or []
        conditions = [
            {**c, "name": _stored_name(str(c.get("name")))} for c in raw if isinstance(c, Mapping)
        ]
        if len(conditions) != len(raw):
            raise TypeError("filter['conditions'] must be a list of dicts")
        return {"logical_operator": filter.get("logical_operator", "and"), "conditions": conditions}
    out: list[dict[str, Any]] = []
    for name, value in filter.items():
        if isinstance(value, list | tuple):
            out.append(
                {
                    "name": _stored_name(name),
                    "comparison_operator": "in",
                    "value": [str(v) for v in value],
                }
            )
            continue
        kind = metadata_type(value)
        op = "=" if kind == "number" else "is"
        out.append({"name": _stored_name(name), "comparison_operator": op, "value": value})
    return {"logical_operator": "and", "conditions": out}


def _stored_name(name: str) -> str:
    return _PREFIX + name if name in BUILT_IN_FIELDS else name


def document_fields(
    doc: DatasetDocument, segments: Sequence[Any]
) -> tuple[str, dict[str, Any], str]:
    """``(text, framework metadata, id)`` of a stored document: the text is its segments in
    order, joined by blank lines; the id is the caller's id when one was given."""
    metadata, given_id = from_stored_metadata(doc.metadata)
    ordered = sorted(segments, key=lambda s: s.position or 0)
    return "\n\n".join(s.content for s in ordered), metadata, given_id or doc.id


def _exact(datasets: Iterable[Any], name: str) -> str | None:
    for ds in datasets:
        if ds.name == name:
            return str(ds.id)
    return None


def open_dataset(
    client: DifyKnowledgeClient,
    dataset_id: str | None,
    dataset_name: str | None,
    settings: Mapping[str, Any] | None = None,
) -> str:
    """The id of ``dataset_id``, else of the dataset named ``dataset_name`` (created when it
    does not exist yet, so that re-running an ingestion fills the same one)."""
    if dataset_id is not None:
        return dataset_id
    if not dataset_name:
        raise ValueError("pass dataset_id= (an existing knowledge base) or dataset_name=")
    page = 1
    while True:
        found = client.list_datasets(page=page, limit=100, keyword=dataset_name)
        hit = _exact(found.data, dataset_name)
        if hit is not None:
            return hit
        if not found.has_more or not found.data:
            break
        page += 1
    return client.create_dataset(dataset_name, **dict(settings or {})).id


async def aopen_dataset(
    client: AsyncDifyKnowledgeClient,
    dataset_id: str | None,
    dataset_name: str | None,
    settings: Mapping[str, Any] | None = None,
) -> str:
    """Async `open_dataset`."""
    if dataset_id is not None:
        return dataset_id
    if not dataset_name:
        raise ValueError("pass dataset_id= (an existing knowledge base) or dataset_name=")
    page = 1
    while True:
        found = await client.list_datasets(page=page, limit=100, keyword=dataset_name)
        hit = _exact(found.data, dataset_name)
        if hit is not None:
            return hit
        if not found.has_more or not found.data:
            break
        page += 1
    return (await client.create_dataset(dataset_name, **dict(settings or {}))).id


def all_segments(client: DifyKnowledgeClient, dataset_id: str, document_id: str) -> list[Any]:
    """Every segment of a document (all pages)."""
    out: list[Any] = []
    page = 1
    while True:
        batch = client.list_segments(dataset_id, document_id, page=page, limit=100)
        out.extend(batch.data)
        if not batch.has_more or not batch.data:
            return out
        page += 1


async def aall_segments(
    client: AsyncDifyKnowledgeClient, dataset_id: str, document_id: str
) -> list[Any]:
    """Async `all_segments`."""
    out: list[Any] = []
    page = 1
    while True:
        batch = await client.list_segments(dataset_id, document_id, page=page, limit=100)
        out.extend(batch.data)
        if not batch.has_more or not batch.data:
            return out
        page += 1
