"""`DifyVectorStore` and `DifyLoader` over HTTP against DifyTestServer: loaders in, RAG out."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_community.document_loaders import DirectoryLoader, TextLoader
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from dify_integrations.core.ingest import IngestionError, Progress
from dify_integrations.core.knowledge import IndexingError
from dify_integrations.langchain import ChatDify, DifyLoader, DifyVectorStore
from dify_integrations.testing import DifyTestServer

FILES = {
    "shipping.md": "Express shipping arrives the next day for orders placed before noon.",
    "refunds.md": "Refunds are issued within 5 business days to the original payment method.",
    "passwords.md": "To reset your password open Settings and choose Security.",
}
PROMPT = ChatPromptTemplate.from_messages([("human", "Context: {context}\n\nQuestion: {question}")])


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
    return {"api_key": server.dataset_api_key, "base_url": server.base_url, "progress": False}


def _load(folder: Path) -> list[Document]:
    loader = DirectoryLoader(str(folder), glob="*.md", loader_cls=TextLoader)
    return sorted(loader.load(), key=lambda d: d.metadata["source"])


def _name() -> str:
    return f"kb-{uuid.uuid4().hex[:8]}"


def _sources(docs: list[Document]) -> list[str]:
    return [Path(d.metadata["source"]).name for d in docs]


def test_directory_loader_to_search_rag_and_delete(server: DifyTestServer, folder: Path) -> None:
    docs = _load(folder)
    store = DifyVectorStore.from_documents(docs, dataset_name=_name(), **_conn(server))
    report = store.last_report
    assert report is not None
    assert (report.created, report.skipped, report.failures) == (3, 0, [])
    # indexing completed: every new document is retrievable, with its LangChain metadata
    found = store.similarity_search("express shipping", k=1)
    assert _sources(found) == ["shipping.md"]
    assert found[0].metadata == {"source": str(folder / "shipping.md")}
    assert found[0].page_content == FILES["shipping.md"]
    scored = store.similarity_search_with_score("refunds payment", k=3)
    assert _sources([d for d, _ in scored])[0] == "refunds.md"
    assert scored[0][1] > scored[-1][1]

    # a RAG chain answers from the new documents (the app echoes the prompt it got)
    app = server.create_chat_app(_name())
    chain = (
        {
            "context": store.as_retriever(search_kwargs={"k": 1})
            | RunnableLambda(lambda ds: " | ".join(d.page_content for d in ds)),
            "question": RunnablePassthrough(),
        }
        | PROMPT
        | ChatDify(api_key=app.api_key, base_url=server.base_url)
        | StrOutputParser()
    )
    assert "Express shipping arrives the next day" in chain.invoke(
        "When does express shipping come?"
    )
    # and Dify's own RAG over the knowledge base answers from them too
    kb_app = server.create_chat_app(_name(), dataset_ids=[store.dataset_id])
    answer = ChatDify(api_key=kb_app.api_key, base_url=server.base_url).invoke("password reset")
    assert "Settings" in str(answer.content)

    # delete removes a document from retrieval
    shipping_id = report.ids[_sources(docs).index("shipping.md")]
    assert shipping_id is not None
    assert store.delete([shipping_id]) is True
    after = store.similarity_search("express shipping", k=3)
    assert "shipping.md" not in _sources(after)
    assert store.get_by_ids([shipping_id]) == []


def test_rerun_creates_no_duplicates_and_updates_changed_texts(
    server: DifyTestServer, folder: Path
) -> None:
    name = _name()
    first = DifyVectorStore.from_documents(_load(folder), dataset_name=name, **_conn(server))
    again = DifyVectorStore.from_documents(_load(folder), dataset_name=name, **_conn(server))
    assert again.dataset_id == first.dataset_id  # same knowledge base, found by name
    assert again.last_report is not None
    assert first.last_report is not None
    assert (again.last_report.created, again.last_report.skipped) == (0, 3)
    assert again.last_report.ids == first.last_report.ids
    assert first.client.list_documents(first.dataset_id).total == 3

    # with your own ids, a changed text updates the document in place
    store = DifyVectorStore(first.dataset_id, **_conn(server))
    ids = store.add_texts(["Opening hours are 9 to 5."], [{"team": "ops"}], ids=["hours"])
    assert ids == ["hours"]
    assert store.add_texts(["Opening hours are 8 to 6."], [{"team": "ops"}], ids=["hours"]) == [
        "hours"
    ]
    assert store.last_report is not None
    assert store.last_report.updated == 1
    assert store.get_by_ids(["hours"]) == [
        Document(page_content="Opening hours are 8 to 6.", metadata={"team": "ops"}, id="hours")
    ]
    assert store.client.list_documents(store.dataset_id).total == 4


def test_failed_document_is_reported_by_name_while_others_complete(
    server: DifyTestServer, folder: Path
) -> None:
    server.fail_indexing("refunds.md", error="Embedding provider quota exceeded.")
    try:
        store = DifyVectorStore.from_texts([], dataset_name=_name(), **_conn(server))
        with pytest.raises(
            IngestionError,
            match=r"2 of 4 documents failed: refunds\.md: .*quota.*; [0-9a-f]{32}: metadata 'flag'",
        ) as err:
            store.add_documents(
                [*_load(folder), Document(page_content="x", metadata={"flag": True})]
            )
    finally:
        server.clear_indexing_failures()
    report = err.value.report
    assert report is not None
    failures = {f.name: f.error for f in report.failures}
    assert "refunds.md" in failures
    assert len(failures) == 2
    assert isinstance(failures["refunds.md"], IndexingError)
    assert "quota exceeded" in str(failures["refunds.md"])
    bad = next(f for f in report.failures if f.name != "refunds.md")
    assert isinstance(bad.error, TypeError)
    assert "'flag'" in str(bad.error)
    assert sum(i is not None for i in report.ids) == 2  # the other two completed
    assert _sources(store.similarity_search("express shipping", k=1)) == ["shipping.md"]
    # a re-run re-indexes the failed one (now fine) and skips the others
    again = store.ingest(_load(folder))
    assert (again.created, again.updated, again.skipped, again.failures) == (0, 1, 2, [])


def test_filters_map_to_metadata_filtering_conditions(server: DifyTestServer) -> None:
    store = DifyVectorStore.from_texts(
        ["Alpha plan costs 10.", "Beta plan costs 20.", "Gamma plan costs 30."],
        metadatas=[
            {"tier": "free", "price": 10},
            {"tier": "pro", "price": 20},
            {"tier": "pro", "price": 30, "source": "gamma.md"},
        ],
        dataset_name=_name(),
        **_conn(server),
    )
    got = store.similarity_search("plan costs", k=5, filter={"tier": "pro"})
    assert sorted(d.metadata["price"] for d in got) == [20, 30]
    got = store.similarity_search("plan", k=5, filter={"source": "gamma.md"})
    assert [d.metadata for d in got] == [{"tier": "pro", "price": 30, "source": "gamma.md"}]
    dify_shape = {
        "logical_operator": "or",
        "conditions": [
            {"name": "price", "comparison_operator": "<", "value": 15},
            {"name": "price", "comparison_operator": ">", "value": 25},
        ],
    }
    got = store.similarity_search("plan", k=5, filter=dify_shape)
    assert sorted(d.metadata["price"] for d in got) == [10, 30]
    assert store.similarity_search("plan", k=5, filter={"tier": ["free"]})[0].metadata == {
        "tier": "free",
        "price": 10,
    }
    relevant = store.similarity_search_with_relevance_scores("Beta plan", k=1)
    assert relevant[0][0].page_content == "Beta plan costs 20."
    assert 0 < relevant[0][1] <= 1


async def test_async_twins(server: DifyTestServer, folder: Path) -> None:
    store = await DifyVectorStore.afrom_documents(
        _load(folder), dataset_name=_name(), **_conn(server)
    )
    found = await store.asimilarity_search("reset password", k=1)
    assert _sources(found) == ["passwords.md"]
    ids = await store.aadd_texts(["Async note about invoices."], ids=["note"])
    assert ids == ["note"]
    assert [d.id for d in await store.aget_by_ids(["note", "missing"])] == ["note"]
    await store.adelete(["note"])
    assert await store.aget_by_ids(["note"]) == []
    docs = await store.as_retriever(search_kwargs={"k": 1}).ainvoke("refunds")
    assert _sources(docs) == ["refunds.md"]
    loaded = [d async for d in DifyLoader(store.dataset_id, **_loader(server)).alazy_load()]
    assert sorted(_sources(loaded)) == sorted(FILES)


def _loader(server: DifyTestServer) -> dict[str, Any]:
    return {"api_key": server.dataset_api_key, "base_url": server.base_url}


def test_loader_yields_documents_and_segments(server: DifyTestServer, folder: Path) -> None:
    store = DifyVectorStore.from_documents(_load(folder), dataset_name=_name(), **_conn(server))
    store.add_texts(["First paragraph.\n\nSecond paragraph."], [{"kind": "two"}], ids=["two"])
    loader = DifyLoader(store.dataset_id, **_loader(server))
    docs = {d.metadata["document_name"]: d for d in loader.lazy_load()}
    assert set(docs) == {*FILES, "two"}
    shipping = docs["shipping.md"]
    assert shipping.page_content == FILES["shipping.md"]
    assert shipping.metadata["source"] == str(folder / "shipping.md")
    assert shipping.metadata["dataset_id"] == store.dataset_id
    assert docs["two"].id == "two"
    segments = list(
        DifyLoader(store.dataset_id, mode="segments", keyword="two", **_loader(server)).lazy_load()
    )
    assert "\n\n".join(s.page_content for s in segments) == "First paragraph.\n\nSecond paragraph."
    assert [s.metadata["position"] for s in segments] == list(range(1, len(segments) + 1))
    assert all(s.metadata["kind"] == "two" and s.metadata["ingest_id"] == "two" for s in segments)


def test_bad_input_is_refused_before_any_request(server: DifyTestServer) -> None:
    store = DifyVectorStore(str(uuid.uuid4()), **_conn(server))
    before = len(server.request_log)
    with pytest.raises(ValueError, match="embeds server-side"):
        DifyVectorStore.from_texts(["x"], object(), dataset_name="x", **_conn(server))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="delete needs ids"):
        store.delete()
    with pytest.raises(ValueError, match="2 metadatas for 1 texts"):
        store.add_texts(["x"], [{}, {}])
    with pytest.raises(TypeError, match="unexpected search arguments"):
        store.similarity_search("x", fetch_k=3)
    with pytest.raises(ValueError, match="250 characters"):
        store.similarity_search("x" * 251)
    with pytest.raises(ValueError, match="dataset_id"):
        DifyVectorStore("not-a-uuid", **_conn(server))
    with pytest.raises(ValueError, match="mode"):
        DifyLoader(str(uuid.uuid4()), mode="pages", **_loader(server))  # type: ignore[arg-type]
    assert len(server.request_log) == before
    assert server.dataset_api_key not in repr(store)


def test_progress_bar_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, plain = Tty(), io.StringIO()
    for stream in (tty, plain):
        bar = Progress(2, stream=stream)
        bar.update("a.md")
        bar.update("b.md", ok=False)
        bar.close()
    assert "2/2, 1 failed b.md" in tty.getvalue()
    assert plain.getvalue() == ""
    forced_off = Tty()
    bar = Progress(1, enabled=False, stream=forced_off)
    bar.update("a.md")
    assert forced_off.getvalue() == ""


def test_wait_false_returns_before_indexing_completes(server: DifyTestServer) -> None:
    store = DifyVectorStore.from_texts([], dataset_name=_name(), **_conn(server))
    server.indexing_delay = 5.0
    try:
        ids = store.add_texts(["Late text about invoices."], wait=False)
        doc = store.client.get_document(store.dataset_id, ids[0])
        assert doc.indexing_status != "completed"
        assert store.similarity_search("invoices", k=1) == []  # not indexed yet
    finally:
        server.indexing_delay = 0.005
    assert store.last_report is not None
    assert store.last_report.created == 1


def test_a_chosen_key_updates_a_changed_source_in_place(server: DifyTestServer) -> None:
    def by_source(text: str, metadata: Any) -> str:
        return str(metadata["source"])

    conn = {**_conn(server), "key_fn": by_source}
    store = DifyVectorStore.from_documents(
        [Document(page_content="Version one of the FAQ.", metadata={"source": "faq.md"})],
        dataset_name=_name(),
        **conn,
    )
    first = store.last_report
    changed = [Document(page_content="Version two of the FAQ.", metadata={"source": "faq.md"})]
    store.add_documents(changed)
    assert store.last_report is not None
    assert first is not None
    assert (store.last_report.created, store.last_report.updated) == (0, 1)
    assert store.last_report.ids == first.ids  # the same Dify document
    assert [d.page_content for d in store.get_by_ids(first.ids)] == ["Version two of the FAQ."]
    # without the chosen key, changed content is a new document (source + content hash)
    plain = DifyVectorStore(store.dataset_id, **_conn(server))
    plain.add_documents([Document(page_content="Version three.", metadata={"source": "faq.md"})])
    assert store.client.list_documents(store.dataset_id).total == 2
