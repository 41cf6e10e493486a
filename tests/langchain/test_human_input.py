"""LangChain over DifyTestServer: pause and resume (chatflow and workflow tool), trace ids
from the LangChain run id, a pinned workflow version, a New Agent app, both chatflow orders."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from dify_integrations import HumanInputFormClosedError, NotFoundError
from dify_integrations.langchain import ChatDify, DifyLLM, DifyWorkflowTool
from dify_integrations.testing import DifyTestServer
from tests._shared_data import APPROVAL_FORM, decision_responder

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def hi(dify_server: DifyTestServer) -> dict[str, Any]:
    return {
        "server": dify_server,
        "flow": dify_server.create_chat_app(
            "LC approval",
            mode="advanced-chat",
            responder=decision_responder,
            human_input=APPROVAL_FORM,
        ),
        "wf": dify_server.create_workflow_app(
            "LC approval workflow",
            handler=lambda v: {"result": f"{v['__action_id']}/{v.get('comment')}"},
            nodes=[{"node_type": "human-input", **APPROVAL_FORM}, {"title": "Decide"}],
        ),
    }


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _invoke(model: Any, value: Any, mode: str, **kwargs: Any) -> Any:
    return model.invoke(value, **kwargs) if mode == "sync" else await model.ainvoke(value, **kwargs)


async def test_paused_chatflow_then_resumed(hi: Any, mode: str) -> None:
    model = ChatDify(api_key=hi["flow"].api_key, base_url=hi["server"].base_url, user=f"lc-{mode}")
    history: list[Any] = [HumanMessage("refund order 7")]
    paused = await _invoke(model, history, mode)
    meta = paused.response_metadata
    assert meta["status"] == "paused"
    assert meta["finish_reason"] == "paused"
    assert paused.content == ""
    (form,) = meta["human_input"]
    assert form["form_content"] == "Approve the refund?"
    assert [a["id"] for a in form["actions"]] == ["approve", "reject"]

    if mode == "sync":
        resumed = model.resume_with_input(paused, action="approve", inputs={"comment": "fine"})
    else:
        resumed = await model.aresume_with_input(
            paused, action="approve", inputs={"comment": "fine"}
        )
    assert resumed.content == "approve: fine"
    assert resumed.response_metadata["status"] == "succeeded"
    assert resumed.response_metadata["conversation_id"] == meta["conversation_id"]

    # The next turn, with the resumed answer in the history (as plain text, without the ids
    # it carries), stays in the same conversation: the resumed answer completed the turn.
    history += [AIMessage(str(resumed.content)), HumanMessage("and order 8?")]
    again = await _invoke(model, history, mode)
    assert again.response_metadata["conversation_id"] == meta["conversation_id"]
    assert again.response_metadata["status"] == "paused"

    with pytest.raises(HumanInputFormClosedError):
        model.resume_with_input(paused, action="approve")


def test_resume_refuses_an_answer_that_is_not_paused(hi: Any) -> None:
    model = ChatDify(api_key=hi["flow"].api_key, base_url=hi["server"].base_url, user="lc")
    before = len(hi["server"].request_log)
    with pytest.raises(ValueError, match="not paused"):
        model.resume_with_input(HumanMessage("hi"), action="approve")
    assert len(hi["server"].request_log) == before


async def test_paused_workflow_tool_is_a_result_not_an_error(hi: Any, mode: str) -> None:
    tool = DifyWorkflowTool.from_app(api_key=hi["wf"].api_key, base_url=hi["server"].base_url)
    call = {"type": "tool_call", "id": "c1", "name": tool.name, "args": {}}
    message = await _invoke(tool, call, mode)
    assert isinstance(message, ToolMessage)
    assert message.status == "success"
    assert "is paused: it waits for a person" in str(message.content)
    assert "Approve the refund?" in str(message.content)
    assert "actions: approve, reject" in str(message.content)
    artifact = message.artifact
    assert artifact["status"] == "paused"
    assert artifact["outputs"] == {}
    (form,) = artifact["human_input"]
    if mode == "sync":
        content, done = tool.resume_with_input(artifact, action="reject", inputs={"comment": "no"})
    else:
        content, done = await tool.aresume_with_input(
            artifact, action="reject", inputs={"comment": "no"}
        )
    assert content == "reject/no"
    assert done["status"] == "succeeded"
    assert done["workflow_run_id"] == artifact["workflow_run_id"] == form["workflow_run_id"]
    with pytest.raises(HumanInputFormClosedError):
        tool.resume_with_input(artifact, action="approve")


# --------------------------------------------------------------------------- trace ids


def _trace_of(server: DifyTestServer, route: str) -> str | None:
    return [r for r in server.request_log if r.route == route][-1].trace_id


async def test_trace_id_is_the_langchain_run_id(hi: Any, mode: str) -> None:
    server = hi["server"]
    chat = server.create_chat_app("Traced chat", responder=lambda q, i, h, f: "ok")
    model = ChatDify(api_key=chat.api_key, base_url=server.base_url, user="tr")
    run_id = uuid.uuid4()
    await _invoke(model, "hi", mode, config={"run_id": run_id})
    assert _trace_of(server, "/chat-messages") == str(run_id)
    await _invoke(model, "hi", mode, trace_id="mine-1")
    assert _trace_of(server, "/chat-messages") == "mine-1"

    comp = server.create_completion_app("Traced writer", template="S {{query}}")
    llm = DifyLLM(api_key=comp.api_key, base_url=server.base_url, user="tr")
    run_id = uuid.uuid4()
    await _invoke(llm, "x", mode, config={"run_id": run_id})
    assert _trace_of(server, "/completion-messages") == str(run_id)

    wf = server.create_workflow_app("Traced wf", handler=lambda v: {"text": "t"})
    tool = DifyWorkflowTool.from_app(api_key=wf.api_key, base_url=server.base_url)
    run_id = uuid.uuid4()
    await _invoke(tool, {}, mode, config={"run_id": run_id})
    assert _trace_of(server, "/workflows/run") == str(run_id)


async def test_workflow_tool_pins_a_version(hi: Any, mode: str) -> None:
    server = hi["server"]
    wf = server.create_workflow_app("Pinned", handler=lambda v: {"text": "pinned"})
    tool = DifyWorkflowTool.from_app(
        api_key=wf.api_key, base_url=server.base_url, workflow_id=wf.workflow_id
    )
    assert await _invoke(tool, {}, mode) == "pinned"
    assert [r for r in server.request_log if r.route == "/workflows/{workflow_id}/run"][
        -1
    ].path == (f"/v1/workflows/{wf.workflow_id}/run")
    unknown = DifyWorkflowTool.from_app(
        api_key=wf.api_key, base_url=server.base_url, workflow_id=str(uuid.uuid4())
    )
    with pytest.raises(NotFoundError):  # 404 from Dify: the call fails, not a guess
        await _invoke(unknown, {}, mode)


# --------------------------------------------------------------------------- current streams


@pytest.fixture(scope="module")
def legacy_server() -> Iterator[DifyTestServer]:
    with DifyTestServer(chatflow_order="legacy") as server:
        yield server


@pytest.mark.parametrize("order", ["current", "legacy"])
async def test_chatflow_in_both_orders_and_new_agent(
    hi: Any, legacy_server: DifyTestServer, order: str, mode: str
) -> None:
    server = hi["server"] if order == "current" else legacy_server
    flow = server.create_chat_app(
        "Ordered",
        mode="advanced-chat",
        responder=lambda q, i, h, f: ["One", " two"],
        reasoning="Think.",
    )
    model = ChatDify(api_key=flow.api_key, base_url=server.base_url, user="ord")
    message = await _invoke(model, "q", mode)
    assert message.content == "One two"
    assert message.additional_kwargs["reasoning_content"] == "Think."
    chunks = list(model.stream("q")) if mode == "sync" else [c async for c in model.astream("q")]
    assert "".join(str(c.content) for c in chunks) == "One two"
    agent = server.create_chat_app("Agent", mode="agent", responder=lambda q, i, h, f: ["4", "2"])
    model = ChatDify(api_key=agent.api_key, base_url=server.base_url, user="ord")
    assert (await _invoke(model, "q", mode)).content == "42"


async def test_chat_dify_pins_a_chatflow_version(hi: Any, mode: str) -> None:
    server = hi["server"]
    flow = server.create_chat_app(
        "Pinned flow", mode="advanced-chat", responder=lambda q, i, h, f: "v1"
    )
    model = ChatDify(
        api_key=flow.api_key, base_url=server.base_url, user="pin", workflow_id=flow.workflow_id
    )
    assert (await _invoke(model, "q", mode)).content == "v1"
    sent = [r for r in server.request_log if r.route == "/chat-messages"][-1]
    assert sent.body["workflow_id"] == flow.workflow_id
    wrong = ChatDify(
        api_key=flow.api_key, base_url=server.base_url, user="pin", workflow_id=str(uuid.uuid4())
    )
    with pytest.raises(NotFoundError):
        await _invoke(wrong, "q", mode)
    with pytest.raises(ValueError, match="workflow_id"):
        ChatDify(api_key=flow.api_key, base_url=server.base_url, workflow_id="v2").invoke("q")
