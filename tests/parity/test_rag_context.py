"""Each turn's retrieved context reaches Dify, in both frameworks' conversational-RAG setups.

A retrieval chain puts the context in the *system* message, which changes every turn while
the Dify conversation continues. The server's request log shows what Dify received.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda
from llama_index.core.chat_engine import CondensePlusContextChatEngine, ContextChatEngine

from dify_integrations.langchain import ChatDify
from dify_integrations.langchain import DifyRetriever as LCRetriever
from dify_integrations.llama_index import DifyLLM
from dify_integrations.llama_index import DifyRetriever as LIRetriever
from dify_integrations.testing import DifyTestServer

DOCS = [
    {"name": "returns.md", "text": "Parcels may be returned within 30 days of delivery."},
    {"name": "shipping.md", "text": "Express shipping arrives in 2 business days."},
    {"name": "warranty.md", "text": "Warranty claims are honoured for 24 months."},
]
# (question, a phrase only the document it retrieves contains)
TURNS = [
    ("How many days to return parcels?", "within 30 days of delivery"),
    ("How fast is express shipping?", "arrives in 2 business days"),
    ("How long are warranty claims honoured?", "honoured for 24 months"),
]


def _echo(query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: Any) -> str:
    if "Follow Up Input:" in query:  # CondensePlusContext's condense step
        follow_up = query.split("Follow Up Input:")[1].split("\n")[0].strip()
        return f"{follow_up} " * 12  # a condensed question far over Dify's 250 characters
    return f"Answer {len(history) + 1}."


@pytest.fixture(scope="module")
def setup(server: DifyTestServer) -> dict[str, str]:
    dataset = server.create_dataset("RAG", DOCS)
    app = server.create_chat_app("RAG chat", responder=_echo)
    return {"dataset": dataset.id, "key": app.api_key}


def _chat_queries(server: DifyTestServer) -> list[tuple[str | None, str]]:
    return [
        (r.body.get("conversation_id"), r.body["query"])
        for r in server.requests_to("/chat-messages", "POST")
    ]


def _assert_each_turn_carries_its_context(sent: list[tuple[str | None, str]]) -> None:
    assert len(sent) == len(TURNS)
    for index, ((conversation_id, query), (question, phrase)) in enumerate(
        zip(sent, TURNS, strict=True)
    ):
        assert phrase in query, f"turn {index + 1}: the retrieved context did not reach Dify"
        assert query.rstrip().endswith(question)
        if index:
            # one Dify conversation throughout: later turns continue the first one
            assert conversation_id is not None
        # and it is this turn's context, not an earlier turn's resent
        instructions = query.split("Current message:")[0]
        assert not any(p in instructions for q, p in TURNS if q != question)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_langchain_conversational_rag_chain(
    server: DifyTestServer, setup: dict[str, str], mode: str
) -> None:
    retriever = LCRetriever(
        api_key=server.dataset_api_key, base_url=server.base_url, dataset_id=setup["dataset"], k=1
    )
    llm = ChatDify(api_key=setup["key"], base_url=server.base_url, user="rag", model="m")
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer from this context only:\n{context}"),
            MessagesPlaceholder("history"),
            ("human", "{question}"),
        ]
    )

    def join(docs: list[Document]) -> str:
        return "\n".join(d.page_content for d in docs)

    chain = (
        {
            "context": itemgetter("question") | retriever | RunnableLambda(join),
            "question": itemgetter("question"),
            "history": itemgetter("history"),
        }
        | prompt
        | llm
    )
    server.reset_log()
    history: list[BaseMessage] = []
    for question, _ in TURNS:
        inputs = {"question": question, "history": list(history)}
        answer = chain.invoke(inputs) if mode == "sync" else await chain.ainvoke(inputs)
        history += [HumanMessage(question), answer]
    _assert_each_turn_carries_its_context(_chat_queries(server))


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("engine_kind", ["context", "condense-plus-context"])
async def test_llama_index_context_chat_engines(
    server: DifyTestServer, setup: dict[str, str], engine_kind: str, mode: str
) -> None:
    retriever = LIRetriever(
        setup["dataset"],
        api_key=server.dataset_api_key,
        base_url=server.base_url,
        similarity_top_k=1,
        truncate_query=True,  # a condensed question can grow past Dify's 250 characters
    )
    llm = DifyLLM(api_key=setup["key"], base_url=server.base_url, user="rag", app_mode="chat")
    engine: ContextChatEngine | CondensePlusContextChatEngine
    if engine_kind == "context":
        engine = ContextChatEngine.from_defaults(retriever=retriever, llm=llm)
    else:
        # the condense step would rewrite the question with the LLM (a Dify call of its
        # own); keep the user's question so the retrieval target is known
        engine = CondensePlusContextChatEngine.from_defaults(
            retriever=retriever, llm=llm, skip_condense=True
        )
    server.reset_log()
    for question, _ in TURNS:
        if mode == "sync":
            engine.chat(question)
        else:
            await engine.achat(question)
    _assert_each_turn_carries_its_context(_chat_queries(server))


@pytest.mark.parametrize("truncate", [False, True])
def test_a_long_condensed_question_answers_only_with_truncation(
    server: DifyTestServer, setup: dict[str, str], truncate: bool
) -> None:
    retriever = LIRetriever(
        setup["dataset"],
        api_key=server.dataset_api_key,
        base_url=server.base_url,
        similarity_top_k=1,
        truncate_query=truncate,
    )
    llm = DifyLLM(api_key=setup["key"], base_url=server.base_url, user="rag", app_mode="chat")
    engine = CondensePlusContextChatEngine.from_defaults(retriever=retriever, llm=llm)
    engine.chat(TURNS[0][0])  # the first turn is not condensed
    if not truncate:
        with pytest.raises(ValueError, match="250 characters"):
            engine.chat(TURNS[1][0])
        return
    server.reset_log()
    response = engine.chat(TURNS[1][0])
    assert str(response).startswith("Answer")
    (retrieve,) = server.requests_to("/datasets/{dataset_id}/retrieve")
    assert len(retrieve.body["query"]) == 250
