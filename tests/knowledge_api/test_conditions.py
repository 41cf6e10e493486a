"""Every ``comparison_operator`` of Dify's list, over HTTP and on its own."""

from __future__ import annotations

from typing import Any

import pytest

from dify_integrations.knowledge_api import (
    OPERATORS,
    Condition,
    ConditionError,
    MetadataCondition,
    create_app,
)

from ._docs import DOCS
from .conftest import KEY, StartService

# Dify's list, from its External Knowledge API page and the 2026-07 service API spec.
DIFY_OPERATORS = {
    "contains", "not contains", "start with", "end with", "is", "is not", "in", "not in",
    "empty", "not empty", "=", "≠", ">", "<", "≥", "≤", "before", "after",
}  # fmt: skip

# operator -> (field, value, titles expected in DOCS order)
CASES: dict[str, list[tuple[str, Any, list[str]]]] = {
    "contains": [
        ("category", "policy", ["returns.md", "warranty.md"]),
        ("tags", "refund", ["returns.md"]),
    ],
    "not contains": [("category", "extra", ["returns.md", "shipping.md"])],
    "start with": [("category", "log", ["shipping.md"])],
    "end with": [("category", "extra", ["warranty.md"])],
    "is": [("category", "policy", ["returns.md"]), ("year", "2023", ["warranty.md"])],
    "is not": [("category", "policy", ["shipping.md", "warranty.md"])],
    "in": [
        ("category", ["policy", "logistics"], ["returns.md", "shipping.md"]),
        ("tags", ["shipping"], ["shipping.md"]),
        ("category", "policy, logistics", ["returns.md", "shipping.md"]),
    ],
    "not in": [("category", ["policy"], ["shipping.md", "warranty.md"])],
    "empty": [("owner", None, ["returns.md", "warranty.md", "contact.md"])],
    "not empty": [("owner", None, ["shipping.md"])],
    "=": [("year", 2024, ["returns.md"]), ("year", "2023", ["warranty.md"])],
    "≠": [("year", 2024, ["shipping.md", "warranty.md"])],
    ">": [("year", 2022, ["returns.md", "warranty.md"])],
    "<": [("year", 2023, ["shipping.md"])],
    "≥": [("year", 2023, ["returns.md", "warranty.md"])],
    "≤": [("year", 2023, ["shipping.md", "warranty.md"])],
    "before": [
        ("published", "2023-01-01", ["shipping.md"]),
        ("published", 1700000000, ["shipping.md", "warranty.md"]),
    ],
    "after": [("published", "2023-01-01T00:00:00+00:00", ["returns.md", "warranty.md"])],
}


def test_operator_list_is_difys() -> None:
    assert set(OPERATORS) == DIFY_OPERATORS
    assert set(CASES) == DIFY_OPERATORS


def _fixed(query: str, top_k: int) -> list[dict[str, Any]]:
    return [{**doc, "score": 0.9 - i * 0.1} for i, doc in enumerate(DOCS)][:top_k]


@pytest.mark.parametrize(
    ("operator", "name", "value", "expected"),
    [(op, *case) for op, cases in CASES.items() for case in cases],
)
async def test_every_operator_over_http(
    start_service: StartService, operator: str, name: str, value: Any, expected: list[str]
) -> None:
    service = await start_service(create_app({"kb": _fixed}, api_key=KEY))
    condition: dict[str, Any] = {"name": name, "comparison_operator": operator}
    if value is not None:
        condition["value"] = value
    records = await service.retrieve(
        "anything",
        top_k=10,
        metadata_condition={"logical_operator": "and", "conditions": [condition]},
    )
    assert [r["title"] for r in records] == expected


async def test_and_or_and_no_conditions(start_service: StartService) -> None:
    service = await start_service(create_app({"kb": _fixed}, api_key=KEY))
    conditions = [
        {"name": "category", "comparison_operator": "is", "value": "policy"},
        {"name": "year", "comparison_operator": "<", "value": 2023},
    ]
    both = await service.retrieve("q", metadata_condition={"conditions": conditions})
    assert both == []
    either = await service.retrieve(
        "q", metadata_condition={"logical_operator": "or", "conditions": conditions}
    )
    assert [r["title"] for r in either] == ["returns.md", "shipping.md"]
    unfiltered = await service.retrieve("q", metadata_condition={"conditions": []})
    assert len(unfiltered) == 4


async def test_callable_declaring_metadata_condition_filters_itself(
    start_service: StartService,
) -> None:
    seen: list[Any] = []

    def retriever(query: str, metadata_condition: MetadataCondition | None) -> list[str]:
        seen.append(metadata_condition)
        return ["kept as given"]  # no metadata: a service-side filter would drop it

    service = await start_service(create_app({"kb": retriever}, api_key=KEY))
    condition = {"conditions": [{"name": "x", "comparison_operator": "is", "value": "y"}]}
    records = await service.retrieve("q", metadata_condition=condition)
    assert [r["content"] for r in records] == ["kept as given"]
    assert isinstance(seen[0], MetadataCondition)
    assert seen[0].conditions == (Condition("x", "is", "y"),)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "a", "comparison_operator": "like", "value": "x"}, "unsupported"),
        ({"name": "a", "comparison_operator": "!=", "value": "x"}, "unsupported"),
        ({"comparison_operator": "is", "value": "x"}, "name"),
        ({"name": "a", "comparison_operator": "is"}, "needs a 'value'"),
        ({"name": "a", "comparison_operator": ">", "value": "ten"}, "numeric"),
        ({"name": "a", "comparison_operator": "before", "value": "soon"}, "ISO 8601"),
        ({"name": "a", "comparison_operator": "is", "value": ["x"]}, "string"),
        ("not an object", "object"),
    ],
)
def test_malformed_conditions_are_refused(raw: Any, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        MetadataCondition.parse({"conditions": [raw]})


def test_malformed_condition_envelopes() -> None:
    with pytest.raises(ConditionError, match="logical_operator"):
        MetadataCondition.parse({"logical_operator": "xor", "conditions": []})
    with pytest.raises(ConditionError, match="array"):
        MetadataCondition.parse({"conditions": "a"})
    with pytest.raises(ConditionError, match="object"):
        MetadataCondition.parse([])
    assert MetadataCondition.parse(None) is None
    assert MetadataCondition.parse({"conditions": None}) == MetadataCondition(())


def test_missing_field_matches_only_empty() -> None:
    for op in OPERATORS:
        value = {"in": ["a"], "not in": ["a"], "before": 1, "after": 1}.get(op, "1")
        condition = Condition.parse({"name": "absent", "comparison_operator": op, "value": value})
        assert condition.matches({"other": 1}) is (op == "empty"), op
