"""Benchmark 2: adapter overhead against the framework's own fake plus the bare HTTP call.

For each adapter call, three variants are interleaved round by round:

- the adapter (e.g. `ChatDify.invoke`),
- the framework's own fake doing the same kind of call with no I/O (what the framework
  itself costs: callbacks, run managers, message objects),
- the bare HTTP call that gets the same answer from the same endpoint.

ratio = adapter / (fake + bare), median over rounds of the per-round ratio; target <= 1.15x.
`ChatDify.invoke` and LlamaIndex `DifyLLM.chat` stream internally (so long answers never
hit gateway timeouts), so their bare call is the *streaming* request read to the end and
folded; the retrievers' bare call is one `POST /datasets/{id}/retrieve` + `json()`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from benchmarks import _bare
from benchmarks._harness import (
    Context,
    Table,
    interleaved,
    median,
    ratio,
    us,
    verdict,
)

NAME = "adapters"
USER = "bench-user"
QUERY = "ping"
RETRIEVE_QUERY = "how many days may employees work remotely"
TOP_K = 4
TARGET = 1.15


def _overhead(
    table: Table,
    label: str,
    adapter: Callable[[], object],
    fake: Callable[[], object],
    bare: Callable[[], object],
    ctx: Context,
    fake_label: str,
    bare_label: str,
) -> None:
    s = interleaved(
        {"adapter": adapter, "fake": fake, "bare": bare},
        rounds=ctx.pick(30, 2),
        calls=ctx.pick(20, 2),
        warmup=ctx.pick(30, 1),
    )

    def combined(cpu: bool) -> float:
        times = s.cpu if cpu else s.wall
        return median(
            [
                a / (f + b)
                for a, f, b in zip(times["adapter"], times["fake"], times["bare"], strict=True)
            ]
        )

    r = combined(cpu=False)
    table.add(
        label,
        us(s.median("adapter")),
        f"{us(s.median('fake'))} ({fake_label})",
        f"{us(s.median('bare'))} ({bare_label})",
        ratio(r),
        f"{us(s.median('adapter', cpu=True))} / {ratio(combined(cpu=True))}",
        verdict(r <= TARGET),
    )


def _langchain(ctx: Context, table: Table) -> None:
    import requests
    from langchain_core.documents import Document
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.retrievers import BaseRetriever

    from dify_integrations.langchain import ChatDify, DifyRetriever

    server = ctx.server
    session = requests.Session()
    chat_url = f"{server.base_url}/chat-messages"
    retrieve_url = f"{server.base_url}/datasets/{server.info['dataset_id']}/retrieve"
    dataset_key = str(server.info["dataset_key"])

    class TrivialRetriever(BaseRetriever):
        def _get_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
            return [Document(page_content="Employees may work remotely.", metadata={"score": 1})]

    chat = ChatDify(api_key=server.key("tiny"), base_url=server.base_url, user=USER)
    fake_chat = GenericFakeChatModel(messages=itertools.repeat(AIMessage("pong")))
    retriever = DifyRetriever(
        api_key=dataset_key,
        base_url=server.base_url,
        dataset_id=server.info["dataset_id"],
        k=TOP_K,
    )
    stream_body = _bare.chat_body(QUERY, USER, streaming=True)
    retrieve_body = _retrieve_body()
    try:
        _overhead(
            table,
            "LangChain ChatDify.invoke",
            lambda: chat.invoke(QUERY),
            lambda: fake_chat.invoke(QUERY),
            lambda: _bare.stream_answer(session, chat_url, server.key("tiny"), stream_body),
            ctx,
            "GenericFakeChatModel.invoke",
            "requests, streaming, read to end",
        )
        _overhead(
            table,
            "LangChain DifyRetriever.invoke",
            lambda: retriever.invoke(RETRIEVE_QUERY),
            lambda: TrivialRetriever().invoke(RETRIEVE_QUERY),
            lambda: _bare.post_json(session, retrieve_url, dataset_key, retrieve_body),
            ctx,
            "trivial BaseRetriever.invoke",
            "requests POST + json()",
        )
    finally:
        session.close()


def _llama_index(ctx: Context, table: Table) -> None:
    import requests
    from llama_index.core import QueryBundle
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    from dify_integrations.llama_index import DifyLLM, DifyRetriever

    server = ctx.server
    session = requests.Session()
    chat_url = f"{server.base_url}/chat-messages"
    retrieve_url = f"{server.base_url}/datasets/{server.info['dataset_id']}/retrieve"
    dataset_key = str(server.info["dataset_key"])

    class TrivialRetriever(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            return [NodeWithScore(node=TextNode(text="Employees may work remotely."), score=1.0)]

    llm = DifyLLM(api_key=server.key("tiny"), base_url=server.base_url, user=USER)
    mock = MockLLM()
    trivial = TrivialRetriever()
    retriever = DifyRetriever(
        api_key=dataset_key,
        base_url=server.base_url,
        dataset_id=server.info["dataset_id"],
        similarity_top_k=TOP_K,
    )
    messages = [ChatMessage(role="user", content=QUERY)]
    stream_body = _bare.chat_body(QUERY, USER, streaming=True)
    retrieve_body = _retrieve_body()
    try:
        _overhead(
            table,
            "LlamaIndex DifyLLM.chat",
            lambda: llm.chat(messages),
            lambda: mock.chat(messages),
            lambda: _bare.stream_answer(session, chat_url, server.key("tiny"), stream_body),
            ctx,
            "MockLLM.chat",
            "requests, streaming, read to end",
        )
        _overhead(
            table,
            "LlamaIndex DifyRetriever.retrieve",
            lambda: retriever.retrieve(RETRIEVE_QUERY),
            lambda: trivial.retrieve(RETRIEVE_QUERY),
            lambda: _bare.post_json(session, retrieve_url, dataset_key, retrieve_body),
            ctx,
            "trivial BaseRetriever.retrieve",
            "requests POST + json()",
        )
    finally:
        session.close()


def _retrieve_body() -> dict[str, Any]:
    return {
        "query": RETRIEVE_QUERY,
        "retrieval_model": {
            "search_method": "semantic_search",
            "reranking_enable": False,
            "top_k": TOP_K,
            "score_threshold_enabled": False,
        },
    }


def run(ctx: Context) -> list[Table]:
    """Run benchmark 2 for the LangChain and LlamaIndex adapters."""
    table = Table(
        "2. Adapter overhead, per call (sync)",
        [
            "adapter call",
            "wall / call",
            "framework fake",
            "bare HTTP",
            "adapter / (fake + bare)",
            "client CPU / call, ratio",
            "result",
        ],
    )
    _langchain(ctx, table)
    _llama_index(ctx, table)
    table.note(
        f"target <= {TARGET:.2f}x; ChatDify.invoke and DifyLLM.chat stream internally, so "
        "their bare baseline is the streaming request read to the end (one requests.Session)"
    )
    table.note(
        "variants interleaved; ratio = median over rounds of adapter / (fake + bare) "
        "measured in the same round (wall clock); the CPU column is the same ratio on the "
        "benchmark process's CPU time"
    )
    return [table]
