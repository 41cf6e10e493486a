"""Retrieval rules shared by both retrievers (pure): query limit, record fields, merge."""

from __future__ import annotations

import pytest

from dify_integrations.core import operations as ops
from dify_integrations.core.retrieval import (
    FIXED_KEYS,
    MAX_QUERY_LENGTH,
    Chunk,
    check_query,
    merge_by_score,
    record_to_chunk,
    resource_to_chunk,
)

DATASET = "5f0c1a2e-4c8e-4f51-9d55-3b2f4f5e6a7b"


def test_query_limit_is_dify_s_250_characters() -> None:
    assert MAX_QUERY_LENGTH == 250
    ok = "q" * 250
    assert check_query(ok) == ok
    with pytest.raises(ValueError, match="250 characters"):
        check_query("q" * 251)
    assert check_query("ab" * 200, truncate=True) == ("ab" * 200)[:250]
    with pytest.raises(TypeError):
        check_query(None)  # type: ignore[arg-type]


def test_the_retrieve_operation_refuses_a_long_query() -> None:
    with pytest.raises(ValueError, match="250"):
        ops.retrieve(DATASET, "x" * 251)
    assert ops.retrieve(DATASET, "x" * 250).json == {"query": "x" * 250}


def _record(score: object) -> dict[str, object]:
    return {
        "segment": {
            "id": "s1",
            "position": 2,
            "document_id": "d1",
            "content": "Refunds take 5 days.",
            "answer": "Yes.",
            "keywords": ["refund"],
            "document": {
                "id": "d1",
                "name": "faq.md",
                "doc_metadata": {"category": "billing", "score": "not-the-score"},
            },
        },
        "child_chunks": [{"id": "c1", "content": "Refunds"}],
        "score": score,
    }


def test_record_fields_are_flat_and_fixed_keys_win() -> None:
    chunk = record_to_chunk(_record(0.5), "ds-1")
    assert chunk.id == "s1"
    assert chunk.text == "Refunds take 5 days.\nYes."
    assert chunk.score == 0.5
    assert chunk.metadata == {
        "category": "billing",
        "score": 0.5,
        "dataset_id": "ds-1",
        "document_id": "d1",
        "document_name": "faq.md",
        "segment_id": "s1",
        "segment_position": 2,
        "keywords": ["refund"],
        "child_chunks": [{"id": "c1", "content": "Refunds"}],
    }


@pytest.mark.parametrize("score", [None, True, "n/a"])
def test_a_missing_or_odd_score_is_none_never_zero(score: object) -> None:
    assert record_to_chunk(_record(score), "ds").score is None


def test_external_records_and_citations_carry_the_fixed_keys() -> None:
    external = record_to_chunk(
        {"content": "t", "title": "T", "score": 0.4, "metadata": {"a": 1}}, "x"
    )
    assert set(FIXED_KEYS) <= set(external.metadata)
    assert (external.metadata["document_name"], external.metadata["a"]) == ("T", 1)
    assert (
        external.id
        == record_to_chunk(
            {"content": "t", "title": "T", "score": 0.9, "metadata": {"a": 1}}, "x"
        ).id
    )
    cited = resource_to_chunk(
        {"segment_id": "s", "content": "c", "score": 0.3, "doc_metadata": {"category": "x"}}
    )
    assert set(FIXED_KEYS) <= set(cited.metadata)
    assert cited.metadata["category"] == "x"


def _c(name: str, score: float | None) -> Chunk:
    return Chunk(id=name, text=name, score=score)


def test_merge_by_score_orders_unscored_last_and_cuts() -> None:
    a = [_c("a1", 0.9), _c("a2", 0.2), _c("a3", None)]
    b = [_c("b1", 0.5), _c("b2", None)]
    assert [c.id for c in merge_by_score([a, b], None)] == ["a1", "b1", "a2", "a3", "b2"]
    assert [c.id for c in merge_by_score([a, b], 2)] == ["a1", "b1"]
