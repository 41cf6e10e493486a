"""Workflow progress in a LlamaIndex agent run: ``DifyWorkflowProgress`` events in its stream.

A ``FunctionAgent`` (explicit ``llm=``: LlamaIndex's mock function-calling LLM, scripted to
call the tool once) runs a ``DifyWorkflowTool``; ``handler.stream_events()`` shows the
workflow's nodes one by one as the local server runs them. Over HTTP on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms import MockFunctionCallingLLM

from dify_integrations.llama_index import DifyWorkflowTool
from dify_integrations.llama_index.tools import DifyWorkflowProgress
from dify_integrations.testing import DifyTestServer

FORM = [{"text-input": {"label": "Text", "variable": "text", "required": True}}]
NODES = [
    {"title": "Clean", "run": lambda values: {"clean": values["text"].strip()}},
    {"title": "Shout", "run": lambda values: {"text": values["clean"].upper()}},
]


def _scripted(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
    """Call the first tool with ``text="  hello  "``, then report what it returned."""
    results = [m for m in messages if m.role == MessageRole.TOOL]
    if results:
        return ChatMessage(role=MessageRole.ASSISTANT, content=f"Tool said {results[-1].content}")
    tool = kwargs["tools"][0]
    block = ToolCallBlock(
        tool_call_id="call-1", tool_name=tool.metadata.name, tool_kwargs={"text": "  hello  "}
    )
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=[block])


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[str, str]]:
    with DifyTestServer() as server:
        shouter = server.create_workflow_app(
            "Shouter", None, description="Shouts text.", user_input_form=FORM, nodes=NODES
        )
        yield server.base_url, shouter.api_key


def _tool(app: tuple[str, str]) -> DifyWorkflowTool:
    base_url, key = app
    return DifyWorkflowTool.from_app(api_key=key, base_url=base_url, name="shouter")


async def _run(workflow: Any) -> tuple[list[Any], Any]:
    handler = workflow.run(user_msg="shout hello")
    events = [event async for event in handler.stream_events()]
    return events, await handler


def _check_progress(events: list[Any]) -> None:
    progress = [e for e in events if isinstance(e, DifyWorkflowProgress)]
    assert progress, "no progress event reached the agent's stream"
    assert {p.tool_name for p in progress} == {"shouter"}
    assert progress[0].event == "workflow_started"
    finished = [p for p in progress if p.event == "node_finished"]
    assert [p.title for p in finished][1:3] == ["Clean", "Shout"]
    assert {p.status for p in finished} == {"succeeded"}
    assert [p.title for p in progress if p.event == "node_started"] == [p.title for p in finished]
    assert finished[1].data["node_id"]
    # The progress arrives before the tool's result.
    result_at = next(i for i, e in enumerate(events) if isinstance(e, ToolCallResult))
    assert events.index(progress[-1]) < result_at


async def test_function_agent_streams_tool_progress(app: tuple[str, str]) -> None:
    llm = MockFunctionCallingLLM(response_generator=_scripted, is_chat_model=True)
    agent = FunctionAgent(tools=[_tool(app)], llm=llm, streaming=False)
    events, result = await _run(agent)
    _check_progress(events)
    assert "HELLO" in str(result)


async def test_agent_workflow_streams_tool_progress(app: tuple[str, str]) -> None:
    llm = MockFunctionCallingLLM(response_generator=_scripted, is_chat_model=True)
    agent = FunctionAgent(name="shouter_agent", tools=[_tool(app)], llm=llm, streaming=False)
    events, _ = await _run(AgentWorkflow(agents=[agent]))
    _check_progress(events)


async def test_outside_an_agent_the_tool_just_runs(app: tuple[str, str]) -> None:
    output = await _tool(app).acall(text=" hi ")
    assert output.raw_output == {"text": "HI"}
