"""The whole loop over HTTP: retrievers served, a DifyTestServer dataset pointing at them.

A LlamaIndex ``VectorStoreIndex`` retriever (``handbook``) and a LangChain
``InMemoryVectorStore`` retriever (``release-notes``) are served by ``KnowledgeAPIServer``;
``DifyTestServer`` registers external datasets bound to them; ``DifyRetriever`` (both
frameworks), a chat app grounded on the dataset, a chatflow and a workflow knowledge step
all get the served records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from dify_integrations import DifyClient
from dify_integrations.knowledge_api import KnowledgeAPIServer
from dify_integrations.knowledge_api.example import build
from dify_integrations.langchain import ChatDify
from dify_integrations.langchain import DifyRetriever as LCDifyRetriever
from dify_integrations.llama_index import DifyRetriever as LIDifyRetriever
from dify_integrations.testing import DifyTestServer

KEY = "e2e-knowledge-key"
ENCRYPTION = "How is my data encrypted before upload?"
IMMUTABLE = "Which release added immutable snapshots?"


@pytest.fixture(scope="module")
def served() -> Iterator[KnowledgeAPIServer]:
    with KnowledgeAPIServer(build(), api_key=KEY) as service:
        yield service


@pytest.fixture(scope="module")
def dify(served: KnowledgeAPIServer) -> Iterator[tuple[DifyTestServer, Any, Any]]:
    with DifyTestServer() as server:
        handbook = server.create_external_dataset(
            "Handbook (external)", served.endpoint, KEY, "handbook", top_k=3
        )
        notes = server.create_external_dataset(
            "Release notes (external)", served.endpoint, KEY, "release-notes", top_k=2
        )
        yield server, handbook, notes


async def _direct(
    served: KnowledgeAPIServer, knowledge_id: str, query: str, top_k: int
) -> list[dict[str, Any]]:
    """The records the service answers when called directly."""
    body = {
        "knowledge_id": knowledge_id,
        "query": query,
        "retrieval_setting": {"top_k": top_k, "score_threshold": 0.0},
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            served.endpoint + "/retrieval", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp,
    ):
        assert resp.status == 200
        records: list[dict[str, Any]] = (await resp.json())["records"]
    return records


async def test_langchain_dify_retriever_gets_the_served_records(
    served: KnowledgeAPIServer, dify: tuple[DifyTestServer, Any, Any]
) -> None:
    server, handbook, _ = dify
    expected = await _direct(served, "handbook", ENCRYPTION, 3)
    retriever = LCDifyRetriever(
        api_key=server.dataset_api_key, base_url=server.base_url, dataset_id=handbook.id, k=3
    )
    docs = await retriever.ainvoke(ENCRYPTION)
    assert [d.page_content for d in docs] == [r["content"] for r in expected]
    assert [d.metadata["score"] for d in docs] == [r["score"] for r in expected]
    assert docs[0].metadata["document_name"] == "Encryption and keys"
    call = server.external_calls[-1]
    assert call.url == served.endpoint + "/retrieval"
    assert call.headers == {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    assert call.body == {
        "retrieval_setting": {"top_k": 3, "score_threshold": 0.0},
        "query": ENCRYPTION,
        "knowledge_id": "handbook",
    }


def test_llama_index_dify_retriever_gets_the_served_records(
    dify: tuple[DifyTestServer, Any, Any],
) -> None:
    server, _, notes = dify
    retriever = LIDifyRetriever(
        dataset_id=notes.id,
        api_key=server.dataset_api_key,
        base_url=server.base_url,
        similarity_top_k=2,
    )
    nodes = retriever.retrieve(IMMUTABLE)
    assert len(nodes) == 2
    assert nodes[0].node.get_content().startswith("Stowaway 4.2 adds immutable snapshots")
    assert nodes[0].node.metadata["version"] == "4.2"
    assert 0.0 < (nodes[0].score or 0.0) <= 1.0


def test_metadata_filter_and_threshold_reach_the_service(
    dify: tuple[DifyTestServer, Any, Any],
) -> None:
    server, _, notes = dify
    retriever = LCDifyRetriever(
        api_key=server.dataset_api_key,
        base_url=server.base_url,
        dataset_id=notes.id,
        k=5,
        score_threshold=0.01,
        metadata_filter={
            "logical_operator": "and",
            "conditions": [{"name": "component", "comparison_operator": "is", "value": "agent"}],
        },
    )
    docs = retriever.invoke("agent release")
    assert sorted(d.metadata["version"] for d in docs) == ["3.8", "4.0"]
    body = server.external_calls[-1].body
    assert body["retrieval_setting"] == {"top_k": 5, "score_threshold": 0.01}
    assert body["metadata_condition"]["conditions"] == [
        {"name": "component", "comparison_operator": "is", "value": "agent"}
    ]


def test_chat_app_grounded_on_the_external_dataset(
    dify: tuple[DifyTestServer, Any, Any],
) -> None:
    server, handbook, _ = dify
    app = server.create_chat_app("Support", dataset_ids=[handbook.id])
    reply = ChatDify(api_key=app.api_key, base_url=server.base_url).invoke(ENCRYPTION)
    resources = reply.response_metadata["retriever_resources"]
    assert resources
    assert {r["data_source_type"] for r in resources} == {"external"}
    assert resources[0]["dataset_id"] == handbook.id
    assert resources[0]["document_name"] == "Encryption and keys"
    assert [r["position"] for r in resources] == list(range(1, len(resources) + 1))
    assert "AES-256" in str(reply.content) or "encrypt" in str(reply.content).lower()
    call = server.external_calls[-1]
    assert call.body == {  # the dataset's own retrieval settings
        "retrieval_setting": {"top_k": 3, "score_threshold": 0.0},
        "query": ENCRYPTION,
        "knowledge_id": "handbook",
    }


def test_workflow_knowledge_step_gets_the_served_records(
    served: KnowledgeAPIServer, dify: tuple[DifyTestServer, Any, Any]
) -> None:
    server, _, notes = dify
    app = server.create_workflow_app(
        "Release Q&A",
        None,
        user_input_form=[{"type": "text-input", "variable": "question", "required": True}],
        nodes=[
            {"node_type": "knowledge-retrieval", "dataset_ids": [notes.id], "query_variable": "question"},
            {"title": "Answer", "node_type": "llm", "run": lambda v: {"text": v["result"][0]["content"], "n": len(v["result"])}},
        ],
    )  # fmt: skip
    with DifyClient(app.api_key, base_url=server.base_url, user="ana") as client:
        events = list(client.stream_workflow({"question": IMMUTABLE}))
    knowledge = next(
        e for e in events
        if e.event == "node_finished" and e.data.node_type == "knowledge-retrieval"
    )  # fmt: skip
    result = knowledge.data.outputs["result"]
    assert len(result) == 2  # the dataset's top_k
    first = result[0]
    assert first["title"] == "Release 4.2"
    assert first["metadata"]["_source"] == "knowledge"
    assert first["metadata"]["data_source_type"] == "external"
    assert first["metadata"]["retriever_from"] == "workflow"
    assert first["metadata"]["doc_metadata"]["version"] == "4.2"
    finished = next(e for e in events if e.event == "workflow_finished")
    assert finished.data.status == "succeeded"
    assert finished.data.outputs["text"].startswith("Stowaway 4.2 adds immutable snapshots")


def test_chatflow_knowledge_node(dify: tuple[DifyTestServer, Any, Any]) -> None:
    server, handbook, _ = dify
    app = server.create_chat_app("Flow", mode="advanced-chat", dataset_ids=[handbook.id])
    with DifyClient(app.api_key, base_url=server.base_url, user="ana") as client:
        events = list(client.stream_chat_message(ENCRYPTION))
    node = next(
        e for e in events
        if e.event == "node_finished" and e.data.node_type == "knowledge-retrieval"
    )  # fmt: skip
    assert {r["data_source_type"] for r in node.data.outputs["result"]} == {"external"}


def test_external_dataset_is_listed_like_difys(dify: tuple[DifyTestServer, Any, Any]) -> None:
    server, handbook, _ = dify
    with DifyClient(server.dataset_api_key, base_url=server.base_url) as client:
        listed = {d.id: d for d in client.list_datasets(limit=100).data}
    item = json.loads(listed[handbook.id].model_dump_json())
    assert item["provider"] == "external"
    assert item["external_knowledge_info"]["external_knowledge_id"] == "handbook"
    assert item["external_retrieval_model"] == {
        "top_k": 3,
        "score_threshold": 0.5,
        "score_threshold_enabled": False,
    }
