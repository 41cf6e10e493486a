"""user_input_form -> tool argument schema -> Dify inputs (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dify_integrations.core.input_schema import (
    fields_to_json_schema,
    fields_to_model,
    parse_user_input_form,
    to_dify_inputs,
    tool_name,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "dify"

FORM: list[dict[str, Any]] = [
    {"text-input": {"label": "Title", "variable": "title", "required": True, "max_length": 10}},
    {"paragraph": {"label": "Body", "variable": "body", "required": False, "default": ""}},
    {
        "select": {
            "label": "Tier",
            "variable": "tier",
            "required": False,
            "options": ["a", "b"],
            "default": "b",
        }
    },
    {"number": {"label": "Count", "variable": "count", "required": False, "default": "3"}},
    {"checkbox": {"label": "Urgent", "variable": "urgent", "required": False}},
    {
        "file": {
            "label": "Doc",
            "variable": "doc",
            "required": False,
            "allowed_file_types": ["document"],
        }
    },
    {"file-list": {"label": "Pics", "variable": "pics", "required": False, "max_length": 2}},
]


def test_fixture_form_parses() -> None:
    form = json.loads((FIXTURES / "parameters.json").read_text())["user_input_form"]
    fields = parse_user_input_form(form)
    assert [f.variable for f in fields] == ["customer_tier", "order_no"]
    assert fields[0].options == ("standard", "gold")
    assert fields[1].max_length == 48


def test_json_schema_maps_every_kind() -> None:
    schema = fields_to_json_schema(parse_user_input_form(FORM))
    props = schema["properties"]
    assert schema["required"] == ["title"]
    assert props["title"] == {
        "description": "Title",
        "maxLength": 10,
        "title": "Title",
        "type": "string",
    }
    assert {"enum": ["a", "b"], "type": "string"} in props["tier"]["anyOf"]
    assert props["tier"]["default"] == "b"
    assert {"type": "number"} in props["count"]["anyOf"]
    assert props["count"]["default"] == 3.0
    assert {"type": "boolean"} in props["urgent"]["anyOf"]
    assert "URL" in props["doc"]["description"]
    assert schema["additionalProperties"] is False


def test_model_validates_and_rejects() -> None:
    model = fields_to_model(parse_user_input_form(FORM))
    ok = model(title="hi", tier="a")
    assert ok.model_dump()["tier"] == "a"
    with pytest.raises(ValidationError):
        model(tier="a")  # title missing
    with pytest.raises(ValidationError):
        model(title="x" * 11)
    with pytest.raises(ValidationError):
        model(title="ok", tier="c")
    with pytest.raises(ValidationError):
        model(title="ok", other="smuggled")


def test_to_dify_inputs_builds_file_objects_and_drops_none() -> None:
    fields = parse_user_input_form(FORM)
    upload_id = "b3c4d5e6-f7a8-4b9c-8d0e-1f2a3b4c5d6e"
    inputs = to_dify_inputs(
        fields,
        {
            "title": "t",
            "body": None,
            "count": 4.0,
            "doc": "https://example.com/a.pdf",
            "pics": ["https://example.com/x.png", upload_id],
        },
    )
    assert inputs == {
        "title": "t",
        "count": 4,
        "doc": {
            "type": "document",
            "transfer_method": "remote_url",
            "url": "https://example.com/a.pdf",
        },
        "pics": [
            {"type": "image", "transfer_method": "remote_url", "url": "https://example.com/x.png"},
            {"type": "document", "transfer_method": "local_file", "upload_file_id": upload_id},
        ],
    }
    with pytest.raises(ValueError, match="URL or an uploaded file id"):
        to_dify_inputs(fields, {"doc": "not a url"})


def test_bad_forms_are_rejected() -> None:
    with pytest.raises(ValueError, match="one-key"):
        parse_user_input_form([{"a": {}, "b": {}}])
    with pytest.raises(ValueError, match="variable"):
        parse_user_input_form([{"text-input": {"label": "x"}}])
    assert parse_user_input_form(None) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ticket Triage (v2)!", "ticket_triage_v2"),
        ("9 lives", "app_9_lives"),
        ("日本", "dify_workflow"),
        ("a" * 80, "a" * 64),
    ],
)
def test_tool_name(name: str, expected: str) -> None:
    assert tool_name(name) == expected
