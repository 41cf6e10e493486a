"""The adapters composed the way users compose them: an LCEL RAG chain and an agent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from dify_integrations.langchain import ChatDify, DifyRetriever, DifyWorkflowTool

PROMPT = ChatPromptTemplate.from_messages([("human", "Context: {context}\n\nQuestion: {question}")])


def format_docs(docs: Sequence[Document]) -> str:
    return " | ".join(d.metadata["document_name"] for d in docs)


def rag_chain(apps: Any) -> Any:
    retriever = DifyRetriever(
        api_key=apps.dataset_key, base_url=apps.base_url, dataset_id=apps.handbook_id, k=2
    )
    model = ChatDify(api_key=apps.chat_key, base_url=apps.base_url)
    return (
        {"context": retriever | RunnableLambda(format_docs), "question": RunnablePassthrough()}
        | PROMPT
        | model
        | StrOutputParser()
    )


def test_rag_chain_streams(apps: Any) -> None:
    chain = rag_chain(apps)
    pieces = list(chain.stream("How long does express shipping take?"))
    assert len(pieces) > 3
    answer = "".join(pieces)
    assert answer.startswith("Turn 1: you said 'Context: shipping.md")
    assert "Question: How long does express shipping take?" in answer


async def test_rag_chain_async(apps: Any) -> None:
    chain = rag_chain(apps)
    answer = await chain.ainvoke("How do refunds work?")
    assert "Context: refunds.md" in answer
    pieces = [p async for p in chain.astream("How do refunds work?")]
    assert "".join(pieces) == answer


class ScriptedToolModel(GenericFakeChatModel):
    """langchain-core's fake chat model, able to be bound to tools (it ignores them)."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self


async def test_agent_calls_workflow_tool(apps: Any) -> None:
    agents = pytest.importorskip("langchain.agents")
    tool = DifyWorkflowTool.from_app(api_key=apps.workflow_key, base_url=apps.base_url)
    model = ScriptedToolModel(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": tool.name,
                            "args": {"text": "good night", "language": "German"},
                            "id": "call-1",
                            "type": "tool_call",
                        }
                    ],
                ),
                AIMessage(content="Done."),
            ]
        )
    )
    agent = agents.create_agent(model, [tool])
    result = await agent.ainvoke({"messages": [("human", "Translate 'good night' to German")]})
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 1
    assert tool_messages[0].content == "hallo: good night"
    assert tool_messages[0].artifact["outputs"] == {"text": "hallo: good night"}
    assert result["messages"][-1].content == "Done."
