"""Knowledge-base write path over HTTP against DifyTestServer, sync and async.

Every operation of `DifyKnowledgeClient` / `AsyncDifyKnowledgeClient` runs once for real and
once into one error (a Dify error answer, or a clear error before any request).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from dify_integrations.core.errors import APIStatusError, BadRequestError, NotFoundError
from dify_integrations.core.knowledge import (
    DocumentCreated,
    IndexingError,
    IndexingTimeoutError,
    metadata_type,
)
from dify_integrations.core.knowledge_client import (
    AsyncDifyKnowledgeClient,
    DifyKnowledgeClient,
)
from dify_integrations.testing import DifyTestServer

MISSING = str(uuid.uuid4())


class KB:
    """Calls one knowledge client method, through the sync or the async client."""

    def __init__(self, kind: str, server: DifyTestServer) -> None:
        self.kind = kind
        self.server = server
        key, url = server.dataset_api_key, server.base_url
        self.sync = DifyKnowledgeClient(key, base_url=url) if kind == "sync" else None
        self.aclient = AsyncDifyKnowledgeClient(key, base_url=url) if kind == "async" else None

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.sync is not None:
            return getattr(self.sync, method)(*args, **kwargs)
        assert self.aclient is not None
        aclient = self.aclient

        async def run() -> Any:
            try:
                return await getattr(aclient, method)(*args, **kwargs)
            finally:
                await aclient.aclose()

        return asyncio.run(run())

    def close(self) -> None:
        if self.sync is not None:
            self.sync.close()


@pytest.fixture(scope="module")
def server() -> Iterator[DifyTestServer]:
    with DifyTestServer() as srv:
        srv.indexing_delay = 0.01
        yield srv


@pytest.fixture(params=["sync", "async"])
def kb(request: pytest.FixtureRequest, server: DifyTestServer) -> Iterator[KB]:
    runner = KB(request.param, server)
    yield runner
    runner.close()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def dataset_id(kb: KB) -> str:
    return str(kb("create_dataset", _name("kb")).id)


def _indexed(kb: KB, dataset_id: str, name: str, text: str) -> DocumentCreated:
    created: DocumentCreated = kb("create_document_by_text", dataset_id, name, text)
    kb("wait_for_indexing", created, timeout=10)
    return created


# --------------------------------------------------------------------------- datasets


def test_dataset_lifecycle(kb: KB) -> None:
    name = _name("Handbook")
    ds = kb("create_dataset", name, description="Team handbook", permission="only_me")
    assert ds.name == name
    assert ds.description == "Team handbook"
    assert ds.indexing_technique == "high_quality"
    assert kb("get_dataset", ds.id).id == ds.id
    renamed = kb("update_dataset", ds.id, name=name + "-v2", description="v2")
    assert (renamed.name, renamed.description) == (name + "-v2", "v2")
    listed = kb("list_datasets", keyword=name, include_all=True, limit=100)
    assert [d.id for d in listed.data] == [ds.id]
    assert kb("list_datasets", keyword=name, tag_ids=[MISSING]).data == []
    assert kb("delete_dataset", ds.id) is None
    with pytest.raises(NotFoundError, match="Dataset not found"):
        kb("get_dataset", ds.id)


def test_create_dataset_duplicate_name_is_409(kb: KB) -> None:
    name = _name("dup")
    kb("create_dataset", name)
    with pytest.raises(APIStatusError) as err:
        kb("create_dataset", name)
    assert (err.value.status_code, err.value.code) == (409, "dataset_name_duplicate")


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "error"),
    [
        ("update_dataset", (MISSING,), {"name": "x"}, NotFoundError),
        ("delete_dataset", (MISSING,), {}, NotFoundError),
        ("update_dataset", (MISSING,), {}, ValueError),
        ("list_datasets", (), {"tag_ids": "not-a-list"}, TypeError),
        ("create_dataset", ("",), {}, ValueError),
        ("create_dataset", ("x",), {"permission": "everyone"}, ValueError),
    ],
)
def test_dataset_errors(
    kb: KB, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    before = len(kb.server.request_log)
    with pytest.raises(error):
        kb(method, *args, **kwargs)
    if not issubclass(error, APIStatusError):
        assert len(kb.server.request_log) == before  # refused before any request


# --------------------------------------------------------------------------- documents


def test_document_lifecycle(kb: KB, dataset_id: str) -> None:
    created = kb(
        "create_document_by_text", dataset_id, "returns.md", "Unused items return in 30 days."
    )
    assert created.dataset_id == dataset_id
    assert created.document.name == "returns.md"
    assert created.batch
    assert created.document.indexing_status != "completed"  # indexing takes time
    # not retrievable before indexing completes
    assert kb("retrieve", dataset_id, "return items").records == []
    final = kb("wait_for_indexing", created, timeout=10)
    assert [s.indexing_status for s in final.data] == ["completed"]
    doc_id = created.document.id
    got = kb("get_document", dataset_id, doc_id)
    assert (got.name, got.indexing_status, got.segment_count) == ("returns.md", "completed", 1)
    hits = kb("retrieve", dataset_id, "return items").records
    assert [h.segment.document_id for h in hits] == [doc_id]

    updated = kb("update_document_by_text", dataset_id, doc_id, text="Refunds take 5 days.")
    kb("wait_for_indexing", dataset_id, updated.batch, timeout=10)
    assert "Refunds" in kb("retrieve", dataset_id, "refunds").records[0].segment.content

    by_file = kb(
        "update_document_by_file",
        dataset_id,
        doc_id,
        b"Exchange any time.",
        filename="exchange.txt",
    )
    kb("wait_for_indexing", by_file, timeout=10)
    assert kb("get_document", dataset_id, doc_id).name == "exchange.txt"

    second = kb("create_document_by_file", dataset_id, b"Shipping is free.", filename="ship.md")
    kb("wait_for_indexing", second, timeout=10)
    page = kb("list_documents", dataset_id, limit=1)
    assert (page.total, page.has_more, len(page.data)) == (2, True, 1)
    assert {d.name for d in kb("list_documents", dataset_id).data} == {"exchange.txt", "ship.md"}

    assert kb("delete_document", dataset_id, doc_id) is None
    remaining = kb("retrieve", dataset_id, "exchange").records
    assert [r.segment.document_id for r in remaining] == [second.document.id]
    assert [d.id for d in kb("list_documents", dataset_id).data] == [second.document.id]


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "error", "match"),
    [
        ("create_document_by_text", (MISSING, "a", "b"), {}, NotFoundError, "Dataset not found"),
        ("create_document_by_text", (None, "a", "b"), {}, TypeError, "dataset_id"),
        ("create_document_by_file", (MISSING, b""), {"filename": "a.txt"}, ValueError, "empty"),
        ("update_document_by_text", ("DS", MISSING), {"text": "x"}, NotFoundError, "Document"),
        (
            "update_document_by_file",
            ("DS", MISSING, b"x"),
            {"filename": "a"},
            NotFoundError,
            "Document",
        ),
        ("list_documents", ("DS",), {"status": "done"}, ValueError, "status"),
        ("get_document", ("DS", MISSING), {}, NotFoundError, "Document not found"),
        ("delete_document", ("DS", MISSING), {}, NotFoundError, "Document Not Exists"),
        ("get_indexing_status", ("DS", "nope"), {}, NotFoundError, "Documents not found"),
    ],
)
def test_document_errors(
    kb: KB,
    dataset_id: str,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    args = tuple(dataset_id if a == "DS" else a for a in args)
    with pytest.raises(error, match=match):
        kb(method, *args, **kwargs)


def test_create_document_needs_indexing_technique(kb: KB) -> None:
    ds = kb("create_dataset", _name("bare"), indexing_technique=None)
    with pytest.raises(BadRequestError, match="indexing_technique is required"):
        kb("create_document_by_text", ds.id, "a.md", "text")
    created = kb("create_document_by_text", ds.id, "a.md", "text", indexing_technique="economy")
    assert created.document.name == "a.md"


# --------------------------------------------------------------------------- indexing


def test_wait_for_indexing_names_the_failed_document(kb: KB, dataset_id: str) -> None:
    kb.server.fail_indexing("broken.md", at="cleaning", error="Unsupported encoding.")
    try:
        created = kb("create_document_by_text", dataset_id, "broken.md", "text")
        with pytest.raises(IndexingError, match=r"'broken.md'.*Unsupported encoding") as err:
            kb("wait_for_indexing", created, timeout=10)
        assert err.value.document_id == created.document.id
        assert err.value.document_name == "broken.md"
        # without the DocumentCreated the name is looked up
        with pytest.raises(IndexingError, match=r"'broken\.md'"):
            kb("wait_for_indexing", dataset_id, created.batch, timeout=10)
    finally:
        kb.server.clear_indexing_failures()


def test_wait_for_indexing_times_out(kb: KB, server: DifyTestServer, dataset_id: str) -> None:
    server.indexing_delay = 5.0
    try:
        created = kb("create_document_by_text", dataset_id, "slow.md", "text")
    finally:
        server.indexing_delay = 0.01
    with pytest.raises(IndexingTimeoutError, match=r"slow.md \(waiting\)"):
        kb("wait_for_indexing", created, timeout=0.2)


def test_indexing_goes_through_every_state(server: DifyTestServer) -> None:
    server.indexing_delay = 0.05
    seen: list[str] = []
    try:
        with DifyKnowledgeClient(server.dataset_api_key, base_url=server.base_url) as kb:
            ds = kb.create_dataset(_name("states"))
            created = kb.create_document_by_text(ds.id, "a.md", "text")
            while not seen or seen[-1] != "completed":
                status = kb.get_indexing_status(ds.id, created.batch).data[0].indexing_status
                if not seen or seen[-1] != status:
                    seen.append(str(status))
    finally:
        server.indexing_delay = 0.01
    assert seen[-1] == "completed"
    order = ["waiting", "parsing", "cleaning", "splitting", "indexing", "completed"]
    assert seen == sorted(seen, key=order.index)  # never goes back


# --------------------------------------------------------------------------- segments


def test_segments(kb: KB, dataset_id: str) -> None:
    doc = _indexed(kb, dataset_id, "faq.md", "Opening hours are 9 to 5.").document
    listed = kb("list_segments", dataset_id, doc.id)
    assert [s.content for s in listed.data] == ["Opening hours are 9 to 5."]
    added = kb(
        "add_segments",
        dataset_id,
        doc.id,
        [{"content": "Closed on Sundays.", "keywords": ["sunday"]}],
    )
    seg = added.data[0]
    assert (seg.content, seg.keywords, seg.document_id) == (
        "Closed on Sundays.",
        ["sunday"],
        doc.id,
    )
    assert kb("list_segments", dataset_id, doc.id).total == 2
    assert kb("retrieve", dataset_id, "sundays").records[0].segment.id == seg.id
    changed = kb("update_segment", dataset_id, doc.id, seg.id, content="Open on Sundays too.")
    assert changed.data.content == "Open on Sundays too."
    kb("update_segment", dataset_id, doc.id, seg.id, enabled=False)
    assert all(r.segment.id != seg.id for r in kb("retrieve", dataset_id, "sundays").records)
    assert kb("delete_segment", dataset_id, doc.id, seg.id) is None
    assert kb("list_segments", dataset_id, doc.id).total == 1


@pytest.mark.parametrize(
    ("method", "extra", "kwargs", "error", "match"),
    [
        ("list_segments", (), {"limit": 0}, ValueError, "limit"),
        ("add_segments", ([{"content": ""}],), {}, ValueError, "content"),
        ("update_segment", (MISSING,), {"content": "x"}, NotFoundError, "Segment not found"),
        ("delete_segment", (MISSING,), {}, NotFoundError, "Segment not found"),
    ],
)
def test_segment_errors(
    kb: KB,
    dataset_id: str,
    method: str,
    extra: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    doc = _indexed(kb, dataset_id, "x.md", "Some text.").document
    with pytest.raises(error, match=match):
        kb(method, dataset_id, doc.id, *extra, **kwargs)


def test_add_segments_before_indexing_completes_is_404(kb: KB, server: DifyTestServer) -> None:
    ds = kb("create_dataset", _name("early"))
    server.indexing_delay = 5.0
    try:
        created = kb("create_document_by_text", ds.id, "a.md", "text")
    finally:
        server.indexing_delay = 0.01
    with pytest.raises(NotFoundError, match="Document is not completed"):
        kb("add_segments", ds.id, created.document.id, [{"content": "more"}])


# --------------------------------------------------------------------------- metadata


def test_metadata(kb: KB, dataset_id: str) -> None:
    doc = _indexed(kb, dataset_id, "a.md", "Alpha text.").document
    other = _indexed(kb, dataset_id, "b.md", "Beta text.").document
    field = kb("create_metadata_field", dataset_id, "team", "string")
    assert (field.name, field.type) == ("team", "string")
    kb("set_document_metadata", dataset_id, doc.id, {"team": "sales", "year": 2024})
    kb("set_document_metadata", dataset_id, other.id, {"team": "ops", "year": 2025})
    fields = kb("list_metadata_fields", dataset_id).by_name()
    assert {n: (f.type, f.count) for n, f in fields.items()} == {
        "team": ("string", 2),
        "year": ("number", 2),
    }
    assert kb("get_document", dataset_id, doc.id).metadata == {"team": "sales", "year": 2024}
    kb("set_document_metadata", dataset_id, doc.id, {"year": 2023}, partial=True)
    assert kb("get_document", dataset_id, doc.id).metadata == {"team": "sales", "year": 2023}
    filtered = kb(
        "retrieve",
        dataset_id,
        "text",
        retrieval_model={
            "top_k": 5,
            "metadata_filtering_conditions": {
                "logical_operator": "and",
                "conditions": [{"name": "team", "comparison_operator": "is", "value": "ops"}],
            },
        },
    )
    assert [r.segment.document_id for r in filtered.records] == [other.id]
    # Dify's batch call as is
    kb(
        "set_documents_metadata",
        dataset_id,
        [
            {
                "document_id": other.id,
                "metadata_list": [{"id": fields["team"].id, "name": "team", "value": "legal"}],
            }
        ],
    )
    assert kb("get_document", dataset_id, other.id).metadata == {"team": "legal"}


@pytest.mark.parametrize(
    ("method", "args", "error", "match"),
    [
        ("create_metadata_field", ("source", "string"), BadRequestError, "Built-in"),
        ("create_metadata_field", ("x", "boolean"), ValueError, "type"),
        ("list_metadata_fields", (), None, ""),
        ("set_document_metadata", (MISSING, {"k": "v"}), BadRequestError, "Document not found"),
        ("set_document_metadata", (MISSING, {"k": True}), TypeError, "strings and numbers"),
    ],
)
def test_metadata_errors(
    kb: KB,
    dataset_id: str,
    method: str,
    args: tuple[Any, ...],
    error: type[Exception] | None,
    match: str,
) -> None:
    if error is None:  # list on a missing dataset
        with pytest.raises(NotFoundError, match="Dataset not found"):
            kb(method, MISSING)
        return
    with pytest.raises(error, match=match):
        kb(method, dataset_id, *args)


def test_metadata_field_name_taken_is_400(kb: KB, dataset_id: str) -> None:
    kb("create_metadata_field", dataset_id, "team")
    with pytest.raises(BadRequestError, match="Metadata name already exists"):
        kb("create_metadata_field", dataset_id, "team")


def test_metadata_value_of_another_type_is_refused(kb: KB, dataset_id: str) -> None:
    doc = _indexed(kb, dataset_id, "a.md", "text").document
    kb("create_metadata_field", dataset_id, "year", "number")
    with pytest.raises(TypeError, match="'year' is a number field"):
        kb("set_document_metadata", dataset_id, doc.id, {"year": "2024"})


def test_metadata_type() -> None:
    assert metadata_type("x") == "string"
    assert metadata_type(3) == metadata_type(2.5) == "number"
    for bad in (True, None, [1], {"a": 1}, float("nan")):
        with pytest.raises(TypeError):
            metadata_type(bad)


def test_app_key_is_refused_before_any_request(server: DifyTestServer) -> None:
    app = server.create_chat_app(_name("app"))
    with (
        DifyKnowledgeClient(app.api_key, base_url=server.base_url) as kb,
        pytest.raises(ValueError, match="knowledge"),
    ):
        kb.create_dataset("x")


def test_key_from_environment_and_repr(
    server: DifyTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIFY_DATASET_API_KEY", server.dataset_api_key)
    with DifyKnowledgeClient(base_url=server.base_url) as kb:
        assert kb.get_dataset(kb.create_dataset(_name("env")).id).name
        assert server.dataset_api_key not in repr(kb)


def test_reads_are_retried_and_creates_are_not(kb: KB, dataset_id: str) -> None:
    server = kb.server
    path = f"/datasets/{dataset_id}/documents"
    server.inject_fault(route=path, kind="status", status=503, method="GET", retry_after=0)
    assert kb("list_documents", dataset_id).total == 0  # the 503 was retried
    assert len(server.requests_to(path, "GET")) == 2
    create = f"/datasets/{dataset_id}/document/create-by-text"
    server.inject_fault(route=create, kind="status", status=503, method="POST", retry_after=0)
    with pytest.raises(APIStatusError) as err:
        kb("create_document_by_text", dataset_id, "a.md", "text")
    assert err.value.status_code == 503
    assert len(server.requests_to(create, "POST")) == 1  # never resent: it may have landed
