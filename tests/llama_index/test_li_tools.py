"""DifyWorkflowTool over real HTTP, alone and inside a ReAct agent driven by DifyLLM."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from llama_index.core.agent.workflow import ReActAgent, ToolCallResult
from llama_index.core.tools.types import AsyncBaseTool

from dify_integrations.core.errors import AuthenticationError
from dify_integrations.llama_index import DifyLLM, DifyWorkflowTool

if TYPE_CHECKING:
    from conftest import Apps

pytestmark = pytest.mark.timeout(60)


def test_from_app_builds_metadata_from_info_and_parameters(apps: Apps) -> None:
    tool = DifyWorkflowTool.from_app(api_key=apps.workflow_key, base_url=apps.base_url)
    assert isinstance(tool, AsyncBaseTool)
    meta = tool.metadata
    assert meta.name == "translate_text"
    assert meta.description == "Translate a short text into another language."
    schema = meta.get_parameters_dict()
    assert schema["required"] == ["text"]
    assert set(schema["properties"]) == {"text", "language"}
    assert schema["properties"]["text"]["description"] == "Text to translate"
    assert apps.workflow_key not in repr(tool)
    named = DifyWorkflowTool.from_app(
        api_key=apps.workflow_key, base_url=apps.base_url, name="tr", description="Translate."
    )
    assert (named.metadata.name, named.metadata.description) == ("tr", "Translate.")


async def test_afrom_app(apps: Apps, track: Callable[[Any], Any]) -> None:
    tool = track(
        await DifyWorkflowTool.afrom_app(api_key=apps.workflow_key, base_url=apps.base_url)
    )
    assert tool.metadata.name == "translate_text"


def test_call_runs_the_workflow(apps: Apps) -> None:
    tool = DifyWorkflowTool.from_app(api_key=apps.workflow_key, base_url=apps.base_url)
    output = tool.call(text="good night", language="Spanish")
    assert output.is_error is False
    assert output.content == "buenos días (good night)"
    assert output.raw_output == {"text": "buenos días (good night)"}
    assert output.tool_name == "translate_text"
    run = apps.server.requests_to("/workflows/run")[-1]
    assert run.body["response_mode"] == "streaming"
    assert run.body["inputs"] == {"text": "good night", "language": "Spanish"}
    # A lone string goes to the one required variable; the select default is applied.
    assert tool("hello").content == "bonjour (hello)"


async def test_acall_runs_the_workflow(apps: Apps, track: Callable[[Any], Any]) -> None:
    tool = track(DifyWorkflowTool.from_app(api_key=apps.workflow_key, base_url=apps.base_url))
    output = await tool.acall(text="hi", language="German")
    assert output.content == "guten Morgen (hi)"
    assert output.raw_output == {"text": "guten Morgen (hi)"}


@pytest.mark.parametrize("use_async", [False, True])
async def test_failed_run_is_an_error_output(
    apps: Apps, use_async: bool, track: Callable[[Any], Any]
) -> None:
    tool = track(
        DifyWorkflowTool.from_app(api_key=apps.failing_workflow_key, base_url=apps.base_url)
    )
    output = await tool.acall(text="x") if use_async else tool.call(text="x")
    assert output.is_error is True
    assert "translation model unavailable" in output.content


def test_several_outputs_come_back_as_json(apps: Apps) -> None:
    tool = DifyWorkflowTool.from_app(api_key=apps.multi_output_workflow_key, base_url=apps.base_url)
    output = tool.call(text="abc")
    assert json.loads(output.content) == {"length": 3, "upper": "ABC"}
    assert output.raw_output == {"length": 3, "upper": "ABC"}


def test_bad_arguments_and_wrong_app(apps: Apps) -> None:
    tool = DifyWorkflowTool.from_app(api_key=apps.workflow_key, base_url=apps.base_url)
    before = len(apps.server.requests_to("/workflows/run"))
    with pytest.raises(ValueError, match="text"):
        tool.call(language="German")
    with pytest.raises(ValueError, match="language"):
        tool.call(text="a", language="Klingon")
    assert len(apps.server.requests_to("/workflows/run")) == before
    with pytest.raises(ValueError, match="workflow app"):
        DifyWorkflowTool.from_app(api_key=apps.echo_key, base_url=apps.base_url)
    with pytest.raises(AuthenticationError):
        DifyWorkflowTool.from_app(api_key="app-wrong", base_url=apps.base_url)


@pytest.mark.parametrize("streaming", [True, False])
async def test_react_agent_with_dify_llm_and_dify_workflow_tool(
    apps: Apps, streaming: bool, track: Callable[[Any], Any]
) -> None:
    llm = track(DifyLLM(api_key=apps.react_key, base_url=apps.base_url, user="u-react"))
    tool = track(DifyWorkflowTool.from_app(api_key=apps.workflow_key, base_url=apps.base_url))
    agent = ReActAgent(tools=[tool], llm=llm, streaming=streaming)
    runs_before = len(apps.server.requests_to("/workflows/run"))

    handler = agent.run(user_msg="How do you say 'good morning' in German?")
    tool_results = [ev async for ev in handler.stream_events() if isinstance(ev, ToolCallResult)]
    result = await handler

    assert len(tool_results) == 1
    call = tool_results[0]
    assert call.tool_name == "translate_text"
    assert call.tool_kwargs == {"text": "good morning", "language": "German"}
    assert call.tool_output.content == "guten Morgen (good morning)"
    assert not call.tool_output.is_error
    assert "In German that is: guten Morgen (good morning)" in str(result.response.content)
    assert len(apps.server.requests_to("/workflows/run")) == runs_before + 1
    # Both model turns went to the Dify chat app; the second carried the observation.
    queries = [r.body["query"] for r in apps.server.requests_to("/chat-messages")[-2:]]
    assert "translate_text" in queries[0]  # the ReAct instructions with the tool list
    assert "Observation: guten Morgen (good morning)" in queries[1]
