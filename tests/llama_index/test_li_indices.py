"""`DifyIndex` and `DifyReader` over HTTP against DifyTestServer: readers in, query engine out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import Document, SimpleDirectoryReader
from llama_index.core.llms import MockLLM
from llama_index.core.schema import QueryBundle
from llama_index.core.settings import Settings
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from dify_integrations.core.ingest import IngestionError
from dify_integrations.llama_index import DifyIndex, DifyReader
from dify_integrations.testing import DifyTestServer

FILES = {
    "shipping.md": "Express shipping arrives the next day for orders placed before noon.",
    "refunds.md": "Refunds are issued within 5 business days to the original payment method.",
    "passwords.md": "To reset your password open Settings and choose Security.",
}


@pytest.fixture(scope="module")
def server() -> Iterator[DifyTestServer]:
    with DifyTestServer() as srv:
        srv.indexing_delay = 0.005
        yield srv


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _conn(server: DifyTestServer) -> dict[str, Any]:
    return {"api_key": server.dataset_api_key, "base_url": server.base_url}


def _name() -> str:
    return f"li-{uuid.uuid4().hex[:8]}"


def _read(folder: Path) -> list[Document]:
    return SimpleDirectoryReader(str(folder)).load_data()


def _files(nodes: Any) -> list[str]:
    return [n.node.metadata["file_name"] for n in nodes]


def test_simple_directory_reader_to_query_engine_and_delete(
    server: DifyTestServer, folder: Path
) -> None:
    docs = _read(folder)
    index = DifyIndex.from_documents(
        docs, dataset_name=_name(), show_progress=False, **_conn(server)
    )
    assert index.last_report is not None
    assert index.last_report.created == 3
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=1)
    response = engine.query("When does express shipping arrive?")
    assert _files(response.source_nodes) == ["shipping.md"]
    assert FILES["shipping.md"] in str(response)  # MockLLM echoes its prompt: the context
    shipping = next(d for d in docs if d.metadata["file_name"] == "shipping.md")
    node = response.source_nodes[0].node
    assert node.ref_doc_id == shipping.doc_id
    assert node.metadata == shipping.metadata  # metadata round-trips

    index.delete_ref_doc(shipping.doc_id)
    nodes = index.as_retriever(similarity_top_k=3).retrieve("express shipping")
    assert "shipping.md" not in _files(nodes)
    assert len(nodes) == 2

    chat = index.as_chat_engine(llm=MockLLM(), similarity_top_k=1, truncate_query=True)
    assert "Settings and choose Security" in str(chat.chat("How do I reset my password?"))
    # the second turn's condensed question (MockLLM echoes a long prompt) is cut to 250
    assert chat.chat("And my username?").source_nodes


def test_rerun_creates_no_duplicates(server: DifyTestServer, folder: Path) -> None:
    name = _name()
    first = DifyIndex.from_documents(_read(folder), dataset_name=name, **_conn(server))
    again = DifyIndex.from_documents(_read(folder), dataset_name=name, **_conn(server))
    assert again.dataset_id == first.dataset_id
    assert again.last_report is not None
    assert first.last_report is not None
    assert (again.last_report.created, again.last_report.skipped) == (0, 3)
    assert again.last_report.ids == first.last_report.ids  # the ids the documents kept
    assert again.client.list_documents(again.dataset_id).total == 3


def test_insert_update_and_metadata_filters(server: DifyTestServer) -> None:
    index = DifyIndex.from_documents([], dataset_name=_name(), **_conn(server))
    index.insert(
        Document(
            text="Ops runbook for backups.", doc_id="ops", metadata={"team": "ops", "year": 2024}
        )
    )
    index.insert(
        Document(
            text="Sales playbook for backups.",
            doc_id="sales",
            metadata={"team": "sales", "year": 2023},
        )
    )
    filters = MetadataFilters(filters=[MetadataFilter(key="team", value="ops")])
    nodes = index.as_retriever(filters=filters).retrieve("backups")
    assert [(n.node.ref_doc_id, n.node.metadata) for n in nodes] == [
        ("ops", {"team": "ops", "year": 2024})
    ]
    newer = MetadataFilters(
        filters=[MetadataFilter(key="year", value=2024, operator=FilterOperator.GTE)]
    )
    assert [n.node.ref_doc_id for n in index.as_retriever(filters=newer).retrieve("x")] == ["ops"]

    index.update_ref_doc(
        Document(
            text="Ops runbook for restores.", doc_id="ops", metadata={"team": "ops", "year": 2025}
        )
    )
    assert index.last_report is not None
    assert index.last_report.updated == 1
    nodes = index.as_retriever(similarity_top_k=1).retrieve("restores")
    assert nodes[0].node.get_content() == "Ops runbook for restores."
    assert nodes[0].node.metadata == {"team": "ops", "year": 2025}
    assert index.client.list_documents(index.dataset_id).total == 2
    info = index.ref_doc_info
    assert set(info) == {"ops", "sales"}
    assert info["ops"].metadata == {"team": "ops", "year": 2025}
    assert len(info["ops"].node_ids) == 1


def test_failed_document_is_named_and_others_complete(server: DifyTestServer) -> None:
    server.fail_indexing("broken.md", error="Parser crashed.")
    index = DifyIndex.from_documents([], dataset_name=_name(), **_conn(server))
    try:
        with pytest.raises(IngestionError, match=r"1 of 2 documents failed: broken\.md: .*Parser"):
            index.insert_nodes(
                [
                    Document(text="Fine text.", metadata={"file_name": "fine.md"}),
                    Document(text="Broken text.", metadata={"file_name": "broken.md"}),
                ]
            )
    finally:
        server.clear_indexing_failures()
    assert _files(index.as_retriever().retrieve("fine text"))[0] == "fine.md"


async def test_async_twins_and_reader(server: DifyTestServer) -> None:
    index = DifyIndex.from_documents([], dataset_name=_name(), **_conn(server))
    await index.ainsert(
        Document(text="Async backups run nightly.", doc_id="a1", metadata={"kind": "note"})
    )
    nodes = await index.as_retriever().aretrieve(QueryBundle("nightly backups"))
    assert [n.node.ref_doc_id for n in nodes] == ["a1"]
    response = await index.as_query_engine(llm=MockLLM()).aquery("backups")
    assert "Async backups run nightly." in str(response)

    docs = await DifyReader(**_conn(server)).aload_data(index.dataset_id)
    assert [(d.doc_id, d.text, d.metadata["kind"]) for d in docs] == [
        ("a1", "Async backups run nightly.", "note")
    ]
    segments = DifyReader(**_conn(server)).load_data(index.dataset_id, mode="segments")
    assert [s.metadata["position"] for s in segments] == [1]
    assert segments[0].metadata["document_id"] == docs[0].metadata["document_id"]

    await index.aupdate_ref_doc(Document(text="Backups run hourly.", doc_id="a1"))
    assert [d.text for d in DifyReader(**_conn(server)).load_data(index.dataset_id)] == [
        "Backups run hourly."
    ]
    await index.adelete_ref_doc("a1")
    assert DifyReader(**_conn(server)).load_data(index.dataset_id) == []


def test_bad_input_is_refused_before_any_request(
    server: DifyTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = DifyIndex(str(uuid.uuid4()), **_conn(server))
    before = len(server.request_log)
    monkeypatch.setattr(Settings, "_llm", None)
    with pytest.raises(ValueError, match="pass llm="):
        index.as_query_engine()
    with pytest.raises(ValueError, match="pass llm="):
        index.as_chat_engine()
    with pytest.raises(ValueError, match="transformations"):
        DifyIndex.from_documents([], transformations=[object()], dataset_name="x", **_conn(server))
    with pytest.raises(ValueError, match="mode"):
        DifyReader(**_conn(server)).load_data(str(uuid.uuid4()), mode="pages")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dataset_id"):
        DifyIndex("nope", **_conn(server))
    with pytest.raises(ValueError, match="truncate_query=True"):
        index.as_retriever().retrieve("x" * 251)
    assert len(server.request_log) == before
    assert server.dataset_api_key not in repr(index)
