"""DifyWorkflowTool over real HTTP: schema from the app, runs, failures, progress events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.load import dumps
from langchain_core.messages import ToolMessage
from langchain_core.tools import ToolException
from pydantic import BaseModel, ValidationError

from dify_integrations.langchain import DifyWorkflowTool
from dify_integrations.langchain.tools import PROGRESS_EVENT


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def run(tool: DifyWorkflowTool, value: Any, mode: str, **kwargs: Any) -> Any:
    if mode == "sync":
        return tool.invoke(value, **kwargs)
    return await tool.ainvoke(value, **kwargs)


async def build(apps: Any, mode: str, key: str, **kwargs: Any) -> DifyWorkflowTool:
    if mode == "sync":
        return DifyWorkflowTool.from_app(api_key=key, base_url=apps.base_url, **kwargs)
    return await DifyWorkflowTool.afrom_app(api_key=key, base_url=apps.base_url, **kwargs)


async def test_from_app_builds_name_description_and_schema(apps: Any, mode: str) -> None:
    tool = await build(apps, mode, apps.workflow_key)
    assert tool.name == "translate_text"
    assert tool.description == "Translate a short text into another language."
    schema = tool.tool_call_schema.model_json_schema()
    props = schema["properties"]
    assert schema["required"] == ["text"]
    assert props["text"]["maxLength"] == 200
    assert props["text"]["description"] == "Text to translate"
    language = props["language"]
    options = language.get("enum") or next(a["enum"] for a in language["anyOf"] if "enum" in a)
    assert options == ["French", "German", "Spanish"]
    assert language["default"] == "French"
    assert "formal" in props
    assert "creativity" in props
    assert isinstance(tool.args_schema, type)
    assert issubclass(tool.args_schema, BaseModel)
    with pytest.raises(ValidationError):
        tool.args_schema(text="x", language="Klingon")
    with pytest.raises(ValidationError):
        tool.args_schema(language="French")


async def test_name_and_description_overrides(apps: Any, mode: str) -> None:
    tool = await build(apps, mode, apps.workflow_key, name="translator", description="Translates.")
    assert (tool.name, tool.description) == ("translator", "Translates.")


async def test_run_returns_text_output_and_artifact(apps: Any, mode: str) -> None:
    tool = await build(apps, mode, apps.workflow_key)
    assert await run(tool, {"text": "hi", "language": "German", "formal": True}, mode) == (
        "Hallo: hi"
    )
    call = {"type": "tool_call", "id": "c1", "name": tool.name, "args": {"text": "yo"}}
    message = await run(tool, call, mode)
    assert isinstance(message, ToolMessage)
    assert message.content == "bonjour: yo"  # the select's default applies
    artifact = message.artifact
    assert artifact["outputs"] == {"text": "bonjour: yo"}
    assert artifact["status"] == "succeeded"
    assert isinstance(artifact["workflow_run_id"], str)
    assert isinstance(artifact["task_id"], str)
    assert artifact["elapsed_time"] is not None
    sent = [r for r in apps.server.request_log if r.path.endswith("/workflows/run")][-1]
    inputs = sent.body["inputs"]
    assert (inputs["text"], inputs["language"]) == ("yo", "French")
    assert None not in inputs.values()  # unset optional variables are left to Dify
    assert sent.body["response_mode"] == "streaming"


async def test_several_outputs_rendered_as_json(apps: Any, mode: str) -> None:
    tool = await build(apps, mode, apps.multi_output_workflow_key)
    content = await run(tool, {"text": "abc"}, mode)
    assert json.loads(content) == {"length": 3, "upper": "ABC"}


async def test_failed_run_raises_tool_exception(apps: Any, mode: str) -> None:
    tool = await build(apps, mode, apps.failing_workflow_key)
    with pytest.raises(ToolException, match="translation model unavailable"):
        await run(tool, {"text": "x"}, mode)
    tolerant = await build(apps, mode, apps.failing_workflow_key, handle_tool_error=True)
    assert "translation model unavailable" in await run(tolerant, {"text": "x"}, mode)


async def test_progress_events_in_astream_events(apps: Any) -> None:
    tool = await DifyWorkflowTool.afrom_app(api_key=apps.workflow_key, base_url=apps.base_url)
    events = [
        e
        async for e in tool.astream_events({"text": "hi"}, version="v2")
        if e["event"] == "on_custom_event"
    ]
    assert events
    assert all(e["name"] == PROGRESS_EVENT for e in events)
    kinds = [e["data"]["event"] for e in events]
    assert kinds[0] == "workflow_started"
    assert "node_started" in kinds
    assert "node_finished" in kinds
    finished = [e["data"] for e in events if e["data"]["event"] == "node_finished"]
    assert all(d["status"] == "succeeded" and d["title"] for d in finished)


class TextRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.custom: list[str] = []

    def on_text(self, text: str, **kwargs: Any) -> None:
        self.lines.append(text)

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.custom.append(data["event"])


def test_progress_reaches_sync_callbacks(apps: Any) -> None:
    tool = DifyWorkflowTool.from_app(api_key=apps.workflow_key, base_url=apps.base_url)
    recorder = TextRecorder()
    tool.invoke({"text": "hi"}, config={"callbacks": [recorder]})
    assert recorder.lines[0] == "[dify] workflow started\n"
    assert any("started" in line for line in recorder.lines[1:])
    assert recorder.custom[0] == "workflow_started"
    assert len(recorder.custom) == len(recorder.lines)


async def test_explicit_schema_constructor(apps: Any, mode: str) -> None:
    class Args(BaseModel):
        text: str
        language: str = "Spanish"

    tool = DifyWorkflowTool(
        name="translate",
        description="Translate text",
        args_schema=Args,
        api_key=apps.workflow_key,
        base_url=apps.base_url,
    )
    assert await run(tool, {"text": "buenas"}, mode) == "hola: buenas"


def test_secrets_hidden() -> None:
    tool = DifyWorkflowTool(api_key="app-hidden-tool", base_url="http://127.0.0.1:9/v1")
    assert "app-hidden-tool" not in repr(tool)
    assert "app-hidden-tool" not in dumps(tool)


class FirstProgress(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.seen = asyncio.Event()

    async def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.seen.set()


async def test_cancelling_the_call_stops_the_run(slow_apps: Any) -> None:
    tool = await DifyWorkflowTool.afrom_app(
        api_key=slow_apps.workflow_key, base_url=slow_apps.base_url, user="canceller"
    )
    start = len(slow_apps.server.request_log)
    progress = FirstProgress()
    task = asyncio.create_task(tool.ainvoke({"text": "x"}, config={"callbacks": [progress]}))
    await asyncio.wait_for(progress.seen.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stops: list[Any] = []
    for _ in range(500):  # the stop call is made while the task unwinds; wait for it to land
        log = slow_apps.server.request_log[start:]
        stops = [r for r in log if "/workflows/tasks/" in r.path and r.path.endswith("/stop")]
        if stops:
            break
        await asyncio.sleep(0.01)
    assert len(stops) == 1
    assert stops[0].user == "canceller"


def test_from_app_refuses_an_app_that_is_not_a_workflow(apps: Any) -> None:
    with pytest.raises(ValueError, match="needs a workflow app"):
        DifyWorkflowTool.from_app(api_key=apps.chat_key, base_url=apps.base_url)
