"""Knowledge bases: listing with pagination, retrieval scoring, top_k, threshold, filters."""

from __future__ import annotations

from typing import Any

import pytest

from dify_integrations.testing import Dataset, DifyTestServer

from ._support import Api, assert_same_shape, fixture_json


def _model(**overrides: Any) -> dict[str, Any]:
    return {
        "search_method": "keyword_search",
        "reranking_enable": False,
        "top_k": 10,
        "score_threshold_enabled": False,
        **overrides,
    }


def test_list_shape_and_pagination(server: DifyTestServer, kb: Api, handbook: Dataset) -> None:
    for i in range(3):
        server.create_dataset(f"Paging {i}", [{"name": "a.md", "text": f"text {i}"}])
    first = kb.get("/datasets", params={"page": 1, "limit": 2}).json()
    assert_same_shape(first, fixture_json("datasets_list.json"))
    total = first["total"]
    assert total >= 4
    assert first["has_more"] is True
    assert len(first["data"]) == 2
    ids: list[str] = []
    page = 1
    while True:
        body = kb.get("/datasets", params={"page": page, "limit": 2}).json()
        ids += [d["id"] for d in body["data"]]
        if not body["has_more"]:
            break
        page += 1
    assert len(ids) == len(set(ids)) == total
    found = kb.get("/datasets", params={"keyword": "product handbook"}).json()
    assert [d["id"] for d in found["data"]] == [handbook.id]
    assert found["data"][0]["document_count"] == 3
    assert kb.get("/datasets", params={"page": "x"}).json()["code"] == "invalid_param"


def test_retrieve_shape_and_scores(kb: Api, handbook: Dataset) -> None:
    resp = kb.post(
        f"/datasets/{handbook.id}/retrieve",
        json={"query": "How long do customers have to return an item?"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert_same_shape(body, fixture_json("retrieve.json"))
    scores = [r["score"] for r in body["records"]]
    assert scores
    assert all(0.0 < s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert "30 days" in body["records"][0]["segment"]["content"]
    assert body["records"][0]["segment"]["document"]["name"] == "returns-policy.md"
    alias = kb.post(
        f"/datasets/{handbook.id}/hit-testing",
        json={"query": "How long do customers have to return an item?"},
    )
    assert [r["segment"]["id"] for r in alias.json()["records"]] == [
        r["segment"]["id"] for r in body["records"]
    ]


@pytest.mark.parametrize(
    "method", ["semantic_search", "full_text_search", "hybrid_search", "keyword_search"]
)
def test_every_search_method(kb: Api, handbook: Dataset, method: str) -> None:
    resp = kb.post(
        f"/datasets/{handbook.id}/retrieve",
        json={"query": "shipping days", "retrieval_model": _model(search_method=method)},
    )
    assert resp.status_code == 200
    assert resp.json()["records"]


def test_reranking_fields_accepted(kb: Api, handbook: Dataset) -> None:
    body = fixture_json("retrieve_request.json")
    resp = kb.post(f"/datasets/{handbook.id}/retrieve", json=body)
    assert resp.status_code == 200
    for record in resp.json()["records"]:
        meta = record["segment"]["document"]["doc_metadata"]
        assert meta["department"] == "support"
        assert "en" in meta["language"]
        assert record["score"] >= 0.3


def test_top_k_and_threshold(kb: Api, handbook: Dataset) -> None:
    query = "business days shipping refunds"
    everything = kb.post(
        f"/datasets/{handbook.id}/retrieve", json={"query": query, "retrieval_model": _model()}
    ).json()["records"]
    assert len(everything) >= 2
    top1 = kb.post(
        f"/datasets/{handbook.id}/retrieve",
        json={"query": query, "retrieval_model": _model(top_k=1)},
    ).json()["records"]
    assert [r["segment"]["id"] for r in top1] == [everything[0]["segment"]["id"]]
    cut = (everything[0]["score"] + everything[-1]["score"]) / 2
    above = kb.post(
        f"/datasets/{handbook.id}/retrieve",
        json={
            "query": query,
            "retrieval_model": _model(score_threshold_enabled=True, score_threshold=cut),
        },
    ).json()["records"]
    assert above
    assert all(r["score"] >= cut for r in above)
    assert len(above) < len(everything)
    ignored = kb.post(
        f"/datasets/{handbook.id}/retrieve",
        json={
            "query": query,
            "retrieval_model": _model(score_threshold_enabled=False, score_threshold=0.99),
        },
    ).json()["records"]
    assert len(ignored) == len(everything)


@pytest.mark.parametrize(
    ("conditions", "logical", "expected_docs"),
    [
        (
            [{"name": "department", "comparison_operator": "is", "value": "support"}],
            "and",
            {"returns-policy.md", "warranty.md"},
        ),
        (
            [{"name": "department", "comparison_operator": "is not", "value": "support"}],
            "and",
            {"shipping.md"},
        ),
        (
            [{"name": "language", "comparison_operator": "in", "value": ["de"]}],
            "and",
            {"warranty.md"},
        ),
        (
            [{"name": "year", "comparison_operator": "≥", "value": 2024}],
            "and",
            {"returns-policy.md", "shipping.md"},
        ),
        ([{"name": "year", "comparison_operator": "<", "value": 2024}], "and", {"warranty.md"}),
        (
            [{"name": "department", "comparison_operator": "start with", "value": "log"}],
            "and",
            {"shipping.md"},
        ),
        (
            [{"name": "missing", "comparison_operator": "empty", "value": None}],
            "and",
            {"returns-policy.md", "shipping.md", "warranty.md"},
        ),
        (
            [
                {"name": "language", "comparison_operator": "is", "value": "de"},
                {"name": "department", "comparison_operator": "is", "value": "logistics"},
            ],
            "or",
            {"shipping.md", "warranty.md"},
        ),
        ([{"name": "department", "comparison_operator": "is", "value": "nobody"}], "and", set()),
    ],
)
def test_metadata_filters(
    kb: Api,
    handbook: Dataset,
    conditions: list[dict[str, Any]],
    logical: str,
    expected_docs: set[str],
) -> None:
    model = _model(
        metadata_filtering_conditions={"logical_operator": logical, "conditions": conditions}
    )
    query = "items returned refunds shipping business days device warranty country"
    records = kb.post(
        f"/datasets/{handbook.id}/retrieve", json={"query": query, "retrieval_model": model}
    ).json()["records"]
    assert {r["segment"]["document"]["name"] for r in records} == expected_docs


def test_retrieve_errors(kb: Api, handbook: Dataset) -> None:
    long = kb.post(f"/datasets/{handbook.id}/retrieve", json={"query": "x" * 251})
    assert long.status_code == 400
    assert long.json()["code"] == "invalid_param"
    empty = kb.post(f"/datasets/{handbook.id}/retrieve", json={"query": ""})
    assert empty.json() == {
        "code": "invalid_param",
        "message": "Query or attachment_ids is required",
        "status": 400,
    }
    unknown = kb.post(
        "/datasets/9b2f6c1e-7d4a-4e3b-a1c2-3d4e5f6a7b8c/retrieve", json={"query": "x"}
    )
    assert unknown.json() == {"code": "not_found", "message": "Dataset not found.", "status": 404}
    partial = kb.post(
        f"/datasets/{handbook.id}/retrieve",
        json={"query": "x", "retrieval_model": {"search_method": "keyword_search"}},
    )
    assert partial.status_code == 400
    bad_method = kb.post(
        f"/datasets/{handbook.id}/retrieve",
        json={"query": "x", "retrieval_model": _model(search_method="magic")},
    )
    assert bad_method.status_code == 400


def test_added_document_is_searchable(server: DifyTestServer, kb: Api) -> None:
    ds = server.create_dataset("Growing", [])
    assert kb.post(f"/datasets/{ds.id}/retrieve", json={"query": "zebra"}).json()["records"] == []
    server.add_document(ds, "zoo.md", "The zebra lives in the savanna.", {"kind": "animal"})
    records = kb.post(f"/datasets/{ds.id}/retrieve", json={"query": "zebra"}).json()["records"]
    assert len(records) == 1
    assert records[0]["segment"]["document"]["doc_metadata"] == {"kind": "animal"}
