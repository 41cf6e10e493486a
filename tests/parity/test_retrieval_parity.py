"""Both retrievers over HTTP: the 250-character query limit and the same document fields."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.prompts import PromptTemplate, format_document
from llama_index.core.schema import QueryBundle

from dify_integrations.core.retrieval import FIXED_KEYS
from dify_integrations.langchain import DifyRetriever as LCRetriever
from dify_integrations.llama_index import DifyRetriever as LIRetriever
from dify_integrations.testing import DifyTestServer

DOCS = [
    {
        "name": "returns.md",
        "text": "Items can be returned within 30 days of delivery if unused.",
        "metadata": {"category": "billing"},
    },
    {
        "name": "shipping.md",
        "text": "Orders ship within two business days; returns labels are free.",
        "metadata": {"category": "logistics"},
    },
]
LONG = "returns " * 31 + "abc"  # 251 characters


@pytest.fixture(scope="module")
def dataset(server: DifyTestServer) -> str:
    return server.create_dataset("Parity", DOCS).id


def _lc(server: DifyTestServer, dataset: str, **kw: Any) -> LCRetriever:
    return LCRetriever(
        api_key=server.dataset_api_key, base_url=server.base_url, dataset_id=dataset, **kw
    )


def _li(server: DifyTestServer, dataset: str, **kw: Any) -> LIRetriever:
    return LIRetriever(dataset, api_key=server.dataset_api_key, base_url=server.base_url, **kw)


async def _lc_docs(r: LCRetriever, query: str, mode: str) -> list[Document]:
    return r.invoke(query) if mode == "sync" else await r.ainvoke(query)


async def _li_metadata(r: LIRetriever, query: str, mode: str) -> list[dict[str, Any]]:
    nodes = r.retrieve(query) if mode == "sync" else await r.aretrieve(QueryBundle(query))
    return [n.node.metadata for n in nodes]


def test_long_query_fails_before_any_request(server: DifyTestServer, dataset: str) -> None:
    assert len(LONG) == 251
    server.reset_log()
    with pytest.raises(ValueError, match="250 characters"):
        _lc(server, dataset).invoke(LONG)
    with pytest.raises(ValueError, match="250 characters"):
        _li(server, dataset).retrieve(LONG)
    assert server.requests_to("/datasets/{dataset_id}/retrieve") == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_long_query_is_truncated_when_asked(
    server: DifyTestServer, dataset: str, mode: str
) -> None:
    server.reset_log()
    lc_docs = await _lc_docs(_lc(server, dataset, truncate_query=True), LONG, mode)
    li_meta = await _li_metadata(_li(server, dataset, truncate_query=True), LONG, mode)
    assert lc_docs
    assert li_meta
    sent = [r.body["query"] for r in server.requests_to("/datasets/{dataset_id}/retrieve")]
    assert sent == [LONG[:250], LONG[:250]]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_both_retrievers_give_the_same_metadata_keys(
    server: DifyTestServer, dataset: str, mode: str
) -> None:
    lc_docs = await _lc_docs(_lc(server, dataset, k=2), "returns within 30 days", mode)
    li_meta = await _li_metadata(
        _li(server, dataset, similarity_top_k=2), "returns within 30 days", mode
    )
    assert [set(d.metadata) for d in lc_docs] == [set(m) for m in li_meta]
    assert [d.metadata for d in lc_docs] == li_meta
    assert set(FIXED_KEYS) <= set(lc_docs[0].metadata)
    assert lc_docs[0].metadata["category"] == "billing"
    prompt = PromptTemplate.from_template("[{category}] {document_name}: {page_content}")
    assert format_document(lc_docs[0], prompt).startswith("[billing] returns.md: Items can")
