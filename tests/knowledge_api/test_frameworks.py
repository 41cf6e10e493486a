"""LangChain and LlamaIndex objects served over HTTP, and the package without either."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any, ClassVar

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever as LCRetriever
from langchain_core.vectorstores import InMemoryVectorStore
from llama_index.core import VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever as LIRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import FilterCondition, FilterOperator

from dify_integrations.knowledge_api import MetadataCondition, create_app
from dify_integrations.knowledge_api._llama_index import to_filters
from dify_integrations.knowledge_api.example import (
    RELEASE_NOTES,
    LlamaWordHashEmbedding,
    WordHashEmbedding,
    handbook_retriever,
    release_notes_retriever,
)

from .conftest import KEY, StartService


def _notes_store() -> InMemoryVectorStore:
    store = InMemoryVectorStore(WordHashEmbedding())
    store.add_documents([Document(n["text"], metadata=dict(n["metadata"])) for n in RELEASE_NOTES])
    return store


async def test_langchain_in_memory_retriever(start_service: StartService) -> None:
    service = await start_service(create_app({"kb": release_notes_retriever()}, api_key=KEY))
    records = await service.retrieve("Which release added immutable snapshots?", top_k=2)
    assert len(records) == 2
    assert records[0]["title"] == "Release 4.2"
    assert records[0]["metadata"]["version"] == "4.2"
    assert 0.0 < records[1]["score"] <= records[0]["score"] <= 1.0


async def test_langchain_filter_goes_into_the_store(start_service: StartService) -> None:
    store = _notes_store()
    seen: list[Any] = []
    original = store.asimilarity_search_with_score

    async def spy(query: str, k: int = 4, **kwargs: Any) -> Any:
        seen.append((k, kwargs.get("filter")))
        return await original(query, k=k, **kwargs)

    store.asimilarity_search_with_score = spy  # type: ignore[method-assign]
    service = await start_service(create_app({"kb": store.as_retriever()}, api_key=KEY))
    condition = {
        "conditions": [{"name": "component", "comparison_operator": "is", "value": "agent"}]
    }
    records = await service.retrieve("release", top_k=5, metadata_condition=condition)
    assert sorted(r["title"] for r in records) == ["Release 3.8", "Release 4.0"]
    ((k, predicate),) = seen
    assert k == 5  # the store filters: no over-fetch
    assert callable(predicate)


async def test_langchain_vector_store_served_directly(start_service: StartService) -> None:
    service = await start_service(create_app({"kb": _notes_store()}, api_key=KEY))
    records = await service.retrieve("Kubernetes agent volumes", top_k=1)
    assert [r["title"] for r in records] == ["Release 4.0"]


class SyncDocs(LCRetriever):
    """A plain sync retriever without scores."""

    threads: ClassVar[list[str]] = []

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        self.threads.append(threading.current_thread().name)
        return [
            Document(f"{query} one", metadata={"source": "a.txt", "lang": "en"}),
            Document(f"{query} two", metadata={"source": "b.txt", "lang": "de", "score": 0.3}),
        ]


class AsyncDocs(SyncDocs):
    """Native async."""

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        self.threads.append(threading.current_thread().name)
        return [Document("async doc", metadata={"relevance_score": 0.7})]


async def test_langchain_plain_retrievers(start_service: StartService) -> None:
    sync_r, async_r = SyncDocs(), AsyncDocs()
    service = await start_service(create_app({"s": sync_r, "a": async_r}, api_key=KEY))
    records = await service.retrieve("q", knowledge_id="s")
    assert [(r["content"], r["score"], r["title"]) for r in records] == [
        ("q one", 1.0, "a.txt"),  # no score: rank 0 -> 1.0
        ("q two", 0.3, "b.txt"),  # score from metadata
    ]
    condition = {"conditions": [{"name": "lang", "comparison_operator": "is", "value": "de"}]}
    assert [
        r["content"]
        for r in await service.retrieve("q", knowledge_id="s", metadata_condition=condition)
    ] == ["q two"]
    assert [r["score"] for r in await service.retrieve("q", knowledge_id="a")] == [0.7]
    assert SyncDocs.threads[0].startswith("knowledge-api")
    assert SyncDocs.threads[-1] == threading.current_thread().name  # async: awaited on the loop


async def test_llama_index_vector_retriever(start_service: StartService) -> None:
    retriever = handbook_retriever(similarity_top_k=2)
    service = await start_service(create_app({"kb": retriever}, api_key=KEY))
    records = await service.retrieve("How is data encrypted before upload?", top_k=3)
    assert len(records) == 3  # the request's top_k, not the retriever's 2
    assert records[0]["title"] == "Encryption and keys"
    assert records[0]["metadata"]["file_name"] == "13-encryption.md"
    assert retriever.similarity_top_k == 2  # the shared retriever is not changed
    condition = {
        "conditions": [{"name": "category", "comparison_operator": "is", "value": "billing"}]
    }
    filtered = await service.retrieve("encryption", top_k=3, metadata_condition=condition)
    assert filtered
    assert {r["metadata"]["category"] for r in filtered} == {"billing"}


def _numbers_index() -> Any:
    nodes = [
        TextNode(text=f"release note number {i}", metadata={"year": 2020 + i, "tag": f"t{i}"})
        for i in range(6)
    ]
    return VectorStoreIndex(nodes, embed_model=LlamaWordHashEmbedding())


async def test_llama_index_filters_pushed_down(start_service: StartService) -> None:
    index = _numbers_index()
    service = await start_service(create_app({"kb": index}, api_key=KEY))
    condition = {"conditions": [{"name": "year", "comparison_operator": "≥", "value": 2024}]}
    records = await service.retrieve("release note", top_k=10, metadata_condition=condition)
    assert sorted(r["metadata"]["year"] for r in records) == [2024, 2025]


def test_translation_into_llama_index_filters() -> None:
    parsed = MetadataCondition.parse(
        {
            "conditions": [
                {"name": "year", "comparison_operator": ">", "value": 2023},
                {"name": "title", "comparison_operator": "contains", "value": "note"},
                {"name": "tag", "comparison_operator": "start with", "value": "t"},
                {"name": "owner", "comparison_operator": "empty"},
            ]
        }
    )
    filters = to_filters(parsed)
    assert filters is not None
    assert filters.condition == FilterCondition.AND
    assert [(f.key, f.operator, f.value) for f in filters.filters] == [  # type: ignore[union-attr]
        ("year", FilterOperator.GT, 2023),
        ("title", FilterOperator.TEXT_MATCH, "note"),
        ("owner", FilterOperator.IS_EMPTY, None),
    ]
    either = MetadataCondition.parse(
        {
            "logical_operator": "or",
            "conditions": parsed.conditions
            and [  # type: ignore[union-attr]
                {"name": "year", "comparison_operator": ">", "value": 2023},
                {"name": "tag", "comparison_operator": "start with", "value": "t"},
            ],
        }
    )
    assert to_filters(either) is None  # "or" with a local-only operator: nothing pushed down


async def test_llama_index_filter_type_mismatch_falls_back(start_service: StartService) -> None:
    nodes = [
        TextNode(text="alpha note", metadata={"year": "2024"}),
        TextNode(text="beta note", metadata={"year": 2021}),
    ]
    index = VectorStoreIndex(nodes, embed_model=LlamaWordHashEmbedding())
    service = await start_service(create_app({"kb": index.as_retriever()}, api_key=KEY))
    condition = {"conditions": [{"name": "year", "comparison_operator": ">", "value": 2022}]}
    records = await service.retrieve("note", metadata_condition=condition)
    assert [r["content"] for r in records] == ["alpha note"]  # "2024" compares as a number


class SyncNodes(LIRetriever):
    """A sync LlamaIndex retriever."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.threads.append(threading.current_thread().name)
        return [
            NodeWithScore(node=TextNode(text="n1", metadata={"title": "N"}), score=2.0),
            NodeWithScore(node=TextNode(text="n2"), score=None),
        ]


async def test_llama_index_plain_retriever(start_service: StartService) -> None:
    retriever = SyncNodes()
    service = await start_service(create_app({"kb": retriever}, api_key=KEY))
    records = await service.retrieve("q")
    assert [(r["content"], r["score"], r["title"]) for r in records] == [
        ("n1", 1.0, "N"),
        ("n2", 0.5, ""),
    ]
    assert retriever.threads[0].startswith("knowledge-api")


async def test_callable_returning_framework_objects(start_service: StartService) -> None:
    def mixed(query: str) -> list[Any]:
        return [
            (Document("lc", metadata={"title": "L"}), 0.6),
            NodeWithScore(node=TextNode(text="li"), score=0.4),
            Document("bare"),
        ]

    service = await start_service(create_app({"kb": mixed}, api_key=KEY))
    records = await service.retrieve("q")
    assert [(r["content"], r["score"]) for r in records] == [
        ("lc", 0.6),
        ("li", 0.4),
        ("bare", 0.333333),
    ]


def test_package_imports_and_serves_without_either_framework() -> None:
    program = """
import asyncio, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("langchain_core", "llama_index", "langchain"):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
from aiohttp.test_utils import TestClient, TestServer
from dify_integrations.knowledge_api import create_app
async def main():
    app = create_app({"kb": lambda q: [{"content": q, "score": 0.5}]}, api_key="k")
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/retrieval", json={"knowledge_id": "kb", "query": "hi",
            "retrieval_setting": {"top_k": 1, "score_threshold": 0}},
            headers={"Authorization": "Bearer k"})
        print(resp.status, (await resp.json())["records"][0]["content"])
asyncio.run(main())
assert not any(m.startswith(("langchain", "llama_index")) for m in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "200 hi"
