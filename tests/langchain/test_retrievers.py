"""DifyRetriever over real HTTP: k, threshold, several datasets, metadata, filters."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.load import dumps

from dify_integrations import AuthenticationError, NotFoundError
from dify_integrations.langchain import DifyRetriever


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def get(retriever: DifyRetriever, query: str, mode: str, **kwargs: Any) -> list[Document]:
    if mode == "sync":
        return retriever.invoke(query, **kwargs)
    return await retriever.ainvoke(query, **kwargs)


def make(apps: Any, **kwargs: Any) -> DifyRetriever:
    params = {"api_key": apps.dataset_key, "base_url": apps.base_url}
    if "dataset_ids" not in kwargs:
        params["dataset_id"] = apps.handbook_id
    return DifyRetriever(**{**params, **kwargs})


async def test_documents_and_metadata(apps: Any, mode: str) -> None:
    docs = await get(make(apps, k=2), "how do I reset my password", mode)
    assert 1 <= len(docs) <= 2
    top = docs[0]
    assert "reset your password" in top.page_content
    meta = top.metadata
    assert meta["document_name"] == "passwords.md"
    assert meta["dataset_id"] == apps.handbook_id
    assert meta["category"] == "account"
    assert top.id == meta["segment_id"]
    assert isinstance(top.id, str)
    assert isinstance(meta["document_id"], str)
    assert isinstance(meta["segment_position"], int)
    assert 0.0 < meta["score"] <= 1.0
    sent = [r for r in apps.server.request_log if r.path.endswith("/retrieve")][-1]
    assert sent.body["retrieval_model"]["top_k"] == 2
    assert sent.body["retrieval_model"]["score_threshold_enabled"] is False


async def test_k_per_call_and_scores_sorted(apps: Any, mode: str) -> None:
    retriever = make(apps, k=4)
    docs = await get(retriever, "refunds password shipping support warranty days", mode, k=3)
    assert len(docs) == 3
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)


async def test_score_threshold(apps: Any, mode: str) -> None:
    query = "refunds warranty shipping days"
    everything = await get(make(apps, k=5), query, mode)
    assert len(everything) >= 2
    cut = sorted(d.metadata["score"] for d in everything)[-1] - 1e-6
    kept = await get(make(apps, k=5, score_threshold=cut), query, mode)
    assert len(kept) >= 1
    assert all(d.metadata["score"] >= cut for d in kept)
    assert len(kept) < len(everything)
    sent = [r for r in apps.server.request_log if r.path.endswith("/retrieve")][-1]
    assert sent.body["retrieval_model"]["score_threshold_enabled"] is True


async def test_several_datasets_merged_by_score(apps: Any, mode: str) -> None:
    retriever = make(apps, dataset_ids=[apps.handbook_id, apps.archive_id], k=3)
    start = len(apps.server.request_log)
    docs = await get(retriever, "refunds store credit cash", mode)
    hits = [r for r in apps.server.request_log[start:] if r.path.endswith("/retrieve")]
    assert {r.path.split("/")[-2] for r in hits} == {apps.handbook_id, apps.archive_id}
    assert len(docs) == 3
    assert {d.metadata["dataset_id"] for d in docs} == {apps.handbook_id, apps.archive_id}
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)


async def test_metadata_filter_and_search_method_pass_through(apps: Any, mode: str) -> None:
    conditions = {
        "logical_operator": "and",
        "conditions": [{"name": "category", "comparison_operator": "in", "value": ["billing"]}],
    }
    retriever = make(apps, k=5, search_method="full_text_search", metadata_filter=conditions)
    docs = await get(retriever, "refunds warranty days", mode)
    sent = [r for r in apps.server.request_log if r.path.endswith("/retrieve")][-1]
    model = sent.body["retrieval_model"]
    assert model["search_method"] == "full_text_search"
    assert model["metadata_filtering_conditions"] == conditions
    assert docs
    assert all(d.metadata["category"] == "billing" for d in docs)


async def test_errors(apps: Any, mode: str) -> None:
    with pytest.raises(AuthenticationError):
        await get(make(apps, api_key="dataset-not-a-real-key"), "refunds", mode)
    start = len(apps.server.request_log)
    with pytest.raises(ValueError, match="dataset"):  # an app key: refused before sending
        await get(make(apps, api_key=apps.chat_key), "refunds", mode)
    assert len(apps.server.request_log) == start
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFoundError):
        await get(make(apps, dataset_id=missing), "refunds", mode)


def test_needs_a_dataset_and_hides_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="dataset_id"):
        DifyRetriever(api_key="dataset-x", base_url="http://127.0.0.1:9/v1")
    retriever = DifyRetriever(
        api_key="dataset-hidden", base_url="http://127.0.0.1:9/v1", dataset_id="d"
    )
    assert "dataset-hidden" not in repr(retriever)
    assert "dataset-hidden" not in dumps(retriever)
    monkeypatch.setenv("DIFY_API_KEY", "app-generic")
    assert DifyRetriever(dataset_id="d").api_key.get_secret_value() == "app-generic"  # type: ignore[union-attr]
    monkeypatch.setenv("DIFY_DATASET_API_KEY", "dataset-env")
    assert DifyRetriever(dataset_id="d").api_key.get_secret_value() == "dataset-env"  # type: ignore[union-attr]
