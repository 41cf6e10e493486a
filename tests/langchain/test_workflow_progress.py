"""Workflow progress where LangGraph users look: ``stream_mode="custom"`` of an agent.

An agent (``langchain.agents.create_agent``) with a scripted tool-calling model calls a
``DifyWorkflowTool``; the graph's custom stream shows the workflow's nodes one by one, as
the local server runs them. Over HTTP on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from dify_integrations.langchain import DifyWorkflowTool
from dify_integrations.langchain.tools import PROGRESS_EVENT
from dify_integrations.testing import DifyTestServer

pytest.importorskip("langgraph")
from langchain.agents import create_agent

FORM = [{"text-input": {"label": "Text", "variable": "text", "required": True}}]
NODES = [
    {"title": "Clean", "run": lambda values: {"clean": values["text"].strip()}},
    {"title": "Shout", "run": lambda values: {"text": values["clean"].upper()}},
]


class ScriptedToolCaller(BaseChatModel):
    """Calls the first bound tool once with ``args``, then answers with the tool's result."""

    args: dict[str, Any]
    tool_name: str = ""

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-caller"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedToolCaller:  # type: ignore[override]
        return self.model_copy(update={"tool_name": tools[0].name})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if results:
            message = AIMessage(content=f"The tool said: {results[-1].content}")
        else:
            message = AIMessage(
                content="",
                tool_calls=[{"name": self.tool_name, "args": self.args, "id": "call_1"}],
            )
        return ChatResult(generations=[ChatGeneration(message=message)])


@pytest.fixture(scope="module")
def tool_key() -> Iterator[tuple[str, str]]:
    with DifyTestServer() as server:
        app = server.create_workflow_app(
            "Shouter", None, description="Shouts text.", user_input_form=FORM, nodes=NODES
        )
        yield server.base_url, app.api_key


def _agent(tool_key: tuple[str, str]) -> Any:
    base_url, key = tool_key
    tool = DifyWorkflowTool.from_app(api_key=key, base_url=base_url, name="shouter")
    return create_agent(ScriptedToolCaller(args={"text": "  hello  "}), tools=[tool])


def _node_titles(parts: list[Any], event: str) -> list[str]:
    return [p["title"] for p in parts if p.get("event") == event]


def test_custom_stream_shows_workflow_nodes(tool_key: tuple[str, str]) -> None:
    agent = _agent(tool_key)
    parts = list(agent.stream({"messages": [("user", "shout hello")]}, stream_mode="custom"))
    assert parts, "the custom stream was empty"
    assert all(p["type"] == PROGRESS_EVENT for p in parts)
    assert all(p["tool"] == "shouter" for p in parts)
    assert parts[0]["event"] == "workflow_started"
    finished = _node_titles(parts, "node_finished")
    assert finished[1:3] == ["Clean", "Shout"]  # Start, the two nodes, End
    assert [p["status"] for p in parts if p["event"] == "node_finished"] == ["succeeded"] * 4
    assert _node_titles(parts, "node_started") == finished  # each node started, then finished


def test_custom_stream_with_the_other_modes(tool_key: tuple[str, str]) -> None:
    agent = _agent(tool_key)
    modes: dict[str, list[Any]] = {}
    for mode, part in agent.stream(
        {"messages": [("user", "shout hello")]}, stream_mode=["custom", "updates"]
    ):
        modes.setdefault(mode, []).append(part)
    assert "Clean" in _node_titles(modes["custom"], "node_finished")
    final = agent.invoke({"messages": [("user", "shout hello")]})
    assert final["messages"][-1].content == "The tool said: HELLO"


async def test_async_custom_stream_shows_workflow_nodes(tool_key: tuple[str, str]) -> None:
    agent = _agent(tool_key)
    parts = [
        p
        async for p in agent.astream({"messages": [("user", "shout hello")]}, stream_mode="custom")
    ]
    assert _node_titles(parts, "node_finished")[1:3] == ["Clean", "Shout"]


def test_outside_a_graph_nothing_is_written(tool_key: tuple[str, str]) -> None:
    base_url, key = tool_key
    tool = DifyWorkflowTool.from_app(api_key=key, base_url=base_url)
    assert tool.invoke({"text": " hi "}) == "HI"
