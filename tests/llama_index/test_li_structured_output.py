"""LlamaIndex structured output on ``DifyLLM``: instructed app, validated answer. Over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from dify_integrations.core.structured import StructuredOutputError
from dify_integrations.llama_index import DifyLLM
from dify_integrations.testing import DifyTestServer


class Person(BaseModel):
    name: str
    age: int


@pytest.fixture(scope="module")
def local() -> Iterator[dict[str, Any]]:
    with DifyTestServer() as server:
        yield {
            "server": server,
            "base_url": server.base_url,
            "good": server.create_chat_app(
                "Good", responder=lambda *_: '```json\n{"name": "Ana", "age": 31}\n```'
            ).api_key,
            "writer": server.create_completion_app(
                "Writer", responder=lambda *_: '{"name": "Ana", "age": 31}'
            ).api_key,
            "wrong": server.create_chat_app(
                "Wrong", responder=lambda *_: '{"name": "Ana"}'
            ).api_key,
        }


PROMPT = PromptTemplate("Who leads {team}?")


@pytest.mark.parametrize("app", ["good", "writer"])
def test_structured_predict(local: dict[str, Any], app: str) -> None:
    server: DifyTestServer = local["server"]
    llm = DifyLLM(api_key=local[app], base_url=local["base_url"])
    assert llm.structured_predict(Person, PROMPT, team="support") == Person(name="Ana", age=31)
    body = server.request_log[-1].body
    sent = body["query"] if app == "good" else body["inputs"]["query"]
    assert sent.startswith("Who leads support?")
    schema = json.loads(sent[sent.index("{") :])
    assert schema["title"] == "Person"


async def test_astructured_predict(local: dict[str, Any]) -> None:
    llm = DifyLLM(api_key=local["good"], base_url=local["base_url"])
    person = await llm.astructured_predict(Person, PROMPT, team="billing")
    assert person.age == 31


def test_as_structured_llm(local: dict[str, Any]) -> None:
    llm = DifyLLM(api_key=local["good"], base_url=local["base_url"])
    response = llm.as_structured_llm(Person).chat([ChatMessage(role="user", content="who?")])
    assert response.raw == Person(name="Ana", age=31)


def test_an_answer_that_does_not_match_names_the_schema(local: dict[str, Any]) -> None:
    llm = DifyLLM(api_key=local["wrong"], base_url=local["base_url"])
    with pytest.raises(StructuredOutputError, match="does not match Person: age: Field required"):
        llm.structured_predict(Person, PROMPT, team="support")
