"""DifyRetriever over real HTTP, alone and inside a RetrieverQueryEngine with DifyLLM."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

from dify_integrations.core.errors import AuthenticationError
from dify_integrations.llama_index import DifyLLM, DifyRetriever

if TYPE_CHECKING:
    from conftest import Apps

pytestmark = pytest.mark.timeout(60)


def _retriever(apps: Apps, **kwargs: object) -> DifyRetriever:
    kwargs.setdefault("dataset_id", apps.handbook_id)
    return DifyRetriever(api_key=apps.dataset_key, base_url=apps.base_url, **kwargs)  # type: ignore[arg-type]


def test_retrieve_returns_scored_text_nodes(apps: Apps) -> None:
    retriever = _retriever(apps)
    assert isinstance(retriever, BaseRetriever)
    assert apps.dataset_key not in repr(retriever)
    hits = retriever.retrieve("how many days to return an item")
    assert hits
    top = hits[0]
    assert isinstance(top.node, TextNode)
    assert "30 days" in top.node.text
    assert top.node.metadata["document_name"] == "returns.md"
    assert top.node.metadata["category"] == "billing"
    assert top.node.metadata["dataset_id"] == apps.handbook_id
    assert top.score is not None
    assert 0.0 < top.score <= 1.0
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    body = apps.server.requests_to(f"/datasets/{apps.handbook_id}/retrieve")[-1].body
    assert body["query"] == "how many days to return an item"
    assert body["retrieval_model"]["top_k"] == 4
    assert body["retrieval_model"]["search_method"] == "semantic_search"


async def test_aretrieve_gives_the_same_nodes(apps: Apps, track: Callable[[Any], Any]) -> None:
    retriever = track(_retriever(apps))
    sync_hits = retriever.retrieve("express shipping days")
    async_hits = await retriever.aretrieve("express shipping days")
    assert [(h.node.node_id, h.score) for h in sync_hits] == [
        (h.node.node_id, h.score) for h in async_hits
    ]
    assert [h.node.metadata for h in sync_hits] == [h.node.metadata for h in async_hits]


@pytest.mark.parametrize("use_async", [False, True])
async def test_several_datasets_are_merged_by_score(
    apps: Apps, use_async: bool, track: Callable[[Any], Any]
) -> None:
    retriever = track(
        _retriever(
            apps,
            dataset_id=None,
            dataset_ids=[apps.handbook_id, apps.archive_id],
            similarity_top_k=3,
        )
    )
    query = "returns refunded store credit days"
    hits = await retriever.aretrieve(query) if use_async else retriever.retrieve(query)
    assert 0 < len(hits) <= 3
    datasets = {h.node.metadata["dataset_id"] for h in hits}
    assert datasets == {apps.handbook_id, apps.archive_id}
    scores = [h.score for h in hits]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    # The merge keeps the best hits of both lists.
    single = [
        h
        for ds in (apps.handbook_id, apps.archive_id)
        for h in _retriever(apps, dataset_id=ds, similarity_top_k=3).retrieve(query)
    ]
    best = sorted((h.score for h in single), reverse=True)[:3]  # type: ignore[type-var]
    assert scores == best


def test_threshold_top_k_search_method_and_filters(apps: Apps) -> None:
    one = _retriever(apps, similarity_top_k=1, search_method="keyword_search")
    assert len(one.retrieve("warranty shipping returns")) == 1
    sent = apps.server.requests_to(f"/datasets/{apps.handbook_id}/retrieve")[-1].body
    assert sent["retrieval_model"]["search_method"] == "keyword_search"

    strict = _retriever(apps, score_threshold=0.99)
    for hit in strict.retrieve("warranty shipping returns"):
        assert hit.score is not None
        assert hit.score >= 0.99

    filtered = _retriever(
        apps,
        filters=MetadataFilters(
            filters=[MetadataFilter(key="category", value="shipping", operator=FilterOperator.EQ)]
        ),
    )
    hits = filtered.retrieve("days shipping returns warranty")
    assert hits
    assert {h.node.metadata["category"] for h in hits} == {"shipping"}
    sent = apps.server.requests_to(f"/datasets/{apps.handbook_id}/retrieve")[-1].body
    assert sent["retrieval_model"]["metadata_filtering_conditions"] == {
        "logical_operator": "and",
        "conditions": [{"name": "category", "comparison_operator": "is", "value": "shipping"}],
    }


def test_errors(apps: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="dataset_id"):
        DifyRetriever(api_key=apps.dataset_key, base_url=apps.base_url)
    with pytest.raises(ValueError, match="similarity_top_k"):
        _retriever(apps, similarity_top_k=0)
    wrong = DifyRetriever(
        dataset_id=apps.handbook_id, api_key="dataset-wrong", base_url=apps.base_url
    )
    with pytest.raises(AuthenticationError):
        wrong.retrieve("returns")
    app_key = DifyRetriever(
        dataset_id=apps.handbook_id, api_key=apps.echo_key, base_url=apps.base_url
    )
    with pytest.raises(ValueError, match="knowledge"):
        app_key.retrieve("returns")
    monkeypatch.setenv("DIFY_DATASET_API_KEY", apps.dataset_key)
    monkeypatch.setenv("DIFY_API_KEY", apps.echo_key)
    from_env = DifyRetriever(dataset_id=apps.handbook_id, base_url=apps.base_url)
    assert from_env.retrieve("returns")


def _engine(
    apps: Apps, *, streaming: bool = False, track: Callable[[Any], Any] = lambda o: o
) -> RetrieverQueryEngine:
    return RetrieverQueryEngine.from_args(
        retriever=track(_retriever(apps, similarity_top_k=2)),
        llm=track(DifyLLM(api_key=apps.echo_key, base_url=apps.base_url, user="u-rag")),
        streaming=streaming,
    )


def test_query_engine_answers_with_source_nodes(apps: Apps) -> None:
    response = _engine(apps).query("How many days do I have to return an item?")
    assert isinstance(response, Response)
    assert response.source_nodes
    assert response.source_nodes[0].node.metadata["document_name"] == "returns.md"
    # The retrieved context reached the Dify app through the LLM call.
    assert response.response is not None
    assert "30 days" in response.response
    query = apps.server.requests_to("/chat-messages")[-1].body["query"]
    assert "Items can be returned within 30 days" in query
    assert "How many days do I have to return an item?" in query


async def test_query_engine_async(apps: Apps, track: Callable[[Any], Any]) -> None:
    response = await _engine(apps, track=track).aquery("How long does express shipping take?")
    assert isinstance(response, Response)
    assert response.source_nodes[0].node.metadata["document_name"] == "shipping.md"
    assert response.response is not None
    assert "1 to 2" in response.response


def test_query_engine_streaming(apps: Apps) -> None:
    response = _engine(apps, streaming=True).query("What does the warranty cover?")
    assert isinstance(response, StreamingResponse)
    assert response.source_nodes[0].node.metadata["document_name"] == "warranty.md"
    tokens = list(response.response_gen)
    assert len(tokens) > 1
    assert "manufacturing defects" in "".join(tokens)


async def test_query_engine_async_streaming(apps: Apps, track: Callable[[Any], Any]) -> None:
    response = await _engine(apps, streaming=True, track=track).aquery(
        "What does the warranty cover?"
    )
    assert response.source_nodes
    tokens = [t async for t in response.async_response_gen()]  # type: ignore[union-attr]
    assert len(tokens) > 1
    assert "manufacturing defects" in "".join(tokens)
