"""``ChatDify.with_structured_output``: the app is instructed, its answer validated. Over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from dify_integrations.core.structured import StructuredOutputError
from dify_integrations.langchain import ChatDify
from dify_integrations.testing import DifyTestServer


class Person(BaseModel):
    name: str
    age: int


class PersonDict(TypedDict):
    name: str
    age: int


PERSON_SCHEMA = {
    "title": "PersonSchema",
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def _good(query: str, *_: Any) -> str:
    return (
        '```json\n{"name": "Ana", "age": 31}\n```'
        if "fenced" in query
        else '{"name": "Ana", "age": 31}'
    )


@pytest.fixture(scope="module")
def local() -> Iterator[dict[str, Any]]:
    with DifyTestServer() as server:
        yield {
            "server": server,
            "base_url": server.base_url,
            "good": server.create_chat_app("Good", responder=_good).api_key,
            "wrong": server.create_chat_app(
                "Wrong", responder=lambda *_: '{"name": "Ana", "age": "thirty"}'
            ).api_key,
            "prose": server.create_chat_app(
                "Prose", responder=lambda *_: "Ana is thirty-one."
            ).api_key,
        }


def _llm(local: dict[str, Any], app: str) -> ChatDify:
    return ChatDify(api_key=local[app], base_url=local["base_url"], user="structured")


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_pydantic_schema(local: dict[str, Any], method: str) -> None:
    server: DifyTestServer = local["server"]
    person = (
        _llm(local, "good")
        .with_structured_output(Person, method=method)
        .invoke("Who is the support lead?")
    )
    assert person == Person(name="Ana", age=31)
    query = server.requests_to("/chat-messages", method="POST")[-1].body["query"]
    assert query.startswith("Who is the support lead?")
    assert "JSON object" in query
    if method == "json_schema":
        sent = json.loads(query[query.index("{") :])
        assert sent["properties"]["age"]["type"] == "integer"
    else:
        assert '"properties"' not in query


def test_typed_dict_and_json_schema(local: dict[str, Any]) -> None:
    llm = _llm(local, "good")
    assert llm.with_structured_output(PersonDict).invoke("who?") == {"name": "Ana", "age": 31}
    assert llm.with_structured_output(PERSON_SCHEMA).invoke("who? fenced") == {
        "name": "Ana",
        "age": 31,
    }


def test_history_and_system_messages(local: dict[str, Any]) -> None:
    structured = _llm(local, "good").with_structured_output(Person)
    messages = [
        SystemMessage("Be brief."),
        HumanMessage("who?"),
        AIMessage("Ana."),
        HumanMessage("age?"),
    ]
    assert structured.invoke(messages).age == 31


async def test_async(local: dict[str, Any]) -> None:
    person = await _llm(local, "good").with_structured_output(Person).ainvoke("who?")
    assert person.name == "Ana"


@pytest.mark.parametrize(
    ("schema", "name"),
    [(Person, "Person"), (PersonDict, "PersonDict"), (PERSON_SCHEMA, "PersonSchema")],
)
def test_an_answer_that_does_not_match_names_the_schema(
    local: dict[str, Any], schema: Any, name: str
) -> None:
    with pytest.raises(OutputParserException) as info:
        _llm(local, "wrong").with_structured_output(schema).invoke("who?")
    assert f"does not match {name}" in str(info.value)
    assert "age" in str(info.value)
    assert isinstance(info.value, StructuredOutputError)
    assert isinstance(info.value, ValueError)
    assert info.value.llm_output == '{"name": "Ana", "age": "thirty"}'


def test_an_answer_that_is_not_json(local: dict[str, Any]) -> None:
    with pytest.raises(OutputParserException, match="not JSON, so it cannot be read as Person"):
        _llm(local, "prose").with_structured_output(Person).invoke("who?")


def test_include_raw_keeps_the_message_and_the_error(local: dict[str, Any]) -> None:
    good = _llm(local, "good").with_structured_output(Person, include_raw=True).invoke("who?")
    assert good["parsed"] == Person(name="Ana", age=31)
    assert good["parsing_error"] is None
    assert isinstance(good["raw"], AIMessage)
    bad = _llm(local, "wrong").with_structured_output(Person, include_raw=True).invoke("who?")
    assert bad["parsed"] is None
    assert "does not match Person" in str(bad["parsing_error"])
    assert bad["raw"].response_metadata["message_id"]


def test_unsupported_methods_are_refused_before_any_request(local: dict[str, Any]) -> None:
    server: DifyTestServer = local["server"]
    before = len(server.request_log)
    llm = _llm(local, "good")
    with pytest.raises(NotImplementedError, match="tool calling"):
        llm.with_structured_output(Person, method="function_calling")
    with pytest.raises(ValueError, match="needs a schema"):
        llm.with_structured_output(None)
    with pytest.raises(TypeError, match="strict"):
        llm.with_structured_output(Person, strict=True)
    assert len(server.request_log) == before
