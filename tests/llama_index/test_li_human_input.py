"""LlamaIndex over DifyTestServer: pause and resume in DifyLLM, DifyChatEngine and
DifyWorkflowTool; trace ids from the LlamaIndex span; a pinned workflow version."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from llama_index.core.base.llms.types import ChatMessage

from dify_integrations import HumanInputFormClosedError
from dify_integrations.llama_index import DifyChatEngine, DifyLLM, DifyWorkflowTool
from dify_integrations.testing import DifyTestServer
from tests._shared_data import APPROVAL_FORM, decision_responder

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")


@pytest.fixture(scope="module")
def hi(dify_server: DifyTestServer) -> dict[str, Any]:
    return {
        "server": dify_server,
        "flow": dify_server.create_chat_app(
            "LI approval",
            mode="advanced-chat",
            responder=decision_responder,
            human_input=APPROVAL_FORM,
        ),
        "wf": dify_server.create_workflow_app(
            "LI approval workflow",
            handler=lambda v: {"result": f"{v['__action_id']}/{v.get('comment')}"},
            nodes=[{"node_type": "human-input", **APPROVAL_FORM}, {"title": "Decide"}],
        ),
    }


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_llm_pause_and_resume(hi: Any, mode: str, track: Callable[[T], T]) -> None:
    llm = track(DifyLLM(api_key=hi["flow"].api_key, base_url=hi["server"].base_url, user="li"))
    messages = [ChatMessage(role="user", content="refund")]
    paused = llm.chat(messages) if mode == "sync" else await llm.achat(messages)
    assert paused.additional_kwargs["status"] == "paused"
    (form,) = paused.additional_kwargs["human_input"]
    assert form["form_content"] == "Approve the refund?"
    assert paused.message.content == ""
    if mode == "sync":
        resumed = llm.resume_with_input(paused, action="approve", inputs={"comment": "ok"})
    else:
        resumed = await llm.aresume_with_input(paused, action="approve", inputs={"comment": "ok"})
    assert resumed.message.content == "approve: ok"
    assert resumed.additional_kwargs["status"] == "succeeded"
    # The next turn, with the resumed answer in the history (as plain text, without the ids
    # it carries), stays in the same conversation: the resumed answer completed the turn.
    answer = ChatMessage(role="assistant", content=resumed.message.content)
    history = [*messages, answer, ChatMessage(role="user", content="and order 8?")]
    again = llm.chat(history) if mode == "sync" else await llm.achat(history)
    assert again.additional_kwargs["conversation_id"] == paused.additional_kwargs["conversation_id"]
    with pytest.raises(HumanInputFormClosedError):
        llm.resume_with_input(paused, action="approve")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_chat_engine_pause_and_resume(hi: Any, mode: str, track: Callable[[T], T]) -> None:
    engine = track(
        DifyChatEngine(api_key=hi["flow"].api_key, base_url=hi["server"].base_url, user="lie")
    )
    paused = engine.chat("refund") if mode == "sync" else await engine.achat("refund")
    assert paused.metadata["status"] == "paused"
    assert str(paused.response) == ""
    if mode == "sync":
        resumed = engine.resume_with_input(paused, action="reject", inputs={"comment": "no"})
    else:
        resumed = await engine.aresume_with_input(paused, action="reject", inputs={"comment": "no"})
    assert str(resumed.response) == "reject: no"
    assert resumed.metadata["conversation_id"] == paused.metadata["conversation_id"]
    with pytest.raises(ValueError, match="not paused"):
        engine.resume_with_input(resumed, action="approve")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_workflow_tool_pause_and_resume(hi: Any, mode: str, track: Callable[[T], T]) -> None:
    tool = track(
        DifyWorkflowTool.from_app(api_key=hi["wf"].api_key, base_url=hi["server"].base_url)
    )
    paused = tool.call() if mode == "sync" else await tool.acall()
    assert not paused.is_error
    assert "waits for a person" in paused.content
    assert paused.raw_output["status"] == "paused"
    assert paused.raw_output["human_input"][0]["form_content"] == "Approve the refund?"
    if mode == "sync":
        done = tool.resume_with_input(paused, action="approve", inputs={"comment": "yes"})
    else:
        done = await tool.aresume_with_input(paused, action="approve", inputs={"comment": "yes"})
    assert not done.is_error
    assert done.content == "approve/yes"
    assert done.raw_output == {"result": "approve/yes"}


async def test_trace_ids_and_pinned_version(hi: Any, track: Callable[[T], T]) -> None:
    server = hi["server"]
    chat = server.create_chat_app("LI traced", responder=lambda q, i, h, f: "ok")
    llm = track(DifyLLM(api_key=chat.api_key, base_url=server.base_url, user="tr"))
    llm.chat([ChatMessage(role="user", content="hi")])
    trace = [r for r in server.request_log if r.route == "/chat-messages"][-1].trace_id
    assert trace is not None
    assert trace.startswith("DifyLLM-chat-")  # the LlamaIndex span id, made Dify-safe
    engine = track(DifyChatEngine(api_key=chat.api_key, base_url=server.base_url, user="tr"))
    await engine.achat("hi")
    trace = [r for r in server.request_log if r.route == "/chat-messages"][-1].trace_id
    assert trace is not None
    assert trace.startswith("DifyChatEngine-achat-")

    wf = server.create_workflow_app("LI pinned", handler=lambda v: {"text": "pinned"})
    tool = track(
        DifyWorkflowTool.from_app(
            api_key=wf.api_key, base_url=server.base_url, workflow_id=wf.workflow_id
        )
    )
    assert tool.call().content == "pinned"
    assert [r for r in server.request_log if r.route == "/workflows/{workflow_id}/run"]
    unknown = track(
        DifyWorkflowTool.from_app(
            api_key=wf.api_key, base_url=server.base_url, workflow_id=str(uuid.uuid4())
        )
    )
    with pytest.raises(Exception, match="not found"):
        unknown.call()
